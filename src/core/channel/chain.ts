/**
 * The channel on-chain (ADR 0005, 0008, 0009): closing cooperatively with a final state,
 * forcing a close by registering our latest state, answering a stale state registered against
 * us (retried until the deadline), concluding once a registered state's period is over (from our
 * state, or from the one the challenge's calldata carried), and the chain's verdict.
 *
 * Dispute facts are kept in the record, so a restart neither forgets a challenge nor stops
 * answering it; the node also rebuilds them from the chain on start.
 */
import { EMPTY_LOCKS_ROOT, locksRoot } from '../locks.ts';
import type { ChannelState, Lock, SignedCommitment } from '../state.ts';
import { replayLocks } from '../transitions.ts';
import type { SignedState } from '../validate.ts';
import type { ChainFact, CallerId, Effect, Now, SubmissionResult } from './io.ts';
import type { LossRecord } from './record.ts';
import * as leader from './leader.ts';
import * as follower from './follower.ts';
import { deposited, onDeposited, onRefreshed } from './funding.ts';
import { adopt } from './sync.ts';
import {
  CONCLUDE_GRACE_MS,
  RETRY_MS,
  type Machine,
  canUpdate,
  definitely,
  fail,
  isLeader,
  log,
  opId,
  resolve,
  setRecord,
  setStatus,
  token,
} from './types.ts';

/**
 * The version of a catch-up state whose write is already issued (sync.ts: adoption flushing), or
 * -1. A state from the chain older than it must not be written now (the same version is the same
 * state: we never sign two at one version, so writing it again is harmless): written after it, it would be
 * what the disk holds, while the adoption then makes the newer one our latest in memory (the
 * Byzantine fuzzer found this: a caller told a payment succeeded in v2, the disk at v1). The
 * adopted state is newer and answers the registration itself (adopt → answer).
 */
function adoptingVersion(m: Machine): bigint {
  return m.adoption?.stage === 'flushing' ? m.adoption.signed.state.version : -1n;
}

export function onChain(m: Machine, fx: Effect[], fact: ChainFact, now: Now): void {
  switch (fact.kind) {
    case 'deposited':
      return onDeposited(m, fx, fact.deposit, now);
    case 'deposits-refreshed':
      return onRefreshed(m, fx, now);
    case 'challenged':
      return onChallenged(m, fx, fact, now);
    case 'settled':
      // A final state newer than ours (one we signed, countersigned by the other side and submitted
      // by it): it is what the chain paid out, so it is our latest too.
      if (
        fact.signed &&
        m.latest &&
        fact.signed.state.version > m.latest.state.version &&
        fact.signed.state.version >= adoptingVersion(m) &&
        fact.signed.state.version === fact.version
      ) {
        fx.push({ kind: 'persist-state', signed: fact.signed });
        adopt(m, fx, fact.signed, now);
      }
      return onSettled(m, fx, fact.how, fact.version, now);
    case 'unlocked':
      return onUnlocked(m, fx, fact.index, now);
    case 'secret-revealed':
      return onRevealed(m, fx, fact.hashlock, fact.at, now);
  }
}

/**
 * The full state of a registered commitment: its lock list is one we built (the registered state
 * is co-signed, so it is our latest, a proposal we released, or one rebuilt from a durable lock
 * delta), found by its root (docs/adr/0010). Undefined when none matches.
 */
export function resolveRegistered(m: Machine, reg: SignedCommitment): SignedState | undefined {
  const c = reg.state;
  const candidates: (readonly Lock[])[] = [];
  if (c.locksRoot === EMPTY_LOCKS_ROOT) candidates.push([]);
  if (m.latest) candidates.push(m.latest.state.locks);
  if (m.proposal) candidates.push(m.proposal.state.locks);
  for (const r of m.released) if (r.version === c.version) candidates.push(r.state.locks);
  for (const d of m.rec.lockDeltas ?? []) {
    if (d.version !== c.version || m.latest?.state.version !== d.base) continue;
    const rebuilt = replayLocks(m.latest.state.locks, d.ops);
    if (rebuilt) candidates.push(rebuilt);
  }
  const locks = candidates.find((l) => locksRoot(l) === c.locksRoot);
  if (locks === undefined) return undefined;
  const state: ChannelState = { channelId: c.channelId, version: c.version, balances: c.balances, locks, isFinal: c.isFinal };
  return { state, signatures: reg.signatures };
}

function inFlight(m: Machine, kind: string): boolean {
  return [...m.submissions.values()].some((s) => s.submission.kind === kind);
}

function submit(
  m: Machine,
  fx: Effect[],
  submission: Parameters<typeof m.submissions.set>[1]['submission'],
  callers: CallerId[] = [],
): void {
  const t = token(m);
  m.submissions.set(t, { submission, callers });
  fx.push({ kind: 'submit', token: t, submission });
}

