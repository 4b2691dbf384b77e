/**
 * Payment records and stored invoices (docs/adr/0018): what a node keeps of every payment it
 * makes or receives, and of every invoice it issued with the secret behind it. The node stores
 * them in its lmdb store (src/node/payments-store.ts); these are their types and their codec,
 * pure and validating (a record read back is checked like any other input: the fuzz target
 * `payments` decodes arbitrary bytes with it).
 *
 * A record's `route` lists the channels its locks ride, one hop per channel, payer first. A
 * direct payment has one hop; the route-based engine (issue 14) fills in longer ones, and the
 * `fee` is what the hops before the payee take.
 */
import { type Address, type Bytes32, MAX_UINT256, MAX_UINT64, bytesToHex, hexToBytes, isAddress, isBytes32 } from '../bytes.ts';
import { type Wire, Malformed, address, arr, b32, describe, fail, packr, small, u, uint } from '../codec/primitives.ts';
import { MAX_HOLDINGS } from '../state.ts';
import { MAX_INVOICE_LENGTH, MAX_MEMO_BYTES, memoProblem } from './invoice.ts';

export const PAYMENT_RECORD_FORMAT = 1;
export const INVOICE_RECORD_FORMAT = 1;
/** Longest route a record holds (BOLT 4's 20 hops, and room to spare). */
export const MAX_ROUTE_HOPS = 27;

export const PAYMENT_STATUSES = ['pending', 'in-flight', 'settled', 'failed'] as const;
/** `pending`: recorded, its first lock not co-signed yet; `in-flight`: locked, waiting for the secret. */
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/**
 * Why a payment failed: a closed set. The first four happen on a direct channel today; the rest
 * are what a hop of a route reports (BOLT 4's failure messages, in Lanes' words).
 */
export const PAYMENT_FAILURES = [
  'no-route', // no channel (today: no direct one) to the payee with the asset and enough balance
  'lock-refused', // the channel refused our lock (insufficient balance, too many locks, ...)
  'cancelled', // the next hop gave the lock back without saying why (the payee refused it)
  'lock-expired', // nobody settled before the lock's expiry: it went back to the payer
  'unknown-payment', // the payee knows no invoice with this payment hash (or it expired)
  'incorrect-amount', // less than the invoice asks, or another asset
  'expiry-too-soon', // the lock expires too soon for the hop to settle or forward it safely
  'fee-insufficient', // the hop's forwarding fee is not covered
  'temporary-channel-failure', // the hop's next channel cannot carry it now (balance, offline)
  'unknown-next-hop', // the hop has no channel to the next node of the route
  'quote-refused', // a routed swap: no hub quoted it, its quote exceeds the payer's limits, or the hub refused the quote
] as const;
export type PaymentFailureReason = (typeof PAYMENT_FAILURES)[number];

const FAILURE_SET: ReadonlySet<string> = new Set(PAYMENT_FAILURES);
export function isPaymentFailureReason(x: unknown): x is PaymentFailureReason {
  return typeof x === 'string' && FAILURE_SET.has(x);
}

/** Longest failure detail kept (a hop's words are not trusted to be short). */
export const MAX_FAILURE_DETAIL = 200;

/** One channel of a route, and the lock in it. */
export interface RouteHop {
  readonly channelId: Bytes32;
  /** The node this hop's lock pays (the payee on the last hop). */
  readonly to: Address;
  /** What the lock carries: the payee's amount plus the fees of the hops after this one. */
  readonly amount: bigint;
  /** The lock's expiry, unix seconds. */
  readonly expiry: bigint;
  /** The lock's id in its channel. */
  readonly lockId: bigint;
}

export interface PaymentFailure {
  readonly reason: PaymentFailureReason;
  readonly detail: string;
  /** Index in `route` of the hop that failed it (0: our own channel). */
  readonly hop?: number;
}

