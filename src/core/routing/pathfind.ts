/**
 * Pathfinding: the payer's route to the payee over its channel graph (ADR 0017).
 *
 * A Dijkstra search runs backwards from the payee, so that amounts are known at every step:
 * the payee receives `amount`; a node that forwards `x` over a channel direction receives
 * `x + feeBase + floor(x × feePpm / 10^6)` by that direction's policy (its fee, in the asset of
 * the channel it forwards on); a node that converts pays out `to` and receives
 * `ceil(x × rateDen / rateNum)` of `from` at its offer's indicative rate; the payer pays no fee
 * to itself. The cost minimised is fees plus a penalty for the risk of failing (scorer.ts):
 * `amount × (hopPenaltyPpm + liquidityPenaltyPpm × −log2 P) / 10^6` per hop, where P is the
 * probability that the hop can forward the amount given its capacity and what was learnt. A
 * direction is skipped when disabled, without a policy, stale (no update for 14 days), when the
 * amount is outside its min/max or above the channel's capacity, or when P is 0.
 *
 * The search runs on float64 (routing-index.ts); the route found is recomputed exactly in
 * bigints and checked hop by hop before it is returned.
 *
 * When no route is found, the reason says why ({@link NoRoute}): no path at all, every path over
 * the fee limit (with the cheapest fee found), or the amount too large for known capacities
 * (with the largest amount some path could carry). Users of other implementations complain that
 * "no route" hides which.
 */
import type { Address, Bytes32 } from '../bytes.ts';
import { InvalidArgumentError } from '../errors.ts';
import { ceilDiv } from '../forwarding/quote.ts';
import type { ChannelGraph } from './graph.ts';
import { EDGE_CHANNEL, type RoutingIndex, refreshIndex } from './routing-index.ts';
import { type ScoredHop, type ScorerView, boundsKey } from './scorer.ts';
import { GRAPH_RULES } from './types.ts';

/** A hop of a route hint: a private channel near the payee, from an invoice. */
export interface HintHop {
  /** The node that forwards over the channel (the last hint hop's channel leads to the payee). */
  readonly from: Address;
  readonly fromPeerId?: string;
  readonly channelId: Bytes32;
  readonly asset: Address;
  readonly feeBase: bigint;
  readonly feePpm: number;
  readonly minExpirySeconds: number;
  /** The most it forwards (default: no limit known). */
  readonly maxAmount?: bigint;
}

/** A hint is a path of hops ending at the payee. */
export type RouteHint = readonly HintHop[];

/** One of the payer's own channels, with its real balance (it need not be public). */
export interface FirstHop {
  readonly channelId: Bytes32;
  readonly to: Address;
  readonly toPeerId: string;
  readonly asset: Address;
  /** Which participant the payer is (the hop's direction). */
  readonly direction: 0 | 1;
  readonly assetIndex: number;
  /** What the payer can send on it now. */
  readonly spendable: bigint;
  readonly capacity: bigint;
}

export interface RouteQuery {
  readonly from: Address;
  readonly to: Address;
  /** The asset the payee receives. */
  readonly asset: Address;
  /** What the payee receives (base units). */
  readonly amount: bigint;
  /** The asset the payer pays with (default `asset`); another one makes a routed swap. */
  readonly payWith?: Address;
  /** The most the payer pays in fees, in `payWith` units (default: no limit). */
  readonly feeLimit?: bigint;
  /** The longest route, in channels (default 20). */
  readonly maxHops?: number;
  readonly exclude?: { readonly channels?: Iterable<Bytes32>; readonly nodes?: Iterable<Address> };
  /** Private channels near the payee, for this search only. */
  readonly hints?: readonly RouteHint[];
  /**
   * The payer's own channels with their balances. When given, the route leaves the payer only
   * through these (LDK's `first_hops`); otherwise through its public channels, scored like others.
   */
  readonly firstHops?: readonly FirstHop[];
  /** The payee's peer id, when the graph may not know it (an invoice carries it). */
  readonly toPeerId?: string;
  /** Unix seconds: staleness of policies, decay of the scorer's knowledge. */
  readonly now: bigint;
}

/** A converting node's part of a hop: it received `amountIn` of `from` and pays out the hop's asset. */
export interface Conversion {
  readonly from: Address;
  readonly to: Address;
  readonly rateNum: bigint;
  readonly rateDen: bigint;
  readonly amountIn: bigint;
}