// ---------------------------------------------------------------------------------------------
// Closing

/** A cooperative close: agree a final state (if there is none yet), then submit it. */
export function closeCooperatively(m: Machine, fx: Effect[], caller: CallerId, now: Now, direct = false): void {
  if (direct) m.closeDirect = true;
  if (m.rec.status === 'closed') return resolve(fx, caller, m.latest?.state.version ?? 0n);
  if (m.latest?.state.isFinal) {
    m.closeCallers.push(caller);
    return submitClose(m, fx);
  }
  if (m.rec.finalProposal) {
    // We released a final state the follower has not countersigned yet: it is coming, or not.
    m.closeCallers.push(caller);
    return leader.resend(m, fx);
  }
  if (!canUpdate(m)) return fail(fx, caller, definitely('closed', `the channel is ${m.rec.status}`));
  m.closeCallers.push(caller);
  if (isLeader(m)) {
    leader.queueFinalize(m, now);
    return leader.pump(m, fx, now);
  }
  if (!m.connected) {
    m.closeCallers.pop();
    return fail(fx, caller, definitely('unreachable', 'the counterparty is not connected'));
  }
  const op = { kind: 'finalize' as const, id: opId(m), by: 1 as const };
  m.requested.set(op.id, { op, since: now.ms });
  follower.sendRequests(m, fx, [op]);
}

/** Submits the final state's payout (either side may; a second submission fails harmlessly). */
export function submitClose(m: Machine, fx: Effect[]): void {
  if (!m.latest?.state.isFinal || m.rec.status === 'closed' || inFlight(m, 'close')) return;
  m.closeSubmitted = true;
  submit(m, fx, { kind: 'close', signed: m.latest, ...(m.closeDirect ? { direct: true } : {}) }, m.closeCallers.splice(0));
}

/** A forced close: register our latest co-signed state; it concludes after the challenge period. */
export function forceClose(m: Machine, fx: Effect[], caller: CallerId, direct = false): void {
  if (m.rec.status === 'closed') return resolve(fx, caller, m.latest?.state.version ?? 0n);
  if (!m.latest || m.rec.status === 'proposed' || m.rec.status === 'rejected') {
    return fail(fx, caller, definitely('closed', `the channel is ${m.rec.status}`));
  }
  if (m.rec.dispute && m.rec.dispute.version >= m.latest.state.version) return resolve(fx, caller, m.rec.dispute.version);
  m.registering = m.latest.state.version;
  submit(m, fx, { kind: 'dispute', signed: m.latest, ...(direct ? { direct: true } : {}) }, [caller]);
}

// ---------------------------------------------------------------------------------------------
// The chain's facts

function onChallenged(m: Machine, fx: Effect[], fact: Extract<ChainFact, { kind: 'challenged' }>, now: Now): void {
  if (m.rec.status === 'closed') return;
  // A registered state newer than ours is co-signed (the adjudicator checked both signatures):
  // it is our latest now, and we can conclude it ourselves.
  const reg = fact.registered?.state.version === fact.version ? resolveRegistered(m, fact.registered) : undefined;
  if (fact.registered && !reg) log(fx, 'warn', 'a registered state whose locks we cannot rebuild', { version: String(fact.version) });
  if (reg && m.latest && reg.state.version > m.latest.state.version && reg.state.version >= adoptingVersion(m)) {
    fx.push({ kind: 'persist-state', signed: reg });
    adopt(m, fx, reg, now);
  }
  const known = m.latest?.state.version === fact.version ? m.latest.state : undefined;
  const state = known ?? reg?.state;
  const byUs = m.registering === fact.version;
  setRecord(m, fx, { dispute: { version: fact.version, finalizesAt: fact.finalizesAt, byUs, ...(state ? { state } : {}) } });
  const wasDisputed = m.rec.status === 'disputed';
  setStatus(m, fx, 'disputed');
  fx.push({ kind: 'flush', token: token(m) });
  if (!wasDisputed) {
    leader.abandonQueue(m, fx, definitely('closed', 'a state was registered on-chain'));
    follower.abandonRequests(m, fx, 'a state was registered on-chain', false);
    log(fx, 'warn', 'a state was registered on-chain', { version: String(fact.version), ours: String(m.latest?.state.version ?? -1n) });
  }
  m.dueSince = undefined;
  answer(m, fx, now);
}

/**
 * If our latest state is newer than the registered one, register ours (until the deadline). A
 * co-signed final state closes the channel at once instead: a cooperative close needs no
 * challenge period and overrides any registered state.
 */