export interface PaymentRecord {
  /** `out`: this node pays; `in`: it is paid. */
  readonly direction: 'out' | 'in';
  readonly kind: 'invoice' | 'keysend';
  readonly status: PaymentStatus;
  readonly paymentHash: Bytes32;
  /** Known to the payer once settled; to the payee from the start. */
  readonly secret?: Bytes32;
  readonly asset: Address;
  /** What the payee receives. */
  readonly amount: bigint;
  /** What the hops take (0 on a direct channel). */
  readonly fee: bigint;
  /** The payee (out) or the payer's channel peer (in). */
  readonly counterparty: Address;
  readonly route: readonly RouteHop[];
  /** The invoice paid (out) or issued (in), when there is one. */
  readonly invoice?: string;
  readonly memo: string;
  /** Unix milliseconds. */
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly failure?: PaymentFailure;
  /** A routed swap (out): what the payer locked, in which asset, and the hub's quoted rate. */
  readonly swap?: PaymentSwap;
}

/** The paying side of a routed swap: `amount` of `asset` sent, converted by `hub` at `rateNum / rateDen`. */
export interface PaymentSwap {
  readonly asset: Address;
  readonly amount: bigint;
  readonly hub: Address;
  readonly rateNum: bigint;
  readonly rateDen: bigint;
}
export interface InvoiceRecord {
  readonly text: string;
  readonly paymentHash: Bytes32;
  readonly secret: Bytes32;
  /** `paid` once a lock with its hash was settled to us. */
  readonly status: 'open' | 'paid';
  /** What was received for it (0 while open). */
  readonly received: bigint;
  readonly paidAt?: number;
  /**
   * A hold invoice: a lock paying it is kept, not settled, until the node is told to settle or
   * cancel it (lnd's "hodl" invoices: a merchant settles once the goods ship).
   */
  readonly hold?: true;
  /**
   * A hold invoice the node was told to settle: its secret may have left us. Kept so that a
   * restart does not hold its locks again (or give them back near their expiry).
   */
  readonly released?: true;
}

export type DecodeResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly detail: string };

const MAX_MS = 2 ** 48; // unix ms, year 10889

function ms(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0 || x > MAX_MS) fail(`${what} must be a unix time in ms`);
  return x;
}

function text(x: unknown, what: string, max: number): string {
  if (typeof x !== 'string' || x.length > max) fail(`${what} must be a string of at most ${max} characters`);
  return x;
}

function pick<T extends string>(x: unknown, set: readonly T[], what: string): T {
  if (typeof x !== 'string' || !(set as readonly string[]).includes(x))
    fail(`${what} must be one of ${set.join(', ')}, got ${describe(x)}`);
  return x as T;
}

const optional = <T>(x: unknown, read: (x: unknown) => T): T | undefined => (x === null ? undefined : read(x));

// ---------------------------------------------------------------------------------------------
// Payment records: [format, direction, kind, status, paymentHash, secret|nil, asset, amount, fee,
//   counterparty, [[channelId, to, amount, expiry, lockId]…], invoice|nil, memo, createdAt,
//   updatedAt, [reason, detail, hop|nil]|nil(, [asset, amount, hub, rateNum, rateDen]|nil)]
// (the 17th field, a routed swap's, is optional: records written before it have 16)

