/**
 * The Byzantine counterparty fuzzer's world (issue 13): one honest channel machine (either
 * role) run by a pure harness (test/helpers/machine-harness.ts), a counterparty that sends any
 * well-formed message it can sign with its own key, a small model of the adjudicator for this
 * one channel, and an oracle that checks after every step:
 *
 * 1. the honest side never released two different signatures at one version, across crashes;
 * 2. every state the counterparty can enforce against it gives it at least its entitlement:
 *    each of its own operations at most once and only as asked, each counterparty swap only as
 *    its policy accepted it, nothing told "failed" (unless `maybeApplied`), and at least its
 *    credited deposits less what it asked to pay;
 * 3. a caller told "succeeded" is in the durable co-signed state;
 * 4. after releasing a signature on a final state it signs nothing else;
 * 5. what the chain pays out is one of those enforceable states.
 *
 * "Enforceable" is what the adversary can get paid with the honest side watching the chain: any
 * final state the honest side signed (a cooperative close needs no dispute), the honest side's
 * latest co-signed state, and any state it signed with a higher version than that.
 */
import {
  NATIVE_ASSET,
  type Address,
  type Bytes32,
  type ChannelParams,
  type ChannelState,
  type Op,
  type SignedState,
} from '../../../src/core/index.ts';
import {
  applyUpdate,
  bytesToHex,
  channelId,
  creditedSurplus,
  equalBytes,
  initialState,
  locksRoot,
  keccak256,
  stateDigest,
  surpluses,
  totals,
} from '../../../src/core/index.ts';
import { type ChainFact, type Effect, type Machine, type Submission, isQuiet, restore, step } from '../../../src/core/channel/index.ts';
import { isDeepStrictEqual } from 'node:util';
import type { ChannelRecord } from '../../../src/core/channel/record.ts';
import type { Message } from '../../../src/core/codec/messages.ts';
import type { DepositFact } from '../../../src/core/ops.ts';
import { nativeBackend } from '../../../src/crypto/native-backend.ts';
import { nobleBackend } from '../../../src/core/index.ts';
import { type Actor, actor } from '../../helpers/actors.ts';
import { MachineHarness } from '../../helpers/machine-harness.ts';

const backend = nativeBackend() ?? nobleBackend;
const TOKEN = '0x00000000000000000000000000000000000000aa' as Address;
const hex = (b: Uint8Array) => bytesToHex(b);
const opKey = (op: Op) => `${op.by}:${op.id}`;

export class ProtocolViolation extends Error {
  override readonly name = 'ProtocolViolation';
}

interface SignedByHonest {
  readonly state: ChannelState;
  readonly digest: string;
  readonly signature: Uint8Array;
  /** Every operation applied since version 0 (undefined: version 0 itself). */
  readonly history: readonly Op[];
}

export interface WorldStats {
  steps: number;
  cosigned: number;
  refused: number;
  crashes: number;
  settled: number;
  /** Locks paid out after a conclusion. */
  unlocked: number;
  /** Secrets registered on-chain. */
  reveals: number;
  /** Ticks of a quiet machine, checked to do nothing (the node skips them). */
  quietTicks: number;
  /** Co-signed updates the honest side completed. */
  updates: number;
}

/** Every count at zero. */
export function emptyStats(): WorldStats {
  return { steps: 0, cosigned: 0, refused: 0, crashes: 0, settled: 0, unlocked: 0, reveals: 0, updates: 0, quietTicks: 0 };
}

