/**
 * An in-memory {@link ChannelStore} for unit tests, with the lmdb store's semantics and a way
 * to inject the failure a real disk can produce.
 *
 * Values go through the same record codec and key layout as on disk, so a test that passes
 * here exercises the real encoding, its validation and its corruption checks. The store holds
 * two layers: the durable image (what a crash right now would leave) and the writes issued
 * since, which reads see at once but which only become durable when a `flush()` covering them
 * resolves. A flush resolves on a later macrotask (`setImmediate`), never synchronously,
 * because engine code that accidentally relied on a synchronous flush would break on disk.
 */
import { LanesError } from '../core/index.ts';
import type { Bytes32 } from '../core/bytes.ts';
import type { SignedState } from '../core/validate.ts';
import {
  KEY_PREFIX,
  type StoreWrite,
  assembleChannels,
  decodeMeta,
  metaDelete,
  metaKey,
  metaWrite,
  recordWrite,
  stateWrite,
} from './record-codec.ts';
import type { ChannelRecord, ChannelStore, StoredChannel } from './store.ts';

/** The durable contents, keyed and encoded exactly as the lmdb store lays them out on disk. */
export type MemoryStoreImage = ReadonlyMap<string, Uint8Array>;

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Start from this durable image (a {@link MemoryStore.snapshot}): a restart after a crash. */
  readonly image?: MemoryStoreImage;
}

/** A {@link ChannelStore} whose durability a test can inspect, break and restart from. */
export interface MemoryStore extends ChannelStore {
  /**
   * Makes the next `flush()` call reject with `error` and discards the writes that flush
   * covers: every write issued since the previous `flush()` call, i.e. since the last flush
   * that succeeded or was itself failed. This simulates a commit that failed to reach the disk
   * (an I/O error, a full disk): those writes are neither durable nor visible afterwards, as
   * after an aborted transaction. Writes covered by earlier, still pending flushes and writes
   * issued after the failing `flush()` call are unaffected. It does not simulate a torn write
   * or a crash of the process: use {@link snapshot} and a new store for that.
   */
  failNextFlush(error?: Error): void;
  /**
   * A copy of the durable image: what a process crash at this instant would leave on disk.
   * Writes not yet covered by a resolved flush are absent. Pass it to
   * `createMemoryStore({ image })` to simulate the restart; edit its bytes to simulate corruption.
   */
  snapshot(): Map<string, Uint8Array>;
  /** Writes issued but not yet durable (for assertions about what a crash would lose). */
  readonly pendingWrites: number;
}

/** The error a store raises after `close()`. */
function closedError(): LanesError {
  return new LanesError('store is closed', { code: 'STORE_CLOSED' });
}

function copyImage(image: MemoryStoreImage): Map<string, Uint8Array> {
  return new Map([...image].map(([k, v]) => [k, new Uint8Array(v)]));
}

function apply(target: Map<string, Uint8Array>, writes: readonly StoreWrite[]): void {
  for (const w of writes) {
    if (w.value === undefined) target.delete(w.key);
    else target.set(w.key, w.value);
  }
}

class MemoryChannelStore implements MemoryStore {
  readonly #durable: Map<string, Uint8Array>;
  /** Writes issued since the last `flush()` call. */
  #unflushed: StoreWrite[] = [];
  /** Batches covered by a `flush()` call that has not settled yet, oldest first. */
  readonly #inFlight: StoreWrite[][] = [];
  #failNext: Error | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;

  constructor(image: MemoryStoreImage) {
    this.#durable = copyImage(image);
  }

  get pendingWrites(): number {
    return this.#unflushed.length + this.#inFlight.reduce((n, b) => n + b.length, 0);
  }

  putRecord(record: ChannelRecord): void {
    this.#issue(recordWrite(record));
  }

  putState(id: Bytes32, signed: SignedState): void {
    this.#issue(stateWrite(id, signed));
  }

  putMeta(key: string, value: Uint8Array): void {
    this.#issue(metaWrite(key, value));
  }

  deleteMeta(key: string): void {
    this.#issue(metaDelete(key));
  }

  scanMeta(prefix: string): Promise<[string, Uint8Array][]> {
    if (this.#closed) return Promise.reject(closedError());
    try {
      const start = metaKey(prefix);
      const entries = [...this.#visible()].filter(([k]) => k.startsWith(start)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return Promise.resolve(entries.map(([k, v]) => [k.slice(KEY_PREFIX.meta.length), decodeMeta(v, k)] as [string, Uint8Array]));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  load(): Promise<StoredChannel[]> {
    if (this.#closed) return Promise.reject(closedError());
    try {
      const view = this.#visible();
      const records = [...view].filter(([k]) => k.startsWith(KEY_PREFIX.record)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return Promise.resolve(assembleChannels(records, (k) => view.get(k)));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  getMeta(key: string): Promise<Uint8Array | undefined> {
    if (this.#closed) return Promise.reject(closedError());
    try {
      const k = metaKey(key);
      const bytes = this.#visible().get(k);
      return Promise.resolve(bytes === undefined ? undefined : decodeMeta(bytes, k));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  flush(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    return this.#flush();
  }

  close(): Promise<void> {
    this.#closing ??= this.#flush().finally(() => {
      this.#closed = true;
    });
    return this.#closing;
  }

  failNextFlush(error: Error = new LanesError('simulated flush failure (failNextFlush)', { code: 'STORE_WRITE_FAILED' })): void {
    this.#failNext = error;
  }

  snapshot(): Map<string, Uint8Array> {
    return copyImage(this.#durable);
  }

  #issue(write: StoreWrite): void {
    if (this.#closing !== undefined) throw closedError();
    this.#unflushed.push(write);
  }

  #flush(): Promise<void> {
    const batch = this.#unflushed;
    this.#unflushed = [];
    this.#inFlight.push(batch);
    const failure = this.#failNext;
    this.#failNext = undefined;
    // setImmediate runs callbacks in call order, so batches settle (and apply) in issue order.
    return new Promise((resolve, reject) => {
      setImmediate(() => {
        this.#inFlight.splice(this.#inFlight.indexOf(batch), 1);
        if (failure !== undefined) return reject(failure);
        apply(this.#durable, batch);
        resolve();
      });
    });
  }

  /** Durable image plus every write issued and not discarded, in issue order. */
  #visible(): Map<string, Uint8Array> {
    const view = new Map(this.#durable);
    for (const batch of this.#inFlight) apply(view, batch);
    apply(view, this.#unflushed);
    return view;
  }
}

/**
 * Creates an in-memory store, empty or from a durable image. Why a separate implementation:
 * engine tests need a store that is fast, leaves no files, and can fail on demand.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryChannelStore(options.image ?? new Map());
}
