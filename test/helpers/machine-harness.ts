/**
 * A channel machine driven by hand, with a pure executor: signatures and verifications are real
 * (a fast backend), flushes make the pending writes durable, submissions and policy decisions
 * answer as the test says. Completions queue up and run when the test calls `settle()`, so a
 * test (or the Byzantine fuzzer) can interleave inputs, completions and crashes in any order.
 */
import type { CallerId, Effect, Failure, Input, Machine, Now, Submission, SubmissionResult } from '../../src/core/channel/index.ts';
import { restore, step } from '../../src/core/channel/index.ts';
import type { ChannelRecord } from '../../src/core/channel/record.ts';
import type { Message } from '../../src/core/codec/messages.ts';
import type { SignatureBackend } from '../../src/core/crypto.ts';
import type { SignedState } from '../../src/core/validate.ts';
import type { Actor } from './actors.ts';

export interface Durable {
  record: ChannelRecord | undefined;
  latest: SignedState | undefined;
}

export type Outcome = { readonly ok: true; readonly version: bigint } | { readonly ok: false; readonly failure: Failure };

export interface HarnessOptions {
  readonly backend: SignatureBackend;
  readonly self: Actor;
  /** Our swap policy: which swaps (by id) it refuses. */
  readonly refuseSwaps?: (id: bigint) => string | undefined;
  /** How a submission ends (default: ok). */
  readonly submit?: (s: Submission) => SubmissionResult;
  /** Called with each effect before it is executed, and the machine that returned it (a test's oracle looks inside). */
  readonly onEffect?: (e: Effect, m: Machine) => void;
  /** Which swaps the policy accepted (for the oracle). */
  readonly onDecided?: (accepted: readonly bigint[]) => void;
}

export class MachineHarness {
  m: Machine;
  readonly durable: Durable = { record: undefined, latest: undefined };
  /** Writes issued and not yet flushed. */
  private pendingWrites: (() => void)[] = [];
  /** Completions waiting to run; a flush's writes become durable just before its completion runs. */
  private completions: { input: Input; durable?: (() => void)[] }[] = [];
  /** Every message the machine sent, in order. */
  readonly sent: Message[] = [];
  /** Every effect, in order (for checks of effect order). */
  readonly effects: Effect[] = [];
  readonly outcomes = new Map<CallerId, Outcome>();
  readonly submissions: Submission[] = [];
  /** Every signature the machine asked for, by digest hex: what it ever signed. */
  readonly signed: { digest: Uint8Array; signature: Uint8Array }[] = [];
  now: Now = { ms: 1_700_000_000_000, chainTime: 1_700_000_000n };
  private readonly o: HarnessOptions;

  constructor(machine: Machine, o: HarnessOptions) {
    this.m = machine;
    this.o = o;
  }

  /** Takes what the machine holds now as durable (a channel that starts on disk). */
  markDurable(): void {
    this.durable.record = this.m.rec;
    this.durable.latest = this.m.latest;
  }

  /** How many completions wait. */
  get waiting(): number {
    return this.completions.length;
  }

  /** Runs one input and executes its effects; completions wait for `settle`. */
  input(input: Input): Effect[] {
    const fx = step(this.m, input, this.now);
    for (const e of fx) this.execute(e);
    return fx;
  }

  /** Runs queued completions (and those they cause) until none are left, or `max` of them. */
  settle(max = Infinity): void {
    let n = 0;
    while (this.completions.length > 0 && n++ < max) {
      const c = this.completions.shift()!;
      for (const w of c.durable ?? []) w();
      this.input(c.input);
    }
  }

  /** A crash: everything not flushed is lost, and the machine restarts from what is durable. */
  crash(firstOpId = 1n << 40n): void {
    this.pendingWrites = [];
    this.completions = [];
    if (!this.durable.record) throw new Error('nothing durable to restart from');
    this.m = restore(this.durable.record, this.durable.latest, { selfKey: this.m.selfKey, firstOpId });
  }

  private execute(e: Effect): void {
    this.o.onEffect?.(e, this.m);
    if (this.effects.length < 10_000) this.effects.push(e);
    switch (e.kind) {
      case 'persist-record': {
        const rec = e.record;
        this.pendingWrites.push(() => (this.durable.record = rec));
        return;
      }
      case 'persist-state': {
        const s = e.signed;
        this.pendingWrites.push(() => (this.durable.latest = s));
        return;
      }
      case 'flush': {
        // Durable when the flush completes, not before: a crash in between loses these writes.
        this.completions.push({ input: { kind: 'flushed', token: e.token }, durable: this.pendingWrites });
        this.pendingWrites = [];
        return;
      }
      case 'send':
        this.sent.push(e.message);
        return;
      case 'sign': {
        const signature = this.o.backend.sign(e.digest, this.o.self.privateKey);
        if (this.signed.length < 10_000) this.signed.push({ digest: e.digest, signature });
        this.completions.push({ input: { kind: 'signed', token: e.token, signature } });
        return;
      }
      case 'verify': {
        const ok = e.checks.every((c) => this.o.backend.verify(c.signature, c.digest, c.publicKey));
        this.completions.push({ input: { kind: 'verified', token: e.token, ok } });
        return;
      }
      case 'decide-swaps': {
        const refused = e.swaps.flatMap((op) => {
          const reason = this.o.refuseSwaps?.(op.id);
          return reason === undefined ? [] : [{ id: op.id, reason }];
        });
        const no = new Set(refused.map((r) => r.id));
        this.o.onDecided?.(e.swaps.filter((op) => !no.has(op.id)).map((op) => op.id));
        this.completions.push({ input: { kind: 'decided', token: e.token, refused } });
        return;
      }
      case 'submit':
        this.submissions.push(e.submission);
        this.completions.push({ input: { kind: 'submitted', token: e.token, result: this.o.submit?.(e.submission) ?? { ok: true } } });
        return;
      case 'check-funding':
        this.completions.push({ input: { kind: 'chain', fact: { kind: 'deposits-refreshed' } } });
        return;
      case 'resolve':
        if (!this.outcomes.has(e.caller)) this.outcomes.set(e.caller, { ok: true, version: e.version });
        return;
      case 'fail':
        if (!this.outcomes.has(e.caller)) this.outcomes.set(e.caller, { ok: false, failure: e.failure });
        return;
      default:
        return;
    }
  }
}
