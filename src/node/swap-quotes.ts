/**
 * Routed swaps at a hub (docs/adr/0012): the pairs this node converts along routes, the quotes it
 * signs for them, and the check of a quote when a swap lock arrives with one.
 *
 * A quote binds the hub to a rate for one swap, for at most 30 s, with a lock that expires soon
 * after (`maxExpiry`: the registration margin, the route window and {@link SWAP_LOCK_SLACK}):
 * the holder of the secret gets a free option on the rate only for that long. The hub keeps no
 * quote, only the nonces of the quotes used (until they expire), and refuses quotes it signed
 * before it last started, whose use it may have forgotten: each quote is honoured once.
 *
 * Strangers may ask for quotes: each answer costs a signature, so a peer gets at most a few per
 * second (token bucket per peer address).
 */
import { randomBytes } from 'node:crypto';
import { type Address, type Bytes32, bytesToHex } from '../core/bytes.ts';
import type { SignatureBackend } from '../core/crypto.ts';
import {
  type ForwardTiming,
  MAX_QUOTE_VALIDITY,
  type QuoteAnswer,
  type QuoteBody,
  type SwapQuote,
  decodeQuoteRequest,
  encodeQuoteAnswer,
  quoteDigest,
  verifyQuoteSignature,
} from '../core/forwarding/index.ts';
import { RateLimiter } from '../core/routing/rate-limit.ts';
import type { GraphDomain, SwapOffer } from '../core/routing/types.ts';
import type { SwapPolicy } from './policy.ts';

/** Seconds a swap's lock may live beyond what a route needs (ADR 0012): the length of the free option, about. */
export const SWAP_LOCK_SLACK = 60n;
/** Nonces of used quotes kept at most (a swap per nonce, within 30 s: far above any hub's rate). */
const MAX_USED = 1_000_000;

/** The pairs a swap policy trades, as routed-swap offers: it receives `receive` and gives `give` at `perGive / minReceive`. */
export function swapOffersOf(policy: SwapPolicy | undefined): SwapOffer[] {
  if (policy === undefined || typeof policy === 'function') return [];
  return policy.pairs.map((p) => ({
    from: p.receive,
    to: p.give,
    rateNum: p.perGive,
    rateDen: p.minReceive,
    maxAmount: p.maxGive ?? (1n << 128n) - 1n,
  }));
}

export interface QuoteDeskDeps {
  readonly self: Address;
  readonly domain: GraphDomain;
  readonly backend: SignatureBackend;
  readonly sign: (digest: Uint8Array) => Promise<Uint8Array>;
  /** Unix seconds. */
  readonly now: () => bigint;
  readonly nowMs: () => number;
  readonly offers: readonly SwapOffer[];
  readonly timing: ForwardTiming;
  /** How long a quote holds (seconds, ≤ 30; default 30). */
  readonly validity?: bigint;
  /** What each quote adds to the amount in, per million of it (the option's price: ADR 0012; default 0). */
  readonly premiumPpm?: bigint;
}

export class QuoteDesk {
  readonly #d: QuoteDeskDeps;
  readonly #validity: bigint;
  readonly #startedAt: bigint;
  /** Used nonces, with their quote's validUntil. */
  readonly #used = new Map<Bytes32, bigint>();
  readonly #limiter = new RateLimiter({ perSecond: 20, burst: 200, maxKeys: 4_096 });
  readonly stats = { issued: 0, refused: 0 };

  constructor(d: QuoteDeskDeps) {
    this.#d = d;
    this.#validity = d.validity ?? MAX_QUOTE_VALIDITY;
    if (this.#validity <= 0n || this.#validity > MAX_QUOTE_VALIDITY) throw new RangeError(`a quote holds 1..${MAX_QUOTE_VALIDITY} s`);
    this.#startedAt = d.now();
  }

  get offers(): readonly SwapOffer[] {
    return this.#d.offers;
  }

  /** The answer to an encoded quote request from `from` (the asking peer's address). */
  async answer(from: Address | undefined, data: Uint8Array): Promise<Uint8Array> {
    const refuse = (reason: string): Uint8Array => {
      this.stats.refused++;
      return encodeQuoteAnswer({ ok: false, reason });
    };
    if (!this.#limiter.take(from ?? 'unknown', this.#d.nowMs())) return refuse('too many quote requests: slow down');
    const r = decodeQuoteRequest(data);
    if (!r.ok) return refuse(`bad request: ${r.detail}`);
    const a = await this.quote(r.value.from, r.value.to, r.value.amount);
    return a.ok ? encodeQuoteAnswer(a) : refuse(a.reason);
  }

  /** A signed quote to pay out `amount` of `to` for `from`, or why not. */
  async quote(from: Address, to: Address, amount: bigint): Promise<QuoteAnswer> {
    const offer = this.#d.offers.find((o) => o.from === from && o.to === to);
    if (offer === undefined) return { ok: false, reason: `no swap of ${from} into ${to} here` };
    if (amount > offer.maxAmount) return { ok: false, reason: `at most ${offer.maxAmount} of ${to} per swap` };
    const now = this.#d.now();
    const t = this.#d.timing;
    const premiumPpm = this.#d.premiumPpm ?? 0n;
    const body: QuoteBody = {
      hub: this.#d.self,
      from,
      to,
      rateNum: offer.rateNum,
      rateDen: offer.rateDen,
      maxAmount: amount,
      premium: (((amount * offer.rateDen) / offer.rateNum) * premiumPpm) / 1_000_000n,
      validUntil: now + this.#validity,
      maxExpiry: now + this.#validity + t.registrationMargin + t.minRouteWindow + SWAP_LOCK_SLACK,
      nonce: bytesToHex(randomBytes(32)) as Bytes32,
    };
    const signature = await this.#d.sign(quoteDigest(this.#d.domain, body));
    this.stats.issued++;
    return { ok: true, quote: { ...body, signature } };
  }

  /** Whether `q`, from a swap payload, is ours and unused. */
  check(q: SwapQuote): 'ours' | 'not-ours' | 'used' {
    if (q.hub !== this.#d.self || !verifyQuoteSignature(q, this.#d.domain, this.#d.backend)) return 'not-ours';
    // Signed before this process started: its use may have been forgotten in a restart.
    if (q.validUntil - this.#validity < this.#startedAt) return 'used';
    return this.#used.has(q.nonce) ? 'used' : 'ours';
  }

  use(q: SwapQuote): void {
    const now = this.#d.now();
    if (this.#used.size >= MAX_USED) for (const [n, until] of this.#used) if (until < now) this.#used.delete(n);
    if (this.#used.size >= MAX_USED) this.#used.delete(this.#used.keys().next().value!);
    this.#used.set(q.nonce, q.validUntil);
  }
}
