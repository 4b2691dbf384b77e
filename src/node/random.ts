/**
 * Random bytes for secrets, salts and ephemeral keys, drawn from the OS CSPRNG a page at a time:
 * under load a payment needs several small draws, and each `randomBytes` call cost ~10 µs in the
 * running node (profiled), more than the bytes themselves. Every draw is a fresh copy, and the
 * pool's bytes are used once.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let used = POOL_BYTES;

/** `n` random bytes (a new array, n ≤ 4096). */
export function random(n: number): Uint8Array {
  if (n > POOL_BYTES) return randomFillSync(new Uint8Array(n));
  if (used + n > POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  const out = pool.slice(used, used + n);
  pool.fill(0, used, used + n);
  used += n;
  return out;
}
