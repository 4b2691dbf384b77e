/**
 * Invoices and payments in the node (docs/adr/0018): issuing invoices, paying them, keysend, and
 * the records of both, over the channel protocol's hash-locks (`lock`, `settle`, `cancel`).
 *
 * Today a payment rides one channel, to a direct peer: the payer locks the amount to the payment
 * hash, the payee (holding the secret of its invoice, or deriving a keysend's: keysend.ts)
 * settles the lock with the secret, and the payer learns the secret from the payee's `settle`
 * operation. The route-based engine (issue 14) replaces `directRoute` and forwards; records,
 * events and errors already have its shape (`route`, `hop`, `payment-forwarded`).
 *
 * What this service sees of a channel: its latest co-signed state after every update
 * (`channel-updated`: locks that appear and disappear), and the counterparty's `request` and
 * `propose` messages (the secret in a `settle`, checked against the hash). A lock of ours that
 * disappears after a valid secret was seen was settled; one that disappears without it was
 * cancelled and its amount is ours again.
 */
import { type Address, type Bytes32, NATIVE_ASSET, bytesToHex, isAddress, keccak256Hex, hexToBytes } from '../core/bytes.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import type { Op } from '../core/ops.ts';
import {
  DEFAULT_INVOICE_EXPIRY,
  MAX_INVOICE_EXPIRY,
  type Invoice,
  checkInvoice,
  completeInvoice,
  decodeInvoice,
  paymentHashOf,
  prepareInvoice,
} from '../core/payments/invoice.ts';
import { keysendSecret } from '../core/payments/keysend.ts';
import {
  MAX_FAILURE_DETAIL,
  type InvoiceRecord,
  type PaymentFailure,
  type PaymentFailureReason,
  type PaymentRecord,
  type RouteHop,
} from '../core/payments/record.ts';
import type { Lock } from '../core/state.ts';
import { isValidPrivateKey } from '../core/crypto.ts';
import {
  type HopPayload,
  type OnionCurve,
  type SwapQuote,
  ONION_SALT_BYTES,
  buildOnion,
  openFailure,
  sealFailure,
} from '../core/forwarding/index.ts';
import { publicKeyOfPeerId } from '../core/payments/peer-id.ts';
import type { FirstHop, Route } from '../core/routing/pathfind.ts';
import { applyQuote, conversionHop } from '../core/routing/quoted-route.ts';
import { PaymentAttempts } from '../core/routing/retry.ts';
import type { PaymentFailure as HopFailure } from '../core/routing/scorer.ts';
import type { FinalPayload, Forwarder } from './forwarder.ts';
import type { GraphService } from './graph-service.ts';
import { InvalidInvoiceError, OperationTimeoutError, PaymentFailedError, RejectedError } from '../sdk/errors.ts';
import type {
  CreateInvoiceParameters,
  InvoiceInfo,
  PayInvoiceParameters,
  PaymentInfo,
  PaymentsFilter,
  InvoicesFilter,
  SendPaymentParameters,
} from '../sdk/payments.ts';
import type { Channel } from './channel.ts';
import type { Context } from './context.ts';
import { PaymentsStore, isActive, paymentKey } from './payments-store.ts';
import { random } from './random.ts';

/** How long a direct payment's lock lasts (s): the payee settles within it, or registers the secret on-chain. */
export const DIRECT_LOCK_EXPIRY = 600n;
/**
 * The least time left on a lock for the payee to settle it (s), beyond the channel machine's
 * settle margin (the registration margin: a settle closer to the expiry than that is refused,
 * as the counterparty could then not register the secret in time). A lock closer to its expiry
 * is cancelled. Below the machine's margin, the settle was refused locally after the lock had
 * been taken, and the secret registered on-chain at our cost: a peer could have us pay that gas
 * lock after lock.
 */
export const SETTLE_MARGIN = 30n;
/** How often locks of ours past their expiry are cancelled (ms). */
const SWEEP_MS = 1000;
/**
 * A payment of ours whose lock is co-signed is `in-flight` in memory at once, and on disk only
 * once it has been so this long (at a sweep) or at a clean stop: most payments end sooner, and
 * their settled or failed record is the next write. On disk it stays `pending` meanwhile, which a
 * restart handles as well, only more slowly: a lock found gone is resolved at its expiry (from
 * the channel's learned secret, else as failed) instead of at once.
 */
const IN_FLIGHT_WRITE_MS = 2000;
/**
 * Final records (settled, failed) kept in memory besides the active ones, newest first: the rest
 * of the history stays on disk (payments-store.ts), so memory does not grow with it.
 */
export const FINISHED_IN_MEMORY = 4096;
/** How long after its expiry an unpaid invoice is still kept in memory (s): then only on disk. */
export const INVOICE_KEPT_AFTER_EXPIRY = 3600n;
/** How often unpaid invoices past that are looked for (ms). */
const INVOICE_SWEEP_MS = 60_000;
/** `payments()` and `invoices()` without a limit: a page of this many. */
export const DEFAULT_PAYMENTS_LIMIT = 100;
/** The largest page `payments()` returns. */
export const MAX_PAYMENTS_LIMIT = 10_000;

/** What the service needs from the node. */
export interface PaymentHost {
  readonly ctx: Context;
  /** Hands one of our operations to its channel; resolves with the co-signed version that carries it. */
  submit(ch: Channel, op: Op): Promise<bigint>;
  nextOpId(ch: Channel): bigint;
  /** The x of the ECDH point of our key and a peer's (keysend.ts); absent: keysend is refused. */
  readonly keysendKey?: (peerPublicKey: Uint8Array) => Uint8Array;
  /** The forwarding engine: routed locks to us that are not ours to receive. */
  readonly forwarder?: Forwarder;
  /** The curve operations of route onions (default noble's). */
  readonly onionCurve?: OnionCurve;
  /**
   * How long (ms) one ephemeral onion key is used for the layers to one hop (ADR 0021): the
   * ECDH is paid once per hop and window, not per payment; the hop can tell that the payments
   * under one key come from one payer. 0: a fresh key per layer. Default {@link ONION_KEY_REUSE_MS}.
   */
  readonly onionKeyReuseMs?: number;
  /** The channel graph, when the node runs graph gossip: payments to nodes we have no channel with. */
  graph?(): GraphService | undefined;
  /** Final records kept in memory (default {@link FINISHED_IN_MEMORY}). */
  readonly finishedInMemory?: number;
  /**
   * A keysend to us that prepays a swap quote's upfront premium (ADR 0012, 3): `amount` of
   * `asset` for quote `nonce`, reported once per lock, when our settle of it is co-signed
   * (swap-quotes.ts `QuoteDesk.prepaid`).
   */
  prepaid?(nonce: Bytes32, asset: Address, amount: bigint): void;
  /** The channel machines' settle margin (s): the registration margin (default 120). */
  readonly settleMargin?: bigint;
}

/** How one attempt's lock ended. */
type AttemptOutcome =
  | { readonly kind: 'settled' }
  | { readonly kind: 'refused'; readonly detail: string }
  | { readonly kind: 'failed'; readonly failure: Uint8Array | undefined; readonly expired: boolean };

/** What a routed attempt's hop reported (a hop's forward failure, or a payee's record reason) for the scorer. */
function hopFailure(reason: string): HopFailure {
  switch (reason) {
    case 'unknown-next-channel':
    case 'asset-mismatch':
      return 'unknown-channel';
    case 'channel-disabled':
    case 'fee-insufficient':
    case 'expiry-too-soon':
      return reason;
    case 'expiry-too-far':
      return 'expiry-too-soon';
    case 'amount-below-minimum':
    case 'amount-above-maximum':
      return 'amount-out-of-range';
    case 'temporary-channel-failure':
    case 'quote-expired': // a fresh quote may do: the same route again
    case 'quote-used':
      return 'insufficient-liquidity';
    case 'quote-invalid':
    case 'quote-underpaid':
    case 'quote-unpaid':
      return 'fee-insufficient'; // the hub's price was not met: its channel is avoided for a while
    default:
      return 'node-failure';
  }
}

/** The record's reason for what a hop reported. */
function recordReason(reason: string, payee: boolean): PaymentFailureReason {
  if (payee) return reason === 'incorrect-amount' || reason === 'expiry-too-soon' ? reason : 'unknown-payment';
  switch (reason) {
    case 'fee-insufficient':
      return 'fee-insufficient';
    case 'expiry-too-soon':
    case 'expiry-too-far':
      return 'expiry-too-soon';
    case 'unknown-next-channel':
    case 'asset-mismatch':
      return 'unknown-next-hop';
    case 'invalid-onion':
      return 'cancelled';
    case 'quote-invalid':
    case 'quote-expired':
    case 'quote-used':
    case 'quote-underpaid':
    case 'quote-unpaid':
      return 'quote-refused';
    default:
      return 'temporary-channel-failure';
  }
}

/** The default fee limit of a routed payment: 1% of the amount, at least 1,000 base units. */
export const defaultMaxFee = (amount: bigint): bigint => (amount / 100n > 1000n ? amount / 100n : 1000n);

