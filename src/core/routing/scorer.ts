/**
 * The probabilistic scorer: what the payer has learnt about remote channels' liquidity from its
 * payments, in the manner of LDK's `ProbabilisticScorer` and lnd's mission control (ADR 0017).
 *
 * Per channel and asset it keeps bounds on participant 0's balance, `[lo, hi]` within the
 * capacity (participant 1's is the rest, so one pair serves both directions). Without knowledge
 * the bounds are `[0, capacity]`. The probability that a direction can forward `a` is uniform
 * between the bounds: 1 up to the lower bound, 0 above the upper, linear in between.
 *
 * - A hop that forwarded `a` had at least `a`: the lower bound rises to `a` (then, on a success,
 *   both bounds move by `a`: the liquidity went to the other side).
 * - A hop that failed for liquidity had less than `a`: the upper bound falls to `a − 1`.
 * - Other failures (a disabled channel, a policy we had wrong, an offline peer, a failing node)
 *   avoid the channel or the node for a while; the hops before the failure still tell us that
 *   they had `a`.
 *
 * What was learnt decays toward no knowledge with a half-life (default 6 h, LDK's), so old
 * failures stop steering routes. Time is an argument (unix seconds).
 */
import type { Address, Bytes32 } from '../bytes.ts';

/** Why a routed payment failed at a hop: a closed set, shared with the forwarding engine. */
export const PAYMENT_FAILURES = [
  'insufficient-liquidity', // the hop's sender could not lock the amount on the channel
  'channel-disabled', // the forwarder has disabled the direction
  'fee-insufficient', // the forwarder wants more fees than the route paid (its policy changed)
  'expiry-too-soon', // the lock expires sooner than the forwarder's minimum
  'amount-out-of-range', // below the direction's minimum or above its maximum
  'too-many-locks', // the direction is at its in-flight lock limit
  'unknown-channel', // the forwarder has no such channel (closed, or a wrong graph)
  'peer-offline', // the forwarder cannot reach the next node
  'node-failure', // the forwarding node failed for a reason of its own
  'payee-rejected', // the payee refused (unknown payment, wrong amount, expired invoice)
] as const;

export type PaymentFailure = (typeof PAYMENT_FAILURES)[number];

export interface ScorerParams {
  /** Seconds for what was learnt to lose half its weight (default 6 h). */
  readonly halfLifeSeconds: number;
  /** Penalty per hop, millionths of the amount (default 100: 0.01%). Favours shorter routes. */
  readonly hopPenaltyPpm: number;
  /** Penalty per halving of the success probability, millionths of the amount (default 2,000: 0.2%). */
  readonly liquidityPenaltyPpm: number;
  /** How long a channel is avoided after a non-liquidity failure (default 10 min). */
  readonly avoidSeconds: number;
  /** Longer for a channel the forwarder does not know (default 1 h). */
  readonly unknownChannelAvoidSeconds: number;
}

export const DEFAULT_SCORER_PARAMS: ScorerParams = {
  halfLifeSeconds: 6 * 3600,
  hopPenaltyPpm: 100,
  liquidityPenaltyPpm: 2_000,
  avoidSeconds: 600,
  unknownChannelAvoidSeconds: 3600,
};

/** What a route's hop must say for the scorer to learn from it (pathfind.ts's RouteHop has it). */
export interface ScoredHop {
  readonly channelId: Bytes32;
  readonly direction: 0 | 1;
  readonly assetIndex: number;
  readonly amount: bigint;
  /** The channel's capacity in the hop's asset, when known (0n: a private channel of unknown size). */
  readonly capacity: bigint;
  /** The node that forwards this hop (the payer for the first). */
  readonly from: Address;
}

/** Bounds on participant 0's balance of one asset of one channel, as last learnt. */
export interface LiquidityEntry {
  readonly channelId: Bytes32;
  readonly assetIndex: number;
  readonly capacity: bigint;
  readonly lo: bigint;
  readonly hi: bigint;
  readonly updatedAt: bigint;
}

