/**
 * Per-peer token buckets: how fast one peer may submit. Pure: the time is an argument.
 *
 * Admission (admission.ts) keeps junk out, but a peer can still send valid items as fast as it
 * likes, each of which costs the coordinator a signature check, a disk write and, for items, gas.
 * A bucket holds `burst` tokens and gains `perSecond` a second; a submission takes one and is
 * refused when none is left, with the time until one is.
 *
 * The map of buckets is bounded too (`maxPeers`, least recently used dropped first): dropping a
 * bucket only gives that peer a full one back, which a peer id made for the purpose gets anyway;
 * the least recently used bucket has almost always refilled, and a full bucket is no bucket.
 */

export interface BucketPolicy {
  /** Tokens a bucket holds when full: the largest burst. */
  readonly burst: number;
  /** Tokens it regains per second: the sustained rate. */
  readonly perSecond: number;
}

export type Taken = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  readonly #policy: BucketPolicy;
  readonly #maxPeers: number;
  /** In least-recently-used order (a touched bucket is moved to the end). */
  readonly #buckets = new Map<string, Bucket>();

  constructor(policy: BucketPolicy, maxPeers = 100_000) {
    if (!(policy.burst >= 1) || !(policy.perSecond > 0) || !(maxPeers >= 1)) {
      throw new RangeError(`a rate limit needs burst >= 1 and perSecond > 0 (got ${policy.burst}, ${policy.perSecond})`);
    }
    this.#policy = policy;
    this.#maxPeers = maxPeers;
  }

  get peers(): number {
    return this.#buckets.size;
  }

  /** Takes `cost` tokens from `peer`'s bucket at time `now` (ms), or says how long until it could. */
  take(peer: string, now: number, cost = 1): Taken {
    const b = this.#refilled(peer, now);
    this.#buckets.delete(peer);
    this.#buckets.set(peer, b);
    if (b.tokens >= cost) {
      b.tokens -= cost;
      this.#bound();
      return { ok: true };
    }
    this.#bound();
    return { ok: false, retryAfterMs: Math.ceil(((cost - b.tokens) / this.#policy.perSecond) * 1000) };
  }

  #refilled(peer: string, now: number): Bucket {
    const b = this.#buckets.get(peer);
    if (!b) return { tokens: this.#policy.burst, at: now };
    const elapsed = Math.max(0, now - b.at) / 1000;
    return { tokens: Math.min(this.#policy.burst, b.tokens + elapsed * this.#policy.perSecond), at: Math.max(b.at, now) };
  }

  /** Drops the least recently used buckets over the bound: O(1) a call. */
  #bound(): void {
    for (const [peer] of this.#buckets) {
      if (this.#buckets.size <= this.#maxPeers) return;
      this.#buckets.delete(peer);
    }
  }
}
