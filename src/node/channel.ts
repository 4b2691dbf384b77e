/**
 * One channel's runtime: its persisted record and states, plus what is in flight. Every async
 * step of a channel runs through {@link Channel.run}, one at a time (JavaScript interleaves at
 * every await: without this, two steps of one channel could read the same state and sign two
 * different successors). Different channels run concurrently.
 */
import type { Bytes32 } from '../core/bytes.ts';
import type { Op } from '../core/ops.ts';
import { type ParticipantIndex, other } from '../core/params.ts';
import type { SignedState } from '../core/validate.ts';
import type { PeerRef } from '../p2p/transport.ts';
import type { ChannelState } from '../core/state.ts';
import type { ChannelRecord } from '../store/store.ts';
import { turnBudget } from '../runtime/turns.ts';

/** Runs `step` on the first later turn with budget left. */
async function afterBudget<T>(later: Promise<void>, step: () => Promise<T> | T): Promise<T> {
  for (let wait: Promise<void> | undefined = later; wait !== undefined; wait = turnBudget()) await wait;
  return step();
}

/** An operation waiting for its result. `origin` says whose it is. */
export interface PendingOp {
  readonly op: Op;
  /** `self`: ours, someone awaits `done`; `peer`: the follower's request, held by the leader. */
  readonly origin: 'self' | 'peer';
  /** Unix ms when it was issued (for timeouts). */
  readonly since: number;
  resolve(version: bigint): void;
  reject(error: Error): void;
}

/** The leader's proposal that waits for a countersignature. */
export interface Inflight {
  readonly version: bigint;
  readonly ops: readonly Op[];
  readonly state: ChannelState;
  /** The leader's signature over `digest`. */
  readonly signature: Uint8Array;
  readonly digest: Uint8Array;
  /** Signing it raised the version lease: it may be sent only once the record is durable. */
  readonly leaseRaised: boolean;
  /** The operations it carries, with whoever waits for them. */
  readonly pending: readonly PendingOp[];
  /** performance.now() when it was prepared (for latency logs). */
  readonly preparedAt?: number;
}

export class Channel {
  record: ChannelRecord;
  latest: SignedState | undefined;
  /** Leader: the proposal in flight. */
  inflight: Inflight | undefined;
  /** Leader: operations waiting for the next proposal (ours and the follower's requests). */
  readonly queue: PendingOp[] = [];
  /** Leader: propose an update even with nothing queued, to supersede a burned version. */
  needsUpdate = false;
  /** Follower: our requested operations by id, until a co-signed state carries them. */
  readonly requested = new Map<bigint, PendingOp>();
  /** Follower: requests not yet sent (coalesced per tick). */
  readonly outbox: Op[] = [];
  /** The counterparty, once authenticated by the transport. */
  peer: PeerRef | undefined;
  /** Resolvers waiting for a status (open, closed, ...). */
  readonly statusWaiters: { status: ChannelRecord['status'][]; resolve(): void; reject(e: Error): void }[] = [];
  /** Closing: the hash of the transaction that settled or registered the channel. */
  settlementTx: Bytes32 | undefined;
  /** Disputed: when the registered state can be concluded (chain time, seconds). */
  finalizesAt: bigint | undefined;
  /** Disputed: we registered the current state, so we conclude first. */
  registeredByUs = false;
  /** Disputed: when (our clock, ms) we first saw the state concludable. */
  dueSince: number | undefined;
  /** Who submitted the settlement: the coordinator or this node. */
  settledVia: 'coordinator' | 'direct' | undefined;
  /** Disputed: when (our clock, ms) we asked the coordinator to conclude. */
  concludeRequestedAt: number | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  /** Set while a propose/flush cycle is scheduled or running (leader). */
  pumping = false;
  outboxScheduled = false;

  constructor(record: ChannelRecord, latest?: SignedState) {
    this.record = record;
    this.latest = latest;
  }

  get id(): Bytes32 {
    return this.record.id;
  }

  get self(): ParticipantIndex {
    return this.record.self;
  }

  get counterparty(): ParticipantIndex {
    return other(this.record.self);
  }

  get isLeader(): boolean {
    return this.record.self === 0;
  }

  get version(): bigint {
    return this.latest?.state.version ?? -1n;
  }

  /** The version the next proposal must carry: one above both the latest and any burned version. */
  get nextVersion(): bigint {
    const base = this.latest?.state.version ?? 0n;
    return (base > this.record.burnedVersion ? base : this.record.burnedVersion) + 1n;
  }

  /** Runs `step` after every earlier step of this channel has finished. */
  run<T>(step: () => Promise<T> | T): Promise<T> {
    const next = this.tail.then(() => {
      const later = turnBudget();
      return later === undefined ? step() : afterBudget(later, step);
    });
    this.tail = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
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

  waitForStatus(status: ChannelRecord['status'][], timeoutMs: number, onTimeout: () => Error): Promise<void> {
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
