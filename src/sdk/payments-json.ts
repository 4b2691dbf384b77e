/**
 * The JSON forms of invoices and payments (payments.ts) on the control API: `parse*` check a
 * request body at the edge (InvalidArgumentError), `read*` rebuild results and events in the
 * remote client (bigints from decimal strings).
 */
import { type Address, isAddress } from '../core/bytes.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import { MAX_INVOICE_LENGTH } from '../core/payments/invoice.ts';
import { PAYMENT_STATUSES } from '../core/payments/record.ts';
import type {
  CreateInvoiceParameters,
  InvoiceInfo,
  PayInvoiceParameters,
  PaymentEvents,
  PaymentInfo,
  PaymentsFilter,
  InvoicesFilter,
  SendPaymentParameters,
} from './payments.ts';
import { parseAmount } from './json.ts';

type Json = Record<string, unknown>;

function body(x: unknown, where: string): Json {
  if (x === undefined || x === null) return {};
  if (typeof x !== 'object' || Array.isArray(x)) throw new InvalidArgumentError(`${where} must be a JSON object`);
  return x as Json;
}

function onlyKeys(j: Json, keys: readonly string[], where: string): void {
  for (const k of Object.keys(j))
    if (!keys.includes(k)) throw new InvalidArgumentError(`${where}: unknown field ${JSON.stringify(k.slice(0, 40))}`);
}

function assetOf(x: unknown, where: string): Address | undefined {
  if (x === undefined) return undefined;
  const a = typeof x === 'string' ? x.toLowerCase() : x;
  if (!isAddress(a)) throw new InvalidArgumentError(`${where} must be a 0x address of 20 bytes`);
  return a;
}

/** An invoice string: checked further (checksum, signature) by the node. */
export function parseInvoiceText(x: unknown, where = 'invoice'): string {
  if (typeof x !== 'string' || x.length === 0 || x.length > MAX_INVOICE_LENGTH + 64)
    throw new InvalidArgumentError(`${where} must be an invoice string of at most ${MAX_INVOICE_LENGTH} characters`);
  return x;
}

export function parseCreateInvoice(x: unknown): CreateInvoiceParameters {
  const j = body(x, 'the invoice request');
  onlyKeys(j, ['amount', 'asset', 'memo', 'expiresIn'], 'the invoice request');
  const asset = assetOf(j.asset, 'asset');
  if (j.memo !== undefined && typeof j.memo !== 'string') throw new InvalidArgumentError('memo must be a string');
  if (j.expiresIn !== undefined && (typeof j.expiresIn !== 'number' || !Number.isSafeInteger(j.expiresIn) || j.expiresIn <= 0))
    throw new InvalidArgumentError('expiresIn must be a positive whole number of seconds');
  return {
    ...(j.amount === undefined ? {} : { amount: parseAmount(j.amount, 'amount') }),
    ...(asset === undefined ? {} : { asset }),
    ...(j.memo === undefined ? {} : { memo: j.memo as string }),
    ...(j.expiresIn === undefined ? {} : { expiresIn: j.expiresIn as number }),
  };
}

/** The limits both kinds of payment take: `maxFee`, and for a routed swap `payWith` and `maxSend`. */
function paymentLimits(j: Json): Pick<PayInvoiceParameters, 'maxFee' | 'payWith' | 'maxSend'> {
  const payWith = assetOf(j.payWith, 'payWith');
  if (j.maxSend !== undefined && payWith === undefined) throw new InvalidArgumentError('maxSend goes with payWith');
  return {
    ...(j.maxFee === undefined ? {} : { maxFee: parseAmount(j.maxFee, 'maxFee', { positive: false }) }),
    ...(payWith === undefined ? {} : { payWith }),
    ...(j.maxSend === undefined ? {} : { maxSend: parseAmount(j.maxSend, 'maxSend') }),
  };
}

export function parsePayInvoice(x: unknown): PayInvoiceParameters {
  const j = body(x, 'the payment');
  onlyKeys(j, ['amount', 'maxFee', 'payWith', 'maxSend'], 'the payment');
  return { ...(j.amount === undefined ? {} : { amount: parseAmount(j.amount, 'amount') }), ...paymentLimits(j) };
}

