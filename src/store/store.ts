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
import type { ChannelRecord } from '../core/channel/record.ts';
import type { SignedState } from '../core/validate.ts';

export type { ChannelRecord, ChannelStatus } from '../core/channel/record.ts';

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
  /** Removes a meta value (nothing if absent); like every write, durable at the next flush. */
  deleteMeta(key: string): void;
  /**
   * Every meta value whose key starts with `prefix` (non-empty), in key order, once the writes issued before the call are visible: for small sets the node
   * enumerates at start (the payments in flight), not for scanning everything.
   */
  scanMeta(prefix: string): Promise<[key: string, value: Uint8Array][]>;
  /** Resolves once every write issued before this call is on disk. Rejects if a write failed. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export type { Address };
