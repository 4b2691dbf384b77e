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
 *
 * Reputation (ADR 0012, 4): the desk remembers who asked for each quote. A swap that locked our
 * outgoing liquidity for {@link STRIKE_AFTER_MS} or more and then came back without its secret
 * (the holder let the option lapse, or the payee refused late) is a strike against the peer that
 * asked for its quote. Each strike widens that peer's quotes by {@link STRIKE_WIDEN_PPM};
 * at {@link STRIKE_LIMIT} strikes it gets no quotes. Strikes are forgotten
 * {@link STRIKE_MEMORY_MS} after the last one, and at a restart (kept in memory only, bounded).
 *
 * The upfront premium (ADR 0012, 3): a desk with `upfrontPpm` asks, in each quote, for a premium
 * paid unconditionally before the swap, by a keysend to us whose payee layer names the quote's
 * nonce. The node reports each such keysend here ({@link QuoteDesk.prepaid}) once our settle of it
 * is co-signed (it is ours then, whatever the payer does); the swap's
 * lock is refused as `quote-unpaid` until the whole premium has arrived. What arrived is kept in
 * memory only: after a restart every earlier quote is refused anyway (`used`), premium or not.
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
/** A swap lock held this long (ms) and then given back without the secret counts against its quote's asker. */
export const STRIKE_AFTER_MS = 5_000;
/** What each strike adds to a peer's quotes, per million of the amount in. */
export const STRIKE_WIDEN_PPM = 5_000n;
/** Strikes at which a peer gets no more quotes. */
export const STRIKE_LIMIT = 3;
/** Strikes are forgotten this long (ms) after a peer's last one. */
export const STRIKE_MEMORY_MS = 3_600_000;
/** Peers with strikes remembered at most (the oldest forgotten first). */
const MAX_STRUCK = 4_096;
/** Quotes whose asker is remembered, at most (the oldest forgotten first). */
const MAX_ASKED = 100_000;
/** Quotes with an upfront premium remembered, at most: when full of live ones, no more are issued. */
export const MAX_UPFRONT = 100_000;

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
  /** What each quote asks to be paid upfront, unconditionally, per million of the amount in (ADR 0012, 3; default 0). */
  readonly upfrontPpm?: bigint;
  /** Live quotes with an upfront premium at most (default {@link MAX_UPFRONT}). */
  readonly maxUpfrontQuotes?: number;
}

export class QuoteDesk {
  readonly #d: QuoteDeskDeps;
  readonly #validity: bigint;
  readonly #startedAt: bigint;
  #premiumPpm: bigint;
  #upfrontPpm: bigint;
  /** Used nonces, with their quote's validUntil. */
  readonly #used = new Map<Bytes32, bigint>();
  readonly #limiter = new RateLimiter({ perSecond: 20, burst: 200, maxKeys: 4_096 });
  /** Who asked for each quote still live (by nonce), with its maxExpiry. */
  readonly #askedBy = new Map<Bytes32, { readonly by: Address; readonly until: bigint }>();
  /** Strikes per asking peer, and when the last one came (ms). */
  readonly #strikes = new Map<Address, { n: number; at: number }>();
  /** Quotes that ask an upfront premium, by nonce: its asset, what arrived, until when the quote can be used. */
  readonly #upfront = new Map<Bytes32, { readonly asset: Address; paid: bigint; readonly until: bigint }>();
  /** When (ms) expired upfront quotes were last dropped to make room. */
  #purgedAt = -Infinity;
  readonly stats = { issued: 0, refused: 0, strikes: 0, prepaid: 0n };