/** The scorer's knowledge at one instant, as the pathfinder reads it (floats, decayed). */
export interface ScorerView {
  /** Decayed bounds on participant 0's balance, per channel and asset (the pathfinder indexes them by edge). */
  readonly liquidity: readonly {
    readonly channelId: Bytes32;
    readonly assetIndex: number;
    readonly lo: number;
    readonly hi: number;
    readonly cap: number;
  }[];
  /** Bounds on the amount the direction can forward, per `channelId/direction/assetIndex` (built on first use). */
  readonly bounds: ReadonlyMap<string, { readonly lo: number; readonly hi: number }>;
  readonly avoidChannels: ReadonlySet<Bytes32>;
  readonly avoidNodes: ReadonlySet<Address>;
  readonly hopPenaltyPpm: number;
  readonly liquidityPenaltyPpm: number;
}

export const boundsKey = (channelId: Bytes32, direction: number, assetIndex: number): string => `${channelId}/${direction}/${assetIndex}`;

const entryKey = (channelId: Bytes32, assetIndex: number): string => `${channelId}/${assetIndex}`;

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/** Learns from payments; see the module comment. Bounded: at most `maxEntries` channels remembered. */
export class ProbabilisticScorer {
  readonly params: ScorerParams;
  readonly #entries = new Map<string, LiquidityEntry>();
  readonly #avoidChannels = new Map<Bytes32, bigint>();
  readonly #avoidNodes = new Map<Address, bigint>();
  readonly #maxEntries: number;

  constructor(params: Partial<ScorerParams> = {}, maxEntries = 100_000) {
    this.params = { ...DEFAULT_SCORER_PARAMS, ...params };
    this.#maxEntries = maxEntries;
  }

