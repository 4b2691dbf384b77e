import test from 'ava';
import fc from 'fast-check';
import { links, planChannels, TOPOLOGIES } from '../../src/testnet/topology.ts';

const key = ([a, b]: [number, number]) => `${Math.min(a, b)}-${Math.max(a, b)}`;

test('a star links the hub to every node; a ring each node to the next', (t) => {
  t.deepEqual(links(5, 'star').map(key).sort(), ['0-1', '0-2', '0-3', '0-4']);
  t.deepEqual(links(4, 'ring').map(key).sort(), ['0-1', '0-3', '1-2', '2-3']);
  t.deepEqual(links(2, 'ring').map(key), ['0-1'], 'two nodes: one link, not two');
  // In a ring every node leads exactly one link's first channel.
  t.deepEqual(
    links(6, 'ring')
      .map(([a]) => a)
      .sort(),
    [0, 1, 2, 3, 4, 5],
  );
});

test('every topology links each pair at most once, never a node to itself, and leaves no node out', (t) => {
  t.notThrows(() =>
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 40 }),
        fc.constantFrom(...TOPOLOGIES),
        fc.integer({ min: 0, max: 1000 }),
        (n, topology, seed) => {
          const ls = links(n, topology, seed);
          const keys = ls.map(key);
          if (new Set(keys).size !== keys.length) return false;
          if (ls.some(([a, b]) => a === b || a < 0 || b < 0 || a >= n || b >= n)) return false;
          const seen = new Set(ls.flat());
          return seen.size === n;
        },
      ),
    ),
  );
});

test('a mesh is a ring plus chords, the same for the same seed', (t) => {
  const m = links(10, 'mesh', 7);
  t.deepEqual(links(10, 'mesh', 7), m);
  t.true(m.length > 10, `${m.length} links`);
  for (let i = 0; i < 10; i++) t.true(m.map(key).includes(key([i, (i + 1) % 10])));
});

test('channels: the swap share is spread evenly, assets alternate, leaders alternate on a link', (t) => {
  const plans = planChannels({ nodes: 4, topology: 'ring', channelsPerLink: 2, swapRatio: 0.25 });
  t.is(plans.length, 8);
  t.is(plans.filter((p) => p.kind === 'swap').length, 2);
  t.deepEqual(
    plans.filter((p) => p.kind === 'payment').map((p) => p.assets.join('/')),
    ['ETH', 'tUSD', 'ETH', 'tUSD', 'ETH', 'tUSD'],
  );
  t.deepEqual(
    plans.filter((p) => p.kind === 'swap').map((p) => p.assets.join('/')),
    ['ETH/tUSD', 'tUSD/tEUR'],
  );
  t.is(plans[0]!.leader, plans[1]!.follower, 'the second channel of a link is led by the other node');
  t.true(planChannels({ nodes: 3, topology: 'star', channelsPerLink: 1, swapRatio: 0 }).every((p) => p.kind === 'payment'));
  t.true(planChannels({ nodes: 3, topology: 'star', channelsPerLink: 3, swapRatio: 1 }).every((p) => p.kind === 'swap'));
});

test('bad shapes are refused with a clear message', (t) => {
  t.throws(() => links(1, 'ring'), { message: /at least 2 nodes/ });
  t.throws(() => links(3, 'torus' as 'ring'), { message: /star, ring, mesh/ });
  t.throws(() => planChannels({ nodes: 3, topology: 'ring', channelsPerLink: 0, swapRatio: 0 }), { message: /channelsPerLink/ });
  t.throws(() => planChannels({ nodes: 3, topology: 'ring', channelsPerLink: 1, swapRatio: 1.5 }), { message: /swapRatio/ });
});