/** Why a record cannot be stored, or undefined. */
export function paymentRecordProblem(r: PaymentRecord): string | undefined {
  if (r.direction !== 'out' && r.direction !== 'in') return 'direction must be out or in';
  if (r.kind !== 'invoice' && r.kind !== 'keysend') return 'kind must be invoice or keysend';
  if (!(PAYMENT_STATUSES as readonly string[]).includes(r.status)) return 'unknown status';
  if (!isBytes32(r.paymentHash) || (r.secret !== undefined && !isBytes32(r.secret))) return 'paymentHash and secret are 32 bytes';
  if (!isAddress(r.asset) || !isAddress(r.counterparty)) return 'asset and counterparty are addresses';
  if (typeof r.amount !== 'bigint' || r.amount <= 0n || r.amount > MAX_HOLDINGS) return 'amount must be 1..2^128-1';
  if (typeof r.fee !== 'bigint' || r.fee < 0n || r.fee > MAX_HOLDINGS) return 'fee must be 0..2^128-1';
  if (!Array.isArray(r.route) || r.route.length > MAX_ROUTE_HOPS) return `a route has at most ${MAX_ROUTE_HOPS} hops`;
  for (const h of r.route) {
    if (!isBytes32(h.channelId) || !isAddress(h.to)) return 'a hop names a channel and a node';
    if (typeof h.amount !== 'bigint' || h.amount <= 0n || h.amount > MAX_HOLDINGS) return 'a hop amount must be 1..2^128-1';
    if (typeof h.expiry !== 'bigint' || h.expiry < 0n || h.expiry > MAX_UINT64) return 'a hop expiry is a uint64';
    if (typeof h.lockId !== 'bigint' || h.lockId < 0n || h.lockId > MAX_UINT64) return 'a lock id is a uint64';
  }
  if (r.invoice !== undefined && (typeof r.invoice !== 'string' || r.invoice.length > MAX_INVOICE_LENGTH)) return 'invoice too long';
  const memo = memoProblem(r.memo);
  if (memo !== undefined) return memo;
  if (!Number.isSafeInteger(r.createdAt) || !Number.isSafeInteger(r.updatedAt) || r.createdAt < 0 || r.updatedAt < 0)
    return 'times are unix ms';
  if (r.failure !== undefined) {
    if (!isPaymentFailureReason(r.failure.reason)) return 'unknown failure reason';
    if (typeof r.failure.detail !== 'string' || r.failure.detail.length > MAX_FAILURE_DETAIL) return 'failure detail too long';
    if (r.failure.hop !== undefined && (!Number.isSafeInteger(r.failure.hop) || r.failure.hop < 0 || r.failure.hop >= MAX_ROUTE_HOPS))
      return 'failure hop out of range';
  }
  if (r.swap !== undefined) {
    const w = r.swap;
    if (!isAddress(w.asset) || !isAddress(w.hub)) return 'a swap names an asset and a hub';
    if (typeof w.amount !== 'bigint' || w.amount <= 0n || w.amount > MAX_HOLDINGS) return 'a swap amount must be 1..2^128-1';
    if (
      typeof w.rateNum !== 'bigint' ||
      typeof w.rateDen !== 'bigint' ||
      w.rateNum <= 0n ||
      w.rateDen <= 0n ||
      w.rateNum > MAX_UINT256 ||
      w.rateDen > MAX_UINT256
    )
      return 'a swap rate has two positive terms';
  }
  return undefined;
}

/**
 * Encoded routes by route array: a payment's record is written several times (pending, in
 * flight, with its secret, settled), each a copy that keeps the same route, which nobody mutates.
 */
const encodedRoutes = new WeakMap<readonly RouteHop[], Wire[]>();

function routeWire(route: readonly RouteHop[]): Wire[] {
  let w = encodedRoutes.get(route);
  if (w === undefined) {
    w = route.map((h) => [hexToBytes(h.channelId), hexToBytes(h.to), u(h.amount), u(h.expiry), u(h.lockId)]);
    encodedRoutes.set(route, w);
  }
  return w;
}

function recordWire(r: PaymentRecord): Wire[] {
  return [
    PAYMENT_RECORD_FORMAT,
    r.direction,
    r.kind,
    r.status,
    hexToBytes(r.paymentHash),
    r.secret === undefined ? null : hexToBytes(r.secret),
    hexToBytes(r.asset),
    u(r.amount),
    u(r.fee),
    hexToBytes(r.counterparty),
    routeWire(r.route),
    r.invoice ?? null,
    r.memo,
    r.createdAt,
    r.updatedAt,
    r.failure === undefined ? null : [r.failure.reason, r.failure.detail, r.failure.hop ?? null],
    ...(r.swap === undefined
      ? []
      : [[hexToBytes(r.swap.asset), u(r.swap.amount), hexToBytes(r.swap.hub), u(r.swap.rateNum), u(r.swap.rateDen)]]),
  ];
}