export interface RouteHop extends ScoredHop {
  readonly channelId: Bytes32;
  /** The node that locks `amount` on this channel. */
  readonly from: Address;
  /** The node that receives it: the next forwarder, or the payee. */
  readonly to: Address;
  readonly toPeerId: string;
  readonly asset: Address;
  /** The forwarding participant of the channel (0 or 1). */
  readonly direction: 0 | 1;
  readonly assetIndex: number;
  /** What is locked on this channel toward `to`. */
  readonly amount: bigint;
  /** What `from` charges for forwarding onto this channel (0 for the payer's first hop), in `asset`. */
  readonly fee: bigint;
  /** The policy `fee` was computed by: `feeBase + floor(amount × feePpm / 10^6)` (0 for the payer's hop). */
  readonly feeBase: bigint;
  readonly feePpm: number;
  /** The least time before expiry `from` wants for forwarding (0 for the payer). */
  readonly minExpirySeconds: number;
  /** The channel's capacity in this asset (0n when unknown: a hint). */
  readonly capacity: bigint;
  /** Present when `from` converts another asset into this hop's. */
  readonly conversion?: Conversion;
  /** The estimated probability that this hop can forward the amount. */
  readonly probability: number;
}

export interface Route {
  readonly from: Address;
  readonly to: Address;
  readonly hops: readonly RouteHop[];
  /** What the payee receives, in `asset`. */
  readonly amount: bigint;
  readonly asset: Address;
  /** What the payer locks on its first hop, in `payWith`. */
  readonly sent: bigint;
  readonly payWith: Address;
  /** Fees, in `payWith` units: `sent` minus what it would be with no fees (conversions at their rates). */
  readonly totalFee: bigint;
  /** The estimated probability that every hop forwards (the product of the hops'). */
  readonly probability: number;
  /** The least time before expiry the route's forwarders want: the lock's expiry must leave this much. */
  readonly minExpirySeconds: number;
}

/** Why no route was found. */
export type NoRouteReason =
  /** No path at all from the payer to the payee (unknown nodes, exclusions, disabled channels). */
  | 'no-path'
  /** Paths exist, but each costs more in fees than the limit; `cheapestFee` says what the cheapest costs. */
  | 'fee-limit'
  /** Paths exist, but none can carry the amount (capacity, max amounts, known liquidity); `maxAmount` says what one could. */
  | 'insufficient-capacity';

export interface NoRoute {
  readonly ok: false;
  readonly reason: NoRouteReason;
  readonly detail: string;
  /** With `fee-limit`: the fee of the cheapest route found, and that route. */
  readonly cheapestFee?: bigint;
  readonly cheapest?: Route;
  /** With `insufficient-capacity`: about the most a single route could carry now (in `asset`). */
  readonly maxAmount?: bigint;
}

export type RouteResult = { readonly ok: true; readonly route: Route } | NoRoute;

/** A route finder over one graph, keeping its index between searches. */
export class Pathfinder {
  readonly graph: ChannelGraph;
  #index: RoutingIndex | undefined;

  constructor(graph: ChannelGraph) {
    this.graph = graph;
  }

  /** The index, brought up to date with the graph (rebuilt after structural changes). */
  index(): RoutingIndex {
    this.#index = refreshIndex(this.graph, this.#index);
    return this.#index;
  }

  findRoute(query: RouteQuery, scorer?: ScorerView): RouteResult {
    return findRoute(this.index(), query, scorer);
  }
}

// ---------------------------------------------------------------------------------------------

interface OverlayEdge {
  readonly from: number;
  readonly to: number;
  readonly channelId: Bytes32;
  readonly fromAddress: Address;
  readonly toAddress: Address;
  readonly toPeerId: string;
  readonly asset: Address;
  readonly direction: 0 | 1;
  readonly assetIndex: number;
  readonly feeBase: bigint;
  readonly feePpm: number;
  readonly minExpirySeconds: number;
  readonly maxAmount: number;
  readonly maxAmountExact: bigint | undefined;
  readonly capacity: bigint;
  /** First hops: the exact spendable balance (probability 1 up to it). */
  readonly spendable: bigint | undefined;
}

/** A search's graph: the index plus the overlay of hints and first hops. */
interface Space {
  readonly ix: RoutingIndex;
  readonly vertexCount: number;
  readonly extraNodes: Address[];
  readonly extraPeerIds: string[];
  readonly extraIn: Map<number, number[]>;
  readonly overlay: OverlayEdge[];
  readonly source: number;
  readonly target: number;
  /** The payee's amount, as a float. */
  readonly amount: number;
  readonly payeeNode: number;
  /** Skip the index's edges leaving the payer (first hops replace them). */
  readonly payerNode: number;
  readonly skipPayerEdges: boolean;
  readonly excludedChannels: Uint8Array;
  readonly excludedNodes: Uint8Array;
  readonly excludedOverlay: Set<number>;
  readonly allowConversions: boolean;
  /** The scorer's bounds by edge of the index (computed once per query: no string keys in the search loop). */
  edgeBounds(scorer: ScorerView): ReadonlyMap<number, Bounds>;
}

