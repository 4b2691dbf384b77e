/**
 * The on-disk {@link ChannelStore}: one lmdb environment per node.
 *
 * Layout (see record-codec.ts): `c/<id>` channel record, `s/<id>` latest co-signed state,
 * `p/<id>` pending proposal, `m/<key>` meta. Values are the checksummed record-codec envelopes;
 * lmdb stores them as raw bytes (`encoding: 'binary'`), so nothing on disk depends on lmdb's
 * own msgpack settings.
 *
 * Durability, as measured (docs: ../shared/ENVIRONMENT.md): lmdb-js batches every write issued
 * in one event turn into one transaction, and with `overlappingSync` (its default on Linux) the
 * promise a `put` returns settles when the transaction is *committed* (visible), before it is
 * fsynced. With `separateFlushed` each such promise carries a `flushed` promise that settles
 * after the fsync; `flush()` waits for the commits of every write it covers and then for their
 * `flushed`. Writes from many channels issued in one tick therefore share one commit and one
 * fsync (group commit). A failed commit never settles its `flushed` promise, so `flush()` checks
 * the commits first and rejects instead of hanging. A failed write rejects the flush that covers
 * it (the first `flush()` called after it) with {@link StoreWriteError}; later flushes are not
 * affected, as in the memory store. The node should treat such a rejection as fatal for the
 * channels it wrote: the writes may or may not be on disk.
 *
 * After a process crash lmdb reopens at the last committed transaction (it may hold writes that
 * were never acknowledged, which the protocol tolerates); after an OS crash it reverts to the
 * last fsynced one. Neither loses an acknowledged write.
 *
 * Single writer: lmdb is built for many processes sharing one environment, so it happily lets
 * two nodes open the same directory and interleave their writes (verified: both succeed). Two
 * nodes signing for the same channels could sign two different states at one version, so this
 * module takes an exclusive lock file (`lanes.lock`, holding the owner's pid) before opening.
 */
