/**
 * The engine's port to its settlement coordinator: what settlement.ts and the watch updates
 * need, and nothing of how it is reached. The composition root (create-node.ts) wires the
 * libp2p implementation (src/p2p/settle-client.ts).
 *
 * The coordinator is a convenience, never needed for safety: `submit` rejects when it is
 * unreachable, refuses (a RejectedError with its reason) or does not answer in time, and the
 * engine then submits directly.
 */
import type { SettleItem, SettlementFailure } from '../core/codec/settle.ts';

/** An item's on-chain outcome, as the coordinator reports it. */
export interface SettleResult {
  readonly ok: boolean;
  readonly reason?: SettlementFailure;
  readonly transactionHash?: `0x${string}`;
}

export interface CoordinatorLink {
  /** The coordinator's multiaddr. */
  readonly coordinator: string;
  /** Queues an item at the coordinator; resolves once it is stored there, with a promise of its result. */
  submit(item: SettleItem): Promise<{ itemId: bigint; result: Promise<SettleResult> }>;
  /** Whether the link is up now. */
  reachable(): boolean;
  /** Tries to bring the link up if it is down; resolves whether the coordinator is reachable. */
  probe(): Promise<boolean>;
  close(): void;
}