type Bounds = { readonly lo: number; readonly hi: number };

/** The scorer's bounds keyed by edge of the index. */
function boundsByEdge(ix: RoutingIndex, scorer: ScorerView): Map<number, Bounds> {
  const out = new Map<number, Bounds>();
  for (const l of scorer.liquidity) {
    const e = ix.edgeOf(l.channelId, 0, l.assetIndex);
    if (e < 0) continue;
    out.set(e, { lo: l.lo, hi: l.hi });
    out.set(e + 1, { lo: l.cap - l.hi, hi: l.cap - l.lo });
  }
  return out;
}

interface SearchOptions {
  readonly penalties: boolean;
  /** Fee limit in the payer's units; pruned during the search only for a one-asset payment. */
  readonly feeLimit: number;
  readonly maxHops: number;
  readonly scorer: ScorerView | undefined;
  readonly now: number;
  /** Ignore amounts and probabilities (connectivity only). */
  readonly ignoreAmounts: boolean;
}

const NONE = -1;

/** The route from `query.from` to `query.to`, or why there is none. */
export function findRoute(ix: RoutingIndex, query: RouteQuery, scorer?: ScorerView): RouteResult {
  if (typeof query.amount !== 'bigint' || query.amount <= 0n) throw new InvalidArgumentError('amount must be a positive bigint');
  if (query.from === query.to) throw new InvalidArgumentError('the payer and the payee are the same node');
  if (query.feeLimit !== undefined && query.feeLimit < 0n) throw new InvalidArgumentError('feeLimit must not be negative');
  const payWith = query.payWith ?? query.asset;
  const excluded = new Set<Bytes32>(query.exclude?.channels ?? []);
  for (const c of scorer?.avoidChannels ?? []) excluded.add(c);
  const space = buildSpace(ix, query, payWith, excluded, new Set([...(query.exclude?.nodes ?? []), ...(scorer?.avoidNodes ?? [])]));
  if (space === undefined) {
    return {
      ok: false,
      reason: 'no-path',
      detail:
        ix.nodeIndex.has(query.to) || (query.hints?.length ?? 0) > 0
          ? `${query.from} has no channel in the graph${query.firstHops ? ' and no usable channel of its own' : ''}`
          : `${query.to} has no public channel in ${query.asset === payWith ? 'this asset' : 'the asset'} and no route hint was given`,
    };
  }
  const maxHops = query.maxHops ?? 20;
  const now = Number(query.now);
  const limit = query.feeLimit === undefined ? Infinity : Number(query.feeLimit);
  // 1. Cheapest by fees and risk, within the fee limit. A route that fails its exact check (a
  //    float rounding at a bound) excludes its faulty channel and the search runs again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const path = search(space, { penalties: true, feeLimit: limit, maxHops, scorer, now, ignoreAmounts: false });
    if (path === undefined) break;
    const exact = exactRoute(space, path, query, payWith, scorer);
    if (exact.ok) {
      if (query.feeLimit === undefined || exact.route.totalFee <= query.feeLimit) return exact;
      break;
    }
    space.excludedOverlay.add(exact.edge);
    if (exact.edge < ix.edgeCount) space.excludedChannels[ix.edgeRef[exact.edge]!] = 1;
  }
  // 2. Cheapest by fees alone, without the limit: within it, it is the route; over it, the reason.
  const cheapest = search(space, { penalties: false, feeLimit: Infinity, maxHops, scorer, now, ignoreAmounts: false });
  if (cheapest !== undefined) {
    const exact = exactRoute(space, cheapest, query, payWith, scorer);
    if (exact.ok) {
      if (query.feeLimit === undefined || exact.route.totalFee <= query.feeLimit) return exact;
      return {
        ok: false,
        reason: 'fee-limit',
        detail: `the cheapest route costs ${exact.route.totalFee} in fees, over the fee limit of ${query.feeLimit}`,
        cheapestFee: exact.route.totalFee,
        cheapest: exact.route,
      };
    }
  }
  // 3. Why not: is there a path at all, whatever the amount?
  const any = search(space, { penalties: false, feeLimit: Infinity, maxHops, scorer, now, ignoreAmounts: true });
  if (any === undefined) {
    return {
      ok: false,
      reason: 'no-path',
      detail: `no path of usable channels from ${query.from} to ${query.to} within ${maxHops} hops`,
    };
  }
  const widest = widestPath(space, { maxHops, scorer, now });
  return {
    ok: false,
    reason: 'insufficient-capacity',
    detail: `no route can carry ${query.amount}: paths exist, but their capacity, maximum amounts or known liquidity are lower${
      widest > 0 ? ` (about ${BigInt(Math.floor(widest))} is the most one could carry)` : ''
    }`,
    maxAmount: BigInt(Math.floor(widest)),
  };
}

