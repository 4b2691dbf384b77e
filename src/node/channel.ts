/**
 * One channel in the node: its machine (src/core/channel, pure) and the inbox that feeds it.
 * Inputs run through `step` one at a time, in arrival order; the effects each step returns are
 * executed at once (executor.ts), and the completions of asynchronous ones (a signature, a
 * flush, a submission) come back as later inputs. Different channels run independently.
 *
 * A step checks the event loop's turn budget (src/runtime/turns.ts) before it runs, so a burst
 * of work yields to sends, commits and socket reads rather than running as one long turn.
 */
import type { Bytes32 } from '../core/bytes.ts';
import type { Input, Machine } from '../core/channel/index.ts';
import type { ChannelRecord, ChannelStatus } from '../core/channel/record.ts';
import { other } from '../core/params.ts';
import type { SignedState } from '../core/validate.ts';
import { withinTurnBudget } from '../runtime/turns.ts';
import type { CreditedBalance } from '../sdk/api.ts';

export class Channel {
  readonly machine: Machine;
  /** Runs one input through the machine and executes its effects (set by the node). */
  private readonly run: (ch: Channel, input: Input) => void;
  private readonly inbox: Input[] = [];
  private draining = false;
  private readonly idleWaiters: (() => void)[] = [];
  /** Resolvers waiting for a status (open, closed, ...). */
  private readonly statusWaiters: { status: ChannelStatus[]; resolve(): void; reject(e: Error): void }[] = [];
  /** Settled: what the settling transaction credited to this node's account (known once the watcher checked). */
  credited: Promise<readonly CreditedBalance[]> | undefined;
  /** The hash of the transaction that settled or registered the channel, when known. */
  settlementTx: Bytes32 | undefined;
  /** Who submitted the settlement: the coordinator or this node. */
  settledVia: 'coordinator' | 'direct' | undefined;

  constructor(machine: Machine, run: (ch: Channel, input: Input) => void) {
    this.machine = machine;
    this.run = run;
  }

  get record(): ChannelRecord {
    return this.machine.rec;
  }

  get latest(): SignedState | undefined {
    return this.machine.latest;
  }

  get id(): Bytes32 {
    return this.machine.rec.id;
  }

  get self(): 0 | 1 {
    return this.machine.rec.self;
  }

  get counterparty(): 0 | 1 {
    return other(this.machine.rec.self);
  }

  get isLeader(): boolean {
    return this.machine.rec.self === 0;
  }

  /** Whether inputs wait to run (or are running). */
  get busy(): boolean {
    return this.draining || this.inbox.length > 0;
  }

  /** Queues an input; it runs after every earlier one. */
  input(i: Input): void {
    this.inbox.push(i);
    if (!this.draining) this.drain();
  }

  private drain(): void {
    this.draining = true;
    while (this.inbox.length > 0) {
      if (!withinTurnBudget()) {
        setImmediate(() => this.drain());
        return;
      }
      this.run(this, this.inbox.shift()!);
    }
    this.draining = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves once every input queued so far has run (its effects issued). */
  idle(): Promise<void> {
    if (!this.draining && this.inbox.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Resolves every waiter for the current status. */
  settleWaiters(): void {
    for (let i = this.statusWaiters.length - 1; i >= 0; i--) {
      const w = this.statusWaiters[i]!;
      if (w.status.includes(this.record.status)) {
        this.statusWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  waitForStatus(status: ChannelStatus[], timeoutMs: number, onTimeout: () => Error): Promise<void> {
    if (status.includes(this.record.status)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.statusWaiters.indexOf(w);
        if (i >= 0) this.statusWaiters.splice(i, 1);
        reject(onTimeout());
      }, timeoutMs);
      timer.unref();
      const w = {
        status,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.statusWaiters.push(w);
    });
  }
}
