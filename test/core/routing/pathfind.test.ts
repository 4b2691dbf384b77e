/** Pathfinding (pathfind.ts): cheapest routes, exact fees, the reasons for no route, conversions, hints. */
import test from 'ava';
import fc from 'fast-check';
import { NATIVE_ASSET } from '../../../src/core/index.ts';
import { Pathfinder, ProbabilisticScorer, type Route, findRoute } from './fixtures.ts';
import { TOKEN_SAMPLE } from './fixtures.ts';
import { NOW, generateGraph, nodeAnnouncement } from '../../helpers/graph.ts';
import { cast, emptyGraph, link } from './build.ts';

const { alice, bob, carol, dave, erin } = cast;
const q = { asset: NATIVE_ASSET, now: NOW };

/** alice → bob → dave (cheap) and alice → carol → dave (dear). */
function diamond() {
  const g = emptyGraph();
  const ab = link(g, alice, bob, 10_000_000n);
  const bd = link(g, bob, dave, 10_000_000n, { feeBase: 10n, feePpm: 1000 });
  const ac = link(g, alice, carol, 10_000_000n);
  const cd = link(g, carol, dave, 10_000_000n, { feeBase: 50n, feePpm: 5000 });
  return { g, ab, bd, ac, cd, pf: new Pathfinder(g) };
}

/** Every invariant a returned route must hold, exactly in bigints. */
function checkRoute(r: Route, amount: bigint, feeLimit?: bigint): string | undefined {
  if (r.hops.length === 0) return 'no hops';
  if (r.hops[0]!.from !== r.from || r.hops.at(-1)!.to !== r.to) return 'ends';
  if (r.hops.at(-1)!.amount !== amount) return 'payee amount';
  if (r.hops[0]!.fee !== 0n) return 'the payer charges itself';
  for (let i = 0; i + 1 < r.hops.length; i++) {
    const h = r.hops[i]!;
    const n = r.hops[i + 1]!;
    if (h.to !== n.from) return `hop ${i} does not lead to hop ${i + 1}`;
    if (h.amount !== n.amount + n.fee) return `hop ${i}: ${h.amount} ≠ ${n.amount} + ${n.fee}`;
  }
  if (r.sent !== r.hops[0]!.amount) return 'sent';
  if (r.totalFee !== r.hops.reduce((s, h) => s + h.fee, 0n)) return 'total fee';
  if (feeLimit !== undefined && r.totalFee > feeLimit) return 'over the fee limit';
  for (const h of r.hops) if (h.capacity > 0n && h.amount > h.capacity) return 'over capacity';
  const nodes = [r.from, ...r.hops.map((h) => h.to)];
  if (new Set(nodes).size !== nodes.length) return 'a node twice';
  return undefined;
}

test('the cheapest route, with fees computed exactly backwards from the payee', (t) => {
  const { pf, ab, bd } = diamond();
  const r = pf.findRoute({ ...q, from: alice.address, to: dave.address, amount: 1_000_000n });
  if (!r.ok) return t.fail(r.detail);
  t.deepEqual(
    r.route.hops.map((h) => h.channelId),
    [ab, bd],
  );
  // bob forwards 1,000,000 to dave and charges 10 + 1,000,000 × 1000 / 10^6 = 1,010.
  t.is(r.route.hops[1]!.amount, 1_000_000n);
  t.is(r.route.hops[0]!.amount, 1_001_010n);
  t.is(r.route.totalFee, 1010n);
  t.is(r.route.minExpirySeconds, 600);
  t.is(checkRoute(r.route, 1_000_000n), undefined);
});

test('a disabled, stale or excluded channel is routed around', (t) => {
  const { g, pf, bd, cd } = diamond();
  t.deepEqual(
    (
      pf.findRoute({ ...q, from: alice.address, to: dave.address, amount: 1000n, exclude: { channels: [bd] } }) as { route: Route }
    ).route.hops
      .map((h) => h.channelId)
      .at(-1),
    cd,
  );
  const ch = g.channel(bd)!;
  g.applyUpdate({ ...ch.updates[0]!, timestamp: NOW + 60n, enabled: false });
  const r = pf.findRoute({ ...q, from: alice.address, to: dave.address, amount: 1000n });
  t.true(r.ok && r.route.hops.at(-1)!.channelId === cd);
  const later = pf.findRoute({ ...q, from: alice.address, to: dave.address, amount: 1000n, now: NOW + 15n * 86400n });
  t.like(later, { ok: false, reason: 'no-path' });
});

