/**
 * Local callers waiting for a channel machine's answer: a payment, a swap, a close. The machine
 * names them by id in its `resolve` and `fail` effects; the first answer wins (a later one, such
 * as a completion after a timeout, is dropped).
 */
import type { CallerId, Failure } from '../core/channel/io.ts';
import { OperationTimeoutError, PeerUnreachableError, RejectedError } from '../sdk/errors.ts';

interface Waiting {
  resolve(version: bigint): void;
  reject(e: Error): void;
}

export class Callers {
  private next = 1;
  private readonly waiting = new Map<CallerId, Waiting>();

  /** A new caller and the promise it waits on. */
  create(): { id: CallerId; result: Promise<bigint> } {
    const id = this.next++;
    const result = new Promise<bigint>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    return { id, result };
  }

  resolve(id: CallerId, version: bigint): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    w.resolve(version);
  }

  fail(id: CallerId, failure: Failure, peer: string): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    w.reject(errorOf(failure, peer));
  }

  /** Fails every caller still waiting (the node stops). */
  failAll(e: Error): void {
    for (const [id, w] of this.waiting) {
      this.waiting.delete(id);
      w.reject(e);
    }
  }
}

export function errorOf(f: Failure, peer: string): Error {
  if (f.reason === 'timeout') return new OperationTimeoutError(f.detail, f.maybeApplied);
  if (f.reason === 'unreachable') return new PeerUnreachableError(peer);
  return new RejectedError(f.reason, f.detail, { maybeApplied: f.maybeApplied });
}
