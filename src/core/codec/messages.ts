/**
 * The messages two peers exchange about their channels (protocol `/lanes/channel/1.0.0`).
 *
 * Flow (docs/architecture.md): the leader (participant 0) proposes `open` and every `propose`;
 * the follower answers `open-accept` / `countersign` or `reject`, and sends `request` for its
 * own operations, which the leader folds into its next proposal. `sync` announces the latest
 * co-signed version; the peer that is ahead answers with `state`.
 */
import type { Address, Bytes32 } from '../bytes.ts';
import type { Op } from '../ops.ts';
import type { ChannelParams } from '../params.ts';
import type { RejectReason } from '../result.ts';
import type { Balances, ChannelState } from '../state.ts';

/** The leader proposes a channel, with its signature on version 0 (the deposits). */
export interface OpenMessage {
  readonly type: 'open';
  readonly params: ChannelParams;
  readonly deposits: Balances;
  readonly signature: Uint8Array;
}

/** The follower accepts an open, with its own signature on version 0. */
export interface OpenAcceptMessage {
  readonly type: 'open-accept';
  readonly channelId: Bytes32;
  readonly signature: Uint8Array;
}

/** The follower asks the leader to include its operations in the next update. */
export interface RequestMessage {
  readonly type: 'request';
  readonly channelId: Bytes32;
  readonly ops: readonly Op[];
}

/** The leader proposes the next version as operations plus its signature on the result. */
export interface ProposeMessage {
  readonly type: 'propose';
  readonly channelId: Bytes32;
  readonly version: bigint;
  readonly ops: readonly Op[];
  readonly signature: Uint8Array;
}

/** The follower's signature on the proposed version: the update is now co-signed. */
export interface CountersignMessage {
  readonly type: 'countersign';
  readonly channelId: Bytes32;
  readonly version: bigint;
  readonly signature: Uint8Array;
}

/**
 * A refusal with a reason from the closed set. It names what it refuses: a proposed `version`,
 * requested operation `ops` (by id), or, with neither, the channel's open.
 */
export interface RejectMessage {
  readonly type: 'reject';
  readonly channelId: Bytes32;
  readonly version?: bigint;
  readonly ops?: readonly bigint[];
  readonly reason: RejectReason;
  readonly detail: string;
}

/** Asks the peer for a cooperative close: the leader answers with a final state. */
export interface CloseMessage {
  readonly type: 'close';
  readonly channelId: Bytes32;
  /** The id of the finalize operation this close becomes. */
  readonly id: bigint;
}

/** "My latest co-signed version is `version`." Sent on connect and after a disagreement. */
export interface SyncMessage {
  readonly type: 'sync';
  readonly channelId: Bytes32;
  readonly version: bigint;
}

/** A full co-signed state, for a peer that is behind. */
export interface StateMessage {
  readonly type: 'state';
  readonly state: ChannelState;
  readonly signatures: readonly [Uint8Array, Uint8Array];
}

export type Message =
  | OpenMessage
  | OpenAcceptMessage
  | RequestMessage
  | ProposeMessage
  | CountersignMessage
  | RejectMessage
  | CloseMessage
  | SyncMessage
  | StateMessage;

export type MessageType = Message['type'];

/** Wire limits, checked before and while decoding. */
export interface CodecLimits {
  readonly maxMessageBytes: number;
  readonly maxOps: number;
  readonly maxLocks: number;
  readonly maxAssets: number;
  readonly maxDetailLength: number;
}

export type { Address };