test('no route says why: no path, the fee limit (with the cheapest fee), or capacity (with the most one could carry)', (t) => {
  const { pf } = diamond();
  t.like(pf.findRoute({ ...q, from: alice.address, to: erin.address, amount: 1000n }), { ok: false, reason: 'no-path' });
  const fee = pf.findRoute({ ...q, from: alice.address, to: dave.address, amount: 1_000_000n, feeLimit: 1000n });
  t.like(fee, { ok: false, reason: 'fee-limit', cheapestFee: 1010n });
  const big = pf.findRoute({ ...q, from: alice.address, to: dave.address, amount: 20_000_000n });
  t.like(big, { ok: false, reason: 'insufficient-capacity' });
  if (!big.ok) t.true(big.maxAmount !== undefined && big.maxAmount >= 9_900_000n && big.maxAmount <= 10_000_000n);
});

test('within the fee limit, the dearer route is taken when the cheaper cannot carry the amount', (t) => {
  const g = emptyGraph();
  link(g, alice, bob, 10_000_000n);
  link(g, bob, dave, 500_000n, { feeBase: 1n });
  link(g, alice, carol, 10_000_000n);
  const cd = link(g, carol, dave, 10_000_000n, { feeBase: 100n });
  const r = new Pathfinder(g).findRoute({ ...q, from: alice.address, to: dave.address, amount: 600_000n, feeLimit: 100n });
  t.true(r.ok && r.route.hops.at(-1)!.channelId === cd && r.route.totalFee === 100n);
});

test('the scorer steers away from a channel that failed for liquidity, and learns from successes', (t) => {
  const { pf, ab, bd, cd } = diamond();
  const scorer = new ProbabilisticScorer();
  const query = { ...q, from: alice.address, to: dave.address, amount: 1_000_000n };
  const first = pf.findRoute(query, scorer.view(NOW));
  if (!first.ok) return t.fail();
  t.is(first.route.hops[1]!.channelId, bd);
  scorer.recordFailure(first.route.hops, 1, 'insufficient-liquidity', NOW);
  // bob had less than 1,000,000 toward dave: participant 0 (bob) balance < 10^6.
  t.true(scorer.liquidity(bd, 0, 0, 10_000_000n, NOW).max < 1_000_000n);
  // The first hop did forward: alice had at least the amount.
  t.true(scorer.liquidity(ab, 0, 0, 10_000_000n, NOW).min >= 1_001_010n);
  const second = pf.findRoute(query, scorer.view(NOW));
  t.true(second.ok && second.route.hops[1]!.channelId === cd);
  // Six hours later, half forgotten; days later, the cheap route is tried again.
  const later = pf.findRoute({ ...query, now: NOW + 5n * 86400n }, scorer.view(NOW + 5n * 86400n));
  t.true(later.ok && later.route.hops[1]!.channelId === bd);
});

test('a non-liquidity failure avoids the channel for a while; a node failure the node', (t) => {
  const { pf, cd } = diamond();
  const scorer = new ProbabilisticScorer();
  const query = { ...q, from: alice.address, to: dave.address, amount: 1000n };
  const r = pf.findRoute(query, scorer.view(NOW));
  if (!r.ok) return t.fail();
  scorer.recordFailure(r.route.hops, 1, 'channel-disabled', NOW);
  const again = pf.findRoute(query, scorer.view(NOW + 1n));
  t.true(again.ok && again.route.hops[1]!.channelId === cd);
  if (!again.ok) return;
  scorer.recordFailure(again.route.hops, 1, 'node-failure', NOW);
  t.like(pf.findRoute(query, scorer.view(NOW + 2n)), { ok: false, reason: 'no-path' });
  t.true(pf.findRoute(query, scorer.view(NOW + 3600n)).ok);
});

test('a routed swap converts at a node that offers the pair', (t) => {
  const g = emptyGraph();
  link(g, alice, bob, 10n ** 20n);
  link(g, bob, dave, 10n ** 20n, {}, { assets: [TOKEN_SAMPLE] });
  const offer = { from: NATIVE_ASSET, to: TOKEN_SAMPLE, rateNum: 3000n, rateDen: 1n, maxAmount: 10n ** 24n };
  g.applyNodeAnnouncement(nodeAnnouncement(bob, { swaps: [offer] }));
  const r = new Pathfinder(g).findRoute({
    from: alice.address,
    to: dave.address,
    asset: TOKEN_SAMPLE,
    payWith: NATIVE_ASSET,
    amount: 3000n,
    now: NOW,
  });
  if (!r.ok) return t.fail(r.detail);
  t.is(r.route.hops.length, 2);
  t.like(r.route.hops[1]!.conversion, { from: NATIVE_ASSET, to: TOKEN_SAMPLE, amountIn: 1n });
  t.is(r.route.sent, 1n);
  t.like(new Pathfinder(g).findRoute({ from: alice.address, to: dave.address, asset: TOKEN_SAMPLE, amount: 3000n, now: NOW }), {
    ok: false,
  });
});