/** A lock of ours in flight. */
interface OutLock {
  readonly key: string;
  readonly hash: Bytes32;
  /** Seen in a co-signed state. */
  present: boolean;
  cancelling: boolean;
  /** The counterparty asked to cancel it before any valid secret was seen. */
  cancelFirst: boolean;
  /** A read of the secret registry is under way (resolveUnseen). */
  checking?: boolean;
  /** We cancelled it, past its expiry. */
  expiredByUs: boolean;
  /** The failure report a routed lock's cancel carried (the first hop's, wrapping those after it). */
  failure?: Uint8Array;
  /** A routed attempt: its outcome goes to the attempt loop, which decides to retry or finish. */
  onResolve?: (o: AttemptOutcome) => void;
}

interface Waiter {
  resolve(p: PaymentInfo): void;
  reject(e: Error): void;
}

/** What a payment to send says. */
interface SendArgs {
  readonly kind: 'invoice' | 'keysend';
  readonly paymentHash?: Bytes32;
  readonly payee: Address;
  readonly payeePeerId?: string;
  readonly asset?: Address;
  readonly amount: bigint;
  readonly maxFee?: bigint;
  /** A routed swap: the asset the payer pays with, and the most of it to send. */
  readonly payWith?: Address;
  readonly maxSend?: bigint;
  readonly invoice?: string;
  readonly memo: string;
  /** A keysend that prepays swap quote `prepay`'s upfront premium (ADR 0012, 3): its nonce, in the payee's layer. */
  readonly prepay?: Bytes32;
}

/** Checks the routed-swap parameters of a payment: `payWith` lower-cased, or undefined when it is the payee's asset. */
function swapArgs(p: { payWith?: Address; maxSend?: bigint }, asset: Address | undefined): Pick<SendArgs, 'payWith' | 'maxSend'> {
  if (p.payWith === undefined) {
    if (p.maxSend !== undefined) throw new InvalidArgumentError('maxSend goes with payWith');
    return {};
  }
  const payWith = String(p.payWith).toLowerCase() as Address;
  if (!isAddress(payWith)) throw new InvalidArgumentError('payWith must be an asset address');
  if (p.maxSend !== undefined && (typeof p.maxSend !== 'bigint' || p.maxSend <= 0n))
    throw new InvalidArgumentError('maxSend must be a positive bigint');
  if (payWith === (asset ?? NATIVE_ASSET)) return {};
  return { payWith, ...(p.maxSend === undefined ? {} : { maxSend: p.maxSend }) };
}

/** The default window of an onion session key (see PaymentHost.onionKeyReuseMs). */
export const ONION_KEY_REUSE_MS = 10_000;
/** The most hops with a live onion session key. */
const MAX_ONION_SESSIONS = 10_000;

/** A fresh secp256k1 private key for one onion layer (or one hop's session). */
function ephemeralKey(): Uint8Array {
  for (;;) {
    const k = random(32);
    if (isValidPrivateKey(k)) return k;
  }
}

/** The offset and limit of a page, checked (`payments()`, `invoices()`). */
function page(filter: { readonly offset?: number; readonly limit?: number }): { offset: number; limit: number } {
  const offset = filter.offset ?? 0;
  const limit = filter.limit ?? DEFAULT_PAYMENTS_LIMIT;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgumentError('offset must be a whole number ≥ 0');
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAYMENTS_LIMIT)
    throw new InvalidArgumentError(`limit must be a whole number from 1 to ${MAX_PAYMENTS_LIMIT}`);
  return { offset, limit };
}

const trim = (s: string) => (s.length > MAX_FAILURE_DETAIL ? `${s.slice(0, MAX_FAILURE_DETAIL - 1)}…` : s);

export class Payments {
  private readonly host: PaymentHost;
  private readonly ctx: Context;
  private readonly store: PaymentsStore;
  /** The active records (pending, in flight) and the newest {@link FINISHED_IN_MEMORY} final ones. */
  private records = new Map<string, PaymentRecord>();
  /** Keys of the final records in `records`, oldest first. */
  private readonly finished = new Map<string, true>();
  /** Our open invoices (until long expired) and the newest paid ones (as many as final payment records). */
  private invoiceRecords = new Map<Bytes32, InvoiceRecord>();
  /** Payment hashes of the paid invoices in memory, oldest first. */
  private readonly paidInvoices = new Map<Bytes32, true>();
  private lastInvoiceSweep = 0;
  /** Decoded invoices of ours, by payment hash. */
  private readonly issued = new Map<Bytes32, Invoice>();
  /** Our locks in flight, per channel and lock id. */
  private readonly out = new Map<Bytes32, Map<bigint, OutLock>>();
  /** Locks to us already looked at, per channel (pruned as they leave the state). */
  private readonly handled = new Map<Bytes32, Set<bigint>>();
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly keysendKeys = new Map<string, Uint8Array>();
  private sweeper: NodeJS.Timeout | undefined;
  private offs: (() => void)[] = [];
  private stopped = false;

  constructor(host: PaymentHost) {
    this.host = host;
    this.ctx = host.ctx;
    this.store = new PaymentsStore(host.ctx.store);
  }

