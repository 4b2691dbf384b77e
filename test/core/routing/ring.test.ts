/**
 * A ring of four with one channel per link, as `lanes testnet --workload routed --channels-per-link 1`
 * builds it: the payer leads one of its channels and follows in the other; the payee is opposite.
 */
import test from 'ava';
import { NATIVE_ASSET } from '../../../src/core/index.ts';
import { Pathfinder } from './fixtures.ts';
import { NOW } from '../../helpers/graph.ts';
import { cast, emptyGraph, link } from './build.ts';

const { alice, bob, carol, dave } = cast;
const CAP = 200n * 10n ** 18n;
const side = { feeBase: 0n, feePpm: 100, maxAmount: 2n ** 256n - 1n };

test('a ring of four: each payer reaches the node opposite, through either neighbour', (t) => {
  const g = emptyGraph();
  // alice leads alice–bob, bob leads bob–carol, carol leads carol–dave, dave leads dave–alice.
  const ab = link(g, alice, bob, CAP, side);
  const bc = link(g, bob, carol, CAP, side);
  const cd = link(g, carol, dave, CAP, side);
  const da = link(g, dave, alice, CAP, side);
  const pf = new Pathfinder(g);
  const first = (channelId: `0x${string}`, to: typeof alice, direction: 0 | 1) => ({
    channelId,
    to: to.address,
    toPeerId: '',
    asset: NATIVE_ASSET,
    direction,
    assetIndex: 0,
    spendable: CAP / 2n,
    capacity: CAP,
  });
  const r = pf.findRoute({
    asset: NATIVE_ASSET,
    now: NOW,
    from: alice.address,
    to: carol.address,
    amount: 10n ** 9n,
    firstHops: [first(ab, bob, 0), first(da, dave, 1)],
  });
  t.true(r.ok, r.ok ? '' : r.detail);
  void bc;
  void cd;
});

test('the same ring built while the pathfinder is in use: channels first, their policies later', (t) => {
  const g = emptyGraph();
  const pf = new Pathfinder(g);
  const query = (firstHops: NonNullable<Parameters<Pathfinder['findRoute']>[0]['firstHops']>) =>
    pf.findRoute({ asset: NATIVE_ASSET, now: NOW, from: alice.address, to: carol.address, amount: 10n ** 9n, firstHops });
  t.false(query([]).ok);
  const ab = link(g, alice, bob, CAP, { ...side, enabled: false });
  t.false(query([]).ok);
  const bc = link(g, bob, carol, CAP, { ...side, enabled: false });
  const cd = link(g, carol, dave, CAP, { ...side, enabled: false });
  const da = link(g, dave, alice, CAP, { ...side, enabled: false });
  const first = [
    {
      channelId: ab,
      to: bob.address,
      toPeerId: '',
      asset: NATIVE_ASSET,
      direction: 0 as const,
      assetIndex: 0,
      spendable: CAP / 2n,
      capacity: CAP,
    },
    {
      channelId: da,
      to: dave.address,
      toPeerId: '',
      asset: NATIVE_ASSET,
      direction: 1 as const,
      assetIndex: 0,
      spendable: CAP / 2n,
      capacity: CAP,
    },
  ];
  t.false(query(first).ok, 'every policy disabled');
  // The policies arrive (newer updates, enabled), after the index was built.
  for (const [id, d] of [
    [bc, 0],
    [bc, 1],
    [cd, 0],
    [cd, 1],
    [ab, 0],
    [ab, 1],
    [da, 0],
    [da, 1],
  ] as const) {
    const r = g.applyUpdate({
      channelId: id,
      direction: d,
      timestamp: NOW + 1n,
      enabled: true,
      maxLocks: 483,
      minExpirySeconds: 600,
      policies: [{ feeBase: 0n, feePpm: 100, minAmount: 1n, maxAmount: 2n ** 256n - 1n }],
      signature: new Uint8Array(65),
    });
    t.true(r === undefined || (r as { ok?: boolean }).ok !== false, JSON.stringify(r));
  }
  const r = query(first);
  t.true(r.ok, r.ok ? '' : r.detail);
});
