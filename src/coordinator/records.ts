/** What the coordinator keeps on disk: items, batches, watched states. */
import type { Bytes32, Hex } from '../core/bytes.ts';
import type { SettleItem, SettlementFailure } from '../core/codec/settle.ts';
import type { ChannelParams } from '../core/params.ts';
import type { SignedState } from '../core/validate.ts';
import type { BatchKind } from './planner.ts';

export type ItemStatus = 'queued' | 'submitted' | 'settled' | 'failed';

/** Who asked for an item, so its result can be reported back. */
export interface Origin {
  readonly peerId: string;
  readonly requestId: bigint;
  delivered: boolean;
}

export interface ItemRecord {
  readonly id: bigint;
  readonly kind: BatchKind;
  readonly channelId?: Bytes32;
  /** The state version it settles or registers (for de-duplication). */
  readonly version?: bigint;
  item: SettleItem;
  readonly origins: Origin[];
  status: ItemStatus;
  readonly enqueuedAt: number;
  /** Chain time (s) by which its transaction must be mined: a challenge deadline. */
  deadlineChain?: bigint;
  /** Chain time (s) before which it may not be submitted (a conclusion). */
  notBeforeChain?: bigint;
  readonly gas: number;
  batchId?: bigint;
  attempts: number;
  /** EIP-712 hashStruct of its state: items are the same item iff kind, channel and this match. */
  readonly stateHash?: Bytes32;
  /** Made by the watchtower for a node that may be offline: retried, never given up while it can succeed. */
  watchtower?: boolean;
  /** Batched only with this group's items: set when a batch it was in reverted (planner: splitReverted). */
  group?: bigint;
  /** Times it reverted on-chain in a batch of its own (its gas limit doubles for each). */
  reverts?: number;
  /** Times its simulation reverted with no companion (spaces its retries). */
  simFailures?: number;
  /** Not before this wall time (ms): a retry's back-off. */
  retryAt?: number;
  result?: { readonly ok: boolean; readonly reason?: SettlementFailure; readonly transactionHash?: Bytes32; readonly at: number };
}

export interface SentTransaction {
  readonly hash: Bytes32;
  readonly raw: Hex;
  readonly maxFeePerGas: bigint;
  readonly maxPriorityFeePerGas: bigint;
  readonly sentAt: number;
}

export interface BatchRecord {
  readonly id: bigint;
  readonly kind: BatchKind;
  readonly itemIds: readonly bigint[];
  readonly nonce: bigint;
  readonly gas: bigint;
  /** Every transaction signed for this batch (replacements share the nonce); the last is newest. */
  readonly txs: SentTransaction[];
  /** `dropped`: its nonce was used by a transaction not its own; its items were queued again. */
  status: 'pending' | 'mined' | 'reverted' | 'dropped';
  readonly createdAt: number;
  minedAt?: number;
  receipt?: { readonly hash: Bytes32; readonly blockNumber: bigint; readonly gasUsed: bigint };
  /**
   * Its outcome went to its items (at its first receipt). A reorg that takes the transaction out
   * before `confirmations` blocks are on top sets the batch back to `pending`; mined again, it is
   * not reported twice.
   */
  reported?: true;
}

export interface WatchRecord {
  readonly channelId: Bytes32;
  readonly params: ChannelParams;
  readonly signed: SignedState;
  /** The peer that sent this state. */
  readonly from: string;
  /** The peer that first asked for the channel to be watched: the record counts against its cap. */
  readonly owner?: string;
  readonly updatedAt: number;
}