export class ProtocolWorld {
  readonly role: 0 | 1;
  readonly honest: Actor;
  readonly adv: Actor;
  readonly params: ChannelParams;
  readonly id: Bytes32;
  h: MachineHarness;
  readonly log: string[] = [];
  readonly stats: WorldStats = emptyStats();
  // The honest side's signatures: everything it ever signed, by signature, and what left the node.
  private readonly bySignature = new Map<string, SignedByHonest>();
  private readonly byDigest = new Map<string, SignedByHonest>();
  private readonly released = new Map<string, SignedByHonest>();
  private readonly releasedAt = new Map<bigint, string>();
  private finalReleased: string | undefined;
  private sentSeen = 0;
  // The honest side's intentions.
  private readonly asked = new Map<string, Op>();
  private readonly callerOp = new Map<number, Op>();
  private readonly failedForCertain = new Set<string>();
  private readonly acceptedSwaps = new Set<bigint>();
  private nextCaller = 1;
  private nextOp: bigint;
  // The adversary's knowledge.
  readonly advSeen: Message[] = [];
  /** Every message the adversary sent (it may replay any). */
  readonly advSent: Message[] = [];
  /** Every state the honest side signed, with its signature: the adversary can countersign any. */
  readonly advPool: SignedByHonest[] = [];
  readonly secrets = new Map<Bytes32, Bytes32>();
  // The chain, for this channel.
  facts: DepositFact[] = [];
  registered: { version: bigint; finalizesAt: bigint; state: ChannelState } | undefined;
  /**
   * The honest side's latest co-signed version when the registration's deadline passed: what it
   * could have answered with. A state co-signed later cannot be registered any more.
   */
  latestAtDeadline: bigint | undefined;
  settledWith: ChannelState | undefined;
  settledSigned: SignedState | undefined;
  revealedAt = new Map<Bytes32, bigint>();
  /** The locks of the state the channel concluded with, and the slots unlocked (docs/adr/0010). */
  concludedLocks: { readonly state: ChannelState; readonly unlocked: Set<number> } | undefined;
  private pendingFacts: ChainFact[] = [];

  constructor(o: { role: 0 | 1; seed: number; shares: [bigint, bigint][]; duration: bigint }) {
    this.role = o.role;
    this.honest = actor(`proto-honest-${o.role}`);
    this.adv = actor(`proto-adversary-${o.role}`);
    const participants = (o.role === 0 ? [this.honest.address, this.adv.address] : [this.adv.address, this.honest.address]) as [
      Address,
      Address,
    ];
    this.params = {
      chainId: 31337n,
      adjudicator: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
      participants,
      assets: [NATIVE_ASSET, TOKEN],
      challengeDuration: o.duration,
      nonce: BigInt(o.seed),
    };
    this.id = channelId(this.params);
    this.nextOp = BigInt(o.seed) << 24n;
    // The channel starts funded and open, version 0 co-signed.
    const v0 = initialState(this.params, o.shares);
    const signatures = (o.role === 0 ? [this.honest, this.adv] : [this.adv, this.honest]).map((a) =>
      backend.sign(stateDigest(this.params, v0), a.privateKey),
    ) as [Uint8Array, Uint8Array];
    const holdings = [0n, 0n];
    for (const [a, row] of o.shares.entries()) {
      for (const p of [0, 1] as const) {
        if (row[p] === 0n) continue;
        holdings[a] = holdings[a]! + row[p];
        this.facts.push({ asset: a, participant: p, amount: row[p], holdingsAfter: holdings[a]! });
      }
    }
    const rec: ChannelRecord = {
      id: this.id,
      params: this.params,
      self: o.role,
      peer: { peerId: 'adversary', multiaddrs: [] },
      status: 'open',
      deposits: o.shares,
      depositFacts: [...this.facts], // a copy: the machine owns its record (the world appends to its own list)
      burnedVersion: 0n,
      versionLease: 0n,
      nextOpId: 0n,
      createdAt: 0,
    };
    const machine = restore(rec, { state: v0, signatures }, { selfKey: this.honestKey(), firstOpId: 1n << 40n });
    this.h = this.harness(machine);
    this.h.markDurable();
    const v0Entry: SignedByHonest = { state: v0, digest: hex(stateDigest(this.params, v0)), signature: signatures[o.role], history: [] };
    this.record(v0Entry);
    this.release(v0Entry);
    this.input({ kind: 'connected', peer: { peerId: 'adversary', publicKey: backend.publicKey(this.adv.privateKey, false) } });
  }

  honestKey(): Uint8Array {
    return backend.publicKey(this.honest.privateKey, false);
  }

  private harness(machine: Machine): MachineHarness {
    return new MachineHarness(machine, {
      backend,
      self: this.honest,
      refuseSwaps: (id) => (id % 3n === 0n ? 'this swap is not wanted' : undefined),
      onDecided: (ids) => {
        for (const id of ids) this.acceptedSwaps.add(id);
      },
      submit: (s) => this.chainSubmit(s),
      onEffect: (e, m) => this.observe(e, m),
    });
  }

