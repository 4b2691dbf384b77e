/**
 * What a node keeps on disk about one channel, besides its latest co-signed state: the part of
 * the channel machine (machine.ts) that survives a restart. Everything else the machine holds
 * is rebuilt from this and the chain.
 */
import type { Bytes32 } from '../bytes.ts';
import type { DepositFact, Op } from '../ops.ts';
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

/**
 * Leader: the lock operations of a proposal that changed the locks, kept until a co-signed state
 * at or above its version is durable. A registered state carries its locks only by root; with
 * these the node rebuilds the lock list of any proposal it released (docs/adr/0010).
 */
export interface LockDelta {
  readonly version: bigint;
  /** The co-signed version the proposal built on. */
  readonly base: bigint;
  /** Its `lock`, `settle` and `cancel` operations, in order. */
  readonly ops: readonly Op[];
}

/** The locks of the state a channel concluded with, paid out one by one (`unlockBatch`). */
export interface ConcludedLocks {
  readonly state: ChannelState;
  /** Slots paid out on-chain. */
  readonly unlocked: readonly number[];
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
  /** Leader: lock changes of released proposals above the latest co-signed state (ADR 0010). */
  readonly lockDeltas?: readonly LockDelta[];
  /** After a conclusion with locks: what is left to unlock. */
  readonly concludedLocks?: ConcludedLocks;
  /** When the secrets of our locks' hashlocks were registered on-chain (chain time), as seen. */
  readonly revealed?: readonly { readonly hashlock: Bytes32; readonly at: bigint }[];
  /**
   * Secrets the counterparty revealed to settle locks we sent: what pays us upstream when we
   * forwarded them (docs/adr/0011). Durable with the state that settled them, before anyone
   * holds our signature on it; kept until a day after the lock's expiry, at most {@link MAX_LEARNED}.
   */
  readonly learned?: readonly LearnedSecret[];
  /** Set when the channel settled on-chain with an older state that paid us less than our latest. */
  readonly loss?: LossRecord;
}

/**
 * The channel settled on-chain with an older state than our latest, and paid us less by it than
 * our latest gives us (issue 16): a watchtower that held only an old state, or an offline node
 * past a challenge period. Kept so that the node shows it, not only the balances it expected.
 */
export interface LossRecord {
  /** The version the channel settled with. */
  readonly version: bigint;
  /** Our latest co-signed version. */
  readonly latest: bigint;
  /** Our balance per asset (aligned with the params' assets) in our latest state. */
  readonly expected: readonly bigint[];
  /** Our balance per asset in the state it settled with, when we know that state. */
  readonly paid?: readonly bigint[];
}

export interface LearnedSecret {
  readonly hashlock: Bytes32;
  readonly secret: Bytes32;
  /** The settled lock's expiry (unix seconds): the upstream lock with this hashlock expires then too. */
  readonly expiry: bigint;
}

/** The most learned secrets a record keeps (the soonest to expire go first). */
export const MAX_LEARNED = 4096;
