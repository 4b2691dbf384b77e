/**
 * Graph gossip between real libp2p nodes over TCP on 127.0.0.1: an announcement from A reaches C
 * through B (A and C are not connected), while a forged and an unfunded one are dropped by B and
 * never reach C; a node that connects later gets the graph by sync; co-signing of announcements.
 * The chain port is a fake that says which channels the adjudicator holds funds for.
 */
import { multiaddr } from '@multiformats/multiaddr';
import test, { type ExecutionContext } from 'ava';
import type { Libp2p } from 'libp2p';
import type { ChainService } from '../../src/chain/chain-service.ts';
import { type Bytes32, channelId, nobleBackend } from '../../src/core/index.ts';
import { encodeGraphMessage } from '../../src/core/routing/index.ts';
import { createLogger } from '../../src/log/logger.ts';
import { createGraphGossip, graphTopic, gossipsubOf } from '../../src/p2p/graph-gossip.ts';
import { createLibp2pNode } from '../../src/p2p/libp2p-node.ts';
import { type GraphVerdict, GraphService } from '../../src/node/graph-service.ts';
import { type Actor, actor, alice, bob, irene, mallory } from '../helpers/actors.ts';
import { DOMAIN, NOW, announce, channelParams, update } from '../helpers/graph.ts';

const TOPIC = graphTopic(DOMAIN.chainId, DOMAIN.adjudicator);

/** The adjudicator as a fake chain port: funded channels hold 1,000 of every asset. */
function fakeChain(funded: Set<Bytes32>, reads: Bytes32[]): ChainService {
  return {
    chainId: DOMAIN.chainId,
    adjudicator: DOMAIN.adjudicator,
    holdings: async (id: Bytes32) => {
      reads.push(id);
      return { amount: funded.has(id) ? 1000n : 0n, closed: false };
    },
    dispute: async () => undefined,
    blockNumber: async () => 1n,
    events: async (from: bigint) => ({ events: [], nextBlock: from }),
  } as unknown as ChainService;
}

interface Peer {
  readonly who: Actor;
  readonly libp2p: Libp2p;
  readonly service: GraphService;
  readonly verdicts: GraphVerdict[];
  readonly reads: Bytes32[];
  readonly address: string;
}

const silent = createLogger({ level: 'silent' });

async function peer(
  t: ExecutionContext,
  who: Actor,
  funded: Set<Bytes32>,
  own: Map<Bytes32, { params: ReturnType<typeof channelParams>; peerId: string }> = new Map(),
  persist?: { load(): Promise<Uint8Array | undefined>; save(data: Uint8Array): void },
  now: () => bigint = () => NOW,
): Promise<Peer> {
  const libp2p = await createLibp2pNode({
    privateKey: who.privateKey,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    dialTimeoutMs: 5_000,
    gossip: true,
  });
  await libp2p.start();
  const reads: Bytes32[] = [];
  const service = new GraphService({
    gossip: createGraphGossip({ libp2p, topic: TOPIC, maxSyncMessages: 1_000 }),
    chain: fakeChain(funded, reads),
    domain: DOMAIN,
    backend: nobleBackend,
    sign: async (digest) => nobleBackend.sign(digest, who.privateKey),
    self: who.address,
    ...(persist ? { persist } : {}),
    now,
    clockMs: Date.now,
    log: silent,
    ownChannel: (id) => {
      const o = own.get(id);
      return o && { params: o.params, status: 'open', peerId: o.peerId };
    },
  });
  const verdicts: GraphVerdict[] = [];
  service.onVerdict((v) => verdicts.push(v));
  await service.start();
  t.teardown(async () => {
    service.stop();
    await libp2p.stop();
  });
  return { who, libp2p, service, verdicts, reads, address: libp2p.getMultiaddrs()[0]!.toString() };
}

/** Polls `condition` (a wait, not a timing assertion: the test's own timeout bounds it). */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

async function connect(a: Peer, b: Peer): Promise<void> {
  await a.libp2p.dial(multiaddr(b.address));
}