  fail(why: string): never {
    throw new ProtocolViolation(`${why}\n  role ${this.role}; last steps:\n    ${this.log.slice(-25).join('\n    ')}`);
  }

  // -------------------------------------------------------------------------------------------
  // Watching the honest side

  /** White-box: record what each signature the honest side makes is over, and what it carries. */
  private observe(e: Effect, m: Machine): void {
    if (e.kind === 'sign') {
      const base = m.latest;
      const baseEntry = base ? this.byDigest.get(hex(stateDigest(this.params, base.state))) : undefined;
      let state: ChannelState | undefined;
      let ops: readonly Op[] = [];
      if (m.proposal?.stage === 'signing' && m.proposal.token === e.token) {
        state = m.proposal.state;
        ops = m.proposal.pending.map((p) => p.op);
      } else if (m.incoming?.stage === 'signing' && m.incoming.token === e.token) {
        state = m.incoming.state;
        ops = m.incoming.message.ops;
      } else if (m.openToken === e.token) {
        state = initialState(this.params, m.rec.deposits);
      }
      if (!state) this.fail(`a signature the oracle cannot place (token ${e.token})`);
      if (!equalBytes(stateDigest(this.params, state), e.digest)) this.fail('a signature over a digest that is not its state');
      // A lock of ours whose secret we know was registered in time is ours on-chain: never signed away.
      for (const op of ops) {
        if (op.kind !== 'cancel' || op.by === this.role || !base) continue;
        const l = base.state.locks.find((x) => x.id === op.lockId);
        const at = l ? m.rec.revealed?.find((r) => r.hashlock === l.hashlock)?.at : undefined;
        if (l && l.receiver === this.role && at !== undefined && at < l.expiry)
          this.fail(`signed the counterparty's cancel of lock ${l.id}, whose secret was registered before its expiry`);
      }
      // The history of what is signed: the base's, plus this update's operations.
      const history = state.version === 0n ? [] : [...(baseEntry?.history ?? this.fail('signing on a base of unknown history')), ...ops];
      const signature = backend.sign(e.digest, this.honest.privateKey);
      this.record({ state, digest: hex(e.digest), signature, history });
    } else if (e.kind === 'resolve') {
      const op = this.callerOp.get(e.caller);
      const durable = this.h.durable.latest;
      if (!op || !durable) return;
      const entry = this.byDigest.get(hex(stateDigest(this.params, durable.state)));
      if (!entry?.history.some((x) => opKey(x) === opKey(op))) {
        this.fail(
          `caller told ${op.kind} ${op.id} succeeded at ${e.version}, but the durable state (v${durable.state.version}) does not carry it`,
        );
      }
      if (!durable.signatures.every((s) => s.length === 65)) this.fail('a success reported on a state without both signatures');
    } else if (e.kind === 'updated') {
      this.stats.updates++;
    } else if (e.kind === 'fail') {
      const op = this.callerOp.get(e.caller);
      if (op && !e.failure.maybeApplied) this.failedForCertain.add(opKey(op));
    }
  }

  private record(entry: SignedByHonest): void {
    this.bySignature.set(hex(entry.signature), entry);
    this.byDigest.set(entry.digest, entry);
  }

  /** A signature left the node: check it against every other one that did. */
  private release(entry: SignedByHonest): void {
    if (this.released.has(entry.digest)) return;
    if (this.finalReleased !== undefined) this.fail(`signed v${entry.state.version} after releasing a final state`);
    const other = this.releasedAt.get(entry.state.version);
    if (other !== undefined && other !== entry.digest) this.fail(`two different states signed at version ${entry.state.version}`);
    this.released.set(entry.digest, entry);
    this.releasedAt.set(entry.state.version, entry.digest);
    if (entry.state.isFinal) this.finalReleased = entry.digest;
    this.advPool.push(entry);
  }