  constructor(d: QuoteDeskDeps) {
    this.#d = d;
    this.#validity = d.validity ?? MAX_QUOTE_VALIDITY;
    if (this.#validity <= 0n || this.#validity > MAX_QUOTE_VALIDITY) throw new RangeError(`a quote holds 1..${MAX_QUOTE_VALIDITY} s`);
    this.#premiumPpm = 0n;
    this.#upfrontPpm = 0n;
    this.setPricing(d);
    this.#startedAt = d.now();
  }

  /** Changes what quotes from now on add (premiumPpm) and ask upfront (upfrontPpm); a given field only. */
  setPricing(p: { readonly premiumPpm?: bigint; readonly upfrontPpm?: bigint }): void {
    for (const [name, ppm] of [
      ['premiumPpm', p.premiumPpm],
      ['upfrontPpm', p.upfrontPpm],
    ] as const)
      if (ppm !== undefined && (typeof ppm !== 'bigint' || ppm < 0n || ppm > 1_000_000n))
        throw new RangeError(`${name} must be from 0 to 1000000, got ${String(ppm)}`);
    if (p.premiumPpm !== undefined) this.#premiumPpm = p.premiumPpm;
    if (p.upfrontPpm !== undefined) this.#upfrontPpm = p.upfrontPpm;
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
    const a = await this.quote(r.value.from, r.value.to, r.value.amount, from);
    return a.ok ? encodeQuoteAnswer(a) : refuse(a.reason);
  }

  /** A signed quote to pay out `amount` of `to` for `from`, or why not; `askedBy`: the peer asking (for its reputation). */
  async quote(from: Address, to: Address, amount: bigint, askedBy?: Address): Promise<QuoteAnswer> {
    const offer = this.#d.offers.find((o) => o.from === from && o.to === to);
    if (offer === undefined) return { ok: false, reason: `no swap of ${from} into ${to} here` };
    if (amount > offer.maxAmount) return { ok: false, reason: `at most ${offer.maxAmount} of ${to} per swap` };
    // A quote that asks an upfront premium is remembered until it can no longer be used: when the
    // table is full of live ones, no more are issued (evicting one could cost its payer the premium).
    if (this.#upfrontPpm > 0n && !this.#roomForUpfront())
      return { ok: false, reason: 'too many quotes outstanding: ask again in a few seconds' };
    const strikes = askedBy === undefined ? 0 : this.strikesOf(askedBy);
    if (strikes >= STRIKE_LIMIT)
      return { ok: false, reason: `${strikes} swaps quoted to you held our liquidity and were not revealed: no quotes for a while` };
    const now = this.#d.now();
    const t = this.#d.timing;
    const premiumPpm = this.#premiumPpm + BigInt(strikes) * STRIKE_WIDEN_PPM;
    const amountIn = (amount * offer.rateDen) / offer.rateNum;
    const body: QuoteBody = {
      hub: this.#d.self,
      from,
      to,
      rateNum: offer.rateNum,
      rateDen: offer.rateDen,
      maxAmount: amount,
      premium: (amountIn * premiumPpm) / 1_000_000n,
      upfront: (amountIn * this.#upfrontPpm) / 1_000_000n,
      validUntil: now + this.#validity,
      maxExpiry: now + this.#validity + t.registrationMargin + t.minRouteWindow + SWAP_LOCK_SLACK,
      nonce: bytesToHex(randomBytes(32)) as Bytes32,
    };
    const signature = await this.#d.sign(quoteDigest(this.#d.domain, body));
    this.stats.issued++;
    if (askedBy !== undefined) this.#remember(body.nonce, askedBy, body.maxExpiry);
    if (body.upfront > 0n) this.#upfront.set(body.nonce, { asset: from, paid: 0n, until: body.maxExpiry });
    return { ok: true, quote: { ...body, signature } };
  }

  /** The strikes `peer` has now (0 once forgotten). */
  strikesOf(peer: Address): number {
    const s = this.#strikes.get(peer);
    if (s === undefined) return 0;
    if (s.at + STRIKE_MEMORY_MS <= this.#d.nowMs()) {
      this.#strikes.delete(peer);
      return 0;
    }
    return s.n;
  }

  /**
   * A swap under quote `q` gave our outgoing lock back without its secret after holding it
   * `heldMs`: a strike against the peer that asked for the quote, if it held long enough.
   */
  unrevealed(q: SwapQuote, heldMs: number): void {
    const asked = this.#askedBy.get(q.nonce);
    this.#askedBy.delete(q.nonce);
    if (asked === undefined || heldMs < STRIKE_AFTER_MS) return;
    const n = this.strikesOf(asked.by) + 1;
    this.#strikes.delete(asked.by); // re-inserted last: the map's order is the forgetting order
    if (this.#strikes.size >= MAX_STRUCK) this.#strikes.delete(this.#strikes.keys().next().value!);
    this.#strikes.set(asked.by, { n, at: this.#d.nowMs() });
    this.stats.strikes++;
  }

  #remember(nonce: Bytes32, by: Address, until: bigint): void {
    if (this.#askedBy.size >= MAX_ASKED) {
      const now = this.#d.now();
      for (const [k, v] of this.#askedBy) if (v.until < now) this.#askedBy.delete(k);
      if (this.#askedBy.size >= MAX_ASKED) this.#askedBy.delete(this.#askedBy.keys().next().value!);
    }
    this.#askedBy.set(nonce, { by, until });
  }

  /**
   * A keysend to us of `amount` in `asset` that names quote `nonce` (`prepay`): counted towards
   * that quote's upfront premium. False when no quote of ours live asks one by that nonce, in
   * that asset (the keysend is then a plain gift: nothing is owed for it).
   */
  prepaid(nonce: Bytes32, asset: Address, amount: bigint): boolean {
    const u = this.#upfront.get(nonce);
    if (u === undefined || u.asset !== asset || u.until < this.#d.now()) return false;
    u.paid += amount;
    this.stats.prepaid += amount;
    return true;
  }

  /** Whether another quote with an upfront premium fits: expired ones are dropped (at most once a second) to make room. */
  #roomForUpfront(): boolean {
    const max = this.#d.maxUpfrontQuotes ?? MAX_UPFRONT;
    if (this.#upfront.size < max) return true;
    const nowMs = this.#d.nowMs();
    if (nowMs - this.#purgedAt < 1_000) return false;
    this.#purgedAt = nowMs;
    const now = this.#d.now();
    for (const [k, v] of this.#upfront) if (v.until < now) this.#upfront.delete(k);
    return this.#upfront.size < max;
  }

  /**
   * Whether `q`, from a swap payload, is ours and unused ('used' also for a quote signed before
   * this process started), and, if it asks an upfront premium, whether all of it has arrived.
   */
  check(q: SwapQuote): 'ours' | 'not-ours' | 'used' | 'unpaid' {
    if (q.hub !== this.#d.self || !verifyQuoteSignature(q, this.#d.domain, this.#d.backend)) return 'not-ours';
    // Signed before this process started: its use may have been forgotten in a restart.
    if (q.validUntil - this.#validity < this.#startedAt) return 'used';
    if (this.#used.has(q.nonce)) return 'used';
    if (q.upfront > 0n && (this.#upfront.get(q.nonce)?.paid ?? 0n) < q.upfront) return 'unpaid';
    return 'ours';
  }

  use(q: SwapQuote): void {
    const now = this.#d.now();
    if (this.#used.size >= MAX_USED) for (const [n, until] of this.#used) if (until < now) this.#used.delete(n);
    if (this.#used.size >= MAX_USED) this.#used.delete(this.#used.keys().next().value!);
    this.#used.set(q.nonce, q.validUntil);
    this.#upfront.delete(q.nonce);
  }
}
