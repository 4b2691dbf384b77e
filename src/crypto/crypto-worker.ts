/**
 * Worker-thread entry point of the worker signer (worker-signer.ts, which owns the protocol and
 * slot layout). It answers tasks in place: each result overwrites its request slot and the same
 * ArrayBuffer is transferred back, so a task costs no allocation beyond signature outputs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { SignatureBackend } from '../core/crypto.ts';
import { assertPrivateKey } from './inline-signer.ts';
import { backendByName } from './select-backend.ts';
import { type CryptoWorkerInit, KIND_SIGN, RESULT_FAIL, RESULT_OK, SLOT, type TaskMessage, type WorkerReply } from './worker-signer.ts';

const DIGEST_END = SLOT.DIGEST + 32;
const SIGNATURE_END = SLOT.SIGNATURE + 65;

function signSlot(slot: Uint8Array, backend: SignatureBackend, key: Uint8Array): number {
  try {
    slot.set(backend.sign(slot.subarray(SLOT.DIGEST, DIGEST_END), key), SLOT.SIGNATURE);
    return RESULT_OK;
  } catch {
    // Unreachable with a validated key and a 32-byte digest; if it happens, the error text stays
    // here rather than risk carrying key material into the main thread's logs.
    return RESULT_FAIL;
  }
}

function verifySlot(slot: Uint8Array, backend: SignatureBackend): number {
  const signature = slot.subarray(SLOT.SIGNATURE, SIGNATURE_END);
  const digest = slot.subarray(SLOT.DIGEST, DIGEST_END);
  const publicKey = slot.subarray(SLOT.PUBLIC_KEY, SLOT.PUBLIC_KEY + slot[SLOT.PUBLIC_KEY_LENGTH]!);
  return backend.verify(signature, digest, publicKey) ? RESULT_OK : RESULT_FAIL;
}

function runTask(bytes: Uint8Array, count: number, backend: SignatureBackend, key: Uint8Array): void {
  for (let i = 0; i < count; i++) {
    const slot = bytes.subarray(i * SLOT.SIZE, (i + 1) * SLOT.SIZE);
    slot[SLOT.KIND] = slot[SLOT.KIND] === KIND_SIGN ? signSlot(slot, backend, key) : verifySlot(slot, backend);
  }
}

function start(): void {
  const port = parentPort;
  if (port === null) throw new Error('crypto-worker.ts runs only as a worker thread (see worker-signer.ts)');
  const init = workerData as CryptoWorkerInit;
  let backend: SignatureBackend;
  const key = new Uint8Array(init.privateKey);
  // workerData is this thread's own clone: wipe it so the key lives in one place here.
  init.privateKey.fill(0);
  try {
    assertPrivateKey(key);
    backend = backendByName(init.backend);
  } catch (error) {
    const reply: WorkerReply = { type: 'init-failed', message: error instanceof Error ? error.message : String(error) };
    port.postMessage(reply);
    return;
  }
  port.on('message', (task: TaskMessage) => {
    runTask(new Uint8Array(task.buffer), task.count, backend, key);
    const reply: WorkerReply = { type: 'done', id: task.id, buffer: task.buffer };
    port.postMessage(reply, [task.buffer]);
  });
  const ready: WorkerReply = { type: 'ready' };
  port.postMessage(ready);
}

start();