// ---------------------------------------------------------------------------------------------
// The search space

function buildSpace(
  ix: RoutingIndex,
  q: RouteQuery,
  payWith: Address,
  excludedIds: ReadonlySet<Bytes32>,
  excludedNodeAddresses: ReadonlySet<Address>,
): Space | undefined {
  const extraNodes: Address[] = [];
  const extraPeerIds: string[] = [];
  const extraVertex = new Map<string, number>();
  let vertexCount = ix.vertexCount;
  const extraVertexInfo: { node: Address; asset: Address }[] = [];
  const vertex = (node: Address, asset: Address): number => {
    const v = ix.vertexOfAddress(node, asset);
    if (v >= 0) return v;
    const key = `${node}/${asset}`;
    let x = extraVertex.get(key);
    if (x === undefined) {
      x = vertexCount++;
      extraVertex.set(key, x);
      extraVertexInfo.push({ node, asset });
      if (!ix.nodeIndex.has(node) && !extraNodes.includes(node)) extraNodes.push(node);
    }
    return x;
  };
  const overlay: OverlayEdge[] = [];
  const extraIn = new Map<number, number[]>();
  const add = (e: OverlayEdge) => {
    const id = ix.edgeCount + overlay.length;
    overlay.push(e);
    const list = extraIn.get(e.to) ?? [];
    list.push(id);
    extraIn.set(e.to, list);
  };
  const target = vertex(q.to, q.asset);
  const source = vertex(q.from, payWith);
  for (const hint of q.hints ?? []) {
    for (let i = 0; i < hint.length; i++) {
      const h = hint[i]!;
      const to = i + 1 < hint.length ? hint[i + 1]!.from : q.to;
      const toPeerId = i + 1 < hint.length ? (hint[i + 1]!.fromPeerId ?? '') : (q.toPeerId ?? peerIdOf(ix, q.to));
      if (h.from === to) continue;
      add({
        from: vertex(h.from, h.asset),
        to: vertex(to, h.asset),
        channelId: h.channelId,
        fromAddress: h.from,
        toAddress: to,
        toPeerId,
        asset: h.asset,
        direction: 0,
        assetIndex: 0,
        feeBase: h.feeBase,
        feePpm: h.feePpm,
        minExpirySeconds: h.minExpirySeconds,
        maxAmount: h.maxAmount === undefined ? Infinity : Number(h.maxAmount),
        maxAmountExact: h.maxAmount,
        capacity: 0n,
        spendable: undefined,
      });
      if (h.fromPeerId && !ix.nodeIndex.has(h.from)) extraPeerIds[extraNodes.indexOf(h.from)] = h.fromPeerId;
    }
  }
  for (const f of q.firstHops ?? []) {
    // The payer pays in `payWith`: its channels' other assets are not where a route starts.
    if (f.spendable <= 0n || excludedIds.has(f.channelId) || f.asset !== payWith) continue;
    add({
      from: source,
      to: vertex(f.to, f.asset),
      channelId: f.channelId,
      fromAddress: q.from,
      toAddress: f.to,
      toPeerId: f.toPeerId,
      asset: f.asset,
      direction: f.direction,
      assetIndex: f.assetIndex,
      feeBase: 0n,
      feePpm: 0,
      minExpirySeconds: 0,
      maxAmount: Number(f.spendable),
      maxAmountExact: f.spendable,
      capacity: f.capacity,
      spendable: f.spendable,
    });
  }
  const payerNode = ix.nodeIndex.get(q.from) ?? NONE;
  const reachable = (v: number) => v < ix.vertexCount || extraIn.has(v) || overlay.some((e) => e.from === v);
  if (!reachable(target) || !reachable(source)) return undefined;
  const excludedChannels = new Uint8Array(ix.channels.length);
  for (const id of excludedIds) {
    const c = ix.channelIndex.get(id);
    if (c !== undefined) excludedChannels[c] = 1;
  }
  const excludedNodes = new Uint8Array(ix.nodes.length);
  for (const a of excludedNodeAddresses) {
    const n = ix.nodeIndex.get(a);
    if (n !== undefined && a !== q.from && a !== q.to) excludedNodes[n] = 1;
  }
  let cachedFor: ScorerView | undefined;
  let cached = new Map<number, Bounds>();
  const excludedOverlay = new Set<number>();
  overlay.forEach((e, k) => {
    if (excludedIds.has(e.channelId) || (excludedNodeAddresses.has(e.fromAddress) && e.fromAddress !== q.from))
      excludedOverlay.add(ix.edgeCount + k);
  });
  return {
    ix,
    vertexCount,
    extraNodes,
    extraPeerIds,
    extraIn,
    overlay,
    source,
    target,
    amount: Number(q.amount),
    payeeNode: ix.nodeIndex.get(q.to) ?? NONE,
    payerNode,
    skipPayerEdges: q.firstHops !== undefined,
    excludedChannels,
    excludedNodes,
    excludedOverlay,
    // A one-asset payment never converts: a detour through another asset only costs spreads.
    allowConversions: payWith !== q.asset,
    edgeBounds(scorer) {
      if (cachedFor !== scorer) {
        cachedFor = scorer;
        cached = boundsByEdge(ix, scorer);
      }
      return cached;
    },
  };
}