  /** Loads records, picks up locks in flight, and starts watching channels. */
  async start(): Promise<void> {
    const loaded = await this.store.load();
    for (const key of loaded.unreadable) this.ctx.log.error({ key }, 'a payment record does not decode: left untouched');
    this.records = loaded.active;
    for (const [key, r] of this.records) if (r.direction === 'in' && r.status === 'in-flight') this.takenBefore.add(key);
    this.invoiceRecords = loaded.invoices;
    for (const r of this.invoiceRecords.values()) if (r.released === true) this.released.add(r.paymentHash);
    for (const r of [...this.invoiceRecords.values()]) {
      const inv = decodeInvoice(r.text, this.ctx.backend);
      if (inv.ok && inv.value.paymentHash === r.paymentHash) this.issued.set(r.paymentHash, inv.value);
      else this.ctx.log.error({ paymentHash: r.paymentHash }, 'a stored invoice does not decode: ignored');
    }
    this.dropExpiredInvoices();
    for (const [key, r] of this.records) {
      if (r.direction !== 'out' || (r.status !== 'in-flight' && r.status !== 'pending')) continue;
      const hop = r.route[0];
      if (!hop) continue;
      this.track(hop.channelId, hop.lockId, r.paymentHash, key);
      // In flight: the lock was co-signed, so its absence now means it was settled or cancelled.
      if (r.status === 'in-flight') this.out.get(hop.channelId)!.get(hop.lockId)!.present = true;
    }
    this.offs.push(this.ctx.events.on('channel-updated', (e) => this.updated(e.channelId)));
    this.ctx.transport.on('message', (from, m) => {
      if (this.stopped || !m.ok || (m.value.type !== 'request' && m.value.type !== 'propose')) return;
      this.observe(from.peerId, m.value.channelId, m.value.ops);
    });
    for (const id of this.ctx.channels.keys()) this.updated(id);
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.sweeper);
    for (const off of this.offs.splice(0)) off();
    this.writeInFlight(0); // the node flushes the store after its services stop
  }

  // ---------------------------------------------------------------------------------------------
  // Invoices

  async createInvoice(p: CreateInvoiceParameters = {}): Promise<InvoiceInfo> {
    const { ctx } = this;
    const expiresIn = p.expiresIn ?? Number(DEFAULT_INVOICE_EXPIRY);
    if (!Number.isSafeInteger(expiresIn) || expiresIn <= 0 || BigInt(expiresIn) > MAX_INVOICE_EXPIRY)
      throw new InvalidArgumentError(`expiresIn must be 1..${MAX_INVOICE_EXPIRY} seconds`);
    if (p.amount !== undefined && (typeof p.amount !== 'bigint' || p.amount <= 0n))
      throw new InvalidArgumentError('amount must be a positive bigint (or absent: any amount)');
    const asset = (p.asset ?? NATIVE_ASSET).toLowerCase() as Address;
    if (!isAddress(asset)) throw new InvalidArgumentError('asset must be an address');
    if (p.hold !== undefined && typeof p.hold !== 'boolean') throw new InvalidArgumentError('hold must be a boolean');
    const secret = bytesToHex(random(32)) as Bytes32;
    const paymentHash = paymentHashOf(secret);
    const now = ctx.now();
    const prepared = prepareInvoice({
      chainId: ctx.chain.chainId,
      adjudicator: ctx.chain.adjudicator,
      payee: ctx.transport.self.address,
      paymentHash,
      asset,
      ...(p.amount === undefined ? {} : { amount: p.amount }),
      createdAt: now,
      expiresAt: now + BigInt(expiresIn),
      memo: p.memo ?? '',
      routeHints: [],
    });
    if (!prepared.ok) throw new InvalidArgumentError(prepared.detail);
    const text = completeInvoice(prepared.value, await ctx.signer.sign(prepared.value.digest));
    const decoded = decodeInvoice(text, ctx.backend);
    if (!decoded.ok) throw new Error(`an invoice this node made does not decode: ${decoded.detail}`);
    const record: InvoiceRecord = { text, paymentHash, secret, status: 'open', received: 0n, ...(p.hold === true ? { hold: true } : {}) };
    this.store.putInvoice(record);
    // The secret is on disk before anyone can pay the invoice.
    await ctx.flush();
    this.invoiceRecords.set(paymentHash, record);
    this.issued.set(paymentHash, decoded.value);
    return this.invoiceInfo(decoded.value, record);
  }

  async decodeInvoice(text: string): Promise<InvoiceInfo> {
    const inv = this.decode(text, false);
    let record = this.invoiceRecords.get(inv.paymentHash);
    if (record === undefined && inv.payee.address === this.ctx.transport.self.address) {
      const stored = await this.store.getInvoice(inv.paymentHash);
      if (typeof stored === 'object' && stored.text === inv.text) record = stored;
    }
    return this.invoiceInfo(inv, record);
  }

  /** A page of the invoices we issued, newest first (from memory and disk, as `payments()`). */
  async invoices(filter: InvoicesFilter = {}): Promise<InvoiceInfo[]> {
    const { offset, limit } = page(filter);
    const records = await this.store.invoiceHistory({ offset, limit }, this.invoiceRecords);
    const out: InvoiceInfo[] = [];
    for (const r of records) {
      let inv = this.issued.get(r.paymentHash);
      if (inv === undefined) {
        const d = decodeInvoice(r.text, this.ctx.backend);
        if (!d.ok || d.value.paymentHash !== r.paymentHash) continue; // logged at the start that read it
        inv = d.value;
      }
      out.push(this.invoiceInfo(inv, r));
    }
    return out;
  }

  /**
   * Unpaid invoices {@link INVOICE_KEPT_AFTER_EXPIRY} past their expiry leave memory and lose
   * their open mark: nothing can pay them any more (a lock for one is refused as unknown), and
   * `invoices()` still lists them from disk. A hold invoice holding locks stays.
   */
  private dropExpiredInvoices(): void {
    const now = this.ctx.now();
    for (const [hash, r] of this.invoiceRecords) {
      const inv = this.issued.get(hash);
      if (r.status !== 'open' || (inv !== undefined && now < inv.expiresAt + INVOICE_KEPT_AFTER_EXPIRY)) continue;
      if (this.heldLocks(hash) > 0) continue;
      this.forgetInvoice(hash);
      this.store.unmarkOpen(hash);
    }
  }

  /** An invoice of ours was paid: kept in memory among the newest paid ones. */
  private invoicePaid(r: InvoiceRecord): void {
    this.invoiceRecords.set(r.paymentHash, r);
    this.store.putInvoice(r);
    this.paidInvoices.delete(r.paymentHash);
    this.paidInvoices.set(r.paymentHash, true);
    for (const hash of this.paidInvoices.keys()) {
      if (this.paidInvoices.size <= (this.host.finishedInMemory ?? FINISHED_IN_MEMORY)) return;
      this.paidInvoices.delete(hash);
      if (this.heldLocks(hash) > 0) continue;
      this.forgetInvoice(hash);
    }
  }

  /**
   * How many locks are held for hold invoice `hash`: those still in their channel's latest state.
   * One that left it (its payer took it back at its expiry, the channel closed) is held no more.
   */
  private heldLocks(hash: Bytes32): number {
    const list = this.held.get(hash);
    if (list === undefined) return 0;
    const live = list.filter((h) => this.ctx.channels.get(h.channelId)?.latest?.state.locks.some((l) => l.id === h.lockId) === true);
    if (live.length === 0) this.held.delete(hash);
    else if (live.length < list.length) this.held.set(hash, live);
    return live.length;
  }

  /** An invoice of ours leaves memory; its record stays on disk (`invoices()`, `decodeInvoice`). */
  private forgetInvoice(hash: Bytes32): void {
    this.invoiceRecords.delete(hash);
    this.issued.delete(hash);
    this.released.delete(hash); // a lock for it now is for an unknown invoice: nothing is held
    this.store.forget(`inv/${hash}`);
  }

  private decode(text: unknown, forPaying: boolean): Invoice {
    const r = decodeInvoice(text, this.ctx.backend);
    if (!r.ok) throw new InvalidInvoiceError(r.problem, r.detail);
    const here = { chainId: this.ctx.chain.chainId, adjudicator: this.ctx.chain.adjudicator, now: this.ctx.now() };
    const checked = checkInvoice(r.value, here);
    if (!checked.ok && (forPaying || checked.problem === 'wrong-chain')) throw new InvalidInvoiceError(checked.problem, checked.detail);
    return r.value;
  }

  private invoiceInfo(inv: Invoice, record: InvoiceRecord | undefined): InvoiceInfo {
    const expired = this.ctx.now() >= inv.expiresAt;
    return {
      invoice: inv.text,
      paymentHash: inv.paymentHash,
      payee: { address: inv.payee.address, peerId: inv.payee.peerId },
      chainId: inv.chainId,
      adjudicator: inv.adjudicator,
      asset: inv.asset,
      ...(inv.amount === undefined ? {} : { amount: inv.amount }),
      memo: inv.memo,
      createdAt: inv.createdAt,
      expiresAt: inv.expiresAt,
      routeHints: inv.routeHints.map((h) => ({
        channelId: h.channelId,
        hop: { address: h.hop.address, peerId: h.hop.peerId },
        feeBase: h.feeBase,
        feeProportional: h.feeProportional,
        minAmount: h.minAmount,
        ...(h.maxAmount === undefined ? {} : { maxAmount: h.maxAmount }),
      })),
      ...(record === undefined
        ? {}
        : { status: record.status === 'paid' ? 'paid' : expired ? 'expired' : 'open', received: record.received }),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Paying

  async payInvoice(text: string, p: PayInvoiceParameters = {}): Promise<PaymentInfo> {
    const inv = this.decode(text, true);
    if (inv.payee.address === this.ctx.transport.self.address) throw new InvalidArgumentError('this invoice is our own');
    if (p.amount !== undefined && (typeof p.amount !== 'bigint' || p.amount <= 0n))
      throw new InvalidArgumentError('amount must be a positive bigint');
    if (inv.amount !== undefined && p.amount !== undefined && p.amount !== inv.amount)
      throw new InvalidArgumentError(`the invoice asks for ${inv.amount}; leave the amount out or give exactly that`);
    const amount = inv.amount ?? p.amount;
    if (amount === undefined) throw new InvalidArgumentError('this invoice is for any amount: give the amount to pay');
    if (p.maxFee !== undefined && (typeof p.maxFee !== 'bigint' || p.maxFee < 0n))
      throw new InvalidArgumentError('maxFee must be a bigint ≥ 0');
    return this.send({
      ...(p.maxFee === undefined ? {} : { maxFee: p.maxFee }),
      ...swapArgs(p, inv.asset),
      payeePeerId: inv.payee.peerId,
      kind: 'invoice',
      paymentHash: inv.paymentHash,
      payee: inv.payee.address,
      asset: inv.asset,
      amount,
      invoice: inv.text,
      memo: inv.memo,
    });
  }

  async sendPayment(p: SendPaymentParameters): Promise<PaymentInfo> {
    if (!this.host.keysendKey) throw new InvalidArgumentError('keysend needs the node key (this node was built without it)');
    const to = String(p?.to).toLowerCase() as Address;
    if (!isAddress(to)) throw new InvalidArgumentError('to must be an address');
    if (to === this.ctx.transport.self.address) throw new InvalidArgumentError('a node cannot pay itself');
    if (typeof p.amount !== 'bigint' || p.amount <= 0n) throw new InvalidArgumentError('amount must be a positive bigint');
    const asset = p.asset === undefined ? undefined : (String(p.asset).toLowerCase() as Address);
    if (asset !== undefined && !isAddress(asset)) throw new InvalidArgumentError('asset must be an address');
    if (p.maxFee !== undefined && (typeof p.maxFee !== 'bigint' || p.maxFee < 0n))
      throw new InvalidArgumentError('maxFee must be a bigint ≥ 0');
    return this.send({
      kind: 'keysend',
      payee: to,
      amount: p.amount,
      ...(asset === undefined ? {} : { asset }),
      ...(p.maxFee === undefined ? {} : { maxFee: p.maxFee }),
      ...swapArgs(p, asset),
      memo: '',
    });
  }

  /** A page of the history, newest first (the store walks its index: a page costs what it lists). */
  async payments(filter: PaymentsFilter = {}): Promise<PaymentInfo[]> {
    const { offset, limit } = page(filter);
    const records = await this.store.history(
      {
        offset,
        limit,
        ...(filter.direction === undefined ? {} : { direction: filter.direction }),
        ...(filter.status === undefined ? {} : { status: filter.status }),
      },
      this.records,
    );
    return records.map((r) => ({ ...r }));
  }

  /** Today's route: one channel to the payee, open, with the asset and enough of it. */
  private directRoute(payee: Address, asset: Address | undefined, amount: bigint): { ch: Channel; asset: number } | string {
    let why = `no open channel with ${payee}`;
    for (const ch of this.ctx.channels.values()) {
      const p = ch.record.params;
      if (p.participants[ch.counterparty] !== payee || ch.record.status !== 'open' || !ch.latest) continue;
      const i = asset === undefined ? (p.assets.length === 1 ? 0 : -1) : p.assets.indexOf(asset);
      if (i < 0) {
        why = asset === undefined ? `the channel with ${payee} holds several assets: name one` : `no channel with ${payee} holds ${asset}`;
        continue;
      }
      const held = ch.latest.state.balances[i]![ch.self];
      if (held >= amount) return { ch, asset: i };
      why = `the channel with ${payee} holds ${held} of ours, the payment needs ${amount}`;
    }
    return why;
  }

  private async send(o: SendArgs): Promise<PaymentInfo> {
    const { ctx } = this;
    if (o.paymentHash !== undefined) {
      const key = paymentKey('out', o.paymentHash);
      // A record no longer in memory is on disk. From here to the record of this payment nothing
      // awaits, so a second call for the same invoice that read the disk meanwhile finds ours.
      const onDisk = this.records.has(key) ? undefined : await this.store.getPayment(key);
      const prior = this.records.get(key) ?? onDisk;
      if (prior && prior.status !== 'failed')
        throw new InvalidArgumentError(
          `this invoice is already ${prior.status === 'settled' ? 'paid' : 'being paid'} (payments: ${o.paymentHash})`,
        );
    }
    const graph = this.host.graph?.();
    if (o.payWith !== undefined) {
      // A routed swap: a hub converts, never a direct channel.
      if (graph === undefined)
        throw new InvalidArgumentError('paying with another asset needs the channel graph (start the node with --graph)');
      return this.sendRouted(o, graph);
    }
    const route = this.directRoute(o.payee, o.asset, o.amount);
    const now = ctx.clock();
    if (typeof route === 'string' && graph !== undefined) return this.sendRouted(o, graph);
    if (typeof route === 'string') {
      if (o.paymentHash === undefined) throw new PaymentFailedError('no-route', route, 0, '');
      const failed: PaymentRecord = {
        direction: 'out',
        kind: o.kind,
        status: 'failed',
        paymentHash: o.paymentHash,
        asset: o.asset ?? NATIVE_ASSET,
        amount: o.amount,
        fee: 0n,
        counterparty: o.payee,
        route: [],
        ...(o.invoice === undefined ? {} : { invoice: o.invoice }),
        memo: o.memo,
        createdAt: now,
        updatedAt: now,
        failure: { reason: 'no-route', detail: trim(route), hop: 0 },
      };
      this.save(failed);
      this.emitFailed(failed);
      throw new PaymentFailedError('no-route', route, 0, o.paymentHash);
    }
    const { ch } = route;
    const lockId = this.host.nextOpId(ch);
    let paymentHash = o.paymentHash;
    let secret: Bytes32 | undefined;
    if (paymentHash === undefined) {
      // Keysend: the secret both sides can derive for this lock (keysend.ts).
      const key = this.keysendKeyFor(ch);
      if (!key) throw new PaymentFailedError('temporary-channel-failure', 'the payee is not connected', 0, '');
      secret = keysendSecret(key, ch.id, lockId);
      paymentHash = paymentHashOf(secret);
    }
    const hop: RouteHop = { channelId: ch.id, to: o.payee, amount: o.amount, expiry: ctx.now() + DIRECT_LOCK_EXPIRY, lockId };
    const record: PaymentRecord = {
      direction: 'out',
      kind: o.kind,
      status: 'pending',
      paymentHash,
      // A keysend's secret is not stored yet: it can be derived again, and the record holds one
      // only once the payee's settle carried it (observe, resolveOut).
      asset: ch.record.params.assets[route.asset]!,
      amount: o.amount,
      fee: 0n,
      counterparty: o.payee,
      route: [hop],
      ...(o.invoice === undefined ? {} : { invoice: o.invoice }),
      memo: o.memo,
      createdAt: now,
      updatedAt: now,
    };
    const key = this.save(record);
    await ctx.flush(); // the record is on disk before the lock can be
    const outcome = this.wait(key);
    this.track(ch.id, lockId, paymentHash, key);
    const lock: Lock = {
      id: lockId,
      asset: route.asset,
      amount: o.amount,
      sender: ch.self,
      receiver: ch.counterparty,
      hashlock: paymentHash,
      expiry: hop.expiry,
    };
    let locked = false;
    try {
      await this.host.submit(ch, { kind: 'lock', id: this.host.nextOpId(ch), by: ch.self, lock });
      locked = true;
    } catch (e) {
      const maybe = (e as { maybeApplied?: unknown }).maybeApplied === true;
      if (!maybe) {
        this.untrack(ch.id, lockId);
        const detail = e instanceof RejectedError ? `${e.reason}: ${e.detail}` : e instanceof Error ? e.message : 'the lock failed';
        this.finish(key, { failure: { reason: 'lock-refused', detail: trim(detail), hop: 0 } });
        return outcome;
      }
      // The counterparty may hold a state with the lock: it stays pending until a co-signed state
      // shows it (then in flight), or its expiry passes without one (then failed: sweep).
      this.ctx.log.warn({ paymentHash, channel: ch.id }, 'a payment lock may or may not be co-signed; watching it');
    }
    if (locked) {
      this.inFlight(key);
      this.markPresent(ch, lockId);
    }
    outcome.catch(() => undefined); // settled later than the timeout below: the record tells, not the caller
    return Promise.race([
      outcome,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new OperationTimeoutError('waiting for the payee to settle', true)), ctx.timeouts.operationMs).unref(),
      ),
    ]);
  }

  /** Our open channels with their balances: where a route may leave us (pathfind.ts's first hops). */
  private firstHops(): FirstHop[] {
    const hops: FirstHop[] = [];
    for (const ch of this.ctx.channels.values()) {
      const state = ch.latest?.state;
      if (!state || ch.record.status !== 'open' || !ch.machine.connected) continue;
      const p = ch.record.params;
      p.assets.forEach((asset, i) => {
        const b = state.balances[i]!;
        hops.push({
          channelId: ch.id,
          to: p.participants[ch.counterparty],
          toPeerId: ch.record.peer.peerId,
          asset,
          direction: ch.self,
          assetIndex: i,
          spendable: b[ch.self],
          capacity: b[0] + b[1],
        });
      });
    }
    return hops;
  }

  /**
   * A payment over a route of the channel graph (ADR 0019): a route from the pathfinder, an
   * onion for it, one lock on our first channel; on failure, the report tells which hop failed
   * and why, the scorer learns, and another route is tried within the fee limit.
   */
  private async sendRouted(o: SendArgs, graph: GraphService): Promise<PaymentInfo> {
    const { ctx } = this;
    const asset = (o.asset ?? NATIVE_ASSET).toLowerCase() as Address;
    let paymentHash = o.paymentHash;
    let preimage: Bytes32 | undefined;
    if (paymentHash === undefined) {
      preimage = bytesToHex(random(32)) as Bytes32; // keysend over a route: the payee finds it in its onion layer
      paymentHash = paymentHashOf(preimage);
    }
    const attempts = new PaymentAttempts(graph.pathfinder, graph.scorer, {
      from: ctx.transport.self.address,
      to: o.payee,
      asset,
      amount: o.amount,
      ...(o.payWith === undefined ? { feeLimit: o.maxFee ?? defaultMaxFee(o.amount) } : { payWith: o.payWith }),
      ...(o.payWith !== undefined && o.maxFee !== undefined ? { feeLimit: o.maxFee } : {}),
      firstHops: this.firstHops(),
      ...(o.payeePeerId === undefined ? {} : { toPeerId: o.payeePeerId }),
      now: ctx.now(),
    });
    const now = ctx.clock();
    const record: PaymentRecord = {
      direction: 'out',
      kind: o.kind,
      status: 'pending',
      paymentHash,
      asset,
      amount: o.amount,
      fee: 0n,
      counterparty: o.payee,
      route: [],
      ...(o.invoice === undefined ? {} : { invoice: o.invoice }),
      memo: o.memo,
      createdAt: now,
      updatedAt: now,
    };
    // Kept in memory only: nothing is locked before an attempt, which writes and flushes its
    // record first; a payment that ends before one is written by finish().
    const key = paymentKey(record.direction, record.paymentHash);
    this.records.set(key, record);
    const outcome = this.wait(key);
    outcome.catch(() => undefined);
    const limits =
      o.payWith === undefined
        ? undefined
        : { ...(o.maxFee === undefined ? {} : { maxFee: o.maxFee }), ...(o.maxSend === undefined ? {} : { maxSend: o.maxSend }) };
    this.attemptLoop(key, attempts, paymentHash, preimage, graph, limits, o.prepay).catch((e: unknown) => {
      ctx.log.error({ err: e, paymentHash }, 'a routed payment failed unexpectedly');
      this.finish(key, { failure: { reason: 'cancelled', detail: trim(e instanceof Error ? e.message : String(e)), hop: 0 } });
    });
    return Promise.race([
      outcome,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new OperationTimeoutError('waiting for the route to settle', true)), ctx.timeouts.operationMs).unref(),
      ),
    ]);
  }

  private async attemptLoop(
    key: string,
    attempts: PaymentAttempts,
    paymentHash: Bytes32,
    preimage: Bytes32 | undefined,
    graph: GraphService,
    swapLimits: { readonly maxFee?: bigint; readonly maxSend?: bigint } | undefined,
    prepay?: Bytes32,
  ): Promise<void> {
    const { ctx } = this;
    let last: PaymentFailure | undefined;
    /** Upfront premiums paid for this payment's quotes so far, with their fees: counted in its fee limit. */
    let upfrontSpent = 0n;
    for (;;) {
      const found = attempts.next(ctx.now());
      if (!found.ok) {
        const failure: PaymentFailure =
          last === undefined
            ? { reason: 'no-route', detail: trim(found.detail), hop: 0 }
            : { ...last, detail: trim(`${last.detail} (${attempts.attempts} route(s) tried)`) };
        return this.finish(key, { failure });
      }
      let route = found.route;
      const ch = ctx.channels.get(route.hops[0]!.channelId);
      if (!ch) {
        attempts.failed(route, 0, 'unknown-channel', ctx.now());
        continue;
      }
      let quote: SwapQuote | undefined;
      const c = conversionHop(route);
      if (c >= 0) {
        // A routed swap: the hub's signed quote binds the rate; the route is priced by it.
        const priced = await this.quoted(graph, route, c, swapLimits ?? {}, upfrontSpent);
        let why = priced.ok ? undefined : priced.detail;
        if (priced.ok) {
          const prepaid = await this.prepayUpfront(graph, priced, paymentHash);
          upfrontSpent += prepaid.cost;
          if (!prepaid.ok) why = prepaid.detail;
        }
        if (!priced.ok || why !== undefined) {
          attempts.avoid(route.hops[c]!.from); // another hub, if there is one
          last = { reason: 'quote-refused', detail: trim(why ?? ''), hop: c };
          ctx.log.debug({ paymentHash, hub: route.hops[c]!.from, detail: why }, 'no usable quote');
          continue;
        }
        route = priced.route;
        quote = priced.quote;
      }
      const attempt = await this.attempt(key, ch, route, paymentHash, preimage, quote, prepay);
      const now = ctx.now();
      if (attempt.kind === 'settled') {
        attempts.succeeded(route, now);
        return this.finish(key, { settled: true });
      }
      if (attempt.kind === 'refused') {
        attempts.failed(route, 0, 'insufficient-liquidity', now);
        last = { reason: 'lock-refused', detail: trim(attempt.detail), hop: 0 };
        continue;
      }
      if (attempt.expired) {
        return this.finish(key, {
          failure: { reason: 'lock-expired', detail: 'nobody settled before the lock expired; the amount is back', hop: 0 },
        });
      }
      const replyKeys = this.replyKeys.get(key) ?? [];
      const opened = attempt.failure === undefined ? ({ ok: false, hop: 0 } as const) : openFailure(attempt.failure, replyKeys);
      const node = opened.hop; // route.hops[node].to failed it
      const payee = node === route.hops.length - 1;
      const reason = opened.ok ? opened.reason : 'node-failure';
      const scored: HopFailure = payee && opened.ok ? 'payee-rejected' : hopFailure(reason);
      attempts.failed(route, node + 1, scored, now);
      last = {
        reason: opened.ok ? recordReason(reason, payee) : 'cancelled',
        detail: trim(opened.ok ? `${reason}: ${opened.detail}` : 'a hop gave the lock back without a report we could open'),
        hop: node + 1,
      };
      ctx.log.debug({ paymentHash, hop: node + 1, reason, detail: last.detail }, 'a route failed');
      if (scored === 'payee-rejected') return this.finish(key, { failure: last });
    }
  }

  /**
   * The hub's quote for a routed swap's route, and the route priced by it, or why not (the payer's
   * limits included: `spent`, upfront premiums this payment paid already, counts in its fee limit).
   */
  private async quoted(
    graph: GraphService,
    route: Route,
    c: number,
    limits: { readonly maxFee?: bigint; readonly maxSend?: bigint },
    spent: bigint,
  ): Promise<{ ok: true; route: Route; quote: SwapQuote; feeRoom: bigint } | { ok: false; detail: string }> {
    const out = route.hops[c]!;
    const conv = out.conversion!;
    const answer = await graph.requestQuote(out.from, conv.from, conv.to, out.amount);
    if (!answer.ok) return { ok: false, detail: `hub ${out.from}: ${answer.reason}` };
    const q = answer.quote;
    const now = this.ctx.now();
    if (q.validUntil <= now) return { ok: false, detail: `hub ${out.from}'s quote expired on arrival` };
    if (q.maxExpiry - now <= BigInt(route.minExpirySeconds))
      return {
        ok: false,
        detail: `hub ${out.from}'s quote allows a lock of ${q.maxExpiry - now} s; the route's hops want ${route.minExpirySeconds} s`,
      };
    const priced = applyQuote(route, q);
    if (!priced.ok) return priced;
    const r = priced.route;
    // What the payee's amount is worth in the payer's asset: at the rate the hub announced (the
    // route as found), or at the quoted one if that is better. A quote worse than the announcement
    // counts its difference as a fee, and cannot raise the default limit: a hub that quotes a
    // rate 100 times worse does not make 1% of the payment 100 times larger.
    const announced = route.sent - route.totalFee;
    const quotedValue = r.sent - r.totalFee;
    const worth = announced < quotedValue ? announced : quotedValue;
    const fees = r.sent - worth;
    const maxFee = limits.maxFee ?? defaultMaxFee(worth);
    const cost = fees + q.upfront + spent;
    if (cost > maxFee)
      return {
        ok: false,
        detail:
          q.upfront === 0n && spent === 0n
            ? `fees and premium of ${fees} exceed the limit of ${maxFee}`
            : `fees and premium of ${fees}, an upfront premium of ${q.upfront} and ${spent} paid upfront already exceed the limit of ${maxFee}`,
      };
    if (limits.maxSend !== undefined && r.sent > limits.maxSend)
      return { ok: false, detail: `the quote makes it ${r.sent} to send, above the limit of ${limits.maxSend}` };
    return { ok: true, route: r, quote: q, feeRoom: maxFee - cost };
  }

  /**
   * The upfront premium a quote asks (ADR 0012, 3), paid before the swap's lock: a keysend to the
   * hub over the graph (also when it is our own peer: the nonce rides in its onion layer), with
   * what is left of the payment's fee limit as its own. `cost`: what it took, premium and fees,
   * also when the swap then fails: the premium is the hub's whatever happens next.
   */
  private async prepayUpfront(
    graph: GraphService,
    priced: { readonly quote: SwapQuote; readonly feeRoom: bigint },
    paymentHash: Bytes32,
  ): Promise<{ ok: true; cost: bigint } | { ok: false; cost: bigint; detail: string }> {
    const q = priced.quote;
    if (q.upfront === 0n) return { ok: true, cost: 0n };
    try {
      const paid = await this.sendRouted(
        {
          kind: 'keysend',
          payee: q.hub,
          asset: q.from,
          amount: q.upfront,
          maxFee: priced.feeRoom,
          memo: `upfront premium of swap ${paymentHash}`,
          prepay: q.nonce,
        },
        graph,
      );
      const cost = paid.amount + paid.fee;
      // The swap's lock must still reach the hub inside the quote's validity.
      if (q.validUntil <= this.ctx.now() + 2n)
        return { ok: false, cost, detail: `hub ${q.hub}'s quote ran out while its premium was paid` };
      return { ok: true, cost };
    } catch (e) {
      const mayStillSettle = e instanceof OperationTimeoutError; // count it as spent
      return {
        ok: false,
        cost: mayStillSettle ? q.upfront + priced.feeRoom : 0n,
        detail: `hub ${q.hub}'s upfront premium of ${q.upfront} could not be paid: ${e instanceof Error ? e.message : String(e)}`,
      };
    }
  }

  /** Route hops' node keys, by peer id. */
  private readonly hopKeys = new Map<string, Uint8Array>();

  /** Onion session keys: the ephemeral key sealing our layers to each hop, by peer id, until when (ms). */
  private readonly onionSessions = new Map<string, { readonly key: Uint8Array; readonly until: number }>();

  /** The ephemeral key for a layer to `peerId`: the hop's session key while its window lasts. */
  private onionKey(peerId: string): Uint8Array {
    const reuseMs = this.host.onionKeyReuseMs ?? ONION_KEY_REUSE_MS;
    if (reuseMs <= 0) return ephemeralKey();
    const now = Date.now();
    const s = this.onionSessions.get(peerId);
    if (s !== undefined && s.until > now) return s.key;
    // Insertion order is expiry order (every window is as long): the oldest goes first.
    this.onionSessions.delete(peerId);
    if (this.onionSessions.size >= MAX_ONION_SESSIONS) this.onionSessions.delete(this.onionSessions.keys().next().value!);
    const key = ephemeralKey();
    this.onionSessions.set(peerId, { key, until: now + reuseMs });
    return key;
  }

  /** Reply keys of each payment's current attempt (to open its failure report), by record key. */
  private readonly replyKeys = new Map<string, readonly Uint8Array[]>();

  /** One attempt over `route`: the onion, the record, the lock; resolves when the lock ends. */
  private async attempt(
    key: string,
    ch: Channel,
    route: Route,
    paymentHash: Bytes32,
    preimage: Bytes32 | undefined,
    quote?: SwapQuote,
    prepay?: Bytes32,
  ): Promise<AttemptOutcome> {
    const { ctx } = this;
    const n = route.hops.length;
    const publicKeys: Uint8Array[] = [];
    for (const h of route.hops) {
      let k = this.hopKeys.get(h.toPeerId);
      if (k === undefined) {
        k = publicKeyOfPeerId(h.toPeerId); // decompressing a point: once per peer, not per payment
        if (k !== undefined && this.hopKeys.size < 100_000) this.hopKeys.set(h.toPeerId, k);
      }
      if (k === undefined) return { kind: 'failed', failure: undefined, expired: false };
      publicKeys.push(k);
    }
    // Layer i is for the node hop i pays: it forwards (or converts, at a hub) onto hop i + 1.
    const payloads: HopPayload[] = route.hops.map((_, i) => {
      if (i === n - 1)
        return {
          kind: 'final',
          amount: route.amount,
          ...(preimage === undefined ? {} : { preimage }),
          ...(prepay === undefined ? {} : { prepay }),
        };
      const next = route.hops[i + 1]!;
      return next.conversion !== undefined && quote !== undefined
        ? { kind: 'swap', channelId: next.channelId, amount: next.amount, quote }
        : { kind: 'forward', channelId: next.channelId, amount: next.amount };
    });
    // Version 2 layers: a session key per hop, a fresh salt per layer (ADR 0021).
    const salts = random(ONION_SALT_BYTES * n);
    const { onion, replyKeys } = buildOnion(
      publicKeys.map((publicKey, i) => ({ publicKey, payload: payloads[i]! })),
      route.hops.map((h) => this.onionKey(h.toPeerId)),
      this.host.onionCurve,
      route.hops.map((_, i) => salts.subarray(i * ONION_SALT_BYTES, (i + 1) * ONION_SALT_BYTES)),
    );
    this.replyKeys.set(key, replyKeys);
    const window = BigInt(route.minExpirySeconds) + 60n;
    let expiry = ctx.now() + (window > DIRECT_LOCK_EXPIRY ? window : DIRECT_LOCK_EXPIRY);
    // A swap's lock lives only as long as the hub's quote allows: the free option is that short (ADR 0012).
    if (quote !== undefined && quote.maxExpiry < expiry) expiry = quote.maxExpiry;
    const lockId = this.host.nextOpId(ch);
    const first = route.hops[0]!;
    const prior = this.records.get(key)!;
    this.save({
      ...prior,
      status: 'pending',
      fee: route.totalFee,
      route: route.hops.map((h, i) => ({ channelId: h.channelId, to: h.to, amount: h.amount, expiry, lockId: i === 0 ? lockId : 0n })),
      ...(quote === undefined
        ? {}
        : { swap: { asset: route.payWith, amount: route.sent, hub: quote.hub, rateNum: quote.rateNum, rateDen: quote.rateDen } }),
      updatedAt: ctx.clock(),
    });
    await ctx.flush(); // the record is on disk before the lock can be
    const ended = new Promise<AttemptOutcome>((resolve) => {
      this.track(ch.id, lockId, paymentHash, key);
      this.out.get(ch.id)!.get(lockId)!.onResolve = resolve;
    });
    const lock: Lock = {
      id: lockId,
      asset: first.assetIndex,
      amount: first.amount,
      sender: ch.self,
      receiver: ch.counterparty,
      hashlock: paymentHash,
      expiry,
    };
    this.host.submit(ch, { kind: 'lock', id: this.host.nextOpId(ch), by: ch.self, lock, onion }).then(
      () => {
        this.inFlight(key);
        this.markPresent(ch, lockId);
      },
      (e: unknown) => {
        if ((e as { maybeApplied?: unknown }).maybeApplied === true) return; // watched: it shows up, or expires (sweep)
        const t = this.out.get(ch.id)?.get(lockId);
        this.untrack(ch.id, lockId);
        const detail = e instanceof RejectedError ? `${e.reason}: ${e.detail}` : e instanceof Error ? e.message : 'the lock failed';
        t?.onResolve?.({ kind: 'refused', detail });
      },
    );
    return ended;
  }

  private inFlight(key: string): void {
    const r = this.records.get(key);
    if (r?.status !== 'pending') return;
    this.records.set(key, { ...r, status: 'in-flight', updatedAt: this.ctx.clock() });
    this.inFlightUnwritten.set(key, Date.now()); // IN_FLIGHT_WRITE_MS
  }

  /** Payments in flight in memory and still `pending` on disk, since when (ms). */
  private readonly inFlightUnwritten = new Map<string, number>();

  /** Writes the in-flight records that have waited `olderThanMs` (0: all of them). */
  private writeInFlight(olderThanMs: number): void {
    const now = Date.now();
    for (const [key, since] of this.inFlightUnwritten) {
      if (now - since < olderThanMs) break; // in order of insertion: the rest are younger
      this.inFlightUnwritten.delete(key);
      const r = this.records.get(key);
      if (r?.status === 'in-flight') this.save(r);
    }
  }

  private wait(key: string): Promise<PaymentInfo> {
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(key) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(key, list);
    });
  }

  private track(channelId: Bytes32, lockId: bigint, hash: Bytes32, key: string): void {
    let m = this.out.get(channelId);
    if (!m) this.out.set(channelId, (m = new Map()));
    m.set(lockId, { key, hash, present: false, cancelling: false, cancelFirst: false, expiredByUs: false });
  }

  private untrack(channelId: Bytes32, lockId: bigint): void {
    const m = this.out.get(channelId);
    m?.delete(lockId);
    if (m?.size === 0) this.out.delete(channelId);
  }

  /** After our lock's op resolved: it is (or was) in a co-signed state. */
  private markPresent(ch: Channel, lockId: bigint): void {
    const t = this.out.get(ch.id)?.get(lockId);
    if (!t) return;
    t.present = true;
    if (!ch.latest?.state.locks.some((l) => l.id === lockId && l.sender === ch.self)) this.resolveOut(ch, lockId, t);
  }

  private keysendKeyFor(ch: Channel): Uint8Array | undefined {
    const peer = ch.machine.peer;
    if (!peer || !this.host.keysendKey) return undefined;
    let key = this.keysendKeys.get(peer.peerId);
    if (!key) {
      key = this.host.keysendKey(peer.publicKey);
      this.keysendKeys.set(peer.peerId, key);
    }
    return key;
  }

  // ---------------------------------------------------------------------------------------------
  // Watching channels

  /** The counterparty's operations, before they are applied: secrets of our locks. */
  private observe(from: string, channelId: Bytes32, ops: readonly Op[]): void {
    const locks = this.out.get(channelId);
    const forwarder = this.host.forwarder;
    if (!locks && !forwarder) return;
    const ch = this.ctx.channels.get(channelId);
    if (!ch || ch.record.peer.peerId !== from) return;
    forwarder?.observe(ch, ops);
    if (!locks) return;
    for (const op of ops) {
      if (op.kind !== 'settle' && op.kind !== 'cancel') continue;
      const t = locks.get(op.lockId);
      if (!t) continue;
      const key = t.key;
      const r = this.records.get(key);
      if (!r || r.status === 'settled' || r.status === 'failed') continue;
      if (op.kind === 'cancel') {
        if (r.secret === undefined) t.cancelFirst = true;
        if (op.failure !== undefined) t.failure = op.failure;
        continue;
      }
      if (t.cancelFirst || keccak256Hex(hexToBytes(op.secret)) !== t.hash) continue;
      // Written now, so it is durable no later than the co-signed state that settles the lock
      // (writes are applied in order, and that state needs a signature first).
      if (r.secret === undefined) this.save({ ...r, secret: op.secret, updatedAt: this.ctx.clock() });
    }
  }

  /** A new co-signed state of `channelId`: our locks that left it, locks to us that arrived. */
  private updated(channelId: Bytes32): void {
    if (this.stopped) return;
    const ch = this.ctx.channels.get(channelId);
    const state = ch?.latest?.state;
    if (!ch || !state) return;
    const mine = this.out.get(channelId);
    if (mine) {
      const ids = new Set<bigint>();
      for (const l of state.locks) if (l.sender === ch.self) ids.add(l.id);
      for (const [lockId, t] of [...mine]) {
        if (ids.has(lockId)) {
          if (!t.present) this.inFlight(t.key);
          t.present = true;
        } else if (t.present) this.resolveOut(ch, lockId, t);
      }
    }
    this.pruneLockMemos(channelId, state.locks);
    let seen = this.handled.get(channelId);
    if (state.locks.length === 0) {
      if (seen) this.handled.delete(channelId);
      return;
    }
    if (!seen) this.handled.set(channelId, (seen = new Set()));
    const current = new Set<bigint>();
    for (const l of state.locks) {
      if (l.receiver !== ch.self) continue;
      current.add(l.id);
      if (seen.has(l.id)) continue;
      seen.add(l.id);
      if (!this.incoming(ch, l)) {
        // Not decidable yet (the peer's key is not known before it reconnects): at the next sweep.
        seen.delete(l.id);
        this.retry.add(channelId);
      }
    }
    for (const id of seen) if (!current.has(id)) seen.delete(id);
  }

  /**
   * A lock of ours never seen co-signed, past its expiry. The counterparty may still hold our
   * signature on a state with it (a proposal it never countersigned back), and enforce it
   * on-chain if the secret was registered in time: then the payee was paid, and calling the
   * payment failed would have the user pay again. So the registry is read first: registered
   * before the expiry, the payment is settled (without a preimage of ours to show, unless the
   * channel learned it); else it failed, as before.
   */
  private resolveUnseen(ch: Channel, lockId: bigint, t: OutLock, expiry: bigint): void {
    if (t.checking) return;
    t.checking = true;
    this.ctx.chain.revealedAt(t.hash).then(
      (at) => {
        t.checking = false;
        if (this.stopped || this.out.get(ch.id)?.get(lockId) !== t) return;
        if (at === 0n || at >= expiry) return this.resolveOut(ch, lockId, t);
        this.ctx
          .channelLog(ch)
          .warn(
            { paymentHash: t.hash, registeredAt: String(at) },
            'a lock of ours never co-signed back, but its secret was registered in time: the payment counts as paid',
          );
        this.untrack(ch.id, lockId);
        if (t.onResolve) return t.onResolve({ kind: 'settled' });
        this.finish(t.key, { settled: true });
      },
      (e: unknown) => {
        t.checking = false; // again at the next sweep
        this.ctx.channelLog(ch).warn({ err: e, paymentHash: t.hash }, 'reading the secret registry failed');
      },
    );
  }

  private resolveOut(ch: Channel, lockId: bigint, t: OutLock): void {
    this.untrack(ch.id, lockId);
    const r = this.records.get(t.key);
    if (!r || r.status === 'settled' || r.status === 'failed') return;
    if (t.onResolve) {
      const learned = ch.record.learned?.find((l) => l.hashlock === t.hash)?.secret;
      const secret = learned !== undefined && paymentHashOf(learned) === t.hash ? learned : t.cancelFirst ? undefined : r.secret;
      if (secret !== undefined) {
        // In memory: the attempt loop's finish() writes the settled record with it and flushes
        // before anything forgets the channel's copy (Forwarder.secretKept).
        if (r.secret !== secret) this.records.set(t.key, { ...r, secret, updatedAt: this.ctx.clock() });
        return t.onResolve({ kind: 'settled' });
      }
      const expired = t.expiredByUs || this.ctx.now() >= (r.route[0]?.expiry ?? 0n);
      return t.onResolve({ kind: 'failed', failure: t.failure, expired });
    }
    // The channel record's learned secrets (src/core/channel/learned.ts), where the machine keeps
    // the secrets of settles it applied to our locks: exact, when that field is there.
    const learned = (ch.record as { readonly learned?: readonly { readonly hashlock: Bytes32; readonly secret: Bytes32 }[] }).learned;
    const secret = learned?.find((l) => l.hashlock === t.hash)?.secret;
    if (secret !== undefined && paymentHashOf(secret) === t.hash) {
      // finish() writes it, with the settled status, in the same flush.
      if (r.secret !== secret) this.records.set(t.key, { ...r, secret });
      return this.finish(t.key, { settled: true });
    }
    // Else the secret the payee's settle carried (observe): held only once one was seen, keysends too.
    if (r.secret !== undefined && !t.cancelFirst) return this.finish(t.key, { settled: true });
    const expired = t.expiredByUs || this.ctx.now() >= (r.route[0]?.expiry ?? 0n);
    const failure: PaymentFailure = expired
      ? { reason: 'lock-expired', detail: 'the payee did not settle before the lock expired; the amount is back', hop: 0 }
      : { reason: 'cancelled', detail: 'the payee gave the lock back', hop: 0 };
    this.finish(t.key, { failure });
  }

  /** The preimage of `hashlock` in our record of a payment to us, checked against it. */
  private recordedSecret(hashlock: Bytes32): Bytes32 | undefined {
    const s = this.records.get(paymentKey('in', hashlock))?.secret;
    return s !== undefined && paymentHashOf(s) === hashlock ? s : undefined;
  }

  /** Channels with locks to us to look at again (a settle failed, or a peer's key was missing). */
  private readonly retry = new Set<Bytes32>();

  /**
   * A lock to us: settle it if we know its secret and it pays what the invoice asks, else leave or
   * cancel it. False when it cannot be decided yet.
   */
  private incoming(ch: Channel, l: Lock): boolean {
    const { ctx } = this;
    const taken = this.host.forwarder?.take(ch, l) ?? { kind: 'none' };
    if (taken.kind === 'taken') return true;
    // Our layer of a routed lock is peeled once: kept while the lock lives, for a settle tried again.
    if (taken.kind === 'final') this.lockMemo(this.finals, ch.id).set(l.id, { payload: taken.payload, replyKey: taken.replyKey });
    const final: { payload: FinalPayload; replyKey: Uint8Array } | undefined = this.finals.get(ch.id)?.get(l.id);
    const now = ctx.now();
    const asset = ch.record.params.assets[l.asset]!;
    const invoice = this.issued.get(l.hashlock);
    let secret: Bytes32 | undefined;
    let kind: 'invoice' | 'keysend' = 'invoice';
    let refuse: PaymentFailureReason | undefined;
    if (!invoice && final) {
      // Keysend over a route: the payer put the preimage in our onion layer.
      const p = final.payload.preimage;
      if (p !== undefined && paymentHashOf(p) === l.hashlock) {
        secret = p;
        kind = 'keysend';
      } else refuse = 'unknown-payment';
    } else if (invoice) {
      secret = this.invoiceRecords.get(l.hashlock)?.secret;
      if (invoice.asset !== asset || (invoice.amount !== undefined && l.amount < invoice.amount)) refuse = 'incorrect-amount';
      else if (now >= invoice.expiresAt && this.invoiceRecords.get(l.hashlock)?.status !== 'paid') refuse = 'unknown-payment';
    } else if (this.recordedSecret(l.hashlock) !== undefined) {
      // A routed keysend we took before a restart: its onion layer is gone, its preimage is in
      // our record. Our settle may have left (the counterparty then holds the secret): we settle
      // again, or the forwarder registers it in time. Before, the lock was left to its sender.
      secret = this.recordedSecret(l.hashlock);
      kind = 'keysend';
    } else {
      const key = this.keysendKeyFor(ch);
      if (!key) return !this.host.keysendKey; // without keysend it is simply not ours
      const candidate = keysendSecret(key, ch.id, l.id);
      if (paymentHashOf(candidate) !== l.hashlock) return true; // not ours to settle (a route's, later)
      secret = candidate;
      kind = 'keysend';
    }
    // A lock whose secret we gave away already (a settle that failed) is never given back: it is
    // settled again, or paid at close (the forwarder registers the secret on-chain in time).
    // After a restart the memo is gone: a lock we had taken before it (its record in flight) may
    // have had its secret sent, unless it is a hold invoice's never released.
    const key = paymentKey('in', l.hashlock);
    const heldBack = kind === 'invoice' && this.heldBack(l.hashlock);
    const mayHaveLeft = this.revealed.get(ch.id)?.has(l.id) === true || (this.takenBefore.has(key) && !heldBack);
    if (refuse === undefined && l.expiry < now + (this.host.settleMargin ?? 120n) + SETTLE_MARGIN && !mayHaveLeft)
      refuse = 'expiry-too-soon';
    // A record no longer in memory (a lock for an invoice paid long ago): the invoice's record
    // says what it received. A keysend's record starts again (a payer re-sending a preimage).
    const paidInvoice = invoice ? this.invoiceRecords.get(l.hashlock) : undefined;
    const prior: Pick<PaymentRecord, 'status' | 'amount' | 'createdAt'> | undefined =
      this.records.get(key) ??
      (paidInvoice?.status === 'paid'
        ? { status: 'settled', amount: paidInvoice.received, createdAt: paidInvoice.paidAt ?? 0 }
        : undefined);
    const hop: RouteHop = { channelId: ch.id, to: ctx.transport.self.address, amount: l.amount, expiry: l.expiry, lockId: l.id };
    const t = ctx.clock();
    const record: PaymentRecord = {
      direction: 'in',
      kind,
      status: 'in-flight',
      paymentHash: l.hashlock,
      ...(secret === undefined ? {} : { secret }),
      asset,
      amount: (prior?.status === 'settled' ? prior.amount : 0n) + l.amount,
      fee: 0n,
      counterparty: ch.record.params.participants[ch.counterparty],
      route: [hop],
      ...(invoice ? { invoice: invoice.text } : {}),
      memo: invoice?.memo ?? '',
      createdAt: prior?.createdAt ?? t,
      updatedAt: t,
    };
    if (refuse !== undefined || secret === undefined) {
      ctx.channelLog(ch).info({ paymentHash: l.hashlock, reason: refuse }, 'refusing a lock to us: cancelling it');
      // A routed lock's payer learns why from the report sealed with our layer's reply key.
      const failure = final ? sealFailure(final.replyKey, refuse ?? 'unknown-payment', 'refused by the payee') : undefined;
      void this.host
        .submit(ch, { kind: 'cancel', id: this.host.nextOpId(ch), by: ch.self, lockId: l.id, ...(failure ? { failure } : {}) })
        .catch(() => undefined);
      if (!prior)
        this.save({ ...record, status: 'failed', failure: { reason: refuse ?? 'unknown-payment', detail: 'lock cancelled', hop: 0 } });
      return true;
    }
    if (prior?.status !== 'settled') this.save(record);
    const prepay = kind === 'keysend' ? final?.payload.prepay : undefined;
    if (heldBack) {
      // A hold invoice: the lock stays until settleInvoice or cancelInvoice (or its sender takes it at expiry).
      const list = this.held.get(l.hashlock) ?? [];
      if (!list.some((x) => x.channelId === ch.id && x.lockId === l.id))
        list.push({ channelId: ch.id, lockId: l.id, ...(final ? { replyKey: final.replyKey } : {}) });
      this.held.set(l.hashlock, list);
      return true;
    }
    const op: Op = { kind: 'settle', id: this.host.nextOpId(ch), by: ch.self, lockId: l.id, secret };
    this.lockMemo(this.revealed, ch.id).set(l.id, true);
    this.host.submit(ch, op).then(
      () => {
        // A swap quote's upfront premium: ours, counted once, when its settle is co-signed.
        if (prepay !== undefined) this.host.prepaid?.(prepay, asset, l.amount);
        const settled: PaymentRecord = { ...record, status: 'settled', updatedAt: ctx.clock() };
        this.save(settled);
        const inv = this.invoiceRecords.get(l.hashlock);
        if (inv) this.invoicePaid({ ...inv, status: 'paid', received: inv.received + l.amount, paidAt: inv.paidAt ?? ctx.clock() });
        ctx.events.emit('payment-settled', { payment: { ...settled } });
      },
      (e: unknown) => {
        this.handled.get(ch.id)?.delete(l.id); // looked at again at the next sweep
        this.retry.add(ch.id);
        // The counterparty may hold the secret now and not countersign: if it is not settled in
        // time, the forwarder registers the secret on-chain, and the lock pays us at close.
        this.host.forwarder?.claim(l.hashlock, secret);
        ctx.channelLog(ch).warn({ err: e, paymentHash: l.hashlock }, 'settling a lock to us failed');
      },
    );
    return true;
  }

  /** Our layers of routed locks to us, by channel and lock, while the lock is in the channel's state. */
  private readonly finals = new Map<Bytes32, Map<bigint, { readonly payload: FinalPayload; readonly replyKey: Uint8Array }>>();
  /** Locks to us whose secret left us in a settle, by channel and lock, while the lock is in the state. */
  private readonly revealed = new Map<Bytes32, Map<bigint, true>>();

  private lockMemo<V>(memo: Map<Bytes32, Map<bigint, V>>, channelId: Bytes32): Map<bigint, V> {
    let m = memo.get(channelId);
    if (m === undefined) memo.set(channelId, (m = new Map()));
    return m;
  }

  /** Drops what is kept of locks to us that left the channel's latest state. */
  private pruneLockMemos(channelId: Bytes32, locks: readonly Lock[]): void {
    if (!this.finals.has(channelId) && !this.revealed.has(channelId)) return;
    const live = new Set<bigint>();
    for (const l of locks) live.add(l.id);
    for (const memo of [this.finals, this.revealed] as Map<Bytes32, Map<bigint, unknown>>[]) {
      const m = memo.get(channelId);
      if (m === undefined) continue;
      for (const id of m.keys()) if (!live.has(id)) m.delete(id);
      if (m.size === 0) memo.delete(channelId);
    }
  }

  /** Locks held for hold invoices, by payment hash. */
  private readonly held = new Map<Bytes32, { channelId: Bytes32; lockId: bigint; replyKey?: Uint8Array }[]>();
  /** Hold invoices the node was told to settle. */
  private readonly released = new Set<Bytes32>();
  /** A hold invoice of ours not released yet: its locks are kept, and its secret has not left us. */
  private heldBack(paymentHash: Bytes32): boolean {
    return this.invoiceRecords.get(paymentHash)?.hold === true && !this.released.has(paymentHash);
  }
  /** Incoming payments in flight when the node started (records by key): their secret may have left in the last run. */
  private readonly takenBefore = new Set<string>();

  /** Settles the locks held for a hold invoice of ours (they were kept since they arrived). */
  async settleInvoice(paymentHash: Bytes32): Promise<InvoiceInfo> {
    const inv = this.issued.get(paymentHash);
    const rec = this.invoiceRecords.get(paymentHash);
    if (!inv || !rec) throw new InvalidArgumentError(`no invoice of ours with payment hash ${paymentHash}`);
    if (rec.hold !== true) throw new InvalidArgumentError('this invoice is not a hold invoice: it settles by itself');
    if (rec.released !== true) {
      // On disk before the secret can leave: after a restart its locks are settled, not held again.
      const released: InvoiceRecord = { ...rec, released: true };
      this.invoiceRecords.set(paymentHash, released);
      this.store.putInvoice(released);
      await this.store.flush();
    }
    this.released.add(paymentHash);
    for (const h of this.held.get(paymentHash) ?? []) {
      this.handled.get(h.channelId)?.delete(h.lockId);
      this.updated(h.channelId);
    }
    this.held.delete(paymentHash);
    return this.invoiceInfo(inv, this.invoiceRecords.get(paymentHash));
  }

  /** Gives back the locks held for a hold invoice of ours, with a report for the payer. */
  async cancelInvoice(paymentHash: Bytes32): Promise<void> {
    const rec = this.invoiceRecords.get(paymentHash);
    if (!rec) throw new InvalidArgumentError(`no invoice of ours with payment hash ${paymentHash}`);
    if (rec.hold !== true) throw new InvalidArgumentError('this invoice is not a hold invoice');
    for (const h of this.held.get(paymentHash) ?? []) {
      const ch = this.ctx.channels.get(h.channelId);
      if (!ch) continue;
      const failure = h.replyKey ? sealFailure(h.replyKey, 'unknown-payment', 'the payee cancelled the invoice') : undefined;
      await this.host
        .submit(ch, { kind: 'cancel', id: this.host.nextOpId(ch), by: ch.self, lockId: h.lockId, ...(failure ? { failure } : {}) })
        .catch(() => undefined);
    }
    this.held.delete(paymentHash);
  }

  /** Hashlocks of our payments' locks whose outcome is not recorded with its secret yet. */
  *unsettledHashlocks(): Iterable<Bytes32> {
    for (const m of this.out.values())
      for (const t of m.values()) if (this.records.get(t.key)?.secret === undefined) yield t.hash as Bytes32;
  }

  /** Whether a lock we sent on `channelId` is one of our payments'. */
  ownsLock(channelId: Bytes32, lockId: bigint): boolean {
    return this.out.get(channelId)?.has(lockId) === true;
  }

  /** Our locks past their expiry: cancel them (the sender may, once expired). */
  private sweep(): void {
    if (this.stopped) return;
    this.writeInFlight(IN_FLIGHT_WRITE_MS);
    if (Date.now() - this.lastInvoiceSweep >= INVOICE_SWEEP_MS) {
      this.lastInvoiceSweep = Date.now();
      this.dropExpiredInvoices();
    }
    for (const id of [...this.retry]) {
      this.retry.delete(id);
      this.updated(id);
    }
    const now = this.ctx.now();
    for (const [channelId, locks] of this.out) {
      const ch = this.ctx.channels.get(channelId);
      if (!ch || ch.record.status !== 'open') continue;
      for (const [lockId, t] of locks) {
        if (t.cancelling) continue;
        const lock = ch.latest?.state.locks.find((l) => l.id === lockId && l.sender === ch.self);
        if (!lock) {
          // Never seen co-signed (a restart while pending, or a counterparty that kept its
          // countersignature) and now past its expiry.
          const expiry = this.records.get(t.key)?.route[0]?.expiry ?? 0n;
          if (!t.present && now >= expiry) this.resolveUnseen(ch, lockId, t, expiry);
          continue;
        }
        if (lock.expiry > now) continue;
        t.cancelling = true;
        t.expiredByUs = true;
        this.host.submit(ch, { kind: 'cancel', id: this.host.nextOpId(ch), by: ch.self, lockId }).catch(() => {
          t.cancelling = false; // again at the next sweep
        });
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Records

  private save(r: PaymentRecord): string {
    const key = paymentKey(r.direction, r.paymentHash);
    this.records.set(key, r);
    this.inFlightUnwritten.delete(key); // this write covers it
    this.store.putPayment(r);
    if (isActive(r)) this.finished.delete(key);
    else {
      this.takenBefore.delete(key);
      this.finished.delete(key);
      this.finished.set(key, true);
      this.trim();
    }
    return key;
  }

  /** Forgets the oldest final records beyond {@link FINISHED_IN_MEMORY}: they are on disk. */
  private trim(): void {
    for (const key of this.finished.keys()) {
      if (this.finished.size <= (this.host.finishedInMemory ?? FINISHED_IN_MEMORY)) return;
      const r = this.records.get(key);
      // Its callers are not answered yet (finish() is under way): at a later save.
      if (r !== undefined && !isActive(r) && this.waiters.has(key)) return;
      this.finished.delete(key);
      if (r === undefined || isActive(r)) continue; // active again: back here once final
      this.records.delete(key);
      this.store.forget(key);
    }
  }

  private finish(key: string, outcome: { settled: true } | { failure: PaymentFailure }): void {
    const r = this.records.get(key);
    if (!r) return;
    const done: PaymentRecord =
      'settled' in outcome
        ? { ...r, status: 'settled', updatedAt: this.ctx.clock() }
        : { ...r, status: 'failed', updatedAt: this.ctx.clock(), failure: outcome.failure };
    this.save(done);
    const waiters = this.waiters.get(key) ?? [];
    this.waiters.delete(key);
    void this.store.flush().then(
      () => {
        if ('settled' in outcome) {
          if (done.direction === 'out') this.host.forwarder?.secretKept(done.paymentHash);
          this.ctx.events.emit('payment-settled', { payment: { ...done } });
          for (const w of waiters) w.resolve({ ...done });
        } else {
          this.emitFailed(done);
          const f = outcome.failure;
          for (const w of waiters) w.reject(new PaymentFailedError(f.reason, f.detail, f.hop ?? 0, done.paymentHash));
        }
      },
      (e: unknown) => {
        for (const w of waiters) w.reject(e instanceof Error ? e : new Error('store failed'));
      },
    );
  }

  private emitFailed(r: PaymentRecord): void {
    const f = r.failure;
    if (!f) return;
    this.ctx.events.emit('payment-failed', { payment: { ...r }, reason: f.reason, hop: f.hop ?? 0, detail: f.detail });
  }
}