  /** Messages the honest side sent since the last look: their signatures are now out. */
  private scanSent(): void {
    const sent = this.h.sent;
    for (; this.sentSeen < sent.length; this.sentSeen++) {
      const msg = sent[this.sentSeen]!;
      this.advSeen.push(msg);
      const sig =
        msg.type === 'propose' || msg.type === 'countersign' || msg.type === 'open-accept' || msg.type === 'open'
          ? msg.signature
          : undefined;
      if (msg.type === 'countersign') this.stats.cosigned++;
      if (msg.type === 'reject' && msg.version !== undefined) this.stats.refused++;
      if (!sig) {
        if (msg.type === 'state') this.checkOwnSignatureKnown(msg.signatures[this.role]);
        continue;
      }
      const entry = this.bySignature.get(hex(sig));
      if (!entry) this.fail(`${msg.type} carries a signature the honest side never made`);
      this.release(entry);
    }
  }

  private checkOwnSignatureKnown(sig: Uint8Array): void {
    const e = this.bySignature.get(hex(sig));
    if (e) this.release(e);
  }

  // -------------------------------------------------------------------------------------------
  // Driving the honest side

  input(i: Parameters<MachineHarness['input']>[0]): void {
    this.h.input(i);
    this.afterStep();
  }

  settle(max = Infinity): void {
    this.h.settle(max);
    this.afterStep();
  }

  private afterStep(): void {
    this.scanSent();
    // Chain facts caused by the honest side's own submissions reach it next.
    while (this.pendingFacts.length > 0) {
      const fact = this.pendingFacts.shift()!;
      this.h.input({ kind: 'chain', fact });
      this.scanSent();
    }
  }

  /** One of our own operations, as a local caller asks for it. */
  ownOp(op: Op): void {
    const id = (this.nextOp++ << 1n) | BigInt(this.role);
    let full = { ...op, id, by: this.role } as Op;
    if (full.kind === 'lock') full = { ...full, lock: { ...full.lock, id, sender: this.role, receiver: this.role === 0 ? 1 : 0 } };
    const caller = this.nextCaller++;
    this.asked.set(opKey(full), full);
    this.callerOp.set(caller, full);
    this.input({ kind: 'ops', ops: [{ op: full, caller }] });
  }

  close(force: boolean): void {
    this.input({ kind: force ? 'force-close' : 'close', caller: this.nextCaller++ });
  }

  /**
   * A crash of the honest side at this point: what was not flushed is lost. Then, as the node
   * does on start, the chain watcher replays the facts past its durable position (here: all of
   * them; each is idempotent) and the counterparty reconnects.
   */
  crash(): void {
    this.stats.crashes++;
    this.h.crash(BigInt(this.stats.crashes + 1) << 40n);
    this.sentSeen = this.h.sent.length;
    for (const deposit of this.facts) this.h.input({ kind: 'chain', fact: { kind: 'deposited', deposit } });
    const r = this.registered;
    if (r) {
      const entry = this.byDigest.get(hex(stateDigest(this.params, r.state)));
      this.h.input({
        kind: 'chain',
        fact: {
          kind: 'challenged',
          version: r.version,
          finalizesAt: r.finalizesAt,
          transactionHash: `0x${'11'.repeat(32)}`,
          ...(entry ? { signed: this.cosign(entry) } : {}),
        },
      });
    }
    if (this.settledWith) {
      this.h.input({
        kind: 'chain',
        fact: {
          kind: 'settled',
          how: 'concluded',
          version: this.settledWith.version,
          transactionHash: `0x${'22'.repeat(32)}`,
          ...(this.settledSigned ? { signed: this.settledSigned } : {}),
        },
      });
    }
    this.input({ kind: 'connected', peer: { peerId: 'adversary', publicKey: backend.publicKey(this.adv.privateKey, false) } });
  }

  /**
   * Time passes. The honest side is online (the watchtower assumption): it gets a tick at least
   * every minute of it, with its completions run between, so it can answer within a deadline.
   */
  tick(seconds: number): void {
    // What arrived before the time passes is handled before it passes.
    this.settle();
    for (let left = seconds; left > 0; left -= 60) {
      const s = left > 60 ? 60 : left;
      const r = this.registered;
      if (r && this.latestAtDeadline === undefined && (this.h.now.chainTime ?? 0n) + BigInt(s) >= r.finalizesAt) {
        this.latestAtDeadline = this.h.durable.latest?.state.version ?? -1n;
      }
      this.h.now = { ms: this.h.now.ms + s * 1000, chainTime: (this.h.now.chainTime ?? 0n) + BigInt(s) };
      this.checkQuiet();
      this.input({ kind: 'tick', operationTimeoutMs: 30_000 });
      if (left > 60) this.settle();
    }
  }

