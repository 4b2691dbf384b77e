/**
 * The channel graph a node knows: public channels (announced, verified, with the adjudicator's
 * holdings as their capacity per asset), each direction's newest policy, and nodes (their peer
 * ids, from the keys that signed their channels, and their announcements).
 *
 * Pure bookkeeping: time is an argument, and nothing here checks a signature or the chain. The
 * node's gossip handler calls the `check*` method (cheap: duplicates, replays, rate limits),
 * then verifies signatures (verify.ts) and, for a channel, the chain, then the `apply*`/`add*`
 * method. {@link acceptChannelUpdate} and {@link acceptNodeAnnouncement} do the first steps in
 * order for the messages that need no chain read.
 *
 * Every accepted change raises {@link ChannelGraph.version}; the pathfinder's index
 * (routing-index.ts) rebuilds after a change of structure and patches edges after a policy change.
 */
import type { Address, Bytes32 } from '../bytes.ts';
import { type ChannelParams, channelId } from '../params.ts';
import { peerIdOfPublicKey } from './peer-id.ts';
import {
  type ChannelAnnouncement,
  type ChannelUpdate,
  DEFAULT_GRAPH_CAPACITY,
  GRAPH_RULES,
  type GraphCapacity,
  type GraphDomain,
  type GraphResult,
  type NodeAnnouncement,
  graphOk,
  graphReject,
} from './types.ts';
import { type VerifyOptions, verifyChannelUpdate, verifyNodeAnnouncement } from './verify.ts';

/** A public channel as the graph holds it. */
export interface GraphChannel {
  readonly id: Bytes32;
  readonly params: ChannelParams;
  readonly announcement: ChannelAnnouncement;
  /** The adjudicator's holdings per asset (params.assets order), read when the channel was verified. */
  readonly capacity: readonly bigint[];
  /** The newest policy of each direction (index: the forwarding participant). */
  readonly updates: readonly [ChannelUpdate | undefined, ChannelUpdate | undefined];
}

/** A node of the graph: a participant of at least one public channel. */
export interface GraphNode {
  readonly address: Address;
  /** Its libp2p peer id, from the key that signed its channels. */
  readonly peerId: string;
  readonly announcement: NodeAnnouncement | undefined;
  readonly channels: ReadonlySet<Bytes32>;
}

interface MutableChannel {
  readonly id: Bytes32;
  readonly params: ChannelParams;
  readonly announcement: ChannelAnnouncement;
  capacity: readonly bigint[];
  updates: [ChannelUpdate | undefined, ChannelUpdate | undefined];
}

interface MutableNode {
  readonly address: Address;
  readonly peerId: string;
  announcement: NodeAnnouncement | undefined;
  readonly channels: Set<Bytes32>;
}

/** What changed, for the index and for persistence. */
export type GraphChange =
  | { readonly kind: 'channel-added' | 'channel-removed' | 'capacity'; readonly channelId: Bytes32 }
  | { readonly kind: 'update'; readonly channelId: Bytes32; readonly direction: 0 | 1 }
  | { readonly kind: 'node'; readonly address: Address };

export class ChannelGraph {
  readonly domain: GraphDomain;
  readonly capacity: GraphCapacity;
  readonly #channels = new Map<Bytes32, MutableChannel>();
  readonly #nodes = new Map<Address, MutableNode>();
  #version = 0;
  #structureVersion = 0;
  /** Changes since the index last looked (drained by {@link takeChanges}). */
  #changes: GraphChange[] = [];

  constructor(domain: GraphDomain, capacity: Partial<GraphCapacity> = {}) {
    this.domain = domain;
    this.capacity = { ...DEFAULT_GRAPH_CAPACITY, ...capacity };
  }

  /** Raised by every accepted change. */
  get version(): number {
    return this.#version;
  }

  /** Raised when channels or conversion offers come or go (the index rebuilds). */
  get structureVersion(): number {
    return this.#structureVersion;
  }

  get channelCount(): number {
    return this.#channels.size;
  }

  get nodeCount(): number {
    return this.#nodes.size;
  }

  channel(id: Bytes32): GraphChannel | undefined {
    return this.#channels.get(id);
  }

  node(address: Address): GraphNode | undefined {
    return this.#nodes.get(address);
  }

  channels(): IterableIterator<GraphChannel> {
    return this.#channels.values();
  }

  nodes(): IterableIterator<GraphNode> {
    return this.#nodes.values();
  }

