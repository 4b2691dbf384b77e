/**
 * The adjudicator's events as a typed union, decoded from logs. Each event carries its
 * position (block, its hash, log index) so a consumer can resume from a block, ignore replays,
 * and notice a reorg that replaced the block (docs/adr/0014).
 */
import { type Log, parseEventLogs } from 'viem';
import type { Address, Bytes32 } from '../core/bytes.ts';
import { ADJUDICATOR_FAILURES } from '../core/codec/settle.ts';
import { LanesAdjudicatorAbi } from './artifacts/LanesAdjudicator.ts';

/** Why a batch item was skipped, in the order of the contract's `Reason` enum (index 0 is None). */
export const ITEM_REASONS = ['none', ...ADJUDICATOR_FAILURES] as const;
export type ItemReason = Exclude<(typeof ITEM_REASONS)[number], 'none'>;

export const OPERATIONS = ['close', 'challenge', 'conclude', 'unlock'] as const;
export type BatchOperation = (typeof OPERATIONS)[number];

export interface EventMeta {
  readonly blockNumber: bigint;
  /** The hash of the block the event is in: a reorg that replaces the block changes it. */
  readonly blockHash: Bytes32;
  readonly logIndex: number;
  readonly transactionHash: Bytes32;
}

export type ChainEvent = EventMeta &
  (
    | { type: 'deposited'; channelId: Bytes32; asset: Address; participant: Address; amount: bigint; holdingsAfter: bigint }
    | { type: 'closed'; channelId: Bytes32; version: bigint }
    | { type: 'challenged'; channelId: Bytes32; version: bigint; finalizesAt: bigint }
    | { type: 'concluded'; channelId: Bytes32; version: bigint }
    | { type: 'unlocked'; channelId: Bytes32; index: number; to: Address; amount: bigint }
    | { type: 'item-failed'; channelId: Bytes32; operation: BatchOperation; reason: ItemReason }
    | { type: 'secret-revealed'; hashlock: Bytes32; secret: Bytes32 }
    | { type: 'payout-deferred'; account: Address; asset: Address; amount: bigint }
    | { type: 'withdrawn'; account: Address; asset: Address; amount: bigint }
  );

const lower = (a: string) => a.toLowerCase() as Address;

/** Decodes the adjudicator's logs (others are ignored), in log order. */
export function decodeEvents(logs: readonly Log[]): ChainEvent[] {
  const parsed = parseEventLogs({ abi: LanesAdjudicatorAbi, logs: logs as Log[], strict: true });
  return parsed.map((l): ChainEvent => {
    const meta: EventMeta = {
      blockNumber: l.blockNumber,
      blockHash: l.blockHash,
      logIndex: l.logIndex,
      transactionHash: l.transactionHash,
    };
    switch (l.eventName) {
      case 'Deposited':
        return {
          ...meta,
          type: 'deposited',
          channelId: l.args.channelId,
          asset: lower(l.args.asset),
          participant: lower(l.args.participant),
          amount: l.args.amount,
          holdingsAfter: l.args.holdingsAfter,
        };
      case 'Closed':
        return { ...meta, type: 'closed', channelId: l.args.channelId, version: l.args.version };
      case 'Challenged':
        return { ...meta, type: 'challenged', channelId: l.args.channelId, version: l.args.version, finalizesAt: l.args.finalizesAt };
      case 'Concluded':
        return { ...meta, type: 'concluded', channelId: l.args.channelId, version: l.args.version };
      case 'Unlocked':
        return {
          ...meta,
          type: 'unlocked',
          channelId: l.args.channelId,
          index: Number(l.args.index),
          to: lower(l.args.to),
          amount: l.args.amount,
        };
      case 'ItemFailed':
        return {
          ...meta,
          type: 'item-failed',
          channelId: l.args.channelId,
          operation: OPERATIONS[l.args.operation] ?? 'close',
          reason: (ITEM_REASONS[l.args.reason] ?? 'malformed') as ItemReason,
        };
      case 'SecretRevealed':
        return { ...meta, type: 'secret-revealed', hashlock: l.args.hashlock, secret: l.args.secret };
      case 'PayoutDeferred':
        return { ...meta, type: 'payout-deferred', account: lower(l.args.account), asset: lower(l.args.asset), amount: l.args.amount };
      case 'Withdrawn':
        return { ...meta, type: 'withdrawn', account: lower(l.args.account), asset: lower(l.args.asset), amount: l.args.amount };
    }
  });
}
