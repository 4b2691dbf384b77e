/**
 * A {@link Signer} backed by a pool of worker threads, so signature work (tens of microseconds
 * per item natively, milliseconds with noble) stays off the thread that runs the protocol.
 *
 * A hand-off to a worker costs roughly as much as one native verify, so requests are not sent
 * one by one: everything requested in the same tick is copied into a staging buffer, then cut
 * into tasks of up to `maxBatch` items. Each task is one ArrayBuffer of fixed-size slots
 * (see {@link SLOT}), transferred (not copied) to the least-busy worker, which writes results
 * into the same slots and transfers the buffer back. Up to {@link MAX_TASKS_IN_FLIGHT} tasks are
 * queued per worker so a worker never idles while its next task is being packed; the rest wait
 * in the staging buffer, which is also the back-pressure point.
 *
 * The private key goes to each worker once, in its `workerData`, and is never part of a
 * message, an error or a log line.
 */
import { Worker } from 'node:worker_threads';
import { LanesError, InvalidArgumentError } from '../core/errors.ts';
import { SIGNATURE_LENGTH } from '../core/crypto.ts';
import { assertDigest, assertPrivateKey, isWellFormedVerify, signerClosedError } from './inline-signer.ts';
import { type BackendName, backendByName } from './select-backend.ts';
import type { Signer } from './signer.ts';

/**
 * Byte layout of one request slot, shared with crypto-worker.ts. Fixed-size slots keep packing
 * to three `set` calls and let a range of requests move as one copy; the space a sign request
 * does not use (~130 bytes) is cheap next to a hand-off.
 * - `KIND`: {@link KIND_SIGN} or {@link KIND_VERIFY} on the way in; the worker overwrites it with
 *   {@link RESULT_OK} (signed / verified true) or {@link RESULT_FAIL}.
 * - `PUBLIC_KEY_LENGTH`: 33 or 65.
 * - `SIGNATURE`: 65 bytes in for verify; the signature out for sign.
 */
export const SLOT = { KIND: 0, PUBLIC_KEY_LENGTH: 1, SIGNATURE: 2, DIGEST: 67, PUBLIC_KEY: 99, SIZE: 164 } as const;
export const KIND_SIGN = 1;
export const KIND_VERIFY = 2;
export const RESULT_OK = 1;
export const RESULT_FAIL = 0;

/** What each worker receives in `workerData`. */
export interface CryptoWorkerInit {
  readonly backend: BackendName;
  readonly privateKey: Uint8Array;
}
/** Main thread to worker: `count` requests packed in `buffer`. */
export interface TaskMessage {
  readonly id: number;
  readonly buffer: ArrayBuffer;
  readonly count: number;
}
/** Worker to main thread. */
export type WorkerReply =
  | { readonly type: 'ready' }
  | { readonly type: 'init-failed'; readonly message: string }
  | { readonly type: 'done'; readonly id: number; readonly buffer: ArrayBuffer };

/** Two tasks per worker: one running, one ready to start the moment it finishes. */
export const MAX_TASKS_IN_FLIGHT = 2;

/**
 * Default task size per backend. Native: 2 workers reached ~2x single-thread from 64 items per
 * task (~3 ms of work) and no more at 128-512, while larger tasks only make a sign request wait
 * longer behind verifies. Noble is ~40x slower, so 16 items is already ~35 ms of work.
 */
const DEFAULT_MAX_BATCH: Readonly<Record<BackendName, number>> = { native: 64, noble: 16 };

/**
 * Relative cost of a verify versus a sign (measured: native 53 vs 41 µs, noble 2.1 ms vs
 * 0.26 ms), so "least busy" means least work queued, not fewest items.
 */
const VERIFY_COST: Readonly<Record<BackendName, number>> = { native: 1.3, noble: 8 };

export interface WorkerSignerOptions {
  readonly privateKey: Uint8Array;
  readonly backend: BackendName;
  /** Worker threads in the pool; about one per spare core. */
  readonly workers: number;
  /** Most requests per task (default: 64 native, 16 noble). */
  readonly maxBatch?: number;
}

