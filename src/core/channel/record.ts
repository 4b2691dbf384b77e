/**
 * What a node keeps on disk about one channel, besides its latest co-signed state: the part of
 * the channel machine (machine.ts) that survives a restart. Everything else the machine holds
 * is rebuilt from this and the chain.
 */
import type { Bytes32 } from '../bytes.ts';
import type { DepositFact } from '../ops.ts';
import type { ChannelParams, ParticipantIndex } from '../params.ts';
import type { Balances, ChannelState } from '../state.ts';

/** Where a channel is in its life. */
export type ChannelStatus =
  | 'proposed' // the leader sent `open`, no answer yet
  | 'funding' // both signed version 0; deposits are on their way
  | 'open' // funded on-chain: updates flow
  | 'closing' // a final state is being agreed or settled
  | 'disputed' // a state is registered on-chain; waiting for the challenge period
  | 'closed' // paid out on-chain
  | 'rejected'; // the counterparty refused the open

export const CHANNEL_STATUSES: readonly ChannelStatus[] = ['proposed', 'funding', 'open', 'closing', 'disputed', 'closed', 'rejected'];

/** A state registered on-chain for the channel (a challenge, or an answer to one). */
export interface DisputeRecord {
  readonly version: bigint;
  /** Chain time (unix seconds) from which the registered state may be concluded. */
  readonly finalizesAt: bigint;
  /** This node registered the state now registered: it concludes first. */
  readonly byUs: boolean;
  /** The registered state's contents, when known (ours, or read from the challenge's calldata). */
  readonly state?: ChannelState;
}

/** A final state the leader signed and released: it can close the channel at any time. */
export interface FinalProposal {
  readonly state: ChannelState;
  readonly signature: Uint8Array;
}

export interface ChannelRecord {
  readonly id: Bytes32;
  readonly params: ChannelParams;
  /** Which participant this node is. */
  readonly self: ParticipantIndex;
  /** The counterparty's libp2p peer id and the addresses it was last reached at. */
  readonly peer: { readonly peerId: string; readonly multiaddrs: readonly string[] };
  readonly status: ChannelStatus;
  /** Version 0's balances (what each side committed to deposit). */
  readonly deposits: Balances;
  /** On-chain deposits seen for this channel, in chain order. */
  readonly depositFacts: readonly DepositFact[];
  /** The highest version this node may no longer sign (refused, abandoned, or leased before a restart). */
  readonly burnedVersion: bigint;
  /**
   * Leader: no version above this has been signed. Raised durably, in steps, before the leader
   * signs above it; after a restart every version up to it counts as burned (ADR 0006).
   */
  readonly versionLease: bigint;
  /** Next id this node gives its own operations. Persisted with a margin on restart. */
  readonly nextOpId: bigint;
  /** Unix ms when the record was created. */
  readonly createdAt: number;
  /** Free-form reason for a terminal status (rejected open, failed settlement). */
  readonly note?: string;
  /** The state registered on-chain, while the channel is disputed. */
  readonly dispute?: DisputeRecord;
  /** Leader: a final state it signed and released; it signs nothing else afterwards (ADR 0009). */
  readonly finalProposal?: FinalProposal;
}