function peerIdOf(ix: RoutingIndex, node: Address): string {
  const n = ix.nodeIndex.get(node);
  return n === undefined ? '' : (ix.peerIds[n] ?? '');
}

// ---------------------------------------------------------------------------------------------
// The search

/** A binary min-heap of (cost, vertex), with lazy deletion. */
class Heap {
  costs: Float64Array;
  items: Int32Array;
  size = 0;
  constructor(capacity: number) {
    this.costs = new Float64Array(Math.max(16, capacity));
    this.items = new Int32Array(Math.max(16, capacity));
  }
  push(cost: number, item: number): void {
    if (this.size === this.costs.length) {
      const c = new Float64Array(this.size * 2);
      c.set(this.costs);
      this.costs = c;
      const it = new Int32Array(this.size * 2);
      it.set(this.items);
      this.items = it;
    }
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.costs[p]! <= cost) break;
      this.costs[i] = this.costs[p]!;
      this.items[i] = this.items[p]!;
      i = p;
    }
    this.costs[i] = cost;
    this.items[i] = item;
  }
  /** Removes the minimum; read `topCost`/`topItem` before calling. */
  pop(): void {
    const n = --this.size;
    if (n === 0) return;
    const cost = this.costs[n]!;
    const item = this.items[n]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.costs[c + 1]! < this.costs[c]!) c++;
      if (this.costs[c]! >= cost) break;
      this.costs[i] = this.costs[c]!;
      this.items[i] = this.items[c]!;
      i = c;
    }
    this.costs[i] = cost;
    this.items[i] = item;
  }
}

/** A float bound, loosened by its rounding error: the exact check decides. */
const slack = (x: number): number => x * (1 + 1e-9) + 1;

/** Probability that a direction with capacity `cap` and learnt bounds forwards `a`. */
function probability(a: number, cap: number, bounds: { lo: number; hi: number } | undefined): number {
  let lo = 0;
  let hi = cap;
  if (bounds !== undefined) {
    lo = Math.max(0, Math.min(cap, bounds.lo));
    hi = Math.max(lo, Math.min(cap, bounds.hi));
  }
  if (a <= lo) return 1;
  if (a > hi) return 0;
  return (hi - a + 1) / (hi - lo + 1);
}

/** The edges of a path from the payer (source) to the payee (target), in order. */
type Path = number[];

interface Labels {
  readonly recv: Float64Array;
  readonly cost: Float64Array;
  readonly next: Int32Array;
}

