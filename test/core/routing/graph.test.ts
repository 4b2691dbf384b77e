/** The channel graph's bookkeeping: newest wins, rate limits, caps, pruning (graph.ts). */
import test from 'ava';
import fc from 'fast-check';
import { ChannelGraph, GRAPH_RULES, acceptChannelUpdate, acceptNodeAnnouncement, channelIdOf } from './fixtures.ts';
import { alice, bob, irene, mallory } from '../../helpers/actors.ts';
import { DOMAIN, NOW, announce, channelParams, nodeAnnouncement, update } from '../../helpers/graph.ts';

const ab = channelParams(alice, bob);
const keys = [alice.publicKey, bob.publicKey] as const;

function graphWithChannel(): ChannelGraph {
  const g = new ChannelGraph(DOMAIN);
  const r = g.addChannel(announce(ab, [alice, bob]), keys, [1000n]);
  if (!r.ok) throw new Error(r.detail);
  return g;
}

test('a channel is added once; its nodes get peer ids from the keys that signed it', (t) => {
  const g = graphWithChannel();
  t.is(g.channelCount, 1);
  t.is(g.nodeCount, 2);
  t.like(g.checkChannelAnnouncement(announce(ab, [alice, bob])), { ok: false, reason: 'duplicate' });
  t.like(g.addChannel(announce(ab, [alice, bob]), keys, [1000n]), { ok: false, reason: 'duplicate' });
  t.is(g.node(bob.address)?.channels.size, 1);
  t.is(g.channel(channelIdOf(ab))?.capacity[0], 1000n);
});

test('updates: newest wins, replays are stale, at most one per interval, unknown channels refused', (t) => {
  const g = graphWithChannel();
  const o = { now: NOW + 10_000n };
  t.true(acceptChannelUpdate(g, update(ab, 0, alice, { timestamp: NOW }), o).ok);
  t.like(acceptChannelUpdate(g, update(ab, 0, alice, { timestamp: NOW }), o), { ok: false, reason: 'duplicate' });
  t.like(acceptChannelUpdate(g, update(ab, 0, alice, { timestamp: NOW - 1n }), o), { ok: false, reason: 'stale' });
  t.like(acceptChannelUpdate(g, update(ab, 0, alice, { timestamp: NOW + GRAPH_RULES.updateInterval - 1n }), o), {
    ok: false,
    reason: 'rate-limited',
  });
  const later = update(ab, 0, alice, { timestamp: NOW + GRAPH_RULES.updateInterval, enabled: false });
  t.true(acceptChannelUpdate(g, later, o).ok);
  t.is(g.channel(channelIdOf(ab))?.updates[0]?.enabled, false);
  // The other direction is bob's alone.
  t.like(acceptChannelUpdate(g, update(ab, 1, alice), o), { ok: false, reason: 'wrong-signer' });
  t.true(acceptChannelUpdate(g, update(ab, 1, bob), o).ok);
  const ai = channelParams(alice, irene);
  t.like(acceptChannelUpdate(g, update(ai, 0, alice), o), { ok: false, reason: 'unknown-channel' });
  t.like(acceptChannelUpdate(g, update(ab, 0, alice, { timestamp: NOW + 600n, policies: [] }), o), {
    ok: false,
    reason: 'policy-mismatch',
  });
});

test('a rate-limited or replayed update costs no signature check (a forged one is refused on the cheap checks)', (t) => {
  const g = graphWithChannel();
  t.true(acceptChannelUpdate(g, update(ab, 0, alice), { now: NOW }).ok);
  // Signed by mallory, but refused as rate-limited before its signature is looked at.
  t.like(acceptChannelUpdate(g, update(ab, 0, mallory, { timestamp: NOW + 1n }), { now: NOW }), { ok: false, reason: 'rate-limited' });
});

