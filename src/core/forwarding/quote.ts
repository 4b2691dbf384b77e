/**
 * Swap quotes (docs/adr/0012): a hub's signed promise to convert along a route, at one rate, for
 * one swap, within a short window. A routed swap's payer fetches one before paying and puts it,
 * as the hub signed it, in the hub's onion layer; the hub checks its own signature and the terms
 * when the incoming lock arrives. Nothing about a quote is kept by the hub but the nonces it has
 * seen used, so a quote is honoured once.
 *
 *   [4, hub, from, to, rateNum, rateDen, maxAmount, premium, upfront, validUntil, maxExpiry, nonce]  the signed body
 *   [...body, signature]                                                                             a quote
 *   [1, from, to, amount]                                                                            a request (payer → hub)
 *   [0, quote] | [1, reason]                                                                          the answer
 *
 * The digest is the graph's EIP-191 digest (src/core/routing/digest.ts) with tag 4: bound to
 * one chain and adjudicator, and never a signature over a state or a graph message.
 *
 * Amounts: the hub receives `from` and pays out `to`, at `rateNum / rateDen` units of `to` per
 * unit of `from`. To pay out `x` (plus its forwarding fee `f` on the outgoing channel) it wants
 * `ceil((x + f) × rateDen / rateNum) + premium` of `from` in the incoming lock: the same rounding
 * as the pathfinder (pathfind.ts), so payer and hub agree to the unit.
 *
 * Pure: decoders never throw; the clock and the signer are the caller's.
 */
import { type Address, type Bytes32, MAX_UINT256, MAX_UINT64 } from '../bytes.ts';
import type { CodecLimits } from '../codec/messages.ts';
import { type Wire, addr, address, arr, b32, decodeWith, fail, packr, sig, text, u, uint } from '../codec/primitives.ts';
import { type SignatureBackend, checkSignatureEncoding, nobleBackend, publicKeyToAddress } from '../crypto.ts';
import { graphDigest } from '../routing/digest.ts';
import type { GraphDomain } from '../routing/types.ts';

/** The longest a quote may be valid (issue 14: ≤ 30 s). */
export const MAX_QUOTE_VALIDITY = 30n;
/** The largest encoded quote, request or answer. */
export const MAX_QUOTE_BYTES = 512;
const QUOTE_TAG = 4;

export interface SwapQuote {
  /** The converting node: the signer. */
  readonly hub: Address;
  /** The asset the hub receives (in the incoming lock). */
  readonly from: Address;
  /** The asset the hub pays out (in the outgoing lock). */
  readonly to: Address;
  /** Units of `to` per unit of `from`: `rateNum / rateDen`. */
  readonly rateNum: bigint;
  readonly rateDen: bigint;
  /** The most of `to` paid out in the swap. */
  readonly maxAmount: bigint;
  /** Added to what the hub wants in, in `from` (the price of the option: ADR 0012; 0 by default). */
  readonly premium: bigint;
  /**
   * Paid to the hub unconditionally before the swap, in `from` (ADR 0012, 3): a keysend to the hub
   * whose payee layer names this quote's nonce (`prepay`). The hub refuses the swap's lock
   * (`quote-unpaid`) until it has received this much; it keeps it whatever the swap does. 0: none.
   */
  readonly upfront: bigint;
  /** Unix seconds: an incoming lock after this is refused. */
  readonly validUntil: bigint;
  /** Unix seconds: the latest expiry the route's lock may have (a short lock bounds the free option). */
  readonly maxExpiry: bigint;
  /** Unique per quote: the hub honours each once. */
  readonly nonce: Bytes32;
  readonly signature: Uint8Array;
}

export type QuoteBody = Omit<SwapQuote, 'signature'>;

export interface QuoteRequest {
  readonly from: Address;
  readonly to: Address;
  /** What the hub is to pay out, in `to`. */
  readonly amount: bigint;
}

export type QuoteAnswer = { readonly ok: true; readonly quote: SwapQuote } | { readonly ok: false; readonly reason: string };

const LIMITS: CodecLimits = {
  maxMessageBytes: MAX_QUOTE_BYTES,
  maxOps: 0,
  maxLocks: 0,
  maxAssets: 0,
  maxDetailLength: 200,
};

function bodyWire(q: QuoteBody): Wire[] {
  return [
    QUOTE_TAG,
    addr(q.hub),
    addr(q.from),
    addr(q.to),
    u(q.rateNum),
    u(q.rateDen),
    u(q.maxAmount),
    u(q.premium),
    u(q.upfront),
    u(q.validUntil),
    u(q.maxExpiry),
    addr(q.nonce),
  ];
}

