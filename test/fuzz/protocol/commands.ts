/**
 * What the Byzantine counterparty fuzzer generates (fast-check commands) and how each step runs
 * against the honest machine (world.ts). The counterparty sends any well-formed message it can
 * sign with its own key: replays and duplicates, refusals naming anything, final states,
 * catch-up states at any version, requests and proposals for anything; interleaved with our own
 * payments, swaps, locks and closes, chain facts (deposits by anyone, registrations and closes
 * by the counterparty), disconnects, time, the completions of our signatures, verifications and
 * flushes in any grouping, and crashes at every boundary between them.
 */
import fc from 'fast-check';
import type { Message, Op } from '../../../src/core/index.ts';
import { ProtocolWorld, type WorldStats, emptyStats } from './world.ts';

const ETH = 10n ** 18n;
const amount = fc.oneof(
  { arbitrary: fc.bigInt({ min: 1n, max: 3n * ETH }), weight: 6 },
  { arbitrary: fc.constantFrom(0n, 1n, 100n * ETH, 2n ** 255n), weight: 1 },
);

type OpSpec =
  | { k: 'pay'; asset: number; amount: bigint }
  | { k: 'swap'; give: number; giveAmount: bigint; takeAmount: bigint; expiresIn: number }
  | { k: 'lock'; asset: number; amount: bigint; seed: number; expiresIn: number }
  | { k: 'settle'; pick: number; seed: number }
  | { k: 'cancel'; pick: number }
  | { k: 'deposit'; pick: number }
  | { k: 'finalize' };

const opSpec: fc.Arbitrary<OpSpec> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('pay' as const), asset: fc.nat(1), amount }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('swap' as const),
      give: fc.nat(1),
      giveAmount: amount,
      takeAmount: amount,
      expiresIn: fc.integer({ min: -10, max: 120 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('lock' as const),
      asset: fc.nat(1),
      amount,
      seed: fc.nat(20),
      expiresIn: fc.integer({ min: -5, max: 900 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('settle' as const), pick: fc.nat(10), seed: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('cancel' as const), pick: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('deposit' as const), pick: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'finalize' as const }) },
);

/** The counterparty's own operations in a message, or ones it attributes to us. */
type OpRef = { mine: true; spec: OpSpec; id: number } | { mine: false; pick: number; alter: boolean; repeat: number };
const opRef: fc.Arbitrary<OpRef> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ mine: fc.constant(true), spec: opSpec, id: fc.nat(1_000_000) }) },
  // One of ours that it saw (in our request) or invents, possibly repeated or altered.
  { weight: 2, arbitrary: fc.record({ mine: fc.constant(false), pick: fc.nat(30), alter: fc.boolean(), repeat: fc.nat(2) }) },
);

type AdvSpec =
  | { m: 'propose'; versionOffset: number; ops: OpRef[]; sign: 'valid' | 'other-state' | 'not-ours' }
  | { m: 'countersign'; pick: number; valid: boolean }
  | { m: 'reject'; pick: number; ops: 'none' | 'some' | 'bogus' | 'requests'; reason: 'policy' | 'stale-version' | 'closed' | 'malformed' }
  | { m: 'request'; ops: OpRef[] }
  | { m: 'state'; pick: number; forge: boolean }
  | { m: 'sync'; offset: number }
  | { m: 'replay'; pick: number }
  | { m: 'close'; id: number }
  /** What an honest counterparty would do next: countersign our latest proposal, or propose our requests. */
  | { m: 'cooperate'; extra: OpSpec | undefined };