export function encodePaymentRecord(r: PaymentRecord): Uint8Array {
  const problem = paymentRecordProblem(r);
  if (problem !== undefined) throw new TypeError(`payment record: ${problem}`);
  return packr.pack(recordWire(r));
}

function parseRecord(raw: unknown): PaymentRecord {
  const f = arr(raw, 'payment record', 16, 17);
  if (f[0] !== PAYMENT_RECORD_FORMAT) fail(`unknown payment record format ${describe(f[0])}`);
  const secret = optional(f[5], (x) => b32(x, 'secret'));
  const invoice = optional(f[11], (x) => text(x, 'invoice', MAX_INVOICE_LENGTH));
  const failure = optional(f[15], (x) => {
    const g = arr(x, 'failure', 3, 3);
    const hop = optional(g[2], (h) => small(h, 'failure hop', MAX_ROUTE_HOPS - 1));
    return {
      reason: pick(g[0], PAYMENT_FAILURES, 'failure reason'),
      detail: text(g[1], 'failure detail', MAX_FAILURE_DETAIL),
      ...(hop === undefined ? {} : { hop }),
    };
  });
  return {
    direction: pick(f[1], ['out', 'in'] as const, 'direction'),
    kind: pick(f[2], ['invoice', 'keysend'] as const, 'kind'),
    status: pick(f[3], PAYMENT_STATUSES, 'status'),
    paymentHash: b32(f[4], 'paymentHash'),
    ...(secret === undefined ? {} : { secret }),
    asset: address(f[6], 'asset'),
    amount: uint(f[7], 'amount', MAX_HOLDINGS),
    fee: uint(f[8], 'fee', MAX_HOLDINGS),
    counterparty: address(f[9], 'counterparty'),
    route: arr(f[10], 'route', 0, MAX_ROUTE_HOPS).map((x, i) => {
      const h = arr(x, `route[${i}]`, 5, 5);
      return {
        channelId: b32(h[0], `route[${i}] channelId`),
        to: address(h[1], `route[${i}] to`),
        amount: uint(h[2], `route[${i}] amount`, MAX_HOLDINGS),
        expiry: uint(h[3], `route[${i}] expiry`, MAX_UINT64),
        lockId: uint(h[4], `route[${i}] lockId`, MAX_UINT64),
      };
    }),
    ...(invoice === undefined ? {} : { invoice }),
    memo: text(f[12], 'memo', MAX_MEMO_BYTES),
    createdAt: ms(f[13], 'createdAt'),
    updatedAt: ms(f[14], 'updatedAt'),
    ...(failure === undefined ? {} : { failure }),
    ...(f.length === 17 ? { swap: readSwap(f[16]) } : {}),
  };
}

function readSwap(x: unknown): PaymentSwap {
  const g = arr(x, 'swap', 5, 5);
  const rateNum = uint(g[3], 'swap rateNum', MAX_UINT256);
  const rateDen = uint(g[4], 'swap rateDen', MAX_UINT256);
  if (rateNum === 0n || rateDen === 0n) fail('a swap rate has two positive terms');
  const amount = uint(g[1], 'swap amount', MAX_HOLDINGS);
  if (amount === 0n) fail('a swap amount is positive');
  return { asset: address(g[0], 'swap asset'), amount, hub: address(g[2], 'swap hub'), rateNum, rateDen };
}

/** Decodes a stored record: every field checked, one encoding per record. */
export function decodePaymentRecord(bytes: Uint8Array): DecodeResult<PaymentRecord> {
  return decodeWith(bytes, parseRecord, paymentRecordProblem, recordWire);
}

