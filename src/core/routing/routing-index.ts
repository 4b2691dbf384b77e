/**
 * The pathfinder's view of a {@link ChannelGraph}: flat typed arrays, so a search over 100,000
 * directed edges touches no objects and no bigints (ADR 0017, "Pathfinding").
 *
 * A vertex is a (node, asset) pair. A channel gives two directed edges per asset (one per
 * direction: `edge = base + 2 × assetIndex + direction`); a node that offers a swap pair gives a
 * conversion edge from (node, from) to (node, to). Incoming edges are listed per vertex (CSR),
 * because the search runs backwards from the payee. Amounts are float64 here: the route found is
 * recomputed exactly in bigints (pathfind.ts) before it is returned.
 *
 * Built once per structural change (channels or offers added or removed); a policy or capacity
 * change only rewrites that channel's edges in place.
 */
import type { Address, Bytes32 } from '../bytes.ts';
import type { ChannelGraph, GraphChannel } from './graph.ts';
import type { SwapOffer } from './types.ts';

export const EDGE_CHANNEL = 0;
export const EDGE_CONVERSION = 1;

export class RoutingIndex {
  readonly structureVersion: number;
  version: number;
  readonly nodes: Address[] = [];
  readonly peerIds: string[] = [];
  readonly nodeIndex = new Map<Address, number>();
  readonly assets: Address[] = [];
  readonly assetIndex = new Map<Address, number>();
  /** vertex → node, vertex → global asset index. */
  readonly vertexNode: Int32Array;
  readonly vertexAsset: Int32Array;
  /** node × asset → vertex (key `node * assetCount + asset`). */
  readonly vertexOf = new Map<number, number>();
  readonly channels: GraphChannel[] = [];
  readonly channelIndex = new Map<Bytes32, number>();
  /** First edge of each channel: its edges are `base + 2 × assetIndex + direction`. */
  readonly channelBase: Int32Array;
  readonly edgeCount: number;
  readonly edgeKind: Uint8Array;
  readonly edgeFrom: Int32Array;
  readonly edgeTo: Int32Array;
  /** Channel index (channel edges) or offer index (conversion edges). */
  readonly edgeRef: Int32Array;
  readonly edgeDirection: Uint8Array;
  readonly edgeAssetIndex: Uint8Array;
  /** 1 when the direction has a policy and is enabled. */
  readonly edgeUsable: Uint8Array;
  readonly feeBase: Float64Array;
  readonly feePpm: Float64Array;
  readonly minAmount: Float64Array;
  readonly maxAmount: Float64Array;
  readonly capacity: Float64Array;
  /** The policy's signed timestamp (seconds), for staleness. */
  readonly updatedAt: Float64Array;
  readonly minExpiry: Float64Array;
  /** Conversion edges: units of `to` per unit of `from`. */
  readonly rate: Float64Array;
  readonly offers: { readonly node: number; readonly offer: SwapOffer }[] = [];
  readonly inStart: Int32Array;
  readonly inList: Int32Array;