function search(s: Space, o: SearchOptions): Path | undefined {
  const { ix } = s;
  const V = s.vertexCount;
  const recv = new Float64Array(V).fill(Infinity);
  const cost = new Float64Array(V).fill(Infinity);
  const scale = new Float64Array(V);
  const noFee = new Float64Array(V);
  const hops = new Uint16Array(V);
  const next = new Int32Array(V).fill(NONE);
  const settled = new Uint8Array(V);
  const oneAsset = !s.allowConversions;
  const staleBefore = o.now - Number(GRAPH_RULES.staleAfter);
  const hasBounds = o.scorer !== undefined && o.scorer.liquidity.length > 0;
  const byEdge = hasBounds ? s.edgeBounds(o.scorer!) : undefined;
  const hasOverlay = s.overlay.length > 0;
  const hopPpm = o.penalties ? (o.scorer?.hopPenaltyPpm ?? 100) : 0;
  const liqPpm = o.penalties ? (o.scorer?.liquidityPenaltyPpm ?? 2000) : 0;
  const t = s.target;
  const heap = new Heap(1024);
  const A = o.ignoreAmounts ? 1 : s.amount;
  recv[t] = A;
  cost[t] = 0;
  scale[t] = 1;
  noFee[t] = A;
  heap.push(0, t);
  let bestCost = Infinity;
  let bestEdge = NONE;
  const source = s.source;
  const edgeCount = ix.edgeCount;

  const relax = (e: number, u: number, v: number, newRecv: number, newCost: number, newScale: number, newNoFee: number) => {
    if (newCost >= cost[u]!) return;
    cost[u] = newCost;
    recv[u] = newRecv;
    scale[u] = newScale;
    noFee[u] = newNoFee;
    hops[u] = hops[v]! + 1;
    next[u] = e;
    heap.push(newCost, u);
  };

  while (heap.size > 0) {
    const c = heap.costs[0]!;
    const v = heap.items[0]!;
    heap.pop();
    if (settled[v] === 1 || c > cost[v]!) continue;
    if (c >= bestCost) break;
    settled[v] = 1;
    if (hops[v]! >= o.maxHops) continue;
    const send = recv[v]!;
    const nextIsConversion = next[v]! !== NONE && next[v]! < edgeCount && ix.edgeKind[next[v]!] !== EDGE_CHANNEL;
    // Edges of the index.
    if (v < ix.vertexCount) {
      const end = ix.inStart[v + 1]!;
      for (let k = ix.inStart[v]!; k < end; k++) {
        const e = ix.inList[k]!;
        const u = ix.edgeFrom[e]!;
        if (settled[u] === 1) continue;
        if (ix.edgeKind[e] === EDGE_CHANNEL) {
          if (ix.edgeUsable[e] === 0 || s.excludedChannels[ix.edgeRef[e]!] === 1) continue;
          if (s.excludedNodes[ix.vertexNode[u]!] === 1) continue;
          if (ix.updatedAt[e]! < staleBefore) continue;
          const isPayer = u === source;
          if (isPayer && s.skipPayerEdges) continue;
          // Neither the payer nor the payee is ever an intermediate (in another asset either).
          if (!isPayer && (ix.vertexNode[u] === s.payerNode || ix.vertexNode[u] === s.payeeNode)) continue;
          let p = 1;
          if (!o.ignoreAmounts) {
            if (send < ix.minAmount[e]! || send > ix.maxAmount[e]! || send > ix.capacity[e]!) continue;
            p = probability(send, ix.capacity[e]!, byEdge === undefined ? undefined : byEdge.get(e));
            if (p <= 0) continue;
          }
          const penalty = hopPpm === 0 && liqPpm === 0 ? 0 : (send * (hopPpm + liqPpm * -Math.log2(p))) / 1e6;
          if (isPayer) {
            const total = c + scale[v]! * penalty;
            if (total < bestCost) {
              bestCost = total;
              bestEdge = e;
            }
            continue;
          }
          const fee = o.ignoreAmounts ? 0 : ix.feeBase[e]! + (send * ix.feePpm[e]!) / 1e6;
          const newRecv = send + fee;
          if (oneAsset && newRecv - noFee[v]! > slack(o.feeLimit)) continue;
          relax(e, u, v, newRecv, c + scale[v]! * (fee + penalty) + (o.ignoreAmounts ? 1 : 0), scale[v]!, noFee[v]!);
        } else {
          // A conversion at a node (not the payer's, not the payee's, never two in a row).
          if (!s.allowConversions || nextIsConversion) continue;
          const node = ix.vertexNode[u]!;
          if (node === s.payerNode || v === t || s.excludedNodes[node] === 1) continue;
          if (!o.ignoreAmounts && send > ix.maxAmount[e]!) continue;
          const rate = ix.rate[e]!;
          relax(e, u, v, send / rate, c + (o.ignoreAmounts ? 1 : 0), scale[v]! * rate, noFee[v]! / rate);
        }
      }
    }
    // Edges of the overlay (hints, first hops).
    const extra = s.extraIn.get(v);
    if (extra !== undefined) {
      for (const id of extra) {
        if (s.excludedOverlay.has(id)) continue;
        const e = s.overlay[id - edgeCount]!;
        const u = e.from;
        if (settled[u] === 1) continue;
        if (!o.ignoreAmounts && send > e.maxAmount) continue;
        const p = o.ignoreAmounts ? 1 : overlayProbability(e, send, hasBounds && hasOverlay ? o.scorer!.bounds : undefined);
        if (p <= 0) continue;
        const penalty = hopPpm === 0 && liqPpm === 0 ? 0 : (send * (hopPpm + liqPpm * -Math.log2(p))) / 1e6;
        if (u === source) {
          const total = c + scale[v]! * penalty;
          if (total < bestCost) {
            bestCost = total;
            bestEdge = id;
          }
          continue;
        }
        if (u < ix.vertexCount && (ix.vertexNode[u] === s.payerNode || ix.vertexNode[u] === s.payeeNode)) continue;
        const fee = o.ignoreAmounts ? 0 : Number(e.feeBase) + (send * e.feePpm) / 1e6;
        const newRecv = send + fee;
        if (oneAsset && newRecv - noFee[v]! > slack(o.feeLimit)) continue;
        relax(id, u, v, newRecv, c + scale[v]! * (fee + penalty) + (o.ignoreAmounts ? 1 : 0), scale[v]!, noFee[v]!);
      }
    }
  }
  if (bestEdge === NONE) return undefined;
  return walk(s, { recv, cost, next }, bestEdge);
}

