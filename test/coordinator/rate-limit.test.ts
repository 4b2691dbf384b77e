/** Per-peer token buckets: bursts, sustained rate, independence of peers, a bounded map. */
import test from 'ava';
import fc from 'fast-check';
import { RateLimiter } from '../../src/coordinator/rate-limit.ts';

test('a peer gets its burst, then one submission per 1/rate seconds, and is told when to retry', (t) => {
  const rl = new RateLimiter({ burst: 3, perSecond: 2 });
  t.deepEqual(
    [1, 2, 3].map(() => rl.take('a', 0).ok),
    [true, true, true],
  );
  const refused = rl.take('a', 0);
  t.false(refused.ok);
  t.is((refused as { retryAfterMs: number }).retryAfterMs, 500);
  t.false(rl.take('a', 499).ok);
  t.true(rl.take('a', 500).ok);
  t.true(rl.take('b', 500).ok, 'another peer has its own bucket');
  t.true(rl.take('a', 100_000).ok);
  t.true(rl.take('a', 100_000).ok);
  t.true(rl.take('a', 100_000).ok);
  t.false(rl.take('a', 100_000).ok, 'a long pause refills to the burst, not beyond');
});

test('over any schedule, a peer never gets more than burst + rate x elapsed', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      fc.integer({ min: 1, max: 50 }),
      fc.array(fc.record({ dt: fc.integer({ min: 0, max: 400 }), peer: fc.constantFrom('a', 'b', 'c') }), { maxLength: 300 }),
      (burst, perSecond, steps) => {
        const rl = new RateLimiter({ burst, perSecond });
        let now = 0;
        const granted = new Map<string, number>();
        for (const s of steps) {
          now += s.dt;
          if (rl.take(s.peer, now).ok) granted.set(s.peer, (granted.get(s.peer) ?? 0) + 1);
        }
        const bound = burst + (perSecond * now) / 1000;
        return [...granted.values()].every((g) => g <= bound);
      },
    ),
    { numRuns: 200, seed: Number(process.env.SEED ?? Date.now() % 2 ** 31) },
  );
  const rl = new RateLimiter({ burst: 2, perSecond: 1 });
  let now = 0;
  let granted = 0;
  for (let i = 0; i < 1000; i++) if (rl.take('x', (now += 100)).ok) granted++;
  t.true(granted <= 2 + 100, `sustained: ${granted} in 100 s`);
  t.true(granted >= 99);
});

test('the map of buckets stays bounded, whatever the number of peer ids', (t) => {
  const rl = new RateLimiter({ burst: 5, perSecond: 1 }, 1_000);
  for (let i = 0; i < 50_000; i++) rl.take(`peer-${i}`, i);
  t.true(rl.peers <= 1_000);
});

test('a nonsensical policy is a programming error', (t) => {
  t.throws(() => new RateLimiter({ burst: 0, perSecond: 1 }), { instanceOf: RangeError });
  t.throws(() => new RateLimiter({ burst: 1, perSecond: 0 }), { instanceOf: RangeError });
});