  /** The node skips the ticks of quiet machines: a quiet machine's tick must do nothing at all. */
  private checkQuiet(): void {
    const m = this.h.m;
    if (!isQuiet(m)) return;
    this.stats.quietTicks++;
    const copy = structuredClone(m);
    const fx = step(copy, { kind: 'tick', operationTimeoutMs: 30_000 }, this.h.now);
    if (fx.length > 0) throw new ProtocolViolation(`a quiet machine's tick had effects: ${fx.map((e) => e.kind).join(', ')}`);
    if (!isDeepStrictEqual(copy, m)) throw new ProtocolViolation("a quiet machine's tick changed it");
  }

  // -------------------------------------------------------------------------------------------
  // The chain (this channel only)

  holdings(): bigint[] {
    const h = [0n, 0n];
    for (const f of this.facts) h[f.asset] = h[f.asset]! + f.amount;
    return h;
  }

  deposit(asset: number, participant: 0 | 1, amount: bigint): void {
    if (this.settledWith || amount <= 0n) return;
    const after = this.holdings()[asset]! + amount;
    const d = { asset, participant, amount, holdingsAfter: after };
    this.facts.push(d);
    this.input({ kind: 'chain', fact: { kind: 'deposited', deposit: d } });
  }

  private chainSubmit(s: Submission): { ok: boolean; reason?: string } {
    const now = this.h.now.chainTime ?? 0n;
    switch (s.kind) {
      case 'deposit':
        return { ok: true };
      case 'close':
        return this.chainClose(s.signed) ? { ok: true } : { ok: false, reason: this.settledWith ? 'channel-closed' : 'invalid' };
      case 'dispute':
        return this.chainRegister(s.signed, now);
      case 'conclude':
        return this.chainConclude(s.state, now) ? { ok: true } : { ok: false, reason: 'challenge-pending' };
      case 'unlock':
        return this.chainUnlock(s.state, s.indexes, now);
    }
  }

  /** `unlockBatch`: each slot of the concluded state's locks once, once its outcome is fixed. */
  private chainUnlock(state: ChannelState, indexes: readonly number[], now: bigint): { ok: boolean; reason?: string } {
    const c = this.concludedLocks;
    if (!c || hex(stateDigest(this.params, state)) !== hex(stateDigest(this.params, c.state))) return { ok: true }; // every item: unknown-lock
    for (const i of indexes) {
      const l = c.state.locks[i];
      if (!l || c.unlocked.has(i)) continue;
      const at = this.revealedAt.get(l.hashlock);
      if (!(at !== undefined && at < l.expiry) && now < l.expiry) continue; // locks-pending
      c.unlocked.add(i);
      this.stats.unlocked++;
      this.pendingFacts.push({ kind: 'unlocked', index: i });
    }
    return { ok: true };
  }

  private valid(signed: SignedState): boolean {
    const digest = stateDigest(this.params, signed.state);
    const keys = this.role === 0 ? [this.honestKey(), this.advKey()] : [this.advKey(), this.honestKey()];
    return signed.signatures.every((sig, i) => backend.verify(sig, digest, keys[i]!));
  }

  advKey(): Uint8Array {
    return backend.publicKey(this.adv.privateKey, false);
  }

  chainClose(signed: SignedState): boolean {
    if (this.settledWith || !signed.state.isFinal || !this.valid(signed)) return false;
    const t = totals(signed.state);
    if (t.some((x, i) => x > this.holdings()[i]!)) return false;
    this.settle_(signed.state, 'closed', signed);
    return true;
  }