function overlayProbability(e: OverlayEdge, send: number, bounds: ReadonlyMap<string, { lo: number; hi: number }> | undefined): number {
  if (e.spendable !== undefined) return send <= Number(e.spendable) ? 1 : 0;
  const cap = e.capacity > 0n ? Number(e.capacity) : Number.isFinite(e.maxAmount) ? e.maxAmount : Infinity;
  if (!Number.isFinite(cap)) return 1;
  return probability(send, cap, bounds?.get(boundsKey(e.channelId, e.direction, e.assetIndex)));
}

function walk(s: Space, labels: Labels, firstEdge: number): Path {
  const path: Path = [firstEdge];
  let v = edgeTo(s, firstEdge);
  for (let guard = 0; v !== s.target && guard < 1_000; guard++) {
    const e = labels.next[v]!;
    if (e === NONE) break;
    path.push(e);
    v = edgeTo(s, e);
  }
  return path;
}

function edgeTo(s: Space, e: number): number {
  return e < s.ix.edgeCount ? s.ix.edgeTo[e]! : s.overlay[e - s.ix.edgeCount]!.to;
}

// ---------------------------------------------------------------------------------------------
// The exact route

type Exact = { readonly ok: true; readonly route: Route } | { readonly ok: false; readonly edge: number };

