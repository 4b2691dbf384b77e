/**
 * The channel graph's gossip: what nodes announce about their public channels and themselves
 * (docs/adr/0017-channel-graph-and-pathfinding.md).
 *
 * - A {@link ChannelAnnouncement} says a channel exists: its params (anyone computes its id and
 *   checks the adjudicator's holdings for it) and both participants' signatures.
 * - A {@link ChannelUpdate} is one direction's forwarding policy, signed by the participant that
 *   forwards in that direction; the newest wins.
 * - A {@link NodeAnnouncement} says where a node listens, its alias and the asset pairs it
 *   converts for routed swaps, signed by the node.
 *
 * Times are unix seconds (bigint, uint64). Amounts are base units of the asset (bigint).
 */
import type { Address, Bytes32 } from '../bytes.ts';
import type { ChannelParams, ParticipantIndex } from '../params.ts';

/** A public channel: its params and both participants' signatures over the announcement digest. */
export interface ChannelAnnouncement {
  readonly params: ChannelParams;
  /** When the participants signed it. Never more than {@link GRAPH_RULES.maxClockSkew} ahead of the receiver. */
  readonly timestamp: bigint;
  /** Participant 0's and participant 1's signatures over {@link channelAnnouncementDigest}. */
  readonly signatures: readonly [Uint8Array, Uint8Array];
}

/** How a direction of a channel forwards one of its assets. */
export interface AssetPolicy {
  /** Charged on every forward, in base units of this asset. */
  readonly feeBase: bigint;
  /** Charged in millionths of the amount forwarded (0..1,000,000). */
  readonly feePpm: number;
  /** The smallest amount forwarded. */
  readonly minAmount: bigint;
  /** The largest amount forwarded (at least minAmount). */
  readonly maxAmount: bigint;
}

/**
 * The forwarding policy of one direction of a channel: from participant `direction` to the other.
 * Signed by that participant (the forwarder), the only one who decides how its funds move.
 */
export interface ChannelUpdate {
  readonly channelId: Bytes32;
  /** The forwarding participant: the edge goes from `participants[direction]` to the other one. */
  readonly direction: ParticipantIndex;
  /** Newest wins; at most one per {@link GRAPH_RULES.updateInterval} seconds is accepted. */
  readonly timestamp: bigint;
  /** False: the forwarder does not forward in this direction now (its peer is offline, it is closing…). */
  readonly enabled: boolean;
  /** Locks the forwarder accepts in flight in this direction (0..65,535). */
  readonly maxLocks: number;
  /** The least time, in seconds, a lock must have left before its expiry for the forwarder to take it. */
  readonly minExpirySeconds: number;
  /** One policy per asset of the channel, in `params.assets` order. */
  readonly policies: readonly AssetPolicy[];
  /** The forwarder's signature over {@link channelUpdateDigest}. */
  readonly signature: Uint8Array;
}

/**
 * A pair a node converts along a route: it takes `from` in and pays `to` out, at an indicative
 * rate of `rateNum / rateDen` units of `to` per unit of `from` (the binding rate is a signed
 * quote fetched before paying).
 */
export interface SwapOffer {
  readonly from: Address;
  readonly to: Address;
  readonly rateNum: bigint;
  readonly rateDen: bigint;
  /** The most of `to` it pays out in one swap. */
  readonly maxAmount: bigint;
}

/** A node: where to reach it and what it converts. Signed by the node's key. */
export interface NodeAnnouncement {
  readonly address: Address;
  /** libp2p peer id of the node's key (checked against the signature's key). */
  readonly peerId: string;
  /** Where it listens, each ending in `/p2p/<peerId>`. */
  readonly multiaddrs: readonly string[];
  /** A short human-readable name (at most 32 characters, no control characters). */
  readonly alias: string;
  readonly swaps: readonly SwapOffer[];
  readonly timestamp: bigint;
  readonly signature: Uint8Array;
}

/** One gossip message on the graph topic. */
export type GraphMessage =
  | { readonly kind: 'channel-announcement'; readonly announcement: ChannelAnnouncement }
  | { readonly kind: 'channel-update'; readonly update: ChannelUpdate }
  | { readonly kind: 'node-announcement'; readonly announcement: NodeAnnouncement };

