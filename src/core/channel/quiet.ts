/**
 * Whether a channel machine is quiet: a `tick` now would change nothing and do nothing. The
 * node ticks every machine each second for retries, timeouts, deadlines and deposit credits,
 * which a node with 100,000 channels paid for all of them every second (10–25% of a core at
 * 40,000, profiled); a quiet one is skipped. Conservative: anything in flight, waiting, being
 * decided or on-chain makes a machine not quiet. The protocol fuzzer checks the promise at every
 * tick it runs (test/fuzz/protocol/world.ts): a quiet machine's tick yields no effect and leaves
 * it equal.
 */
import { uncredited } from '../deposits.ts';
import type { DepositFact } from '../ops.ts';
import type { Balances } from '../state.ts';
import type { SignedState } from '../validate.ts';
import { type Machine, canUpdate, isLeader } from './types.ts';

export function isQuiet(m: Machine): boolean {
  if (m.rec.status !== 'open' || m.rec.concludedLocks !== undefined || m.rec.dispute !== undefined) return false;
  if (m.adoption !== undefined || m.submissions.size > 0 || m.closeCallers.length > 0 || m.crediting.size > 0) return false;
  // Either role's work in flight (a machine holds only its own role's, but both are checked).
  if (m.queue.length > 0 || m.proposal !== undefined || m.released.length > 0 || m.completing.length > 0) return false;
  if (m.needsUpdate || m.deciding.length > 0 || m.waitingRequests.length > 0) return false;
  if (m.requested.size > 0 || m.incoming !== undefined || m.waitingProposal !== undefined) return false;
  // A deposit the chain shows that the latest state has not credited: the leader's tick proposes it.
  if (isLeader(m) && m.latest !== undefined && canUpdate(m)) {
    const seen = creditedUpTo.get(m.rec.depositFacts);
    if (seen !== undefined && seen.latest === m.latest && seen.deposits === m.rec.deposits) return true;
    const totals = m.latest.state.balances.map(([a, b]) => a + b);
    for (const l of m.latest.state.locks) totals[l.asset] = totals[l.asset]! + l.amount;
    if (uncredited(m.rec.depositFacts, m.rec.deposits, totals).length > 0) return false;
    creditedUpTo.set(m.rec.depositFacts, { latest: m.latest, deposits: m.rec.deposits });
  }
  return true;
}

/**
 * Deposit facts (the record's array: a new one whenever a fact is added) found all credited by a
 * latest state and deposit shares (replaced, never mutated, as well): the same three give the
 * same answer, so an idle channel's check is a lookup.
 */
const creditedUpTo = new WeakMap<readonly DepositFact[], { readonly latest: SignedState; readonly deposits: Balances }>();