export function answer(m: Machine, fx: Effect[], now: Now): void {
  const d = m.rec.dispute;
  const latest = m.latest;
  if (!d || !latest || latest.state.version <= d.version) return;
  if (latest.state.isFinal) return submitClose(m, fx);
  if (now.chainTime !== undefined && now.chainTime >= d.finalizesAt) return; // too late: the chain would refuse it
  if (inFlight(m, 'dispute')) return; // re-checked when it completes
  // A failed attempt waits before the same state goes again; a newer state goes at once.
  if (m.registering === latest.state.version && now.ms - m.lastAttempt.dispute < RETRY_MS) return;
  m.lastAttempt.dispute = now.ms;
  m.registering = latest.state.version;
  log(fx, 'warn', 'stale state registered against us: answering', { registered: String(d.version), ours: String(latest.state.version) });
  submit(m, fx, { kind: 'dispute', signed: latest, deadline: d.finalizesAt });
}

/**
 * What we lost, if the channel settled with `version` below our latest: our balances in our
 * latest state against those in the settled one (`settled`, when we know it). A settled state
 * we do not know, at an older version, counts as a loss of unknown size.
 */
function lossOf(m: Machine, version: bigint, settled: ChannelState | undefined): LossRecord | undefined {
  const latest = m.latest?.state;
  if (!latest || version >= latest.version) return undefined;
  const me = m.rec.self;
  const expected = latest.balances.map((row) => row[me]);
  if (!settled) return { version, latest: latest.version, expected };
  const paid = settled.balances.map((row) => row[me]);
  if (paid.every((p, i) => p >= expected[i]!)) return undefined;
  return { version, latest: latest.version, expected, paid };
}

function onSettled(m: Machine, fx: Effect[], how: 'closed' | 'concluded', version: bigint, now: Now): void {
  if (m.rec.status === 'closed') return;
  // A conclusion leaves its locks' funds in the channel, to unlock one by one (ADR 0010).
  const d = m.rec.dispute;
  const concluded =
    how === 'concluded'
      ? ((d?.version === version ? d.state : undefined) ?? (m.latest?.state.version === version ? m.latest.state : undefined))
      : undefined;
  if (how === 'concluded' && !concluded)
    log(fx, 'warn', 'concluded with a state we do not hold: its locks cannot be unlocked by us', { version: String(version) });
  const loss = lossOf(m, version, concluded ?? (d?.version === version ? d.state : undefined));
  if (loss) {
    log(fx, 'warn', 'the channel settled with an older state than ours: we were paid less than our latest state gives us', {
      version: String(loss.version),
      latest: String(loss.latest),
      expected: loss.expected.map(String),
      ...(loss.paid ? { paid: loss.paid.map(String) } : {}),
    });
    fx.push({ kind: 'loss', loss });
  }
  setRecord(m, fx, {
    ...(loss ? { loss } : {}),
    dispute: undefined,
    finalProposal: undefined,
    lockDeltas: undefined,
    ...(concluded && concluded.locks.length > 0 ? { concludedLocks: { state: concluded, unlocked: [] } } : {}),
  });
  setStatus(m, fx, 'closed');
  fx.push({ kind: 'flush', token: token(m) });
  for (const c of m.closeCallers.splice(0)) resolve(fx, c, version);
  leader.settledAt(m, fx, version);
  leader.abandonQueue(m, fx, definitely('closed', `the channel was ${how} on-chain`));
  follower.abandonRequests(m, fx, `the channel was ${how} on-chain`, false);
  void now;
}

// ---------------------------------------------------------------------------------------------
// Submissions and time

export function onSubmitted(m: Machine, fx: Effect[], t: number, result: SubmissionResult, now: Now): void {
  const s = m.submissions.get(t);
  if (!s) return;
  m.submissions.delete(t);
  const sub = s.submission;
  switch (sub.kind) {
    case 'deposit':
      if (result.ok) deposited(m, sub.amounts);
      else log(fx, 'warn', 'our deposit failed; it is retried', { reason: result.reason });
      return;
    case 'close':
      if (result.ok || result.reason === 'channel-closed') for (const c of s.callers) resolve(fx, c, sub.signed.state.version);
      else for (const c of s.callers) fail(fx, c, definitely('internal', `the adjudicator refused the close: ${result.reason}`));
      return;
    case 'dispute': {
      const ok = result.ok || result.reason === 'stale-version';
      for (const c of s.callers) {
        if (ok) resolve(fx, c, sub.signed.state.version);
        else fail(fx, c, definitely('internal', `the adjudicator refused the state: ${result.reason}`));
      }
      if (sub.deadline !== undefined) {
        if (result.ok) fx.push({ kind: 'answered', registered: m.rec.dispute?.version ?? -1n, answered: sub.signed.state.version });
        else m.lastAttempt.dispute = now.ms; // answered again at the next tick, until the deadline
      }
      // A newer state may have arrived while this one was on its way.
      answer(m, fx, now);
      return;
    }
    case 'conclude':
      if (!result.ok) log(fx, 'info', 'conclusion refused; tried again later', { reason: result.reason });
      return;
    case 'unlock':
      // The `Unlocked` facts mark what was paid; whatever is left is tried again later.
      if (!result.ok) log(fx, 'info', 'unlock refused; tried again later', { reason: result.reason });
      return;
  }
}