  chainRegister(signed: SignedState, now: bigint): { ok: boolean; reason?: string } {
    if (this.settledWith) return { ok: false, reason: 'channel-closed' };
    if (!this.valid(signed)) return { ok: false, reason: 'wrong-signer' };
    const r = this.registered;
    if (r && now >= r.finalizesAt) return { ok: false, reason: 'challenge-expired' };
    if (r && signed.state.version <= r.version) return { ok: false, reason: 'stale-version' };
    const finalizesAt = r ? r.finalizesAt : now + this.params.challengeDuration;
    this.registered = { version: signed.state.version, finalizesAt, state: signed.state };
    this.pendingFacts.push({
      kind: 'challenged',
      version: signed.state.version,
      finalizesAt,
      transactionHash: `0x${'11'.repeat(32)}`,
      // The chain has the locks by root only (docs/adr/0010).
      registered: {
        state: {
          channelId: signed.state.channelId,
          version: signed.state.version,
          balances: signed.state.balances,
          locksRoot: locksRoot(signed.state.locks),
          isFinal: signed.state.isFinal,
        },
        signatures: signed.signatures,
      },
    });
    return { ok: true };
  }

  chainConclude(state: ChannelState, now: bigint): boolean {
    const r = this.registered;
    if (this.settledWith || !r || now < r.finalizesAt) return false;
    if (hex(stateDigest(this.params, { ...state, version: r.version })) !== hex(stateDigest(this.params, r.state))) return false;
    // The balances are paid; the locks stay, each unlocked once its outcome is fixed.
    this.settle_(r.state, 'concluded');
    if (r.state.locks.length > 0) this.concludedLocks = { state: r.state, unlocked: new Set() };
    return true;
  }

  private settle_(state: ChannelState, how: 'closed' | 'concluded', signed?: SignedState): void {
    this.checkEnforceable(state, `the chain paid out ${how} v${state.version}`);
    this.settledWith = state;
    this.settledSigned = signed;
    this.stats.settled++;
    this.pendingFacts.push({
      kind: 'settled',
      how,
      version: state.version,
      transactionHash: `0x${'22'.repeat(32)}`,
      ...(signed ? { signed } : {}),
    });
  }

  /** Someone registers on-chain the secret of a lock in the honest side's latest state. */
  chainReveal(pick: number): void {
    const locks = (this.h.m.latest?.state.locks ?? []).filter((l) => this.secrets.has(l.hashlock) && !this.revealedAt.has(l.hashlock));
    const l = locks[pick % Math.max(1, locks.length)];
    if (!l) return;
    const at = this.h.now.chainTime ?? 0n;
    this.revealedAt.set(l.hashlock, at);
    this.stats.reveals++;
    this.input({ kind: 'chain', fact: { kind: 'secret-revealed', hashlock: l.hashlock, secret: this.secrets.get(l.hashlock)!, at } });
  }

  /** The adversary registers, closes with, or concludes states through the chain. */
  advRegister(entry: SignedByHonest): void {
    const signed = this.cosign(entry);
    this.chainRegister(signed, this.h.now.chainTime ?? 0n);
    this.afterStep();
  }

  advClose(entry: SignedByHonest): void {
    this.chainClose(this.cosign(entry));
    this.afterStep();
  }

  advConclude(): void {
    if (this.registered) this.chainConclude(this.registered.state, this.h.now.chainTime ?? 0n);
    this.afterStep();
  }

  /** A state the honest side signed, countersigned by the adversary. */
  cosign(entry: SignedByHonest): SignedState {
    const mine = backend.sign(stateDigest(this.params, entry.state), this.adv.privateKey);
    return {
      state: entry.state,
      signatures: (this.role === 0 ? [entry.signature, mine] : [mine, entry.signature]) as [Uint8Array, Uint8Array],
    };
  }

  advSign(state: ChannelState): Uint8Array {
    return backend.sign(stateDigest(this.params, state), this.adv.privateKey);
  }

  // -------------------------------------------------------------------------------------------
  // The oracle

  /** States the adversary can be paid with, the honest side watching the chain. */
  enforceable(): SignedByHonest[] {
    const latest = this.h.durable.latest;
    const lv = latest?.state.version ?? -1n;
    const out: SignedByHonest[] = [];
    for (const e of this.released.values()) if (e.state.isFinal || e.state.version > lv) out.push(e);
    const le = latest ? this.byDigest.get(hex(stateDigest(this.params, latest.state))) : undefined;
    if (le) out.push(le);
    return out;
  }

  check(): void {
    // Once the chain paid the channel out, that state is the only outcome left (checked when it happened).
    if (this.settledWith) return;
    for (const e of this.enforceable()) this.checkEntry(e, `enforceable v${e.state.version}`);
  }