  constructor(graph: ChannelGraph) {
    this.structureVersion = graph.structureVersion;
    this.version = graph.version;
    const vertexNode: number[] = [];
    const vertexAsset: number[] = [];
    const assetCount = (): number => this.assets.length;
    const nodeOf = (a: Address): number => {
      let i = this.nodeIndex.get(a);
      if (i === undefined) {
        i = this.nodes.length;
        this.nodes.push(a);
        this.peerIds.push(graph.node(a)?.peerId ?? '');
        this.nodeIndex.set(a, i);
      }
      return i;
    };
    const assetOf = (a: Address): number => {
      let i = this.assetIndex.get(a);
      if (i === undefined) {
        i = this.assets.length;
        this.assets.push(a);
        this.assetIndex.set(a, i);
      }
      return i;
    };
    // Assets first, so vertex keys are stable while vertices are made.
    for (const ch of graph.channels()) for (const a of ch.params.assets) assetOf(a);
    for (const n of graph.nodes()) {
      for (const s of n.announcement?.swaps ?? []) {
        assetOf(s.from);
        assetOf(s.to);
      }
    }
    const vertex = (node: number, asset: number): number => {
      const key = node * assetCount() + asset;
      let v = this.vertexOf.get(key);
      if (v === undefined) {
        v = vertexNode.length;
        vertexNode.push(node);
        vertexAsset.push(asset);
        this.vertexOf.set(key, v);
      }
      return v;
    };
    let edges = 0;
    for (const ch of graph.channels()) {
      this.channelIndex.set(ch.id, this.channels.length);
      this.channels.push(ch);
      edges += 2 * ch.params.assets.length;
    }
    const offerList: { node: number; offer: SwapOffer }[] = [];
    for (const n of graph.nodes()) {
      for (const offer of n.announcement?.swaps ?? []) offerList.push({ node: nodeOf(n.address), offer });
    }
    edges += offerList.length;
    this.edgeCount = edges;
    this.edgeKind = new Uint8Array(edges);
    this.edgeFrom = new Int32Array(edges);
    this.edgeTo = new Int32Array(edges);
    this.edgeRef = new Int32Array(edges);
    this.edgeDirection = new Uint8Array(edges);
    this.edgeAssetIndex = new Uint8Array(edges);
    this.edgeUsable = new Uint8Array(edges);
    this.feeBase = new Float64Array(edges);
    this.feePpm = new Float64Array(edges);
    this.minAmount = new Float64Array(edges);
    this.maxAmount = new Float64Array(edges);
    this.capacity = new Float64Array(edges);
    this.updatedAt = new Float64Array(edges);
    this.minExpiry = new Float64Array(edges);
    this.rate = new Float64Array(edges);
    this.channelBase = new Int32Array(this.channels.length);
    let e = 0;
    for (let c = 0; c < this.channels.length; c++) {
      const ch = this.channels[c]!;
      this.channelBase[c] = e;
      const p0 = nodeOf(ch.params.participants[0]);
      const p1 = nodeOf(ch.params.participants[1]);
      for (let i = 0; i < ch.params.assets.length; i++) {
        const asset = assetOf(ch.params.assets[i]!);
        const v0 = vertex(p0, asset);
        const v1 = vertex(p1, asset);
        for (const d of [0, 1] as const) {
          this.edgeKind[e] = EDGE_CHANNEL;
          this.edgeFrom[e] = d === 0 ? v0 : v1;
          this.edgeTo[e] = d === 0 ? v1 : v0;
          this.edgeRef[e] = c;
          this.edgeDirection[e] = d;
          this.edgeAssetIndex[e] = i;
          e++;
        }
      }
      this.writeChannel(c);
    }
    for (let k = 0; k < offerList.length; k++) {
      const { node, offer } = offerList[k]!;
      this.offers.push(offerList[k]!);
      this.edgeKind[e] = EDGE_CONVERSION;
      this.edgeFrom[e] = vertex(node, assetOf(offer.from));
      this.edgeTo[e] = vertex(node, assetOf(offer.to));
      this.edgeRef[e] = k;
      this.edgeUsable[e] = 1;
      this.rate[e] = Number(offer.rateNum) / Number(offer.rateDen);
      this.maxAmount[e] = Number(offer.maxAmount);
      e++;
    }
    this.vertexNode = Int32Array.from(vertexNode);
    this.vertexAsset = Int32Array.from(vertexAsset);
    // Incoming lists (counting sort by target vertex).
    const v = vertexNode.length;
    this.inStart = new Int32Array(v + 1);
    for (let i = 0; i < edges; i++) this.inStart[this.edgeTo[i]! + 1]!++;
    for (let i = 0; i < v; i++) this.inStart[i + 1]! += this.inStart[i]!;
    this.inList = new Int32Array(edges);
    const fill = this.inStart.slice(0, v);
    for (let i = 0; i < edges; i++) this.inList[fill[this.edgeTo[i]!]!++] = i;
  }

  get vertexCount(): number {
    return this.vertexNode.length;
  }

  /** The vertex of (node address, asset address), or -1. */
  vertexOfAddress(node: Address, asset: Address): number {
    const n = this.nodeIndex.get(node);
    const a = this.assetIndex.get(asset);
    if (n === undefined || a === undefined) return -1;
    return this.vertexOf.get(n * this.assets.length + a) ?? -1;
  }

  /** The edge of a channel's direction and asset, or -1. */
  edgeOf(channelId: Bytes32, direction: number, assetIndex: number): number {
    const c = this.channelIndex.get(channelId);
    if (c === undefined) return -1;
    const ch = this.channels[c]!;
    if (assetIndex < 0 || assetIndex >= ch.params.assets.length) return -1;
    return this.channelBase[c]! + 2 * assetIndex + direction;
  }

  /** Rewrites a channel's edges from its current policies and capacity. */
  writeChannel(c: number): void {
    const ch = this.channels[c]!;
    const base = this.channelBase[c]!;
    for (let i = 0; i < ch.params.assets.length; i++) {
      for (const d of [0, 1] as const) {
        const e = base + 2 * i + d;
        const u = ch.updates[d];
        const p = u?.policies[i];
        this.capacity[e] = Number(ch.capacity[i] ?? 0n);
        if (u === undefined || p === undefined) {
          this.edgeUsable[e] = 0;
          continue;
        }
        this.edgeUsable[e] = u.enabled && u.maxLocks > 0 ? 1 : 0;
        this.feeBase[e] = Number(p.feeBase);
        this.feePpm[e] = p.feePpm;
        this.minAmount[e] = Number(p.minAmount);
        this.maxAmount[e] = Number(p.maxAmount);
        this.updatedAt[e] = Number(u.timestamp);
        this.minExpiry[e] = u.minExpirySeconds;
      }
    }
  }
}

/**
 * The graph's index, brought up to date: rebuilt after a structural change, patched after
 * policy and capacity changes. Keep the returned index and pass it back in.
 */
export function refreshIndex(graph: ChannelGraph, index: RoutingIndex | undefined): RoutingIndex {
  const changes = graph.takeChanges();
  if (index === undefined || index.structureVersion !== graph.structureVersion) return new RoutingIndex(graph);
  if (index.version === graph.version) return index;
  for (const ch of changes) {
    if (ch.kind !== 'update' && ch.kind !== 'capacity') continue;
    const c = index.channelIndex.get(ch.channelId);
    if (c !== undefined) index.writeChannel(c);
  }
  index.version = graph.version;
  return index;
}