/** Counters for benchmarks, tests and health checks. */
export interface WorkerSignerStats {
  /** Tasks handed to workers so far. */
  readonly tasks: number;
  /** Requests handed to workers so far (malformed verify requests are answered without one). */
  readonly requests: number;
  /** Workers that died unexpectedly (each was replaced if it had started). */
  readonly crashes: number;
  /** Workers started and ready for tasks. */
  readonly liveWorkers: number;
}

/** A worker-pool {@link Signer}, with counters and fault injection. */
export interface WorkerSigner extends Signer {
  stats(): WorkerSignerStats;
  /**
   * Kills worker `index` as a crash would (for fault-injection tests): its outstanding requests
   * are rejected with code CRYPTO_WORKER_CRASHED and a replacement is started.
   */
  killWorker(index: number): Promise<void>;
}

type PendingRequest =
  | { readonly kind: typeof KIND_SIGN; readonly resolve: (signature: Uint8Array) => void; readonly reject: (error: Error) => void }
  | { readonly kind: typeof KIND_VERIFY; readonly resolve: (valid: boolean) => void; readonly reject: (error: Error) => void };

interface Task {
  readonly id: number;
  readonly requests: readonly PendingRequest[];
  readonly cost: number;
}

interface PoolWorker {
  readonly index: number;
  readonly worker: Worker;
  readonly tasks: Map<number, Task>;
  /** Resolves once the worker has loaded its backend and key; rejects if it never does. */
  readonly ready: Promise<void>;
  isReady: boolean;
  cost: number;
  referenced: boolean;
  /** Set before a terminate we asked for, so its exit is not taken for a crash. */
  exitExpected: boolean;
  lastError: string | undefined;
}

/**
 * Requests accepted but not yet handed to a worker. Inputs are copied into slots at call time,
 * so callers may reuse their buffers at once, and a run of requests leaves as a single copy.
 */
class RequestQueue {
  #bytes = new Uint8Array(SLOT.SIZE * 256);
  #requests: PendingRequest[] = [];
  #head = 0;

  get size(): number {
    return this.#requests.length - this.#head;
  }

  /** Appends a request and returns its zeroed slot for the caller to fill. */
  push(request: PendingRequest): Uint8Array {
    this.#reserveOne();
    const offset = this.#requests.length * SLOT.SIZE;
    this.#requests.push(request);
    const slot = this.#bytes.subarray(offset, offset + SLOT.SIZE);
    slot.fill(0);
    return slot;
  }