export function onTickChain(m: Machine, fx: Effect[], now: Now): void {
  if (m.rec.status === 'closing' && m.latest?.state.isFinal) {
    // A final state both signed is paid out: by whoever asked for the close, at once; by the
    // other side too, if it is not done after a while (the requester may have gone away).
    m.finalSince ??= now.ms;
    if (now.ms - m.finalSince >= CONCLUDE_GRACE_MS && (!m.closeSubmitted || now.ms - m.finalSince >= 6 * CONCLUDE_GRACE_MS)) {
      m.finalSince = now.ms;
      submitClose(m, fx);
    }
    return;
  }
  if (m.rec.concludedLocks) return unlockIfDue(m, fx, now);
  if (m.rec.status !== 'disputed') return;
  answer(m, fx, now);
  concludeIfDue(m, fx, now);
}

// ---------------------------------------------------------------------------------------------
// Locks after a conclusion (ADR 0010)

function revealedAt(m: Machine, hashlock: string): bigint | undefined {
  return m.rec.revealed?.find((r) => r.hashlock === hashlock)?.at;
}

/**
 * Submits the unlocks that pay us and whose outcome is fixed: ours as receiver once the secret
 * was registered before the expiry, ours as sender once the expiry passed without that.
 */
function unlockIfDue(m: Machine, fx: Effect[], now: Now): void {
  const c = m.rec.concludedLocks;
  if (!c || now.chainTime === undefined || inFlight(m, 'unlock') || now.ms - m.lastAttempt.unlock < RETRY_MS) return;
  const self = m.rec.self;
  const due: number[] = [];
  c.state.locks.forEach((l, i) => {
    if (c.unlocked.includes(i)) return;
    const at = revealedAt(m, l.hashlock);
    const toReceiver = at !== undefined && at < l.expiry;
    if ((l.receiver === self && toReceiver) || (l.sender === self && !toReceiver && now.chainTime! >= l.expiry)) due.push(i);
  });
  if (due.length === 0) return;
  m.lastAttempt.unlock = now.ms;
  submit(m, fx, { kind: 'unlock', state: c.state, indexes: due });
}

function onUnlocked(m: Machine, fx: Effect[], index: number, now: Now): void {
  const c = m.rec.concludedLocks;
  if (!c || c.unlocked.includes(index) || index < 0 || index >= c.state.locks.length) return;
  const unlocked = [...c.unlocked, index];
  setRecord(m, fx, { concludedLocks: unlocked.length === c.state.locks.length ? undefined : { state: c.state, unlocked } });
  fx.push({ kind: 'flush', token: token(m) });
  void now;
}

/** A secret registered on-chain: remembered for the locks of ours with that hashlock. */
function onRevealed(m: Machine, fx: Effect[], hashlock: string, at: bigint, now: Now): void {
  if (revealedAt(m, hashlock) !== undefined) return;
  const ours = (s: ChannelState | undefined) => s?.locks.some((l) => l.hashlock === hashlock) ?? false;
  if (!ours(m.latest?.state) && !ours(m.rec.concludedLocks?.state) && !ours(m.rec.dispute?.state) && !ours(m.proposal?.state)) return;
  setRecord(m, fx, { revealed: [...(m.rec.revealed ?? []), { hashlock: hashlock as `0x${string}`, at }] });
  fx.push({ kind: 'flush', token: token(m) });
  unlockIfDue(m, fx, now);
}

/**
 * Pays out the registered state once its period is over, if we know its contents. The side that
 * registered it concludes at once; the other steps in after a grace period, so both do not pay.
 */
function concludeIfDue(m: Machine, fx: Effect[], now: Now): void {
  const d = m.rec.dispute;
  if (!d || now.chainTime === undefined || now.chainTime < d.finalizesAt) return;
  const state = d.state ?? (m.latest?.state.version === d.version ? m.latest.state : undefined);
  if (!state || inFlight(m, 'conclude') || now.ms - m.lastAttempt.conclude < RETRY_MS) return;
  m.dueSince ??= now.ms;
  if (!d.byUs && now.ms < m.dueSince + CONCLUDE_GRACE_MS) return;
  m.lastAttempt.conclude = now.ms;
  submit(m, fx, { kind: 'conclude', state });
}