/** What the hub signs. */
export function quoteDigest(domain: GraphDomain, q: QuoteBody): Uint8Array {
  return graphDigest(domain, QUOTE_TAG, packr.pack(bodyWire(q)));
}

export function encodeQuote(q: SwapQuote): Uint8Array {
  return packr.pack([...bodyWire(q), q.signature]);
}

function readQuote(x: unknown): SwapQuote {
  const f = arr(x, 'quote', 13, 13);
  if (f[0] !== QUOTE_TAG) fail('not a quote');
  const q: SwapQuote = {
    hub: address(f[1], 'hub'),
    from: address(f[2], 'from'),
    to: address(f[3], 'to'),
    rateNum: uint(f[4], 'rateNum', MAX_UINT256),
    rateDen: uint(f[5], 'rateDen', MAX_UINT256),
    maxAmount: uint(f[6], 'maxAmount', MAX_UINT256),
    premium: uint(f[7], 'premium', MAX_UINT256),
    upfront: uint(f[8], 'upfront', MAX_UINT256),
    validUntil: uint(f[9], 'validUntil', MAX_UINT64),
    maxExpiry: uint(f[10], 'maxExpiry', MAX_UINT64),
    nonce: b32(f[11], 'nonce'),
    signature: sig(f[12], 'signature'),
  };
  if (q.rateNum === 0n || q.rateDen === 0n) fail('a rate has no zero term');
  if (q.from === q.to) fail('a quote converts between two assets');
  return q;
}

/** Decodes a quote from untrusted bytes (a payer's onion layer, a hub's answer); never throws. */
export function decodeQuote(data: Uint8Array): { ok: true; value: SwapQuote } | { ok: false; detail: string } {
  const r = decodeWith(data, LIMITS, readQuote);
  return r.ok ? { ok: true, value: r.value } : { ok: false, detail: r.detail };
}

export function encodeQuoteRequest(r: QuoteRequest): Uint8Array {
  return packr.pack([1, addr(r.from), addr(r.to), u(r.amount)]);
}

export function decodeQuoteRequest(data: Uint8Array): { ok: true; value: QuoteRequest } | { ok: false; detail: string } {
  const r = decodeWith(data, LIMITS, (x) => {
    const f = arr(x, 'quote request', 4, 4);
    if (f[0] !== 1) fail('not a quote request');
    const amount = uint(f[3], 'amount', MAX_UINT256);
    if (amount === 0n) fail('amount must be positive');
    return { from: address(f[1], 'from'), to: address(f[2], 'to'), amount };
  });
  return r.ok ? { ok: true, value: r.value } : { ok: false, detail: r.detail };
}

export function encodeQuoteAnswer(a: QuoteAnswer): Uint8Array {
  return a.ok ? packr.pack([0, encodeQuote(a.quote)]) : packr.pack([1, a.reason.slice(0, 200)]);
}

export function decodeQuoteAnswer(data: Uint8Array): { ok: true; value: QuoteAnswer } | { ok: false; detail: string } {
  const r = decodeWith(data, LIMITS, (x): QuoteAnswer => {
    const f = arr(x, 'quote answer', 2, 2);
    if (f[0] === 1) return { ok: false, reason: text(f[1], 'reason', 200) };
    if (f[0] !== 0 || !(f[1] instanceof Uint8Array)) fail('not a quote answer');
    return { ok: true, quote: readQuote(packr.unpack(f[1])) };
  });
  return r.ok ? { ok: true, value: r.value } : { ok: false, detail: r.detail };
}

/** Whether `q` is signed by its hub, in `domain`. */
export function verifyQuoteSignature(q: SwapQuote, domain: GraphDomain, backend: SignatureBackend = nobleBackend): boolean {
  if (!checkSignatureEncoding(q.signature).ok) return false;
  const key = backend.recover(q.signature, quoteDigest(domain, q));
  return key !== undefined && publicKeyToAddress(key) === q.hub;
}

/** `ceil(a / b)` for positive bigints: the rounding of conversions, the payer's (pathfind.ts) and the hub's alike. */
export const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;

/** What the hub wants in (in `from`) to pay out `amountOut` plus `fee` (in `to`) under `q`. */
export function quotedAmountIn(q: Pick<SwapQuote, 'rateNum' | 'rateDen' | 'premium'>, amountOut: bigint, fee: bigint): bigint {
  return ceilDiv((amountOut + fee) * q.rateDen, q.rateNum) + q.premium;
}
