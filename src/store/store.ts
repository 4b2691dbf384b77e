/**
 * The store port: where a node keeps its channels. Implementations: `LmdbStore` (lmdb on disk,
 * the real one) and `MemoryStore` (unit tests). Both pass test/store/compliance.ts.
 *
 * Durability contract (docs/architecture.md, "Durability rules"): writes are issued
 * synchronously and applied in issue order; `flush()` resolves once every write issued before
 * the call is durable (fsynced). Writes issued in the same tick by many channels share one
 * flush (group commit). The engine never acknowledges or countersigns anything that depends
 * on a write before that write's flush has resolved. (The leader's next proposal may go out
 * before the previous co-signed state is durable: its safety rests on the version lease in the
 * channel record, which is flushed before any version above it is signed: ADR 0006.)
 */
import type { Address, Bytes32 } from '../core/bytes.ts';
import type { DepositFact } from '../core/ops.ts';
import type { ChannelParams, ParticipantIndex } from '../core/params.ts';
import type { ChannelState } from '../core/state.ts';
import type { SignedState } from '../core/validate.ts';

/** Where a channel is in its life. */
export type ChannelStatus =
  | 'proposed' // the leader sent `open`, no answer yet
  | 'funding' // both signed version 0; deposits are on their way
  | 'open' // funded on-chain: updates flow
  | 'closing' // a final state is being agreed or settled
  | 'disputed' // a state is registered on-chain; waiting for the challenge period
  | 'closed' // paid out on-chain
  | 'rejected'; // the counterparty refused the open

/** What rarely changes about a channel (written on status changes, not on every update). */
export interface ChannelRecord {
  readonly id: Bytes32;
  readonly params: ChannelParams;
  /** Which participant this node is. */
  readonly self: ParticipantIndex;
  /** The counterparty's libp2p peer id and the addresses it was last reached at. */
  readonly peer: { readonly peerId: string; readonly multiaddrs: readonly string[] };
  readonly status: ChannelStatus;
  /** Version 0's balances (what each side committed to deposit). */
  readonly deposits: ChannelState['balances'];
  /** On-chain deposits seen for this channel, in chain order. */
  readonly depositFacts: readonly DepositFact[];
  /** The highest rejected proposal version ("burned", see ADR 0003); 0 if none. */
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
}

export interface StoredChannel {
  readonly record: ChannelRecord;
  /** The latest co-signed state (absent before version 0 is co-signed). */
  readonly latest?: SignedState;
}

export interface ChannelStore {
  /** Every channel, with its latest co-signed state. */
  load(): Promise<StoredChannel[]>;
  putRecord(record: ChannelRecord): void;
  putState(id: Bytes32, signed: SignedState): void;
  /** Small values the node keeps besides channels (the chain cursor, ...). */
  getMeta(key: string): Promise<Uint8Array | undefined>;
  putMeta(key: string, value: Uint8Array): void;
  /** Resolves once every write issued before this call is on disk. Rejects if a write failed. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export type { Address };