function exactRoute(s: Space, path: Path, q: RouteQuery, payWith: Address, scorer: ScorerView | undefined): Exact {
  const { ix } = s;
  // Channel edges join vertices of the index; overlay edges carry their own addresses.
  const nodeAddress = (v: number): Address => ix.nodes[ix.vertexNode[v]!]!;
  // Backwards from the payee: what each hop locks and what its forwarder charges.
  let cur = q.amount;
  let noFee = q.amount;
  const hops: RouteHop[] = [];
  for (let i = path.length - 1; i >= 0; i--) {
    const e = path[i]!;
    const isPayerHop = i === 0;
    if (e < ix.edgeCount && ix.edgeKind[e] !== EDGE_CHANNEL) {
      const { offer } = ix.offers[ix.edgeRef[e]!]!;
      if (cur > offer.maxAmount) return { ok: false, edge: e };
      const amountIn = ceilDiv(cur * offer.rateDen, offer.rateNum);
      // The hop after the conversion (already built, at hops[0]) is the converter's outgoing one.
      const out = hops[0];
      if (out !== undefined)
        hops[0] = { ...out, conversion: { from: offer.from, to: offer.to, rateNum: offer.rateNum, rateDen: offer.rateDen, amountIn } };
      cur = amountIn;
      noFee = ceilDiv(noFee * offer.rateDen, offer.rateNum);
      continue;
    }
    let hop: Omit<RouteHop, 'probability'>;
    let p: number;
    if (e < ix.edgeCount) {
      const ch = ix.channels[ix.edgeRef[e]!]!;
      const d = ix.edgeDirection[e]! as 0 | 1;
      const a = ix.edgeAssetIndex[e]!;
      const u = ch.updates[d];
      const policy = u?.policies[a];
      if (u === undefined || policy === undefined || !u.enabled || u.maxLocks === 0) return { ok: false, edge: e };
      if (cur < policy.minAmount || cur > policy.maxAmount || cur > (ch.capacity[a] ?? 0n)) return { ok: false, edge: e };
      const fee = isPayerHop ? 0n : policy.feeBase + (cur * BigInt(policy.feePpm)) / 1_000_000n;
      const to = nodeAddress(ix.edgeTo[e]!);
      const from = nodeAddress(ix.edgeFrom[e]!);
      p = probability(Number(cur), Number(ch.capacity[a] ?? 0n), scorer === undefined ? undefined : s.edgeBounds(scorer).get(e));
      if (p <= 0) return { ok: false, edge: e };
      hop = {
        channelId: ch.id,
        from,
        to,
        toPeerId: to === q.to && q.toPeerId ? q.toPeerId : (ix.peerIds[ix.nodeIndex.get(to)!] ?? ''),
        asset: ch.params.assets[a]!,
        direction: d,
        assetIndex: a,
        amount: cur,
        fee,
        feeBase: isPayerHop ? 0n : policy.feeBase,
        feePpm: isPayerHop ? 0 : policy.feePpm,
        minExpirySeconds: isPayerHop ? 0 : u.minExpirySeconds,
        capacity: ch.capacity[a] ?? 0n,
      };
    } else {
      const o = s.overlay[e - ix.edgeCount]!;
      if (o.maxAmountExact !== undefined && cur > o.maxAmountExact) return { ok: false, edge: e };
      const fee = isPayerHop ? 0n : o.feeBase + (cur * BigInt(o.feePpm)) / 1_000_000n;
      p = overlayProbability(o, Number(cur), scorer?.bounds);
      if (p <= 0) return { ok: false, edge: e };
      hop = {
        channelId: o.channelId,
        from: o.fromAddress,
        to: o.toAddress,
        toPeerId: o.toPeerId || peerIdOf(ix, o.toAddress),
        asset: o.asset,
        direction: o.direction,
        assetIndex: o.assetIndex,
        amount: cur,
        fee,
        feeBase: isPayerHop ? 0n : o.feeBase,
        feePpm: isPayerHop ? 0 : o.feePpm,
        minExpirySeconds: isPayerHop ? 0 : o.minExpirySeconds,
        capacity: o.capacity,
      };
    }
    hops.unshift({ ...hop, probability: p });
    cur += hop.fee;
  }
  const probabilityOfRoute = hops.reduce((acc, h) => acc * h.probability, 1);
  return {
    ok: true,
    route: {
      from: q.from,
      to: q.to,
      hops,
      amount: q.amount,
      asset: q.asset,
      sent: cur,
      payWith,
      totalFee: cur - noFee,
      probability: probabilityOfRoute,
      minExpirySeconds: hops.reduce((m, h) => Math.max(m, h.minExpirySeconds), 0),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The widest path (for the insufficient-capacity reason)

/** About the largest amount (in the payee's asset) one path could carry, ignoring fees. */
function widestPath(s: Space, o: { maxHops: number; scorer: ScorerView | undefined; now: number }): number {
  const { ix } = s;
  const V = s.vertexCount;
  const width = new Float64Array(V); // in payee units
  const hops = new Uint16Array(V);
  const done = new Uint8Array(V);
  const heap = new Heap(1024);
  const staleBefore = o.now - Number(GRAPH_RULES.staleAfter);
  const byEdge = o.scorer === undefined ? undefined : s.edgeBounds(o.scorer);
  width[s.target] = Infinity;
  heap.push(-Infinity, s.target);
  let best = 0;
  while (heap.size > 0) {
    const w = -heap.costs[0]!;
    const v = heap.items[0]!;
    heap.pop();
    if (done[v] === 1) continue;
    done[v] = 1;
    if (v === s.source) return Math.max(best, w);
    if (hops[v]! >= o.maxHops) continue;
    const consider = (u: number, cap: number) => {
      const nw = Math.min(w, cap);
      if (u === s.source) best = Math.max(best, nw);
      if (nw > width[u]! && done[u] === 0) {
        width[u] = nw;
        hops[u] = hops[v]! + 1;
        heap.push(-nw, u);
      }
    };
    if (v < ix.vertexCount) {
      for (let k = ix.inStart[v]!; k < ix.inStart[v + 1]!; k++) {
        const e = ix.inList[k]!;
        const u = ix.edgeFrom[e]!;
        if (ix.edgeKind[e] !== EDGE_CHANNEL) continue;
        if (ix.edgeUsable[e] === 0 || s.excludedChannels[ix.edgeRef[e]!] === 1 || ix.updatedAt[e]! < staleBefore) continue;
        if (u === s.source && s.skipPayerEdges) continue;
        const b = byEdge?.get(e);
        const cap = Math.min(ix.maxAmount[e]!, ix.capacity[e]!, b === undefined ? Infinity : b.hi);
        consider(u, cap);
      }
    }
    for (const id of s.extraIn.get(v) ?? []) {
      if (s.excludedOverlay.has(id)) continue;
      const e = s.overlay[id - ix.edgeCount]!;
      consider(e.from, e.spendable !== undefined ? Number(e.spendable) : e.maxAmount);
    }
  }
  return best;
}
