/**
 * Which on-chain deposits a state has credited, and which are still to credit.
 *
 * Version 0 allocates each participant's committed share. Every `Deposited` event names the
 * participant it is for; walked in chain order, a participant's deposits first fill its
 * version-0 share, and whatever goes beyond (a top-up, an over-deposit during funding, a
 * stranger's deposit for it) is that participant's **surplus**. Surpluses are credited one
 * after another in chain order by `deposit` operations, so the part of them a state has
 * credited is exactly its per-asset total minus the version-0 total: no history is needed,
 * and a state adopted without its operations (a catch-up) is still accounted exactly.
 *
 * Either participant may propose crediting any surplus: the chain fact says who gets it.
 */
import type { DepositFact } from './ops.ts';
import type { ParticipantIndex } from './params.ts';
import type { Balances } from './state.ts';

/** A deposit's part beyond its participant's version-0 share, still to be (or already) credited. */
export interface Surplus {
  readonly asset: number;
  /** Who it is credited to: the participant the deposit was made for. */
  readonly participant: ParticipantIndex;
  readonly amount: bigint;
  /** Identifies the deposit: the channel's holdings of the asset right after it. */
  readonly holdingsAfter: bigint;
  /** Surplus of this asset credited before it, in chain order. */
  readonly start: bigint;
}

/** Every surplus of `asset`, in chain order. */
export function surpluses(facts: readonly DepositFact[], shares: Balances, asset: number): Surplus[] {
  const row = shares[asset];
  if (row === undefined) return [];
  const remaining = [row[0], row[1]];
  const ordered = facts.filter((f) => f.asset === asset).sort((a, b) => (a.holdingsAfter < b.holdingsAfter ? -1 : 1));
  const out: Surplus[] = [];
  let start = 0n;
  for (const f of ordered) {
    const left = remaining[f.participant]!;
    const funding = f.amount < left ? f.amount : left;
    remaining[f.participant] = left - funding;
    const extra = f.amount - funding;
    if (extra === 0n) continue;
    out.push({ asset, participant: f.participant, amount: extra, holdingsAfter: f.holdingsAfter, start });
    start += extra;
  }
  return out;
}

/** How much surplus of each asset a state with per-asset `totals` has credited. */
export function creditedSurplus(shares: Balances, totals: readonly bigint[]): bigint[] {
  return shares.map(([a, b], i) => {
    const credited = (totals[i] ?? 0n) - a - b;
    return credited > 0n ? credited : 0n;
  });
}

/** The surpluses a state with per-asset `totals` has not credited yet, in the order they must be. */
export function uncredited(facts: readonly DepositFact[], shares: Balances, totals: readonly bigint[]): Surplus[] {
  const credited = creditedSurplus(shares, totals);
  return shares.flatMap((_, asset) => surpluses(facts, shares, asset).filter((s) => s.start >= credited[asset]!));
}

/**
 * True once the chain holds every participant's version-0 share of every asset: deposits for a
 * participant count toward its own share only, so one side's over-deposit never opens a
 * channel the other side has not funded.
 */
export function funded(facts: readonly DepositFact[], shares: Balances): boolean {
  return shares.every((row, asset) =>
    ([0, 1] as const).every(
      (p) => facts.filter((f) => f.asset === asset && f.participant === p).reduce((s, f) => s + f.amount, 0n) >= row[p],
    ),
  );
}
