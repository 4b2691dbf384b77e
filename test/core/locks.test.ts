/**
 * The lock tree's root, derived update by update (memoised trees, cached leaves, a shared
 * scratch buffer), against a reference that hashes every leaf afresh and the whole tree: a wrong
 * root is a state whose locks cannot be unlocked on-chain.
 */
import test from 'ava';
import fc from 'fast-check';
import { bytesToHex, concatBytes, keccak256 } from '../../src/core/bytes.ts';
import { EMPTY_LOCKS_ROOT, LOCK_TREE_DEPTH, deriveTree, hashLock, locksRoot } from '../../src/core/locks.ts';
import type { Lock } from '../../src/core/state.ts';

function referenceRoot(locks: readonly Lock[]): string {
  if (locks.length === 0) return EMPTY_LOCKS_ROOT;
  let level = locks.map((l) => hashLock({ ...l }));
  let zero: Uint8Array = new Uint8Array(32);
  for (let d = 0; d < LOCK_TREE_DEPTH; d++) {
    const up: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(keccak256(concatBytes(level[i]!, level[i + 1] ?? zero)));
    level = up;
    zero = keccak256(concatBytes(zero, zero));
  }
  return bytesToHex(level[0]!);
}

const lockArb = fc.record({
  id: fc.bigInt({ min: 1n, max: 1n << 40n }),
  asset: fc.integer({ min: 0, max: 3 }),
  amount: fc.bigInt({ min: 1n, max: (1n << 256n) - 1n }),
  sender: fc.constantFrom(0 as const, 1 as const),
  receiver: fc.constantFrom(0 as const, 1 as const),
  hashlock: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b) as Lock['hashlock']),
  expiry: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
});

/** One update: slots replaced (new lock objects), locks appended, the last ones removed. */
const stepArb = fc.record({
  replace: fc.array(fc.tuple(fc.nat(), lockArb), { maxLength: 40 }),
  add: fc.array(lockArb, { maxLength: 60 }),
  drop: fc.nat({ max: 50 }),
});

test('a root derived update by update is the root of the locks, hashed afresh', (t) => {
  fc.assert(
    fc.property(fc.array(lockArb, { maxLength: 80 }), fc.array(stepArb, { minLength: 1, maxLength: 12 }), (start, steps) => {
      let prev: readonly Lock[] = start;
      if (locksRoot(prev) !== referenceRoot(prev)) return false;
      for (const s of steps) {
        const next = prev.slice(0, Math.max(0, prev.length - s.drop));
        const changed = new Set<number>();
        for (const [at, l] of s.replace) {
          if (next.length === 0) break;
          const i = at % next.length;
          next[i] = l;
          changed.add(i);
        }
        for (const l of s.add) if (next.length < 1024) next.push(l);
        // The caller's side of deriveTree's contract: every slot below both lengths that holds another lock.
        for (let i = 0; i < Math.min(prev.length, next.length); i++) if (next[i] !== prev[i]) changed.add(i);
        deriveTree(prev, next, changed);
        if (locksRoot(next) !== referenceRoot(next)) return false;
        prev = next;
      }
      return true;
    }),
    { numRuns: 150, seed: 20261207 },
  );
  t.pass();
});
