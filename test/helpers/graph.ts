/**
 * Graph messages signed by named actors, and generated graphs for pathfinding tests and the
 * route bench. Generated graphs skip signatures (the graph's `addChannel`/`applyUpdate` take
 * verified input): building one of 50,000 channels must not sign 150,000 messages.
 */
import { type Address, type ChannelParams, NATIVE_ASSET, channelId, nobleBackend } from '../../src/core/index.ts';
import {
  type AssetPolicy,
  type ChannelAnnouncement,
  type ChannelUpdate,
  ChannelGraph,
  type GraphDomain,
  type NodeAnnouncement,
  channelAnnouncementDigest,
  channelUpdateDigest,
  nodeAnnouncementDigest,
  peerIdOfPublicKey,
} from '../../src/core/routing/index.ts';
import type { Actor } from './actors.ts';
import { ADJUDICATOR, makeParams } from './factories.ts';

export const DOMAIN: GraphDomain = { chainId: 31337n, adjudicator: ADJUDICATOR };
/** A fixed clock for graph tests (unix seconds). */
export const NOW = 1_800_000_000n;

/** Params of a channel between two actors, participant 0 first. */
export function channelParams(a: Actor, b: Actor, overrides: Partial<ChannelParams> = {}): ChannelParams {
  return makeParams({ participants: [a.address, b.address], ...overrides });
}

/** An announcement signed by both actors (`signers[i]` signs as participant i). */
export function announce(params: ChannelParams, signers: readonly [Actor, Actor], timestamp = NOW): ChannelAnnouncement {
  const digest = channelAnnouncementDigest({ params, timestamp });
  return {
    params,
    timestamp,
    signatures: [nobleBackend.sign(digest, signers[0].privateKey), nobleBackend.sign(digest, signers[1].privateKey)],
  };
}

export const POLICY: AssetPolicy = { feeBase: 1n, feePpm: 1000, minAmount: 1n, maxAmount: 10n ** 24n };

/** An update of `direction`, signed by `signer` (who should be participants[direction]). */
export function update(
  params: ChannelParams,
  direction: 0 | 1,
  signer: Actor,
  overrides: Partial<Omit<ChannelUpdate, 'signature'>> = {},
  domain: GraphDomain = DOMAIN,
): ChannelUpdate {
  const body: Omit<ChannelUpdate, 'signature'> = {
    channelId: channelId(params),
    direction,
    timestamp: NOW,
    enabled: true,
    maxLocks: 483,
    minExpirySeconds: 600,
    policies: params.assets.map(() => POLICY),
    ...overrides,
  };
  return { ...body, signature: nobleBackend.sign(channelUpdateDigest(domain, body), signer.privateKey) };
}

/** A node announcement of `who`, signed by it. */
export function nodeAnnouncement(who: Actor, overrides: Partial<Omit<NodeAnnouncement, 'signature'>> = {}): NodeAnnouncement {
  const peerId = peerIdOfPublicKey(who.publicKey);
  const body: Omit<NodeAnnouncement, 'signature'> = {
    address: who.address,
    peerId,
    multiaddrs: [`/ip4/127.0.0.1/tcp/4001/p2p/${peerId}`],
    alias: who.name,
    swaps: [],
    timestamp: NOW,
    ...overrides,
  };
  return { ...body, signature: nobleBackend.sign(nodeAnnouncementDigest(DOMAIN, body), who.privateKey) };
}

/** A deterministic PRNG (mulberry32): generated graphs are the same for one seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The address of generated node `i`. */
export function nodeAddress(i: number): Address {
  return `0x${(i + 1).toString(16).padStart(40, '0')}` as Address;
}

const FAKE_SIG = new Uint8Array(65);

function fakeKey(i: number): Uint8Array {
  const k = new Uint8Array(33);
  k[0] = 2;
  new DataView(k.buffer).setUint32(29, i + 1);
  return k;
}

export interface GeneratedGraph {
  readonly graph: ChannelGraph;
  readonly nodes: readonly Address[];
}

/**
 * A random graph of `nodes` nodes and `channels` one-asset channels: a ring (so it is connected)
 * plus channels between random pairs, preferentially to low-numbered nodes (hubs, as in
 * Lightning's graph). Capacities 10^6..10^9, fees 0..1,000 base and 0..2,000 ppm, every direction
 * enabled, updated at `now`.
 */
export function generateGraph(o: { nodes: number; channels: number; seed: number; now?: bigint }): GeneratedGraph {
  const rand = prng(o.seed);
  const now = o.now ?? NOW;
  const graph = new ChannelGraph(DOMAIN, { maxChannels: o.channels + 1, maxNodes: o.nodes + 1, maxChannelsPerNode: o.channels });
  const addresses = Array.from({ length: o.nodes }, (_, i) => nodeAddress(i));
  const pick = (): number => (rand() < 0.3 ? Math.floor(rand() * Math.min(o.nodes, 100)) : Math.floor(rand() * o.nodes));
  for (let c = 0; c < o.channels; c++) {
    let a = c < o.nodes ? c : pick();
    let b = c < o.nodes ? (c + 1) % o.nodes : pick();
    if (a === b) b = (b + 1) % o.nodes;
    if (a > b) [a, b] = [b, a];
    const params = makeParams({ participants: [addresses[a]!, addresses[b]!], assets: [NATIVE_ASSET], nonce: BigInt(c) });
    const capacity = BigInt(Math.floor(10 ** (6 + 3 * rand())));
    const added = graph.addChannel({ params, timestamp: now, signatures: [FAKE_SIG, FAKE_SIG] }, [fakeKey(a), fakeKey(b)], [capacity]);
    if (!added.ok) throw new Error(`generated channel refused: ${added.detail}`);
    for (const direction of [0, 1] as const) {
      graph.applyUpdate({
        channelId: added.value.id,
        direction,
        timestamp: now,
        enabled: true,
        maxLocks: 483,
        minExpirySeconds: 600,
        policies: [{ feeBase: BigInt(Math.floor(rand() * 1000)), feePpm: Math.floor(rand() * 2000), minAmount: 1n, maxAmount: capacity }],
        signature: FAKE_SIG,
      });
    }
  }
  return { graph, nodes: addresses };
}
