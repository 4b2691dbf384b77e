/**
 * Which channels a testnet opens: pure and deterministic (a seed picks the random mesh), so a
 * run can be repeated exactly.
 *
 * - `star`: a hub (node 0) with a link to every other node;
 * - `ring`: node i with node i+1, the last with the first;
 * - `mesh`: a ring plus random chords, about `meshDegree` links per node.
 *
 * Each link carries `channelsPerLink` channels; which node leads (opens) alternates so that no
 * node leads them all. A `swapRatio` share of the channels, spread evenly, are swap channels
 * (two assets); the rest are payment channels (one asset), alternating ETH and a token.
 */
import { InvalidArgumentError } from '../core/errors.ts';

export const TOPOLOGIES = ['star', 'ring', 'mesh'] as const;
export type TopologyName = (typeof TOPOLOGIES)[number];

/** Assets by symbol: the testnet maps them to addresses. */
export type AssetSymbol = 'ETH' | 'tUSD' | 'tEUR';

export interface ChannelPlan {
  readonly index: number;
  /** Node index that opens and leads the channel (participant 0). */
  readonly leader: number;
  readonly follower: number;
  readonly kind: 'payment' | 'swap';
  readonly assets: readonly AssetSymbol[];
}

export interface TopologyOptions {
  readonly nodes: number;
  readonly topology: TopologyName;
  readonly channelsPerLink: number;
  /** Share of swap channels, 0 to 1. */
  readonly swapRatio: number;
  readonly seed?: number;
  /** Mesh only: links per node, on average (default 3). */
  readonly meshDegree?: number;
}

/** A small, seeded PRNG (mulberry32): the same seed gives the same mesh everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The links between nodes, each once, as [first, second]: the first leads the link's first
 * channel. In a ring every node leads one link and follows one; in a star the hub leads every
 * other link.
 */
export function links(nodes: number, topology: TopologyName, seed = 1, meshDegree = 3): [number, number][] {
  if (!Number.isInteger(nodes) || nodes < 2) throw new InvalidArgumentError('a testnet needs at least 2 nodes');
  const out = new Map<string, [number, number]>();
  const add = (x: number, y: number) => {
    const key = `${Math.min(x, y)}-${Math.max(x, y)}`;
    if (x !== y && !out.has(key)) out.set(key, [x, y]);
  };
  switch (topology) {
    case 'star':
      for (let i = 1; i < nodes; i++) add(i % 2 === 1 ? 0 : i, i % 2 === 1 ? i : 0);
      break;
    case 'ring':
      for (let i = 0; i < nodes; i++) add(i, (i + 1) % nodes);
      break;
    case 'mesh': {
      for (let i = 0; i < nodes; i++) add(i, (i + 1) % nodes);
      const target = Math.min((nodes * (nodes - 1)) / 2, Math.max(nodes, Math.round((nodes * meshDegree) / 2)));
      const random = prng(seed);
      for (let tries = 0; out.size < target && tries < 100 * target; tries++) {
        add(Math.floor(random() * nodes), Math.floor(random() * nodes));
      }
      break;
    }
    default:
      throw new InvalidArgumentError(`topology must be one of ${TOPOLOGIES.join(', ')}, got ${String(topology)}`);
  }
  return [...out.values()];
}

const PAYMENT_ASSETS: readonly (readonly AssetSymbol[])[] = [['ETH'], ['tUSD']];
const SWAP_ASSETS: readonly (readonly AssetSymbol[])[] = [
  ['ETH', 'tUSD'],
  ['tUSD', 'tEUR'],
];

export function planChannels(o: TopologyOptions): ChannelPlan[] {
  if (!Number.isInteger(o.channelsPerLink) || o.channelsPerLink < 1)
    throw new InvalidArgumentError('channelsPerLink must be a whole number of at least 1');
  if (!(o.swapRatio >= 0 && o.swapRatio <= 1)) throw new InvalidArgumentError('swapRatio must be between 0 and 1');
  const plans: ChannelPlan[] = [];
  let payments = 0;
  let swaps = 0;
  for (const [a, b] of links(o.nodes, o.topology, o.seed ?? 1, o.meshDegree ?? 3)) {
    for (let k = 0; k < o.channelsPerLink; k++) {
      const index = plans.length;
      // Spread swap channels evenly: channel i is one when floor((i+1)·r) steps up.
      const swap = Math.floor((index + 1) * o.swapRatio) > Math.floor(index * o.swapRatio);
      const flip = k % 2 === 1;
      plans.push({
        index,
        leader: flip ? b : a,
        follower: flip ? a : b,
        kind: swap ? 'swap' : 'payment',
        assets: swap ? SWAP_ASSETS[swaps++ % SWAP_ASSETS.length]! : PAYMENT_ASSETS[payments++ % PAYMENT_ASSETS.length]!,
      });
    }
  }
  return plans;
}

/**
 * What each node needs, in whole units, to deposit `deposit` of every asset in each channel it
 * is in, with room for gas: at least 10,000 ETH and 1,000,000 of each token.
 */
export function fundingFor(plans: readonly ChannelPlan[], nodes: number, deposit: bigint): { ether: bigint; tokens: bigint } {
  const need = deposit * BigInt(mostChannels(plans, nodes)) + 1_000n;
  return { ether: need > 10_000n ? need : 10_000n, tokens: need > 1_000_000n ? need : 1_000_000n };
}

/**
 * The same on an existing chain, where ETH is real: exactly the ETH the busiest node deposits
 * (the testnet adds gas money, src/testnet/network.ts); tokens are the testnet's own, as before.
 */
export function fundingOnChain(plans: readonly ChannelPlan[], nodes: number, deposit: bigint): { ether: bigint; tokens: bigint } {
  return { ether: deposit * BigInt(mostChannels(plans, nodes)), tokens: fundingFor(plans, nodes, deposit).tokens };
}

function mostChannels(plans: readonly ChannelPlan[], nodes: number): number {
  const channels = new Array<number>(nodes).fill(0);
  for (const p of plans) {
    channels[p.leader]!++;
    channels[p.follower]!++;
  }
  return Math.max(0, ...channels);
}