  /** Bounds of participant 0's balance now, decayed toward `[0, capacity]`. */
  #decayed(e: LiquidityEntry, now: bigint): { lo: number; hi: number; cap: number } {
    const elapsed = Number(now - e.updatedAt);
    const f = elapsed <= 0 ? 1 : Math.pow(2, -elapsed / this.params.halfLifeSeconds);
    const cap = Number(e.capacity);
    return { lo: Number(e.lo) * f, hi: cap - (cap - Number(e.hi)) * f, cap };
  }

  #current(h: ScoredHop, now: bigint): LiquidityEntry {
    const e = this.#entries.get(entryKey(h.channelId, h.assetIndex));
    const cap = h.capacity > 0n ? h.capacity : max(h.amount, e?.capacity ?? 0n);
    if (e === undefined) return { channelId: h.channelId, assetIndex: h.assetIndex, capacity: cap, lo: 0n, hi: cap, updatedAt: now };
    // Decay into integers, so the stored entry always means "as of updatedAt".
    const d = this.#decayed(e, now);
    const scale = cap === e.capacity ? 1n : 0n; // a capacity change (a top-up) resets what we knew
    if (scale === 0n) return { channelId: h.channelId, assetIndex: h.assetIndex, capacity: cap, lo: 0n, hi: cap, updatedAt: now };
    return { ...e, lo: BigInt(Math.floor(d.lo)), hi: min(cap, BigInt(Math.ceil(d.hi))), updatedAt: now };
  }

  #put(e: LiquidityEntry): void {
    const key = entryKey(e.channelId, e.assetIndex);
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, e);
  }

  /** The sender side of hop `h` had at least `amount`. */
  #atLeast(h: ScoredHop, now: bigint): LiquidityEntry {
    const e = this.#current(h, now);
    // direction 0: p0's balance ≥ a; direction 1: p1's ≥ a, so p0's ≤ cap − a.
    const next =
      h.direction === 0
        ? { ...e, lo: min(e.capacity, max(e.lo, h.amount)), hi: max(e.hi, min(e.capacity, h.amount)) }
        : { ...e, hi: min(e.hi, max(0n, e.capacity - h.amount)), lo: min(e.lo, max(0n, e.capacity - h.amount)) };
    return next;
  }

  /** A route's payment succeeded: every hop had the amount, which then moved to the other side. */
  recordSuccess(hops: readonly ScoredHop[], now: bigint): void {
    for (const h of hops) {
      const e = this.#atLeast(h, now);
      // The amount went from the sender to the receiver of the hop.
      const moved =
        h.direction === 0
          ? { ...e, lo: max(0n, e.lo - h.amount), hi: max(0n, e.hi - h.amount) }
          : { ...e, lo: min(e.capacity, e.lo + h.amount), hi: min(e.capacity, e.hi + h.amount) };
      this.#put(moved);
      this.#avoidChannels.delete(h.channelId);
    }
  }

  /**
   * A route's payment failed at hop `failedAt` (the hop whose sender could not forward; the
   * route's length for a failure at the payee) with `reason`.
   */
  recordFailure(hops: readonly ScoredHop[], failedAt: number, reason: PaymentFailure, now: bigint): void {
    for (let i = 0; i < Math.min(failedAt, hops.length); i++) this.#put(this.#atLeast(hops[i]!, now));
    const h = hops[failedAt];
    if (h === undefined || reason === 'payee-rejected') return;
    switch (reason) {
      case 'insufficient-liquidity': {
        const e = this.#current(h, now);
        const below = h.amount - 1n;
        // direction 0: p0's balance < a; direction 1: p1's < a, so p0's > cap − a.
        if (h.direction === 0) {
          const hi = max(0n, min(e.hi, below));
          this.#put({ ...e, hi, lo: e.lo > hi ? 0n : e.lo });
        } else {
          const lo = min(e.capacity, max(e.lo, e.capacity - below));
          this.#put({ ...e, lo, hi: e.hi < lo ? e.capacity : e.hi });
        }
        return;
      }
      case 'node-failure':
        this.#avoidNodes.set(h.from, now + BigInt(this.params.avoidSeconds));
        return;
      case 'unknown-channel':
        this.#avoidChannels.set(h.channelId, now + BigInt(this.params.unknownChannelAvoidSeconds));
        return;
      default:
        this.#avoidChannels.set(h.channelId, now + BigInt(this.params.avoidSeconds));
    }
  }

  /** A new policy for a channel arrived: a channel avoided for a stale policy is tried again. */
  policyChanged(channelId: Bytes32): void {
    this.#avoidChannels.delete(channelId);
  }

  /** What is known of one direction's liquidity now (for display): bounds on what it can forward. */
  liquidity(channelId: Bytes32, direction: 0 | 1, assetIndex: number, capacity: bigint, now: bigint): { min: bigint; max: bigint } {
    const e = this.#entries.get(entryKey(channelId, assetIndex));
    if (e === undefined || e.capacity !== capacity) return { min: 0n, max: capacity };
    const d = this.#decayed(e, now);
    const lo = BigInt(Math.floor(d.lo));
    const hi = BigInt(Math.ceil(d.hi));
    return direction === 0 ? { min: lo, max: min(capacity, hi) } : { min: max(0n, capacity - hi), max: capacity - lo };
  }

  /** The knowledge the pathfinder reads, as of `now`. */
  view(now: bigint): ScorerView {
    const liquidity: { channelId: Bytes32; assetIndex: number; lo: number; hi: number; cap: number }[] = [];
    for (const e of this.#entries.values()) {
      const d = this.#decayed(e, now);
      liquidity.push({ channelId: e.channelId, assetIndex: e.assetIndex, lo: d.lo, hi: d.hi, cap: d.cap });
    }
    let bounds: Map<string, { lo: number; hi: number }> | undefined;
    const boundsOf = (): Map<string, { lo: number; hi: number }> => {
      if (bounds === undefined) {
        bounds = new Map();
        for (const l of liquidity) {
          bounds.set(boundsKey(l.channelId, 0, l.assetIndex), { lo: l.lo, hi: l.hi });
          bounds.set(boundsKey(l.channelId, 1, l.assetIndex), { lo: l.cap - l.hi, hi: l.cap - l.lo });
        }
      }
      return bounds;
    };
    const live = <K>(m: Map<K, bigint>): Set<K> => {
      const out = new Set<K>();
      for (const [k, until] of m) {
        if (until > now) out.add(k);
        else m.delete(k);
      }
      return out;
    };
    return {
      liquidity,
      get bounds() {
        return boundsOf();
      },
      avoidChannels: live(this.#avoidChannels),
      avoidNodes: live(this.#avoidNodes),
      hopPenaltyPpm: this.params.hopPenaltyPpm,
      liquidityPenaltyPpm: this.params.liquidityPenaltyPpm,
    };
  }

  /** Everything learnt, for persistence. */
  entries(): LiquidityEntry[] {
    return [...this.#entries.values()];
  }

  /** Restores persisted entries (as of their own `updatedAt`). */
  restore(entries: Iterable<LiquidityEntry>): void {
    for (const e of entries) if (e.lo >= 0n && e.lo <= e.hi && e.hi <= e.capacity) this.#put(e);
  }

  get size(): number {
    return this.#entries.size;
  }
}
