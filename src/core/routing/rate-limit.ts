/**
 * Token buckets per key (a relaying peer), bounded in keys: what the gossip service uses to cap
 * how much work one peer can make it do (signature checks, chain reads). Pure: time is an
 * argument (milliseconds, any monotonic origin).
 *
 * A bucket holds at most `burst` tokens and refills at `perSecond`. With more than `maxKeys`
 * keys the least recently used one is forgotten: it comes back with a full bucket, which costs
 * an attacker who rotates through many identities no more than `burst` each (and identities
 * are connections, which the connection manager caps).
 */
import { InvalidArgumentError } from '../errors.ts';

export interface RateLimitParams {
  readonly perSecond: number;
  readonly burst: number;
  readonly maxKeys: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  readonly params: RateLimitParams;
  readonly #buckets = new Map<string, Bucket>();

  constructor(params: RateLimitParams) {
    if (!(params.perSecond > 0) || !(params.burst >= 1) || !(params.maxKeys >= 1))
      throw new InvalidArgumentError('rate limits must be positive');
    this.params = params;
  }

  /** Takes `cost` tokens from `key`'s bucket at time `nowMs`: false (nothing taken) when it has fewer. */
  take(key: string, nowMs: number, cost = 1): boolean {
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= this.params.maxKeys) {
        const oldest = this.#buckets.keys().next();
        if (!oldest.done) this.#buckets.delete(oldest.value);
      }
      b = { tokens: this.params.burst, at: nowMs };
    } else {
      this.#buckets.delete(key); // re-inserted below: the map's order is recency
      const elapsed = Math.max(0, nowMs - b.at) / 1000;
      b.tokens = Math.min(this.params.burst, b.tokens + elapsed * this.params.perSecond);
      b.at = Math.max(b.at, nowMs);
    }
    this.#buckets.set(key, b);
    if (b.tokens < cost) return false;
    b.tokens -= cost;
    return true;
  }

  get size(): number {
    return this.#buckets.size;
  }
}
