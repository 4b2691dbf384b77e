/**
 * Funding (ADR 0008, 0009): both sides deposit their version-0 share in funding order (the
 * leader first; the follower only once the leader's share is on-chain, src/core/funding.ts), and
 * the channel opens once the chain holds every share. Deposits beyond a share (top-ups, strangers'
 * deposits, over-deposits) are surpluses the leader credits in co-signed states
 * (src/core/deposits.ts), whenever it learns of them: at once, on reconnect, and on every tick.
 */
import { funded } from '../deposits.ts';
import { depositsDue } from '../funding.ts';
import type { DepositFact } from '../ops.ts';
import type { Effect, Now } from './io.ts';
import * as leader from './leader.ts';
import * as follower from './follower.ts';
import { RETRY_MS, type Machine, isLeader, log, setRecord, setStatus, token } from './types.ts';

/** A deposit the chain shows for this channel (replays are ignored). */
export function onDeposited(m: Machine, fx: Effect[], d: DepositFact, now: Now): void {
  if (m.rec.depositFacts.some((f) => f.asset === d.asset && f.holdingsAfter === d.holdingsAfter)) return;
  setRecord(m, fx, { depositFacts: [...m.rec.depositFacts, d] });
  progress(m, fx, now);
}

/** Deposits were read again from the chain: whatever waited for them can go on. */
export function onRefreshed(m: Machine, fx: Effect[], now: Now): void {
  progress(m, fx, now);
  if (isLeader(m)) leader.releaseWaitingRequests(m, fx, now);
  else follower.next(m, fx, now);
}

export function onFundingTick(m: Machine, fx: Effect[], now: Now): void {
  progress(m, fx, now);
}

function progress(m: Machine, fx: Effect[], now: Now): void {
  if (m.rec.status === 'open' && isLeader(m)) return leader.creditDeposits(m, fx, now);
  if (m.rec.status !== 'funding') return;
  if (funded(m.rec.depositFacts, m.rec.deposits)) {
    setStatus(m, fx, 'open');
    fx.push({ kind: 'flush', token: token(m) });
    if (isLeader(m)) {
      leader.releaseWaitingRequests(m, fx, now);
      leader.creditDeposits(m, fx, now);
    } else follower.next(m, fx, now);
    return;
  }
  depositShare(m, fx, now);
}

/** Submits what of our version-0 share is due, in funding order, unless a deposit is on its way. */
function depositShare(m: Machine, fx: Effect[], now: Now): void {
  if ([...m.submissions.values()].some((s) => s.submission.kind === 'deposit')) return;
  if (now.ms - m.lastAttempt.deposit < RETRY_MS) return;
  const n = m.rec.params.assets.length;
  const facts = m.rec.depositFacts;
  const ownFacts = Array.from({ length: n }, (_, a) =>
    facts.filter((f) => f.asset === a && f.participant === m.rec.self).reduce((s, f) => s + f.amount, 0n),
  );
  // What this process deposited counts even before the chain watcher shows it (no double deposit).
  const d = m.deposited;
  const own = ownFacts.map((f, a) => {
    const known = d ? d.base[a]! + d.sent[a]! : 0n;
    return known > f ? known : f;
  });
  const holdings = Array.from({ length: n }, (_, a) => facts.filter((f) => f.asset === a).reduce((s, f) => s + f.amount, 0n));
  const { due, waiting } = depositsDue({ deposits: m.rec.deposits, self: m.rec.self, deposited: own, holdings });
  if (waiting || due.every((x) => x === 0n)) return;
  m.deposited ??= { base: ownFacts, sent: ownFacts.map(() => 0n) };
  m.lastAttempt.deposit = now.ms;
  log(fx, 'info', 'depositing our share', { amounts: due.map(String) });
  const t = token(m);
  m.submissions.set(t, { submission: { kind: 'deposit', amounts: due }, callers: [] });
  fx.push({ kind: 'submit', token: t, submission: { kind: 'deposit', amounts: due } });
}

/** Our deposit went through: count it until the chain watcher shows it. */
export function deposited(m: Machine, amounts: readonly bigint[]): void {
  const d = m.deposited;
  if (!d) return;
  amounts.forEach((a, i) => (d.sent[i] = d.sent[i]! + a));
}