function mesh(p: Peer, other: Peer): boolean {
  return (gossipsubOf(p.libp2p) as unknown as { getMeshPeers(t: string): string[] })
    .getMeshPeers(TOPIC)
    .includes(other.libp2p.peerId.toString());
}

const carol = actor('carol');
const ab = channelParams(alice, bob);
const unfunded = channelParams(irene, mallory);

test('an announcement from A reaches C through B; forged and unfunded ones stop at B', async (t) => {
  const funded = new Set([channelId(ab)]);
  const a = await peer(t, alice, funded);
  const b = await peer(t, bob, funded);
  const c = await peer(t, carol, funded);
  await connect(a, b);
  await connect(b, c);
  await until(() => mesh(a, b) && mesh(b, a) && mesh(b, c) && mesh(c, b), 'the gossipsub mesh A–B–C');
  t.false(
    a.libp2p.getConnections().some((x) => x.remotePeer.equals(c.libp2p.peerId)),
    'A and C are not connected',
  );

  // A turns hostile: it publishes raw bytes, past its own checks.
  const pubsubA = gossipsubOf(a.libp2p)!;
  const good = announce(ab, [alice, bob]);
  const forged = announce(channelParams(alice, bob, { nonce: 9n }), [alice, mallory]);
  const notFunded = announce(unfunded, [irene, mallory]);
  await pubsubA.publish(TOPIC, encodeGraphMessage({ kind: 'channel-announcement', announcement: forged }));
  await pubsubA.publish(TOPIC, encodeGraphMessage({ kind: 'channel-announcement', announcement: notFunded }));
  await until(() => b.verdicts.length >= 2, 'B to check both');
  t.deepEqual(b.verdicts.map((v) => (v.result.ok ? 'ok' : v.result.reason)).sort(), ['not-funded', 'wrong-signer']);
  t.deepEqual(b.reads, [channelId(unfunded)], 'the forged one costs no chain read');

  // Then a valid one: B relays it after checking it; C gets it, and only it.
  await pubsubA.publish(TOPIC, encodeGraphMessage({ kind: 'channel-announcement', announcement: good }));
  await until(() => c.service.graph.channelCount === 1, 'C to hold the channel');
  t.truthy(c.service.graph.channel(channelId(ab)));
  t.is(c.service.graph.channel(channelId(ab))!.capacity[0], 1000n);
  t.deepEqual(
    c.verdicts.map((v) => v.result.ok),
    [true],
    'C never saw the forged or the unfunded announcement (B relays in the order it checks)',
  );
  t.is(b.service.graph.channelCount, 1);

  // An update signed by the forwarder follows the same path; a forged one does not.
  await pubsubA.publish(TOPIC, encodeGraphMessage({ kind: 'channel-update', update: update(ab, 1, mallory) }));
  await pubsubA.publish(TOPIC, encodeGraphMessage({ kind: 'channel-update', update: update(ab, 0, alice) }));
  await until(() => c.service.graph.channel(channelId(ab))!.updates[0] !== undefined, 'C to hold the update');
  t.is(c.service.graph.channel(channelId(ab))!.updates[1], undefined);
  t.false(c.verdicts.some((v) => !v.result.ok));
});

test('a node that connects later gets the graph by sync', async (t) => {
  const funded = new Set([channelId(ab)]);
  const a = await peer(t, alice, funded);
  t.true((await a.service.publish({ kind: 'channel-announcement', announcement: announce(ab, [alice, bob]) })).ok);
  t.true((await a.service.publish({ kind: 'channel-update', update: update(ab, 0, alice) })).ok);
  t.like(await a.service.publish({ kind: 'channel-update', update: update(ab, 1, alice) }), { ok: false, reason: 'wrong-signer' });
  const d = await peer(t, irene, funded);
  await connect(d, a);
  await until(() => d.service.graph.channel(channelId(ab))?.updates[0] !== undefined, 'D to sync the channel and its update');
  t.is(d.service.graph.channelCount, 1);
  t.deepEqual(d.reads, [channelId(ab)], 'D checked the synced announcement on-chain itself');
});