  /** The channels of a node (empty when it has none in the graph). */
  channelsOf(address: Address): GraphChannel[] {
    const n = this.#nodes.get(address);
    return n === undefined ? [] : [...n.channels].map((id) => this.#channels.get(id)!);
  }

  /** Changes since the last call (the routing index and the store follow them). */
  takeChanges(): GraphChange[] {
    const out = this.#changes;
    this.#changes = [];
    return out;
  }

  #changed(change: GraphChange, structural: boolean): void {
    this.#version++;
    if (structural) this.#structureVersion++;
    // Bounded: a consumer that stopped looking gets a rebuild, not an ever-growing list.
    if (this.#changes.length < 100_000) this.#changes.push(change);
    else this.#structureVersion++;
  }

  // -------------------------------------------------------------------------------------------
  // Channels

  /**
   * The cheap checks of an announcement against what we hold, before any signature or chain
   * read: `duplicate` when the channel is in the graph already, `graph-full` when it could not be
   * added; ok (with the channel id) otherwise.
   */
  checkChannelAnnouncement(a: ChannelAnnouncement): GraphResult<Bytes32> {
    const id = channelId(a.params);
    if (this.#channels.has(id)) return graphReject('duplicate', `channel ${id} is known`);
    const room = this.#room(a);
    return room === undefined ? graphOk(id) : graphReject('graph-full', room);
  }

  /** Why a new channel does not fit (undefined: it does). */
  #room(a: ChannelAnnouncement): string | undefined {
    const cap = this.capacity;
    if (this.#channels.size >= cap.maxChannels) return `the graph holds ${cap.maxChannels} channels`;
    let newNodes = 0;
    for (const p of a.params.participants) {
      const n = this.#nodes.get(p);
      if (n === undefined) newNodes++;
      else if (n.channels.size >= cap.maxChannelsPerNode) return `${p} has ${cap.maxChannelsPerNode} public channels`;
    }
    if (this.#nodes.size + newNodes > cap.maxNodes) return `the graph holds ${cap.maxNodes} nodes`;
    return undefined;
  }

  /**
   * Adds a verified channel: `keys` are the participants' public keys (verifyChannelAnnouncement),
   * `capacity` the adjudicator's holdings per asset.
   */
  addChannel(a: ChannelAnnouncement, keys: readonly [Uint8Array, Uint8Array], capacity: readonly bigint[]): GraphResult<GraphChannel> {
    const id = channelId(a.params);
    if (this.#channels.has(id)) return graphReject('duplicate', `channel ${id} is known`);
    if (capacity.length !== a.params.assets.length) return graphReject('malformed', 'one capacity per asset');
    const room = this.#room(a);
    if (room !== undefined) return graphReject('graph-full', room);
    const ch: MutableChannel = { id, params: a.params, announcement: a, capacity: [...capacity], updates: [undefined, undefined] };
    this.#channels.set(id, ch);
    for (const i of [0, 1] as const) {
      const address = a.params.participants[i];
      let n = this.#nodes.get(address);
      if (n === undefined) {
        n = { address, peerId: peerIdOfPublicKey(keys[i]), announcement: undefined, channels: new Set() };
        this.#nodes.set(address, n);
      }
      n.channels.add(id);
    }
    this.#changed({ kind: 'channel-added', channelId: id }, true);
    return graphOk(ch);
  }

  /** The adjudicator's holdings changed (a top-up): the channel's capacity follows. */
  setCapacity(id: Bytes32, capacity: readonly bigint[]): boolean {
    const ch = this.#channels.get(id);
    if (ch === undefined || capacity.length !== ch.params.assets.length) return false;
    if (capacity.every((c, i) => c === ch.capacity[i])) return false;
    ch.capacity = [...capacity];
    this.#changed({ kind: 'capacity', channelId: id }, false);
    return true;
  }

  /** Drops a channel (closed or disputed on-chain), and its nodes when it was their last one. */
  removeChannel(id: Bytes32): boolean {
    const ch = this.#channels.get(id);
    if (ch === undefined) return false;
    this.#channels.delete(id);
    for (const address of ch.params.participants) {
      const n = this.#nodes.get(address);
      if (n === undefined) continue;
      n.channels.delete(id);
      if (n.channels.size === 0) this.#nodes.delete(address);
    }
    this.#changed({ kind: 'channel-removed', channelId: id }, true);
    return true;
  }

  /**
   * Channels with no direction updated within {@link GRAPH_RULES.staleAfter}, and announced longer
   * ago than that: their owners stopped refreshing them (offline for good, or gone). Removes and
   * returns them.
   */
  pruneStale(now: bigint): Bytes32[] {
    const horizon = now - GRAPH_RULES.staleAfter;
    const gone: Bytes32[] = [];
    for (const ch of this.#channels.values()) {
      const newest = ch.updates.reduce((t, u) => (u !== undefined && u.timestamp > t ? u.timestamp : t), ch.announcement.timestamp);
      if (newest < horizon) gone.push(ch.id);
    }
    for (const id of gone) this.removeChannel(id);
    return gone;
  }

  // -------------------------------------------------------------------------------------------
  // Channel updates

  /**
   * The cheap checks of an update against what we hold: the channel is known, the policies fit
   * its assets, it is not one we have (`duplicate`) or older (`stale`), and it comes at least
   * {@link GRAPH_RULES.updateInterval} after the one we hold (`rate-limited`). Returns the
   * channel, whose `params.participants[direction]` must have signed it.
   */
  checkUpdate(u: ChannelUpdate): GraphResult<GraphChannel> {
    const ch = this.#channels.get(u.channelId);
    if (ch === undefined) return graphReject('unknown-channel', `no channel ${u.channelId} in the graph`);
    if (u.policies.length !== ch.params.assets.length)
      return graphReject('policy-mismatch', `${u.policies.length} policies for ${ch.params.assets.length} assets`);
    const held = ch.updates[u.direction];
    if (held !== undefined) {
      if (u.timestamp === held.timestamp && sameBytes(u.signature, held.signature)) return graphReject('duplicate', 'this update is known');
      if (u.timestamp <= held.timestamp) return graphReject('stale', `an update of ${held.timestamp} is newer`);
      if (u.timestamp < held.timestamp + GRAPH_RULES.updateInterval)
        return graphReject('rate-limited', `at most one update per ${GRAPH_RULES.updateInterval} s per direction`);
    }
    return graphOk(ch);
  }

  /** Applies a verified update (checkUpdate passed, and the forwarder's signature). */
  applyUpdate(u: ChannelUpdate): void {
    const ch = this.#channels.get(u.channelId);
    if (ch === undefined) return;
    ch.updates[u.direction] = u;
    this.#changed({ kind: 'update', channelId: u.channelId, direction: u.direction }, false);
  }

  // -------------------------------------------------------------------------------------------
  // Node announcements

  /** Like {@link checkUpdate}: the node has a public channel, and the announcement is new and not too soon. */
  checkNodeAnnouncement(a: NodeAnnouncement): GraphResult<GraphNode> {
    const n = this.#nodes.get(a.address);
    if (n === undefined) return graphReject('unknown-node', `${a.address} has no public channel`);
    const held = n.announcement;
    if (held !== undefined) {
      if (a.timestamp === held.timestamp && sameBytes(a.signature, held.signature))
        return graphReject('duplicate', 'this announcement is known');
      if (a.timestamp <= held.timestamp) return graphReject('stale', `an announcement of ${held.timestamp} is newer`);
      if (a.timestamp < held.timestamp + GRAPH_RULES.updateInterval)
        return graphReject('rate-limited', `at most one announcement per ${GRAPH_RULES.updateInterval} s per node`);
    }
    return graphOk(n);
  }

  /** Applies a verified node announcement. */
  applyNodeAnnouncement(a: NodeAnnouncement): void {
    const n = this.#nodes.get(a.address);
    if (n === undefined) return;
    const swapsChanged = JSON.stringify(swapKey(n.announcement)) !== JSON.stringify(swapKey(a));
    n.announcement = a;
    this.#changed({ kind: 'node', address: a.address }, swapsChanged);
  }
}

function swapKey(a: NodeAnnouncement | undefined): string[] {
  return (a?.swaps ?? []).map((s) => `${s.from}>${s.to}:${s.rateNum}/${s.rateDen}<=${s.maxAmount}`);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Checks an update against the graph, then its signature, then applies it. Cheap checks first:
 * a replayed or rate-limited update costs no signature verification.
 */
export function acceptChannelUpdate(graph: ChannelGraph, u: ChannelUpdate, o: Omit<VerifyOptions, 'domain'>): GraphResult<GraphChannel> {
  const c = graph.checkUpdate(u);
  if (!c.ok) return c;
  const v = verifyChannelUpdate(u, c.value.params.participants[u.direction], { ...o, domain: graph.domain });
  if (!v.ok) return v;
  graph.applyUpdate(u);
  return c;
}

/** Checks a node announcement against the graph, then its signature, then applies it. */
export function acceptNodeAnnouncement(graph: ChannelGraph, a: NodeAnnouncement, o: Omit<VerifyOptions, 'domain'>): GraphResult<GraphNode> {
  const c = graph.checkNodeAnnouncement(a);
  if (!c.ok) return c;
  const v = verifyNodeAnnouncement(a, { ...o, domain: graph.domain });
  if (!v.ok) return v;
  graph.applyNodeAnnouncement(a);
  return c;
}
