/**
 * Funding order. The adjudicator pays an underfunded channel (one whose holdings of an asset are
 * below what the concluded state allocates) in funding order: participant 0 first, participant 1
 * gets what is left (docs/adr/0008). That protects both sides only if they fund in the same
 * order: participant 0 deposits first, and participant 1 deposits only once participant 0's whole
 * version-0 share is held. Had participant 1 deposited first, a participant 0 that never funds
 * could register version 0 and take participant 1's deposit as its own share.
 */
import type { ParticipantIndex } from './params.ts';
import type { ChannelState } from './state.ts';

export interface FundingView {
  /** Version 0's balances: what each participant committed to deposit, per asset. */
  readonly deposits: ChannelState['balances'];
  /** Which participant is deciding. */
  readonly self: ParticipantIndex;
  /** What this participant has deposited so far, per asset. */
  readonly deposited: readonly bigint[];
  /** The channel's holdings now, per asset (every participant's deposits together). */
  readonly holdings: readonly bigint[];
}

export interface FundingDecision {
  /** What to deposit now, per asset (zero where nothing is due). */
  readonly due: bigint[];
  /** Participant 1 still owes a deposit but waits for participant 0's share to be held. */
  readonly waiting: boolean;
}

/** True when, apart from participant 1's own deposits, every asset holds participant 0's share. */
export function leaderShareHeld(v: FundingView): boolean {
  return v.deposits.every(([leader], i) => {
    const held = v.holdings[i] ?? 0n;
    const ours = v.self === 1 ? (v.deposited[i] ?? 0n) : 0n;
    return held - (ours < held ? ours : held) >= leader;
  });
}

/** What participant `self` deposits now of its version-0 share, in funding order. */
export function depositsDue(v: FundingView): FundingDecision {
  const remaining = v.deposits.map((row, i) => {
    const left = row[v.self] - (v.deposited[i] ?? 0n);
    return left > 0n ? left : 0n;
  });
  const owes = remaining.some((x) => x > 0n);
  if (v.self === 0 || !owes || leaderShareHeld(v)) return { due: remaining, waiting: false };
  return { due: remaining.map(() => 0n), waiting: true };
}