export type GraphMessageKind = GraphMessage['kind'];

/** The deployment a graph belongs to: every digest binds it, so gossip cannot cross chains or contracts. */
export interface GraphDomain {
  readonly chainId: bigint;
  readonly adjudicator: Address;
}

/**
 * Rules every receiver applies, so that every node accepts the same messages and graphs
 * converge. Changing them is a protocol change (ADR 0017).
 */
export const GRAPH_RULES = {
  /** Seconds between two accepted updates of one channel direction (or announcements of one node), by their signed timestamps. */
  updateInterval: 60n,
  /** How far ahead of the receiver's clock a timestamp may be (seconds). */
  maxClockSkew: 600n,
  /** A direction whose newest update is older than this is not routed through, and a channel with no fresh direction is pruned (14 days). */
  staleAfter: 14n * 24n * 3600n,
  /** Nodes re-sign their updates and announcement this often, so they never go stale (1 day). */
  refreshEvery: 24n * 3600n,
} as const;

/** Size limits of graph messages, checked while decoding. */
export const GRAPH_LIMITS = {
  /** The largest encoded message (bytes). A node announcement with every field full is ~3 KiB. */
  maxMessageBytes: 4096,
  maxMultiaddrs: 8,
  maxMultiaddrLength: 256,
  maxAliasLength: 32,
  maxSwaps: 16,
  /** At most 100% fees. */
  maxFeePpm: 1_000_000,
  maxLocks: 65_535,
  /** A day: a hop asking for longer is asking for an unusable route. */
  maxMinExpirySeconds: 86_400,
  maxPeerIdLength: 128,
} as const;

/**
 * How much a graph may hold, so that strangers' announcements cannot grow it without bound. Each
 * channel costs its announcer an on-chain deposit, but a cap is cheaper to reason about than a
 * price. The defaults are ~4× Lightning's public graph (~15k nodes, ~50k channels in 2026).
 */
export interface GraphCapacity {
  readonly maxChannels: number;
  readonly maxNodes: number;
  /** Public channels of one node (a hub has thousands; a spammer would have all of them). */
  readonly maxChannelsPerNode: number;
}

export const DEFAULT_GRAPH_CAPACITY: GraphCapacity = { maxChannels: 200_000, maxNodes: 60_000, maxChannelsPerNode: 5_000 };

/** Why a graph message is refused. A closed set (ADR 0017 says which ones penalise the relaying peer). */
export const GRAPH_REJECT_REASONS = [
  'malformed', // undecodable, out of range, or limits exceeded
  'wrong-domain', // another chain or adjudicator
  'invalid-signature', // not a valid low-S signature over the message
  'wrong-signer', // a valid signature by someone other than who must sign
  'future-timestamp', // signed more than maxClockSkew ahead of our clock
  'too-old', // older than staleAfter: nothing to route on
  'duplicate', // we hold this very message
  'stale', // we hold a newer one (a replay)
  'rate-limited', // newer, but sooner than updateInterval after the one we hold
  'unknown-channel', // an update for a channel not in our graph
  'unknown-node', // a node announcement of a node without public channels
  'policy-mismatch', // an update whose policies do not match the channel's assets
  'not-funded', // the adjudicator holds nothing for the channel: it does not exist
  'closed', // closed, or a state registered (a dispute): closing
  'unverified', // the chain could not be asked (over budget, or the RPC failed): try later
  'graph-full', // the graph holds as many channels or nodes as it may (GRAPH_CAPACITY), or the node as many channels
] as const;

export type GraphRejectReason = (typeof GRAPH_REJECT_REASONS)[number];

export type GraphResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: GraphRejectReason; readonly detail: string };

export function graphOk<T>(value: T): GraphResult<T> {
  return { ok: true, value };
}

export function graphReject<T = never>(reason: GraphRejectReason, detail: string): GraphResult<T> {
  return { ok: false, reason, detail };
}

/** The forwarding participant's index for an edge that leaves `from`. */
export type Direction = ParticipantIndex;