test('whatever order updates arrive in, the graph holds the newest acceptable one', (t) => {
  const stamps = [0n, 60n, 61n, 200n, 260n, 900n].map((d) => NOW + d);
  const signed = stamps.map((timestamp) => update(ab, 0, alice, { timestamp }));
  fc.assert(
    fc.property(fc.shuffledSubarray(signed, { minLength: 1 }), (order) => {
      const g = graphWithChannel();
      for (const u of order) acceptChannelUpdate(g, u, { now: NOW + 1000n });
      const held = g.channel(channelIdOf(ab))!.updates[0]!;
      const newest = order.reduce((m, u) => (u.timestamp > m ? u.timestamp : m), 0n);
      // The newest is held, unless it came within the interval of one accepted before it.
      return held.timestamp === newest || held.timestamp > newest - GRAPH_RULES.updateInterval;
    }),
  );
  t.pass();
});

test('node announcements: only of nodes with a public channel, newest wins', (t) => {
  const g = graphWithChannel();
  t.like(acceptNodeAnnouncement(g, nodeAnnouncement(irene), { now: NOW }), { ok: false, reason: 'unknown-node' });
  t.true(acceptNodeAnnouncement(g, nodeAnnouncement(alice), { now: NOW }).ok);
  t.like(acceptNodeAnnouncement(g, nodeAnnouncement(alice, { timestamp: NOW + 1n }), { now: NOW }), { ok: false, reason: 'rate-limited' });
  t.is(g.node(alice.address)?.announcement?.alias, 'alice');
});

test('the graph is capped: channels, nodes and channels per node', (t) => {
  const g = new ChannelGraph(DOMAIN, { maxChannels: 2, maxNodes: 3, maxChannelsPerNode: 2 });
  const add = (p: ReturnType<typeof channelParams>) => g.addChannel(announce(p, [alice, bob]), keys, [1n]);
  t.true(add(ab).ok);
  t.true(add(channelParams(alice, bob, { nonce: 2n })).ok);
  const third = channelParams(alice, bob, { nonce: 3n });
  t.like(g.checkChannelAnnouncement(announce(third, [alice, bob])), { ok: false, reason: 'graph-full' });
  t.like(add(third), { ok: false, reason: 'graph-full' });
  const small = new ChannelGraph(DOMAIN, { maxNodes: 3, maxChannelsPerNode: 1 });
  t.true(small.addChannel(announce(ab, [alice, bob]), keys, [1n]).ok);
  const ai = channelParams(alice, irene);
  t.like(small.addChannel(announce(ai, [alice, irene]), [alice.publicKey, irene.publicKey], [1n]), { ok: false, reason: 'graph-full' });
  const im = channelParams(irene, mallory);
  t.like(small.addChannel(announce(im, [irene, mallory]), [irene.publicKey, mallory.publicKey], [1n]), { ok: false, reason: 'graph-full' });
});

test('removing a channel drops nodes left without one; stale channels are pruned', (t) => {
  const g = graphWithChannel();
  t.true(g.removeChannel(channelIdOf(ab)));
  t.is(g.nodeCount, 0);
  t.false(g.removeChannel(channelIdOf(ab)));
  const h = graphWithChannel();
  acceptChannelUpdate(h, update(ab, 0, alice), { now: NOW });
  t.deepEqual(h.pruneStale(NOW + GRAPH_RULES.staleAfter), []);
  t.deepEqual(h.pruneStale(NOW + GRAPH_RULES.staleAfter + 1n), [channelIdOf(ab)]);
  t.is(h.channelCount, 0);
});

test('capacity changes are recorded; structural changes raise the structure version', (t) => {
  const g = graphWithChannel();
  const s = g.structureVersion;
  t.true(g.setCapacity(channelIdOf(ab), [2000n]));
  t.false(g.setCapacity(channelIdOf(ab), [2000n]));
  t.is(g.structureVersion, s);
  t.deepEqual(
    g.takeChanges().map((c) => c.kind),
    ['channel-added', 'capacity'],
  );
});