// ---------------------------------------------------------------------------------------------
// Invoice records: [format, text, secret, status, received, paidAt|nil, (true: hold, (true: released))].
// The payment hash is the secret's (checked by the node when it loads them, with the invoice's
// signature).

function invoiceWire(r: InvoiceRecord): Wire[] {
  const w: Wire[] = [INVOICE_RECORD_FORMAT, r.text, hexToBytes(r.secret), r.status, u(r.received), r.paidAt ?? null];
  if (r.hold === true) w.push(true);
  if (r.hold === true && r.released === true) w.push(true);
  return w;
}

export function invoiceRecordProblem(r: InvoiceRecord): string | undefined {
  if (typeof r.text !== 'string' || r.text.length === 0 || r.text.length > MAX_INVOICE_LENGTH) return 'text must be an invoice string';
  if (!isBytes32(r.secret) || !isBytes32(r.paymentHash)) return 'secret and paymentHash are 32 bytes';
  if (r.status !== 'open' && r.status !== 'paid') return 'status must be open or paid';
  if (typeof r.received !== 'bigint' || r.received < 0n || r.received > MAX_HOLDINGS) return 'received must be 0..2^128-1';
  if (r.paidAt !== undefined && (!Number.isSafeInteger(r.paidAt) || r.paidAt < 0)) return 'paidAt is unix ms';
  if (r.hold !== undefined && r.hold !== true) return 'hold is true or absent';
  if (r.released !== undefined && (r.released !== true || r.hold !== true)) return 'released is true or absent, and only on a hold invoice';
  return undefined;
}

export function encodeInvoiceRecord(r: InvoiceRecord): Uint8Array {
  const problem = invoiceRecordProblem(r);
  if (problem !== undefined) throw new TypeError(`invoice record: ${problem}`);
  return packr.pack(invoiceWire(r));
}

/** Decodes a stored invoice record; `paymentHashOf` (the caller's) fills in the hash of the secret. */
export function decodeInvoiceRecord(bytes: Uint8Array, paymentHashOf: (secret: Bytes32) => Bytes32): DecodeResult<InvoiceRecord> {
  return decodeWith(
    bytes,
    (raw) => {
      const f = arr(raw, 'invoice record', 6, 8);
      if (f.length >= 7 && f[6] !== true) fail('hold must be true when present');
      if (f.length === 8 && f[7] !== true) fail('released must be true when present');
      if (f[0] !== INVOICE_RECORD_FORMAT) fail(`unknown invoice record format ${describe(f[0])}`);
      const secret = b32(f[2], 'secret');
      const paidAt = optional(f[5], (x) => ms(x, 'paidAt'));
      return {
        text: text(f[1], 'text', MAX_INVOICE_LENGTH),
        paymentHash: paymentHashOf(secret),
        secret,
        status: pick(f[3], ['open', 'paid'] as const, 'status'),
        received: uint(f[4], 'received', MAX_HOLDINGS),
        ...(paidAt === undefined ? {} : { paidAt }),
        ...(f.length >= 7 ? { hold: true as const } : {}),
        ...(f.length === 8 ? { released: true as const } : {}),
      };
    },
    invoiceRecordProblem,
    invoiceWire,
  );
}

function decodeWith<T>(
  bytes: Uint8Array,
  parse: (raw: unknown) => T,
  problem: (value: T) => string | undefined,
  wire: (value: T) => Wire[],
): DecodeResult<T> {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0 || bytes.length > 64 * 1024)
    return { ok: false, detail: 'a record is 1 byte to 64 KiB' };
  let value: T;
  try {
    value = parse(packr.unpack(bytes));
  } catch (e) {
    return { ok: false, detail: e instanceof Malformed ? e.message : 'not msgpack' };
  }
  const p = problem(value);
  if (p !== undefined) return { ok: false, detail: p };
  if (bytesToHex(packr.pack(wire(value))) !== bytesToHex(bytes)) return { ok: false, detail: 'not canonically encoded' };
  return { ok: true, value };
}