  /** Moves the oldest `count` requests out, copying their slots to the start of `into`. */
  take(count: number, into: Uint8Array): PendingRequest[] {
    const start = this.#head;
    into.set(this.#bytes.subarray(start * SLOT.SIZE, (start + count) * SLOT.SIZE));
    this.#head += count;
    const taken = this.#requests.slice(start, this.#head);
    if (this.#head === this.#requests.length) this.#clear();
    return taken;
  }

  /** Removes and returns every waiting request. */
  drain(): PendingRequest[] {
    const all = this.#requests.slice(this.#head);
    this.#clear();
    return all;
  }

  #clear(): void {
    this.#requests = [];
    this.#head = 0;
  }

  /** Makes room for one more slot after the last request. */
  #reserveOne(): void {
    const needed = (this.#requests.length + 1) * SLOT.SIZE;
    if (needed <= this.#bytes.length) return;
    if (this.#head > 0) {
      // Reuse the space of requests already handed out before growing.
      this.#bytes.copyWithin(0, this.#head * SLOT.SIZE, this.#requests.length * SLOT.SIZE);
      this.#requests = this.#requests.slice(this.#head);
      this.#head = 0;
      if ((this.#requests.length + 1) * SLOT.SIZE <= this.#bytes.length) return;
    }
    const grown = new Uint8Array(this.#bytes.length * 2);
    grown.set(this.#bytes.subarray(0, this.#requests.length * SLOT.SIZE));
    this.#bytes = grown;
  }
}

function workerUrl(): URL {
  // Node >= 23.6 runs a .ts worker entry point directly (type stripping), as it does the CLI; a
  // compiled build (tsc rewrites .ts imports to .js) has crypto-worker.js beside this file.
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return new URL(`./crypto-worker.${extension}`, import.meta.url);
}

function isWorkerReply(value: unknown): value is WorkerReply {
  return typeof value === 'object' && value !== null && 'type' in value && typeof value.type === 'string';
}

function crashError(handle: PoolWorker, code: number): LanesError {
  const reason = handle.lastError === undefined ? '' : `: ${handle.lastError}`;
  return new LanesError('Crypto worker crashed', {
    details: `worker ${handle.index} exited with code ${code}${reason}; its requests were not completed`,
    code: 'CRYPTO_WORKER_CRASHED',
  });
}

function validateOptions(options: WorkerSignerOptions): number {
  assertPrivateKey(options.privateKey);
  backendByName(options.backend); // fails here, on the caller's thread, if native cannot load
  if (!Number.isInteger(options.workers) || options.workers < 1) {
    throw new InvalidArgumentError('Invalid worker count', { details: `expected an integer >= 1, got ${options.workers}` });
  }
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH[options.backend];
  if (!Number.isInteger(maxBatch) || maxBatch < 1) {
    throw new InvalidArgumentError('Invalid maxBatch', { details: `expected an integer >= 1, got ${maxBatch}` });
  }
  return maxBatch;
}

/** The pool's state machine; wrapped by {@link createWorkerSigner} so none of it leaks out. */
class WorkerPool {
  readonly #key: Uint8Array;
  readonly #backend: BackendName;
  readonly #maxBatch: number;
  readonly #verifyCost: number;
  readonly #slots: (PoolWorker | undefined)[];
  readonly #queue = new RequestQueue();
  readonly #spareBuffers: ArrayBuffer[] = [];
  #nextTaskId = 0;
  #flushScheduled = false;
  #closing: Promise<void> | undefined;
  #tasks = 0;
  #requests = 0;
  #crashes = 0;

  constructor(key: Uint8Array, backend: BackendName, workers: number, maxBatch: number) {
    this.#key = key;
    this.#backend = backend;
    this.#maxBatch = maxBatch;
    this.#verifyCost = VERIFY_COST[backend];
    this.#slots = Array.from({ length: workers }, (_, index) => this.#spawn(index));
  }

  async started(): Promise<void> {
    await Promise.all(this.#slots.map((handle) => handle?.ready));
  }

  sign(digest: Uint8Array): Promise<Uint8Array> {
    if (this.#closing !== undefined) return Promise.reject(signerClosedError());
    try {
      assertDigest(digest);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return new Promise((resolve, reject) => {
      const slot = this.#queue.push({ kind: KIND_SIGN, resolve, reject });
      slot[SLOT.KIND] = KIND_SIGN;
      slot.set(digest, SLOT.DIGEST);
      this.#scheduleFlush();
    });
  }

  verify(signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): Promise<boolean> {
    if (this.#closing !== undefined) return Promise.reject(signerClosedError());
    if (!isWellFormedVerify(signature, digest, publicKey)) return Promise.resolve(false);
    return new Promise((resolve, reject) => {
      const slot = this.#queue.push({ kind: KIND_VERIFY, resolve, reject });
      slot[SLOT.KIND] = KIND_VERIFY;
      slot[SLOT.PUBLIC_KEY_LENGTH] = publicKey.length;
      slot.set(signature, SLOT.SIGNATURE);
      slot.set(digest, SLOT.DIGEST);
      slot.set(publicKey, SLOT.PUBLIC_KEY);
      this.#scheduleFlush();
    });
  }

  stats(): WorkerSignerStats {
    const liveWorkers = this.#slots.filter((handle) => handle?.isReady === true).length;
    return { tasks: this.#tasks, requests: this.#requests, crashes: this.#crashes, liveWorkers };
  }

  async killWorker(index: number): Promise<void> {
    const handle = this.#slots[index];
    if (handle === undefined) throw new InvalidArgumentError('No such worker', { details: `index ${index}` });
    await handle.worker.terminate();
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  async #shutDown(): Promise<void> {
    const closed = signerClosedError();
    for (const request of this.#queue.drain()) request.reject(closed);
    const exits: Promise<number>[] = [];
    for (const handle of this.#slots) {
      if (handle === undefined) continue;
      handle.exitExpected = true;
      this.#failTasks(handle, closed);
      exits.push(handle.worker.terminate());
    }
    this.#slots.fill(undefined);
    this.#key.fill(0);
    await Promise.all(exits);
  }

  #spawn(index: number): PoolWorker {
    const init: CryptoWorkerInit = { backend: this.#backend, privateKey: this.#key };
    const worker = new Worker(workerUrl(), { workerData: init, name: `lanes-crypto-${index}` });
    let markReady: () => void = () => {};
    let markFailed: (error: Error) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    const handle: PoolWorker = {
      index,
      worker,
      tasks: new Map(),
      ready,
      isReady: false,
      cost: 0,
      referenced: true,
      exitExpected: false,
      lastError: undefined,
    };
    // A replacement that fails to start is reported through the exit handler, not here.
    ready.catch(() => {});
    worker.on('message', (message: unknown) => {
      if (!isWorkerReply(message)) return;
      if (message.type === 'ready') {
        handle.isReady = true;
        markReady();
        this.#updateReference(handle);
        this.#dispatch();
      } else if (message.type === 'init-failed') {
        handle.lastError = message.message;
        markFailed(new LanesError('Crypto worker failed to start', { details: message.message, code: 'CRYPTO_WORKER_START_FAILED' }));
        void worker.terminate();
      } else {
        this.#complete(handle, message.id, message.buffer);
      }
    });
    worker.on('error', (error: Error) => {
      handle.lastError = error.message;
    });
    worker.on('exit', (code: number) => {
      markFailed(crashError(handle, code));
      this.#onExit(handle, code);
    });
    return handle;
  }

  #onExit(handle: PoolWorker, code: number): void {
    if (handle.exitExpected || this.#closing !== undefined) return;
    this.#crashes += 1;
    this.#failTasks(handle, crashError(handle, code));
    // A worker that never became ready would most likely fail again: do not loop on it.
    this.#slots[handle.index] = handle.isReady ? this.#spawn(handle.index) : undefined;
    this.#dispatch();
  }

  #failTasks(handle: PoolWorker, error: Error): void {
    for (const task of handle.tasks.values()) for (const request of task.requests) request.reject(error);
    handle.tasks.clear();
    handle.cost = 0;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // A microtask runs after the caller's synchronous loop: a burst of requests is one flush.
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#dispatch();
    });
  }

  /** Hands queued requests to workers while any has room for another task. */
  #dispatch(): void {
    if (this.#queue.size > 0 && this.#slots.every((slot) => slot === undefined)) {
      // Only reachable when replacements failed to start: waiting would hang forever.
      const none = new LanesError('No crypto workers left', {
        details: 'replacement workers failed to start',
        code: 'CRYPTO_WORKER_CRASHED',
      });
      for (const request of this.#queue.drain()) request.reject(none);
    }
    while (this.#queue.size > 0) {
      const { target, freeTasks } = this.#pickWorker();
      if (target === undefined) return;
      // Spread a burst evenly over the free task slots, so every worker gets a share at once.
      const count = Math.min(this.#maxBatch, Math.ceil(this.#queue.size / freeTasks));
      this.#send(target, count);
    }
  }

  /** The ready worker with the least queued work and room for a task, and the pool's free task count. */
  #pickWorker(): { target: PoolWorker | undefined; freeTasks: number } {
    let target: PoolWorker | undefined;
    let freeTasks = 0;
    for (const handle of this.#slots) {
      if (handle === undefined || !handle.isReady || handle.tasks.size >= MAX_TASKS_IN_FLIGHT) continue;
      freeTasks += MAX_TASKS_IN_FLIGHT - handle.tasks.size;
      if (target === undefined || handle.cost < target.cost) target = handle;
    }
    return { target, freeTasks };
  }

  #send(handle: PoolWorker, count: number): void {
    const buffer = this.#spareBuffers.pop() ?? new ArrayBuffer(this.#maxBatch * SLOT.SIZE);
    const requests = this.#queue.take(count, new Uint8Array(buffer));
    let cost = 0;
    for (const request of requests) cost += request.kind === KIND_SIGN ? 1 : this.#verifyCost;
    const task: Task = { id: this.#nextTaskId++, requests, cost };
    handle.tasks.set(task.id, task);
    handle.cost += cost;
    this.#tasks += 1;
    this.#requests += count;
    const message: TaskMessage = { id: task.id, buffer, count };
    handle.worker.postMessage(message, [buffer]);
    this.#updateReference(handle);
  }

  #complete(handle: PoolWorker, id: number, buffer: ArrayBuffer): void {
    const task = handle.tasks.get(id);
    if (task === undefined) return;
    handle.tasks.delete(id);
    handle.cost -= task.cost;
    settle(task.requests, new Uint8Array(buffer));
    if (this.#spareBuffers.length < this.#slots.length * MAX_TASKS_IN_FLIGHT) this.#spareBuffers.push(buffer);
    this.#dispatch();
    this.#updateReference(handle);
  }

  /** Keeps the process alive only while a worker has work in flight (or is starting). */
  #updateReference(handle: PoolWorker): void {
    const wanted = !handle.isReady || handle.tasks.size > 0;
    if (wanted === handle.referenced) return;
    handle.referenced = wanted;
    if (wanted) handle.worker.ref();
    else handle.worker.unref();
  }
}

/** Answers each request of a finished task from its slot. */
function settle(requests: readonly PendingRequest[], bytes: Uint8Array): void {
  for (let i = 0; i < requests.length; i++) {
    const request = requests[i]!;
    const offset = i * SLOT.SIZE;
    const ok = bytes[offset + SLOT.KIND] === RESULT_OK;
    if (request.kind === KIND_VERIFY) {
      request.resolve(ok);
    } else if (ok) {
      // A copy: the task buffer is reused for the next task.
      const start = offset + SLOT.SIGNATURE;
      request.resolve(bytes.slice(start, start + SIGNATURE_LENGTH));
    } else {
      request.reject(new LanesError('Signing failed in crypto worker', { code: 'SIGN_FAILED' }));
    }
  }
}

/**
 * Starts a pool of `workers` threads running `backend` with `privateKey`, and resolves once all
 * of them are ready to sign.
 *
 * Per-request results are exactly those of {@link createInlineSigner} with the same backend.
 * A worker that dies rejects only its outstanding requests (code CRYPTO_WORKER_CRASHED) and is
 * replaced. `close()` rejects everything not yet answered (code SIGNER_CLOSED) and terminates
 * the threads. Idle workers do not keep the process alive.
 * @throws InvalidArgumentError for a bad key, worker count or batch size; LanesError when the
 * native backend is requested but unavailable, or when a worker fails to start.
 */
export async function createWorkerSigner(options: WorkerSignerOptions): Promise<WorkerSigner> {
  const maxBatch = validateOptions(options);
  const pool = new WorkerPool(new Uint8Array(options.privateKey), options.backend, options.workers, maxBatch);
  try {
    await pool.started();
  } catch (error) {
    await pool.close();
    throw new LanesError('Crypto workers failed to start', { cause: error, code: 'CRYPTO_WORKER_START_FAILED' });
  }
  return {
    description: `worker pool (${options.workers} × ${options.backend})`,
    sign: (digest) => pool.sign(digest),
    verify: (signature, digest, publicKey) => pool.verify(signature, digest, publicKey),
    close: () => pool.close(),
    stats: () => pool.stats(),
    killWorker: (index) => pool.killWorker(index),
  };
}
