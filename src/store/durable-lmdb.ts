/**
 * A durable key-value store over lmdb: the one place that knows how lmdb-js makes writes
 * durable. Used by the node's channel store and by the coordinator's queue.
 *
 * Durability, as measured (docs: ../shared/ENVIRONMENT.md): lmdb-js batches every write issued
 * in one event turn into one transaction, and with `overlappingSync` (its default on Linux) the
 * promise a `put` returns settles when the transaction is *committed* (visible), before it is
 * fsynced. With `separateFlushed` each such promise carries a `flushed` promise that settles
 * after the fsync; `flush()` waits for the commits of every write it covers and then for their
 * `flushed`. Writes issued in one tick therefore share one commit and one fsync (group commit).
 * A failed commit never settles its `flushed` promise, so `flush()` checks the commits first and
 * rejects instead of hanging. A failed write rejects the flush that covers it (the first
 * `flush()` called after it) with {@link StoreWriteError}; later flushes are not affected.
 *
 * After a process crash lmdb reopens at the last committed transaction (it may hold writes that
 * were never acknowledged, which callers tolerate); after an OS crash it reverts to the last
 * fsynced one. Neither loses an acknowledged write.
 *
 * Single writer: lmdb lets two processes open one environment and interleave their writes
 * (verified: both succeed). A node (or coordinator) signing from two processes could sign two
 * different states at one version, or pay twice, so {@link openDurableLmdb} takes an exclusive
 * lock file (`lanes.lock`, holding the owner's pid) before opening.
 */
import { mkdir, open as openFile, readFile, realpath, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { open as openLmdb, type RootDatabase } from 'lmdb';
import { LanesError, type LanesErrorOptions } from '../core/errors.ts';

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
// Durable writes

/** An lmdb write promise; with `separateFlushed` it carries the promise of its transaction's fsync. */
type WritePromise = Promise<boolean> & { readonly flushed?: PromiseLike<unknown> };

const ignore = (): void => undefined;

function closedError(): LanesError {
  return new LanesError('store is closed', { code: 'STORE_CLOSED' });
}

/** A write: `value` undefined removes the key. */
export interface KvWrite {
  readonly key: string;
  readonly value: Uint8Array | undefined;
}

/** Raw keys and bytes; callers encode (and checksum) their values. */
export class DurableLmdb {
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

  /** Issues a write (synchronously; it takes effect in issue order). */
  write(w: KvWrite): void {
    if (this.#closing !== undefined) throw closedError();
    let p: WritePromise;
    try {
      p = w.value === undefined ? this.#db.remove(w.key) : this.#db.put(w.key, w.value);
    } catch (e) {
      // lmdb refused synchronously (a closed environment, a key it cannot encode): report it
      // through flush() like any other failed write.
      p = Promise.reject(new StoreWriteError(`lmdb refused the write of ${w.key}`, { cause: e }));
    }
    if (this.#batch.has(p)) return;
    p.catch(ignore); // a failure is reported by flush(); never as an unhandled rejection
    this.#batch.add(p);
    this.#lastWrite = p.catch(ignore);
  }

  /** The value of `key` once every write issued so far is visible. */
  async get(key: string): Promise<Uint8Array | undefined> {
    await this.#settled();
    return this.#db.get(key);
  }

  /**
   * Every key under `prefix` with its value, read in one snapshot once earlier writes are
   * visible; `lookup` reads other keys in the same snapshot.
   */
  async scan<T>(
    prefix: string,
    read: (entries: Iterable<readonly [string, Uint8Array]>, lookup: (key: string) => Uint8Array | undefined) => T,
  ): Promise<T> {
    await this.#settled();
    const db = this.#db;
    // One synchronous pass: lmdb-js keeps one read snapshot until the event loop turns.
    const range = db.getRange({ start: prefix, end: nextPrefix(prefix) });
    const entries = (function* () {
      for (const { key, value } of range) yield [key, value] as const;
    })();
    return read(entries, (key) => db.get(key));
  }

  /** Resolves once every write issued before this call is on disk. */
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
 * Opens (creating if needed) a durable store in `path`. Rejects with {@link StoreLockedError}
 * when another live process, or this one, has it open.
 */
export async function openDurableLmdb(path: string): Promise<DurableLmdb> {
  await mkdir(path, { recursive: true });
  const dir = await realpath(path);
  const release = await acquireLock(dir);
  try {
    const db = openLmdb<Uint8Array, string>({
      path: dir,
      // A directory even when the path has a dot in it (lmdb guesses "file" from an extension).
      noSubdir: false,
      // Values are the callers' own encodings; lmdb stores the bytes as is.
      encoding: 'binary',
      compression: false,
      cache: false,
      // Commit promises settle on commit; `.flushed` on each settles after the fsync.
      separateFlushed: true,
    });
    return new DurableLmdb(db, release);
  } catch (e) {
    await release();
    throw e;
  }
}
