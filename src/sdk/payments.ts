/**
 * The SDK's invoices and payments (docs/adr/0018): the types of `createInvoice`, `decodeInvoice`,
 * `invoices`, `payInvoice`, `sendPayment`, `payments` and of the `payment-*` events. Amounts are
 * bigint base units, times unix milliseconds unless named `…At` in seconds (an invoice's own
 * times, as it carries them).
 */
import type { Address, Bytes32 } from '../core/bytes.ts';
import type { PaymentFailureReason, PaymentStatus } from '../core/payments/record.ts';

export type { PaymentFailureReason, PaymentStatus };
export { PAYMENT_FAILURES } from '../core/payments/record.ts';
export { INVOICE_PROBLEMS, type InvoiceProblem } from '../core/payments/invoice.ts';

export interface CreateInvoiceParameters {
  /** Absent: any amount (the payer chooses). */
  readonly amount?: bigint;
  /** Default: the native asset. */
  readonly asset?: Address;
  /** At most 639 bytes of UTF-8, no control characters. */
  readonly memo?: string;
  /** Seconds the invoice can be paid (default 3600, at most a year). */
  readonly expiresIn?: number;
  /**
   * A hold invoice: locks paying it are kept until `settleInvoice` (or `cancelInvoice`), not
   * settled at once. Settle well before the locks' expiry, or their senders take them back.
   */
  readonly hold?: boolean;
}

export interface InvoiceRouteHint {
  readonly channelId: Bytes32;
  readonly hop: { readonly address: Address; readonly peerId: string };
  readonly feeBase: bigint;
  readonly feeProportional: number;
  readonly minAmount: bigint;
  readonly maxAmount?: bigint;
}

/** A decoded, signature-checked invoice; `status` and `received` only for this node's own. */
export interface InvoiceInfo {
  /** The string to hand the payer (bech32m, `lanes<chain id>1…`). */
  readonly invoice: string;
  readonly paymentHash: Bytes32;
  readonly payee: { readonly address: Address; readonly peerId: string };
  readonly chainId: bigint;
  readonly adjudicator: Address;
  readonly asset: Address;
  /** Absent: any amount. */
  readonly amount?: bigint;
  readonly memo: string;
  /** Unix seconds. */
  readonly createdAt: bigint;
  /** Unix seconds. */
  readonly expiresAt: bigint;
  readonly routeHints: readonly InvoiceRouteHint[];
  readonly status?: 'open' | 'paid' | 'expired';
  readonly received?: bigint;
}

export interface PayInvoiceParameters {
  /** Required for an any-amount invoice; must equal the invoice's amount otherwise. */
  readonly amount?: bigint;
  /** The most to pay in routing fees, in the payment's asset (default: 1% of the amount, at least 1,000 base units). */
  readonly maxFee?: bigint;
  /**
   * Pay with another asset than the invoice's: a routed swap (ADR 0012). A hub on the route
   * converts at a rate it signs in a quote fetched before paying; `maxFee` is then in this asset.
   */
  readonly payWith?: Address;
  /** With `payWith`: the most to send in it, fees and conversion included (the payment fails with `quote-refused` above it). */
  readonly maxSend?: bigint;
}

/** A spontaneous payment (keysend): no invoice, the payer chooses the secret. */
export interface SendPaymentParameters {
  /** The payee's address: a channel peer, or any node the channel graph reaches. */
  readonly to: Address;
  readonly amount: bigint;
  /** May be omitted when the channel to the payee holds one asset (default for a route: the native asset). */
  readonly asset?: Address;
  /** The most to pay in routing fees (default: 1% of the amount, at least 1,000 base units). */
  readonly maxFee?: bigint;
  /** Pay with another asset than the payee receives: a routed swap (see {@link PayInvoiceParameters.payWith}). */
  readonly payWith?: Address;
  readonly maxSend?: bigint;
}

export interface PaymentHop {
  readonly channelId: Bytes32;
  /** The node this hop's lock pays. */
  readonly to: Address;
  readonly amount: bigint;
  /** Unix seconds. */
  readonly expiry: bigint;
  readonly lockId: bigint;
}

export interface PaymentInfo {
  readonly direction: 'out' | 'in';
  readonly kind: 'invoice' | 'keysend';
  readonly status: PaymentStatus;
  readonly paymentHash: Bytes32;
  /** The secret: the payer's proof of payment once settled (for keysend, the payer chose it). */
  readonly secret?: Bytes32;
  readonly asset: Address;
  readonly amount: bigint;
  readonly fee: bigint;
  /** The payee (out) or the channel peer that paid (in). */
  readonly counterparty: Address;
  readonly route: readonly PaymentHop[];
  readonly invoice?: string;
  readonly memo: string;
  /** Unix ms. */
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly failure?: { readonly reason: PaymentFailureReason; readonly detail: string; readonly hop?: number };
  /**
   * A routed swap (out, ADR 0012): the payer sent `amount` of `asset`, which `hub` converted at
   * its quoted `rateNum / rateDen` (units of the payee's asset per unit of `asset`). `fee` is then
   * in `asset`, the premium included.
   */
  readonly swap?: {
    readonly asset: Address;
    readonly amount: bigint;
    readonly hub: Address;
    readonly rateNum: bigint;
    readonly rateDen: bigint;
  };
}

/** Which invoices `invoices()` lists: a page, newest first. */
export interface InvoicesFilter {
  /** Invoices to skip, newest first (default 0). */
  readonly offset?: number;
  /** Most invoices to return: 1 to 10,000 (default 100). */
  readonly limit?: number;
}

/** Which payments `payments()` lists: a page of the history, newest first. */
export interface PaymentsFilter {
  readonly direction?: 'out' | 'in';
  readonly status?: PaymentStatus;
  /** Matching payments to skip, newest first (default 0): the next page starts at offset + limit. */
  readonly offset?: number;
  /** Most payments to return: 1 to 10,000 (default 100). */
  readonly limit?: number;
}

export interface PaymentEvents {
  /** A payment of ours (out) or to us (in) settled: the payee has the money, the payer the secret. */
  'payment-settled': { readonly payment: PaymentInfo };
  /** A payment of ours failed; `hop` is the index in its route of the hop that failed it. */
  'payment-failed': {
    readonly payment: PaymentInfo;
    readonly reason: PaymentFailureReason;
    readonly hop: number;
    readonly detail: string;
  };
  /** This node forwarded a payment (the next hop settled it with the secret) and earned `fee`. */
  'payment-forwarded': {
    readonly paymentHash: Bytes32;
    readonly asset: Address;
    readonly incoming: { readonly channelId: Bytes32; readonly amount: bigint };
    /** `asset` is there for a routed swap: the asset paid out (the incoming one is `asset` above). */
    readonly outgoing: { readonly channelId: Bytes32; readonly amount: bigint; readonly asset?: Address };
    /** In the outgoing asset. */
    readonly fee: bigint;
  };
}