import { mkdir, open as openFile, readFile, realpath, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { open as openLmdb, type RootDatabase } from 'lmdb';
import { type Bytes32, LanesError, type LanesErrorOptions } from '../core/index.ts';
import type { SignedState } from '../core/validate.ts';
import {
  KEY_PREFIX,
  type StoreWrite,
  assembleChannels,
  decodeMeta,
  metaKey,
  metaWrite,
  proposalWrite,
  recordWrite,
  stateWrite,
} from './record-codec.ts';
import type { ChannelRecord, ChannelStore, StoredChannel, StoredProposal } from './store.ts';

/** Options of {@link openLmdbStore}. */
export interface LmdbStoreOptions {
  /** Directory of the environment; created if missing. One node per directory. */
  readonly path: string;
}

/** A write (or its transaction) failed: the writes covered by the rejected flush may be lost. */
export class StoreWriteError extends LanesError {
  override name = 'StoreWriteError';
  constructor(shortMessage: string, options: LanesErrorOptions = {}) {
    super(shortMessage, { code: 'STORE_WRITE_FAILED', ...options });
  }
}

/** Another live process (or this one) already has the store open. */
export class StoreLockedError extends LanesError {
  override name = 'StoreLockedError';
  constructor(shortMessage: string, options: LanesErrorOptions = {}) {
    super(shortMessage, { code: 'STORE_LOCKED', ...options });
  }
}

/** Name of the lock file inside the store directory (lmdb's own files are data.mdb and lock.mdb). */
export const LOCK_FILE = 'lanes.lock';

// ---------------------------------------------------------------------------------------------
// Process lock

/** Directories (real paths) this process holds, so a second open in-process is refused too. */
const held = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(lockPath: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(lockPath, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function tryCreate(lockPath: string): Promise<boolean> {
  try {
    const file = await openFile(lockPath, 'wx');
    try {
      await file.writeFile(`${process.pid}\n`);
    } finally {
      await file.close();
    }
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/**
 * Takes the directory's lock file, replacing it when its owner is dead. Our own pid in the file
 * without an entry in `held` is a previous incarnation (containers reuse low pids), so stale.
 * Residual gaps, documented rather than solved: two processes taking over the same stale lock
 * at the same instant can both win, and an unrelated live process that reused the dead owner's
 * pid keeps the store locked until the file is deleted by hand.
 */
async function acquireLock(dir: string): Promise<() => Promise<void>> {
  if (held.has(dir)) throw new StoreLockedError(`store at ${dir} is already open in this process`);
  const lockPath = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await tryCreate(lockPath)) {
      held.add(dir);
      return () => releaseLock(dir, lockPath);
    }
    const owner = await readOwner(lockPath);
    if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
      throw new StoreLockedError(`store at ${dir} is in use by process ${owner}`, {
        details: `If no Lanes node runs as pid ${owner}, delete ${lockPath}.`,
      });
    }
    await unlink(lockPath).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
  throw new StoreLockedError(`could not take the lock file ${lockPath}: it keeps reappearing`);
}

async function releaseLock(dir: string, lockPath: string): Promise<void> {
  held.delete(dir);
  if ((await readOwner(lockPath)) === process.pid) await unlink(lockPath).catch(() => undefined);
}

// ---------------------------------------------------------------------------------------------
// Store

/** An lmdb write promise; with `separateFlushed` it carries the promise of its transaction's fsync. */
type WritePromise = Promise<boolean> & { readonly flushed?: PromiseLike<unknown> };

const ignore = (): void => undefined;

function closedError(): LanesError {
  return new LanesError('store is closed', { code: 'STORE_CLOSED' });
}

class LmdbChannelStore implements ChannelStore {
  readonly #db: RootDatabase<Uint8Array, string>;
  readonly #release: () => Promise<void>;
  /**
   * Distinct write promises issued since the last `flush()` call. lmdb returns one promise per
   * transaction for plain puts, so this stays tiny even when thousands of writes share a tick.
   */
  #batch = new Set<WritePromise>();
  /** The newest write promise (already caught): once it settles, every earlier write has. */
  #lastWrite: Promise<unknown> = Promise.resolve();
  /** The previous flush, never rejecting: flushes settle in call order. */
  #lastFlush: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #closed = false;

  constructor(db: RootDatabase<Uint8Array, string>, release: () => Promise<void>) {
    this.#db = db;
    this.#release = release;
  }

  putRecord(record: ChannelRecord): void {
    this.#issue(recordWrite(record));
  }

  putState(id: Bytes32, signed: SignedState): void {
    this.#issue(stateWrite(id, signed));
  }

  putProposal(id: Bytes32, proposal: StoredProposal | undefined): void {
    this.#issue(proposalWrite(id, proposal));
  }

  putMeta(key: string, value: Uint8Array): void {
    this.#issue(metaWrite(key, value));
  }

  async load(): Promise<StoredChannel[]> {
    await this.#settled();
    const db = this.#db;
    // One synchronous pass: lmdb-js keeps one read snapshot until the event loop turns.
    const records = db.getRange({ start: KEY_PREFIX.record, end: nextPrefix(KEY_PREFIX.record) });
    const entries = (function* () {
      for (const { key, value } of records) yield [key, value] as const;
    })();
    return assembleChannels(entries, (key) => db.get(key));
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    const k = metaKey(key);
    await this.#settled();
    const bytes = this.#db.get(k);
    return bytes === undefined ? undefined : decodeMeta(bytes, k);
  }

  flush(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    return this.#flush();
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  async #shutDown(): Promise<void> {
    try {
      await this.#flush();
    } finally {
      this.#closed = true;
      try {
        await this.#db.close();
      } finally {
        await this.#release();
      }
    }
  }

  #issue(write: StoreWrite): void {
    if (this.#closing !== undefined) throw closedError();
    let p: WritePromise;
    try {
      p = write.value === undefined ? this.#db.remove(write.key) : this.#db.put(write.key, write.value);
    } catch (e) {
      // lmdb refused synchronously (a closed environment, a key it cannot encode): report it
      // through flush() like any other failed write.
      p = Promise.reject(new StoreWriteError(`lmdb refused the write of ${write.key}`, { cause: e }));
    }
    if (this.#batch.has(p)) return;
    p.catch(ignore); // a failure is reported by flush(); never as an unhandled rejection
    this.#batch.add(p);
    this.#lastWrite = p.catch(ignore);
  }

  /** Waits until every issued write is committed (visible to reads) or has failed. */
  async #settled(): Promise<void> {
    if (this.#closed) throw closedError();
    await this.#lastWrite;
    if (this.#closed) throw closedError();
  }

  #flush(): Promise<void> {
    const batch = [...this.#batch];
    this.#batch = new Set();
    const previous = this.#lastFlush;
    const done = previous.then(() => this.#awaitDurable(batch));
    this.#lastFlush = done.catch(ignore);
    return done;
  }

  async #awaitDurable(batch: readonly WritePromise[]): Promise<void> {
    const results = await Promise.allSettled(batch);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) {
      throw new StoreWriteError(`${failed.length} write transaction(s) failed; writes issued since the previous flush may be lost`, {
        cause: failed[0]!.reason,
      });
    }
    // Without overlappingSync a commit is already fsynced and `flushed` is absent or the same promise.
    await Promise.all(batch.map((p) => p.flushed ?? p));
  }
}

/** The smallest string above every string starting with `prefix` (its last char + 1). */
function nextPrefix(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/**
 * Opens (creating if needed) the store in `options.path`. Rejects with
 * {@link StoreLockedError} when another live process, or this one, has it open.
 */
export async function openLmdbStore(options: LmdbStoreOptions): Promise<ChannelStore> {
  await mkdir(options.path, { recursive: true });
  const dir = await realpath(options.path);
  const release = await acquireLock(dir);
  try {
    const db = openLmdb<Uint8Array, string>({
      path: dir,
      // A directory even when the path has a dot in it (lmdb guesses "file" from an extension).
      noSubdir: false,
      // Values are record-codec envelopes with their own checksum; lmdb stores the bytes as is.
      encoding: 'binary',
      compression: false,
      cache: false,
      // Commit promises settle on commit; `.flushed` on each settles after the fsync.
      separateFlushed: true,
    });
    return new LmdbChannelStore(db, release);
  } catch (e) {
    await release();
    throw e;
  }
}