export function parseSendPayment(x: unknown): SendPaymentParameters {
  const j = body(x, 'the payment');
  onlyKeys(j, ['to', 'amount', 'asset', 'maxFee', 'payWith', 'maxSend'], 'the payment');
  const to = assetOf(j.to, 'to');
  if (to === undefined) throw new InvalidArgumentError('to must be the payee address');
  const asset = assetOf(j.asset, 'asset');
  return { to, amount: parseAmount(j.amount, 'amount'), ...(asset === undefined ? {} : { asset }), ...paymentLimits(j) };
}

/** The `offset` and `limit` of a page request (whole numbers, 0 or more; the node bounds `limit`). */
function parsePage(j: Json): { offset?: number; limit?: number } {
  for (const k of ['offset', 'limit'] as const)
    if (j[k] !== undefined && (typeof j[k] !== 'number' || !Number.isSafeInteger(j[k]) || j[k] < 0))
      throw new InvalidArgumentError(`${k} must be a whole number`);
  return {
    ...(j.offset === undefined ? {} : { offset: j.offset as number }),
    ...(j.limit === undefined ? {} : { limit: j.limit as number }),
  };
}

export function parseInvoicesFilter(x: unknown): InvoicesFilter {
  const j = body(x, 'the filter');
  onlyKeys(j, ['offset', 'limit'], 'the filter');
  return parsePage(j);
}

export function parsePaymentsFilter(x: unknown): PaymentsFilter {
  const j = body(x, 'the filter');
  onlyKeys(j, ['direction', 'status', 'offset', 'limit'], 'the filter');
  const page = parsePage(j);
  if (j.direction !== undefined && j.direction !== 'in' && j.direction !== 'out')
    throw new InvalidArgumentError('direction must be in or out');
  if (j.status !== undefined && !(PAYMENT_STATUSES as readonly unknown[]).includes(j.status))
    throw new InvalidArgumentError(`status must be one of ${PAYMENT_STATUSES.join(', ')}`);
  return {
    ...(j.direction === undefined ? {} : { direction: j.direction as 'in' | 'out' }),
    ...(j.status === undefined ? {} : { status: j.status as PaymentsFilter['status'] & string }),
    ...page,
  };
}

// ---------------------------------------------------------------------------------------------
// Reading (client side)

const big = (x: unknown): bigint => BigInt(x as string);

export function readInvoice(j: Json): InvoiceInfo {
  const hints = (j.routeHints as Json[] | undefined) ?? [];
  return {
    ...(j as unknown as InvoiceInfo),
    chainId: big(j.chainId),
    ...(j.amount === undefined ? {} : { amount: big(j.amount) }),
    createdAt: big(j.createdAt),
    expiresAt: big(j.expiresAt),
    ...(j.received === undefined ? {} : { received: big(j.received) }),
    routeHints: hints.map((h) => ({
      ...(h as unknown as InvoiceInfo['routeHints'][number]),
      feeBase: big(h.feeBase),
      minAmount: big(h.minAmount),
      ...(h.maxAmount === undefined ? {} : { maxAmount: big(h.maxAmount) }),
    })),
  };
}

export function readPaymentInfo(j: Json): PaymentInfo {
  return {
    ...(j as unknown as PaymentInfo),
    amount: big(j.amount),
    fee: big(j.fee),
    route: ((j.route as Json[] | undefined) ?? []).map((h) => ({
      ...(h as unknown as PaymentInfo['route'][number]),
      amount: big(h.amount),
      expiry: big(h.expiry),
      lockId: big(h.lockId),
    })),
    ...(j.swap === undefined
      ? {}
      : {
          swap: {
            ...(j.swap as unknown as NonNullable<PaymentInfo['swap']>),
            amount: big((j.swap as Json).amount),
            rateNum: big((j.swap as Json).rateNum),
            rateDen: big((j.swap as Json).rateDen),
          },
        }),
  };
}

export function readPaymentEvent<E extends keyof PaymentEvents>(event: E, j: Json): PaymentEvents[E] {
  if (event === 'payment-forwarded') {
    const leg = (x: unknown) => ({ ...(x as Json), amount: big((x as Json).amount) });
    return { ...j, fee: big(j.fee), incoming: leg(j.incoming), outgoing: leg(j.outgoing) } as unknown as PaymentEvents[E];
  }
  return { ...j, payment: readPaymentInfo(j.payment as Json) } as unknown as PaymentEvents[E];
}