test('a routed swap leaves the payer only in the asset it pays with, whatever else its channels hold', (t) => {
  // alice holds both assets in her channel with bob: a route of her token straight to dave would
  // be no swap at all (the first hops once all left from her payWith vertex).
  const g = emptyGraph();
  const ab = link(g, alice, bob, 10n ** 20n, {}, { assets: [NATIVE_ASSET, TOKEN_SAMPLE] });
  link(g, bob, dave, 10n ** 20n, {}, { assets: [TOKEN_SAMPLE] });
  g.applyNodeAnnouncement(
    nodeAnnouncement(bob, { swaps: [{ from: NATIVE_ASSET, to: TOKEN_SAMPLE, rateNum: 3000n, rateDen: 1n, maxAmount: 10n ** 24n }] }),
  );
  const first = (asset: typeof NATIVE_ASSET, assetIndex: number) => ({
    channelId: ab,
    to: bob.address,
    toPeerId: '',
    asset,
    direction: 0 as const,
    assetIndex,
    spendable: 10n ** 19n,
    capacity: 10n ** 20n,
  });
  const r = new Pathfinder(g).findRoute({
    from: alice.address,
    to: dave.address,
    asset: TOKEN_SAMPLE,
    payWith: NATIVE_ASSET,
    amount: 3000n,
    now: NOW,
    firstHops: [first(TOKEN_SAMPLE, 1), first(NATIVE_ASSET, 0)],
  });
  if (!r.ok) return t.fail(r.detail);
  t.is(r.route.hops[0]!.asset, NATIVE_ASSET, 'the first hop is in the asset paid with');
  t.truthy(r.route.hops[1]!.conversion, 'and bob converts');
});

test('first hops replace the payer’s public channels; route hints reach a private payee', (t) => {
  const { g, pf, ac } = diamond();
  const firstHops = [
    {
      channelId: ac,
      to: carol.address,
      toPeerId: '',
      asset: NATIVE_ASSET,
      direction: 0 as const,
      assetIndex: 0,
      spendable: 5_000n,
      capacity: 10_000_000n,
    },
  ];
  const r = pf.findRoute({ ...q, from: alice.address, to: dave.address, amount: 1000n, firstHops });
  t.true(r.ok && r.route.hops[0]!.channelId === ac);
  t.like(pf.findRoute({ ...q, from: alice.address, to: dave.address, amount: 6000n, firstHops }), { ok: false });
  const hint = [
    { from: dave.address, channelId: `0x${'ee'.repeat(32)}` as const, asset: NATIVE_ASSET, feeBase: 5n, feePpm: 0, minExpirySeconds: 300 },
  ];
  const h = pf.findRoute({ ...q, from: alice.address, to: erin.address, amount: 1000n, hints: [hint] });
  if (!h.ok) return t.fail(h.detail);
  t.is(h.route.hops.at(-1)!.to, erin.address);
  t.is(h.route.hops.at(-1)!.amount, 1000n);
  t.is(h.route.hops.at(-1)!.fee, 5n);
  t.is(checkRoute(h.route, 1000n), undefined);
  t.is(g.channelCount, 4);
});

test('bad queries are misuse and throw', (t) => {
  const { pf } = diamond();
  t.throws(() => pf.findRoute({ ...q, from: alice.address, to: dave.address, amount: 0n }));
  t.throws(() => pf.findRoute({ ...q, from: alice.address, to: alice.address, amount: 1n }));
});

test('property: every route found on a random graph holds the route invariants and the fee limit', (t) => {
  const { graph, nodes } = generateGraph({ nodes: 60, channels: 200, seed: 7 });
  const pf = new Pathfinder(graph);
  let found = 0;
  fc.assert(
    fc.property(
      fc.nat(nodes.length - 1),
      fc.nat(nodes.length - 1),
      fc.bigInt(1n, 10n ** 8n),
      fc.option(fc.bigInt(0n, 10n ** 6n), { nil: undefined }),
      (a, b, amount, feeLimit) => {
        if (a === b) return true;
        const r = pf.findRoute({
          from: nodes[a]!,
          to: nodes[b]!,
          asset: NATIVE_ASSET,
          amount,
          now: NOW,
          ...(feeLimit === undefined ? {} : { feeLimit }),
        });
        if (!r.ok) return r.reason !== 'fee-limit' || (feeLimit !== undefined && r.cheapestFee! > feeLimit);
        found++;
        const bad = checkRoute(r.route, amount, feeLimit);
        if (bad !== undefined) throw new Error(bad);
        return true;
      },
    ),
    { numRuns: 300, seed: 42 },
  );
  t.true(found > 50, `${found} routes found`);
});

test('findRoute over the same index agrees with the Pathfinder', (t) => {
  const { pf } = diamond();
  const query = { ...q, from: alice.address, to: dave.address, amount: 1000n };
  t.deepEqual(findRoute(pf.index(), query), pf.findRoute(query));
});