  private checkEnforceable(state: ChannelState, what: string): void {
    const digest = hex(stateDigest(this.params, state));
    const entry = this.byDigest.get(digest);
    if (!entry) this.fail(`${what}: a state the honest side never signed`);
    const lv = this.latestAtDeadline ?? this.h.durable.latest?.state.version ?? -1n;
    if (!state.isFinal && state.version < lv) {
      // A stale registered state concluded: the honest side should have answered it in time.
      this.fail(`${what}: older than the honest side's latest co-signed state (v${lv})`);
    }
    this.checkEntry(entry, what);
  }

  private checkEntry(e: SignedByHonest, what: string): void {
    const own = new Set<string>();
    for (const op of e.history) {
      const k = opKey(op);
      if (op.by === this.role) {
        if (own.has(k)) this.fail(`${what}: our operation ${op.id} applied twice`);
        own.add(k);
        const asked = this.asked.get(k);
        const internal = op.kind === 'finalize' || op.kind === 'deposit';
        if (!asked && !internal) this.fail(`${what}: an operation of ours we never asked for (${op.kind} ${op.id})`);
        if (asked && JSON.stringify(asked, big) !== JSON.stringify(op, big)) this.fail(`${what}: our ${op.kind} ${op.id} altered`);
        if (this.failedForCertain.has(k)) this.fail(`${what}: carries ${op.kind} ${op.id}, whose caller was told it failed`);
      } else if (op.kind === 'swap' && !this.acceptedSwaps.has(op.id)) {
        this.fail(`${what}: a swap of the counterparty our policy never accepted (${op.id})`);
      }
    }
    // Defence in depth, history-free: at least our credited deposits less what we asked to pay.
    const t = totals(e.state);
    const credited = creditedSurplus(
      this.params.assets.map((_, a) => this.h.m.rec.deposits[a]!),
      t,
    );
    for (let a = 0; a < this.params.assets.length; a++) {
      const share = this.h.m.rec.deposits[a]![this.role];
      const ours = surpluses(this.facts, this.h.m.rec.deposits, a)
        .filter((s) => s.start < credited[a]! && s.participant === this.role)
        .reduce((x, s) => x + (s.start + s.amount <= credited[a]! ? s.amount : credited[a]! - s.start), 0n);
      let out = 0n;
      for (const op of this.asked.values()) {
        if (this.failedForCertain.has(opKey(op))) continue;
        if (op.kind === 'pay' && op.asset === a) out += op.amount;
        if (op.kind === 'swap' && op.giveAsset === a) out += op.giveAmount;
        if (op.kind === 'lock' && op.lock.asset === a) out += op.lock.amount;
      }
      for (const op of e.history) if (op.kind === 'swap' && op.by !== this.role && op.takeAsset === a) out += op.takeAmount;
      const floor = share + ours - out;
      const have = e.state.balances[a]![this.role];
      if (have < floor) this.fail(`${what}: holds ${have} of asset ${a}, entitled to at least ${floor}`);
    }
  }

  latestEntry(): SignedByHonest | undefined {
    const l = this.h.m.latest;
    return l ? this.byDigest.get(hex(stateDigest(this.params, l.state))) : undefined;
  }

  /** A state one update beyond the honest side's latest, by the given operations (if they apply). */
  after(ops: readonly Op[], version: bigint): ChannelState | undefined {
    const l = this.h.m.latest;
    if (!l) return undefined;
    const r = applyUpdate(this.params, l.state, ops, {
      now: BigInt(Math.floor(this.h.now.ms / 1000)),
      deposits: this.facts,
      shares: this.h.m.rec.deposits,
    });
    return r.ok ? { ...r.value, version } : undefined;
  }

  secret(seed: number): { secret: Bytes32; hashlock: Bytes32 } {
    const secret = hex(keccak256(new TextEncoder().encode(`proto-secret-${seed}`))) as Bytes32;
    const hashlock = hex(keccak256(new Uint8Array(Buffer.from(secret.slice(2), 'hex')))) as Bytes32;
    this.secrets.set(hashlock, secret);
    return { secret, hashlock };
  }
}

function big(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `${v}n` : v;
}

export const ASSET_TOKEN = TOKEN;