const advSpec: fc.Arbitrary<AdvSpec> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      m: fc.constant('propose' as const),
      versionOffset: fc.oneof({ arbitrary: fc.constant(0), weight: 8 }, { arbitrary: fc.integer({ min: -2, max: 3 }), weight: 2 }),
      ops: fc.array(opRef, { maxLength: 4 }),
      sign: fc.oneof(
        { arbitrary: fc.constant('valid' as const), weight: 8 },
        { arbitrary: fc.constantFrom('other-state' as const, 'not-ours' as const), weight: 1 },
      ),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      m: fc.constant('countersign' as const),
      pick: fc.nat(20),
      valid: fc.oneof({ arbitrary: fc.constant(true), weight: 6 }, { arbitrary: fc.constant(false), weight: 1 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      m: fc.constant('reject' as const),
      pick: fc.nat(20),
      ops: fc.constantFrom('none' as const, 'some' as const, 'bogus' as const, 'requests' as const),
      reason: fc.constantFrom('policy' as const, 'stale-version' as const, 'closed' as const, 'malformed' as const),
    }),
  },
  { weight: 5, arbitrary: fc.record({ m: fc.constant('request' as const), ops: fc.array(opRef, { minLength: 1, maxLength: 3 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      m: fc.constant('state' as const),
      pick: fc.nat(40),
      forge: fc.oneof({ arbitrary: fc.constant(false), weight: 5 }, { arbitrary: fc.constant(true), weight: 1 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ m: fc.constant('sync' as const), offset: fc.integer({ min: -3, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('replay' as const), pick: fc.nat(60) }) },
  { weight: 1, arbitrary: fc.record({ m: fc.constant('close' as const), id: fc.nat(1000) }) },
  { weight: 12, arbitrary: fc.record({ m: fc.constant('cooperate' as const), extra: fc.option(opSpec, { nil: undefined }) }) },
);

export type Step =
  | { t: 'own'; spec: OpSpec }
  | { t: 'close'; force: boolean }
  | { t: 'complete'; n: number }
  | { t: 'crash' }
  | { t: 'link'; up: boolean }
  /** The shell says learned secrets are no longer needed: `pick` chooses which (all, one, or one unknown). */
  | { t: 'forget'; pick: number }
  | { t: 'tick'; seconds: number }
  | { t: 'deposit'; asset: number; participant: 0 | 1; amount: bigint }
  | { t: 'chain'; what: 'register' | 'close' | 'conclude' | 'reveal'; pick: number }
  | { t: 'adv'; spec: AdvSpec };

export const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('own' as const), spec: opSpec }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('close' as const), force: fc.boolean() }) },
  {
    weight: 12,
    arbitrary: fc.record({ t: fc.constant('complete' as const), n: fc.oneof(fc.constant(1000), fc.integer({ min: 1, max: 4 })) }),
  },
  { weight: 2, arbitrary: fc.constant({ t: 'crash' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('link' as const), up: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('forget' as const), pick: fc.nat(8) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('tick' as const),
      seconds: fc.oneof(
        { arbitrary: fc.integer({ min: 1, max: 5 }), weight: 6 },
        { arbitrary: fc.integer({ min: 30, max: 1200 }), weight: 2 },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('deposit' as const),
      asset: fc.nat(1),
      participant: fc.constantFrom(0 as const, 1 as const),
      amount: fc.bigInt({ min: 1n, max: 2n * ETH }),
    }),
  },
  // Registrations end a channel's off-chain life: rare, so most sequences get far first.
  { weight: 1, arbitrary: fc.record({ t: fc.constant('chain' as const), what: fc.constant('register' as const), pick: fc.nat(40) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('chain' as const),
      what: fc.constantFrom('close' as const, 'conclude' as const),
      pick: fc.nat(40),
    }),
  },
  // A secret registered on-chain (by the payee, a hop, a watchtower): locks it opens are the receiver's.
  { weight: 6, arbitrary: fc.record({ t: fc.constant('chain' as const), what: fc.constant('reveal' as const), pick: fc.nat(10) }) },
  { weight: 20, arbitrary: fc.record({ t: fc.constant('adv' as const), spec: advSpec }) },
);

// ---------------------------------------------------------------------------------------------
// Running a step

function nowS(w: ProtocolWorld): bigint {
  return BigInt(Math.floor(w.h.now.ms / 1000));
}

/** An operation from a spec, as `by` would ask for it. */
function opOf(w: ProtocolWorld, spec: OpSpec, by: 0 | 1, id: bigint): Op | undefined {
  const locks = w.h.m.latest?.state.locks ?? [];
  switch (spec.k) {
    case 'pay':
      return { kind: 'pay', id, by, asset: spec.asset, amount: spec.amount };
    case 'swap':
      return {
        kind: 'swap',
        id,
        by,
        giveAsset: spec.give,
        giveAmount: spec.giveAmount,
        takeAsset: 1 - spec.give,
        takeAmount: spec.takeAmount,
        expiry: nowS(w) + BigInt(spec.expiresIn),
      };
    case 'lock': {
      const { hashlock } = w.secret(spec.seed);
      const expiry = nowS(w) + BigInt(spec.expiresIn);
      return {
        kind: 'lock',
        id,
        by,
        lock: {
          id,
          asset: spec.asset,
          amount: spec.amount,
          sender: by,
          receiver: by === 0 ? 1 : 0,
          hashlock,
          expiry: expiry < 0n ? 0n : expiry,
        },
      };
    }
    case 'settle': {
      const l = locks[spec.pick % Math.max(1, locks.length)];
      if (!l) return undefined;
      return { kind: 'settle', id, by, lockId: l.id, secret: w.secrets.get(l.hashlock) ?? w.secret(spec.seed).secret };
    }
    case 'cancel': {
      const l = locks[spec.pick % Math.max(1, locks.length)];
      return l ? { kind: 'cancel', id, by, lockId: l.id } : undefined;
    }
    case 'deposit': {
      const f = w.facts[spec.pick % Math.max(1, w.facts.length)];
      return f ? { kind: 'deposit', id, by, asset: f.asset, amount: f.amount, holdingsAfter: f.holdingsAfter } : undefined;
    }
    case 'finalize':
      return { kind: 'finalize', id, by };
  }
}

const advBy = (w: ProtocolWorld): 0 | 1 => (w.role === 0 ? 1 : 0);

/** The operations of an adversary message: its own, or ours (seen in our requests), altered or repeated. */
function advOps(w: ProtocolWorld, refs: readonly OpRef[]): Op[] {
  const out: Op[] = [];
  const ours = w.advSeen.flatMap((m) => (m.type === 'request' ? m.ops : []));
  for (const r of refs) {
    if (r.mine) {
      const op = opOf(w, r.spec, advBy(w), (BigInt(r.id) << 1n) | BigInt(advBy(w)));
      if (op) out.push(op);
      continue;
    }
    const seen = ours[r.pick % Math.max(1, ours.length)];
    if (!seen) continue;
    const op = r.alter && seen.kind === 'pay' ? { ...seen, amount: seen.amount + 1n } : seen;
    for (let i = 0; i <= r.repeat; i++) out.push(op);
  }
  return out;
}

function advMessage(w: ProtocolWorld, s: AdvSpec): Message | undefined {
  const latest = w.h.m.latest;
  if (!latest) return undefined;
  const id = w.id;
  const proposals = w.advSeen.filter((m): m is Extract<Message, { type: 'propose' }> => m.type === 'propose');
  switch (s.m) {
    case 'propose': {
      if (w.role === 0) return undefined; // only a leader proposes
      const ops = advOps(w, s.ops);
      const expected = (latest.state.version > w.h.m.refusedVersion ? latest.state.version : w.h.m.refusedVersion) + 1n;
      const version = expected + BigInt(s.versionOffset) < 0n ? 0n : expected + BigInt(s.versionOffset);
      const state = w.after(ops, version);
      const signature =
        s.sign === 'valid' && state
          ? w.advSign(state)
          : s.sign === 'other-state' || !state
            ? w.advSign({ ...latest.state, version })
            : new Uint8Array(65).fill(1);
      return { type: 'propose', channelId: id, version, ops, signature };
    }
    case 'countersign': {
      if (w.role === 1) return undefined; // only a follower countersigns
      const p = proposals[proposals.length - 1 - (s.pick % Math.max(1, Math.min(3, proposals.length)))];
      if (!p) return undefined;
      const entry = w.advPool.find((e) => e.state.version === p.version && e.signature.every((b, i) => b === p.signature[i]));
      const sig = s.valid && entry ? w.advSign(entry.state) : w.advSign({ ...latest.state, version: p.version });
      return { type: 'countersign', channelId: id, version: p.version, signature: sig };
    }
    case 'reject': {
      if (w.role === 0) {
        const p = proposals[proposals.length - 1 - (s.pick % Math.max(1, Math.min(3, proposals.length)))];
        if (!p) return undefined;
        const ops =
          s.ops === 'none'
            ? undefined
            : s.ops === 'bogus'
              ? [999_999_999n]
              : s.ops === 'some'
                ? p.ops.slice(0, 1).map((o) => o.id)
                : p.ops.map((o) => o.id);
        return { type: 'reject', channelId: id, version: p.version, ...(ops ? { ops } : {}), reason: s.reason, detail: 'adversary' };
      }
      // Refusing our requests (as leader), naming any of them.
      const reqs = w.advSeen.flatMap((m) => (m.type === 'request' ? m.ops : []));
      const picked = reqs.slice(s.pick % Math.max(1, reqs.length), (s.pick % Math.max(1, reqs.length)) + 2);
      if (picked.length === 0) return undefined;
      return { type: 'reject', channelId: id, ops: picked.map((o) => o.id), reason: s.reason, detail: 'adversary' };
    }
    case 'request': {
      if (w.role === 1) return undefined; // only a follower requests
      return { type: 'request', channelId: id, ops: advOps(w, s.ops) };
    }
    case 'state': {
      const pool = w.advPool;
      const entry = pool[s.pick % Math.max(1, pool.length)];
      if (!entry) return undefined;
      const signed = w.cosign(entry);
      if (s.forge) {
        const forged = { ...entry.state, version: entry.state.version + 1n };
        return {
          type: 'state',
          state: forged,
          signatures: w.role === 0 ? [signed.signatures[0], w.advSign(forged)] : [w.advSign(forged), signed.signatures[1]],
        };
      }
      return { type: 'state', state: signed.state, signatures: signed.signatures };
    }
    case 'sync':
      return {
        type: 'sync',
        channelId: id,
        version: latest.state.version + BigInt(s.offset) < 0n ? 0n : latest.state.version + BigInt(s.offset),
      };
    case 'replay': {
      const own = w.advSent;
      return own[s.pick % Math.max(1, own.length)];
    }
    case 'close':
      return w.role === 0 ? { type: 'close', channelId: id, id: (BigInt(s.id) << 1n) | 1n } : undefined;
    case 'cooperate': {
      if (w.role === 0) {
        const p = proposals.at(-1);
        const entry = p && w.advPool.find((e) => e.state.version === p.version && e.signature.every((b, i) => b === p.signature[i]));
        if (!p || !entry) return undefined;
        return { type: 'countersign', channelId: id, version: p.version, signature: w.advSign(entry.state) };
      }
      // As leader: propose the requests we have not seen answered, once each, and maybe one of its own.
      const requested = [...w.h.m.requested.values()].map((r) => r.op);
      const own = s.extra ? opOf(w, s.extra, 0, (BigInt(w.advSent.length + 1) << 1n) | 0n) : undefined;
      const ops = [...requested, ...(own ? [own] : [])];
      const expected = (latest.state.version > w.h.m.refusedVersion ? latest.state.version : w.h.m.refusedVersion) + 1n;
      const state = w.after(ops, expected) ?? w.after(requested, expected);
      if (!state) return undefined;
      const used = w.after(ops, expected) ? ops : requested;
      return { type: 'propose', channelId: id, version: expected, ops: used, signature: w.advSign(state) };
    }
  }
}

export function runStep(w: ProtocolWorld, s: Step): void {
  w.stats.steps++;
  w.log.push(JSON.stringify(s, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
  switch (s.t) {
    case 'own': {
      if (s.spec.k === 'deposit' || s.spec.k === 'settle') return; // the machine credits deposits; secrets of ours are not modelled
      const op = opOf(w, s.spec, w.role, 0n);
      if (op) w.ownOp(op);
      break;
    }
    case 'close':
      w.close(s.force);
      break;
    case 'complete':
      w.settle(s.n);
      break;
    case 'crash':
      w.crash();
      break;
    case 'link':
      if (s.up) w.input({ kind: 'connected', peer: { peerId: 'adversary', publicKey: w.advKey() } });
      else w.input({ kind: 'disconnected' });
      break;
    case 'forget': {
      const learned = w.h.m.rec.learned ?? [];
      const hashlocks =
        s.pick === 0
          ? learned.map((x) => x.hashlock)
          : s.pick === 1
            ? [`0x${'ab'.repeat(32)}`]
            : learned.slice(s.pick % Math.max(1, learned.length), (s.pick % Math.max(1, learned.length)) + 1).map((x) => x.hashlock);
      w.input({ kind: 'forget-learned', hashlocks });
      break;
    }
    case 'tick':
      w.tick(s.seconds);
      break;
    case 'deposit':
      w.deposit(s.asset, s.participant, s.amount);
      break;
    case 'chain': {
      const pool = w.advPool;
      const entry = pool[s.pick % Math.max(1, pool.length)];
      if (s.what === 'conclude') w.advConclude();
      else if (s.what === 'reveal') w.chainReveal(s.pick);
      else if (entry && s.what === 'register') w.advRegister(entry);
      else if (entry && s.what === 'close' && entry.state.isFinal) w.advClose(entry);
      break;
    }
    case 'adv': {
      const msg = advMessage(w, s.spec);
      if (!msg) break;
      w.advSent.push(msg);
      w.input({ kind: 'message', message: msg });
      break;
    }
  }
  w.check();
}

export interface ProtocolFuzz {
  readonly seed: number;
  readonly runs: number;
  readonly maxSteps: number;
  readonly progress?: (totals: WorldStats, sequences: number) => void;
}

class StepCommand implements fc.Command<ProtocolWorld, object> {
  readonly s: Step;
  constructor(s: Step) {
    this.s = s;
  }
  check(): boolean {
    return true;
  }
  run(w: ProtocolWorld): void {
    runStep(w, this.s);
  }
  toString(): string {
    return JSON.stringify(this.s, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  }
}

const setup = fc.record({
  role: fc.constantFrom(0 as const, 1 as const),
  shares: fc.tuple(
    fc.tuple(fc.bigInt({ min: 0n, max: 10n * ETH }), fc.bigInt({ min: 0n, max: 10n * ETH })),
    fc.tuple(fc.bigInt({ min: 0n, max: 10n * ETH }), fc.bigInt({ min: 0n, max: 10n * ETH })),
  ),
  duration: fc.constantFrom(600n, 3600n),
  nonce: fc.nat(),
});

/** Runs the fuzzer; throws fast-check's report (the shrunk counterexample and its seed) on a violation. */
export function runProtocolFuzz(o: ProtocolFuzz): WorldStats {
  const totals = emptyStats();
  let sequences = 0;
  fc.assert(
    fc.property(setup, fc.commands([step.map((s) => new StepCommand(s))], { maxCommands: o.maxSteps, size: 'max' }), (su, cmds) => {
      const w = new ProtocolWorld({ role: su.role, seed: su.nonce, shares: [su.shares[0], su.shares[1]], duration: su.duration });
      try {
        fc.modelRun(() => ({ model: w, real: {} }), cmds);
      } finally {
        for (const k of Object.keys(totals) as (keyof WorldStats)[]) totals[k] += w.stats[k];
        sequences++;
        o.progress?.(totals, sequences);
      }
    }),
    { seed: o.seed, numRuns: o.runs, endOnFailure: false },
  );
  return totals;
}
