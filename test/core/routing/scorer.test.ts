/** The probabilistic scorer (scorer.ts), the retries of one payment (retry.ts), and rate limits (rate-limit.ts). */
import test from 'ava';
import fc from 'fast-check';
import { NATIVE_ASSET } from '../../../src/core/index.ts';
import { InvalidArgumentError } from '../../../src/core/errors.ts';
import { PaymentAttempts, Pathfinder, ProbabilisticScorer, RateLimiter, type ScoredHop } from './fixtures.ts';
import { NOW } from '../../helpers/graph.ts';
import { cast, emptyGraph, link } from './build.ts';

const { alice, bob, carol, dave, erin } = cast;
const ID = `0x${'11'.repeat(32)}` as const;
const hop = (direction: 0 | 1, amount: bigint, capacity = 1000n): ScoredHop => ({
  channelId: ID,
  direction,
  assetIndex: 0,
  amount,
  capacity,
  from: alice.address,
});

test('a liquidity failure lowers the upper bound; a forward raises the lower bound', (t) => {
  const s = new ProbabilisticScorer();
  s.recordFailure([hop(0, 400n)], 0, 'insufficient-liquidity', NOW);
  t.deepEqual(s.liquidity(ID, 0, 0, 1000n, NOW), { min: 0n, max: 399n });
  // Participant 1 holds the rest: at least 601.
  t.deepEqual(s.liquidity(ID, 1, 0, 1000n, NOW), { min: 601n, max: 1000n });
  s.recordFailure([hop(0, 100n), hop(0, 999n)], 1, 'insufficient-liquidity', NOW);
  t.is(s.liquidity(ID, 0, 0, 1000n, NOW).min, 100n);
});

test('a success moves the amount to the other side', (t) => {
  const s = new ProbabilisticScorer();
  s.recordSuccess([hop(0, 300n)], NOW);
  t.deepEqual(s.liquidity(ID, 0, 0, 1000n, NOW), { min: 0n, max: 700n });
  t.deepEqual(s.liquidity(ID, 1, 0, 1000n, NOW), { min: 300n, max: 1000n });
});

test('what was learnt decays toward no knowledge with the half-life', (t) => {
  const s = new ProbabilisticScorer({ halfLifeSeconds: 100 });
  s.recordFailure([hop(0, 201n)], 0, 'insufficient-liquidity', NOW);
  t.is(s.liquidity(ID, 0, 0, 1000n, NOW).max, 200n);
  t.is(s.liquidity(ID, 0, 0, 1000n, NOW + 100n).max, 600n);
  t.is(s.liquidity(ID, 0, 0, 1000n, NOW + 10_000n).max, 1000n);
  // A new capacity (a top-up) forgets what was known.
  t.deepEqual(s.liquidity(ID, 0, 0, 2000n, NOW), { min: 0n, max: 2000n });
});

test('property: bounds stay within [0, capacity] and lo ≤ hi, whatever is reported', (t) => {
  const report = fc.record({
    direction: fc.constantFrom(0 as const, 1 as const),
    amount: fc.bigInt(1n, 1500n),
    ok: fc.boolean(),
    dt: fc.bigInt(0n, 50_000n),
  });
  fc.assert(
    fc.property(fc.array(report, { maxLength: 30 }), (reports) => {
      const s = new ProbabilisticScorer();
      let now = NOW;
      for (const r of reports) {
        now += r.dt;
        if (r.ok) s.recordSuccess([hop(r.direction, r.amount)], now);
        else s.recordFailure([hop(r.direction, r.amount)], 0, 'insufficient-liquidity', now);
        for (const d of [0, 1] as const) {
          const l = s.liquidity(ID, d, 0, 1000n, now);
          if (l.min < 0n || l.max > 1000n || l.min > l.max) return false;
        }
        for (const b of s.view(now).bounds.values()) if (!(b.lo >= 0 && b.lo <= b.hi + 1e-6)) return false;
      }
      return true;
    }),
  );
  t.pass();
});

test('the scorer remembers a bounded number of channels', (t) => {
  const s = new ProbabilisticScorer({}, 3);
  for (let i = 0; i < 10; i++) {
    s.recordFailure([{ ...hop(0, 5n), channelId: `0x${i.toString(16).padStart(64, '0')}` }], 0, 'insufficient-liquidity', NOW);
  }
  t.is(s.size, 3);
});

test('retries: another route after a failure, within the fee limit, then no route', (t) => {
  const g = emptyGraph();
  link(g, alice, bob, 10_000_000n);
  const bd = link(g, bob, dave, 10_000_000n, { feeBase: 10n });
  link(g, alice, carol, 10_000_000n);
  const cd = link(g, carol, dave, 10_000_000n, { feeBase: 20n });
  link(g, alice, erin, 10_000_000n);
  link(g, erin, dave, 10_000_000n, { feeBase: 500n });
  const scorer = new ProbabilisticScorer();
  const p = new PaymentAttempts(new Pathfinder(g), scorer, {
    from: alice.address,
    to: dave.address,
    asset: NATIVE_ASSET,
    amount: 1000n,
    feeLimit: 100n,
    now: NOW,
  });
  const first = p.next(NOW);
  if (!first.ok) return t.fail();
  t.is(first.route.hops[1]!.channelId, bd);
  p.failed(first.route, 1, 'fee-insufficient', NOW);
  const second = p.next(NOW);
  if (!second.ok) return t.fail();
  t.is(second.route.hops[1]!.channelId, cd);
  p.failed(second.route, 1, 'peer-offline', NOW);
  // erin's route costs 500, over the limit of 100: no route, and the reason says so.
  t.like(p.next(NOW), { ok: false, reason: 'fee-limit', cheapestFee: 500n });
  t.is(p.attempts, 2);
});

test('retries stop after a success, at the payee’s refusal, and at the attempt limit', (t) => {
  const g = emptyGraph();
  link(g, alice, bob, 10_000_000n);
  const query = { from: alice.address, to: bob.address, asset: NATIVE_ASSET, amount: 10n, now: NOW };
  const s = new PaymentAttempts(new Pathfinder(g), new ProbabilisticScorer(), query);
  const r = s.next(NOW);
  if (!r.ok) return t.fail();
  s.succeeded(r.route, NOW);
  t.like(s.next(NOW), { ok: false, reason: 'attempts' });
  const limited = new PaymentAttempts(new Pathfinder(g), new ProbabilisticScorer(), query, { maxAttempts: 1 });
  t.true(limited.next(NOW).ok);
  t.like(limited.next(NOW), { ok: false, reason: 'attempts' });
  const refused = new PaymentAttempts(new Pathfinder(g), new ProbabilisticScorer(), query);
  const x = refused.next(NOW);
  if (!x.ok) return t.fail();
  refused.failed(x.route, 1, 'payee-rejected', NOW);
  t.like(refused.next(NOW), { ok: false, reason: 'attempts' });
});

test('rate limits: a burst, then the refill rate; keys are bounded', (t) => {
  const r = new RateLimiter({ perSecond: 2, burst: 3, maxKeys: 2 });
  t.deepEqual(
    [0, 0, 0, 0].map(() => r.take('a', 1000)),
    [true, true, true, false],
  );
  t.false(r.take('a', 1400));
  t.true(r.take('a', 1500));
  t.true(r.take('b', 0));
  t.true(r.take('c', 0));
  t.is(r.size, 2);
  t.throws(() => new RateLimiter({ perSecond: 0, burst: 1, maxKeys: 1 }), { instanceOf: InvalidArgumentError });
});
