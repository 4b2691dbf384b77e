/**
 * The on-disk {@link ChannelStore}: one lmdb environment per node (durability and the single-
 * writer lock: durable-lmdb.ts).
 *
 * Layout (see record-codec.ts): `c/<id>` channel record, `s/<id>` latest co-signed state,
 * `m/<key>` meta. Values are the checksummed record-codec envelopes.
 */
import type { Bytes32 } from '../core/index.ts';
import type { SignedState } from '../core/validate.ts';
import { type DurableLmdb, openDurableLmdb } from './durable-lmdb.ts';
import { KEY_PREFIX, assembleChannels, decodeMeta, metaDelete, metaKey, metaWrite, recordWrite, stateWrite } from './record-codec.ts';
import type { ChannelRecord, ChannelStore, StoredChannel } from './store.ts';

export { LOCK_FILE, StoreLockedError, StoreWriteError } from './durable-lmdb.ts';

/** Options of {@link openLmdbStore}. */
export interface LmdbStoreOptions {
  /** Directory of the environment; created if missing. One node per directory. */
  readonly path: string;
}

class LmdbChannelStore implements ChannelStore {
  readonly #kv: DurableLmdb;

  constructor(kv: DurableLmdb) {
    this.#kv = kv;
  }

  putRecord(record: ChannelRecord): void {
    this.#kv.write(recordWrite(record));
  }

  putState(id: Bytes32, signed: SignedState): void {
    this.#kv.write(stateWrite(id, signed));
  }

  putMeta(key: string, value: Uint8Array): void {
    this.#kv.write(metaWrite(key, value));
  }

  deleteMeta(key: string): void {
    this.#kv.write(metaDelete(key));
  }

  async scanMeta(prefix: string): Promise<[string, Uint8Array][]> {
    const start = metaKey(prefix);
    return await this.#kv.scan(start, (entries) => {
      const out: [string, Uint8Array][] = [];
      for (const [k, v] of entries) out.push([k.slice(KEY_PREFIX.meta.length), decodeMeta(v, k)]);
      return out;
    });
  }

  load(): Promise<StoredChannel[]> {
    return this.#kv.scan(KEY_PREFIX.record, (entries, lookup) => assembleChannels(entries, lookup));
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    const k = metaKey(key);
    const bytes = await this.#kv.get(k);
    return bytes === undefined ? undefined : decodeMeta(bytes, k);
  }

  flush(): Promise<void> {
    return this.#kv.flush();
  }

  close(): Promise<void> {
    return this.#kv.close();
  }
}

/**
 * Opens (creating if needed) the store in `options.path`. Rejects with
 * {@link StoreLockedError} when another live process, or this one, has it open.
 */
export async function openLmdbStore(options: LmdbStoreOptions): Promise<ChannelStore> {
  return new LmdbChannelStore(await openDurableLmdb(options.path));
}