test('a public channel is announced with both signatures: the counterparty co-signs its own open channel only', async (t) => {
  const funded = new Set([channelId(ab)]);
  const aPeerId = (await import('../../src/core/routing/index.ts')).peerIdOfPublicKey(alice.publicKey);
  const bPeerId = (await import('../../src/core/routing/index.ts')).peerIdOfPublicKey(bob.publicKey);
  const a = await peer(t, alice, funded, new Map([[channelId(ab), { params: ab, peerId: bPeerId }]]));
  const b = await peer(t, bob, funded, new Map([[channelId(ab), { params: ab, peerId: aPeerId }]]));
  const m = await peer(t, mallory, funded);
  await connect(a, b);
  await connect(m, b);
  const r = await a.service.announceChannel(channelId(ab));
  t.true(r.ok, r.ok ? '' : r.detail);
  t.truthy(a.service.graph.channel(channelId(ab)));
  // B co-signed and learns of the announcement through gossip (or sync).
  await until(() => b.service.graph.channelCount === 1, 'B to hold the announced channel');
  // mallory shares no channel with B: B refuses to co-sign for it.
  const blank = new Uint8Array(65);
  const asked = await b.service.coSign(
    mallory.address,
    encodeGraphMessage({ kind: 'channel-announcement', announcement: { params: ab, timestamp: NOW, signatures: [blank, blank] } }),
  );
  t.is(asked, undefined);
  t.like(await m.service.announceChannel(channelId(ab)), { ok: false, reason: 'unknown-channel' });
});

test('the graph survives a restart: saved at stop, checked again at start; a channel closed meanwhile stays out', async (t) => {
  const ac = channelParams(alice, carol);
  const funded = new Set([channelId(ab), channelId(ac)]);
  let saved: Uint8Array | undefined;
  const persist = { load: async () => saved, save: (data: Uint8Array) => void (saved = data) };
  const a = await peer(t, alice, funded, new Map(), persist);
  t.true((await a.service.publish({ kind: 'channel-announcement', announcement: announce(ab, [alice, bob]) })).ok);
  t.true((await a.service.publish({ kind: 'channel-update', update: update(ab, 0, alice) })).ok);
  t.true((await a.service.publish({ kind: 'channel-announcement', announcement: announce(ac, [alice, carol]) })).ok);
  a.service.stop();
  t.truthy(saved, 'saved at stop');
  funded.delete(channelId(ac)); // closed while alice was down
  const again = await peer(t, irene, funded, new Map(), persist);
  t.is(again.service.graph.channelCount, 1, 'restored without any peer, less the closed channel');
  t.truthy(again.service.graph.channel(channelId(ab))?.updates[0], 'with its update');
  t.deepEqual(new Set(again.reads), new Set([channelId(ab), channelId(ac)]), 'each channel checked on-chain again');
  saved = Uint8Array.of(1, 2, 3);
  const garbled = await peer(t, mallory, funded, new Map(), persist);
  t.is(garbled.service.graph.channelCount, 0, 'a saved graph that does not decode: an empty graph, no crash');
});

test('our updates are signed again once a day old, so that a node running for weeks never goes stale', async (t) => {
  let clock = NOW;
  const a = await peer(t, alice, new Set([channelId(ab)]), new Map(), undefined, () => clock);
  t.true((await a.service.publish({ kind: 'channel-announcement', announcement: announce(ab, [alice, bob]) })).ok);
  t.true((await a.service.publish({ kind: 'channel-update', update: update(ab, 0, alice) })).ok);
  t.is(await a.service.refresh(), 0, 'fresh: nothing to re-sign');
  clock = NOW + 24n * 3600n + 1n;
  t.is(await a.service.refresh(), 1, 'a day old: re-signed');
  const u = a.service.graph.channel(channelId(ab))!.updates[0]!;
  t.is(u.timestamp, clock);
  t.deepEqual(u.policies, update(ab, 0, alice).policies, 'unchanged but for the timestamp');
});
