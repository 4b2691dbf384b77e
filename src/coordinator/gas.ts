/**
 * Gas figures: what an item adds to a batch (the planner's caps), and the gas limit a batch's
 * transaction gets once simulated.
 *
 * A simulation measures the batch against the chain as it is now. What it cannot see is a payout
 * that gets more expensive between the simulation and the block: a token whose `transfer` starts
 * burning all the gas it is given, a recipient whose code starts refusing ETH (EIP-7702), an
 * account emptied in between. The adjudicator bounds each of those (a token call gets at most
 * 100,000 gas, ETH carries only the 2,300 stipend, a failed push is credited instead), so the
 * limit adds that bound once per netted payout: no recipient or token can make a batch run out
 * of gas after it passed its simulation.
 */
import type { PayoutMode } from '../chain/chain-service.ts';
import { NATIVE_ASSET } from '../core/bytes.ts';
import type { SettleItem } from '../core/codec/settle.ts';

/** Per-item gas by kind, for the planner's caps: measured figures (README, Gas) with margin. */
export const ITEM_GAS = { close: 45_000, dispute: 70_000, conclude: 45_000, perAsset: 15_000, rootedLocks: 25_000, perSecret: 25_000 };

/**
 * What one netted payout can cost beyond its simulation, at worst.
 * - token: the 100,000 gas the adjudicator forwards to `transfer` (TOKEN_CALL_GAS), burnt in full,
 *   then the deferral: a fresh `withdrawable` slot (22,100 + 2,100 cold), the cold call (2,600)
 *   and a PayoutDeferred event; rounded up.
 * - native: the push carries only the 2,300 stipend; at worst the recipient has code by then
 *   (EIP-7702) that burns it and refuses, and the payout is deferred as above (an account emptied
 *   since, +25,000 for a new account, costs less than that).
 * - credit: a `withdrawable` slot emptied since the simulation (zero to non-zero: +20,000).
 */
export const PAYOUT_MARGIN = { token: 135_000, native: 35_000, credit: 25_000 } as const;

/**
 * The transaction cap a batch must fit under: below osaka's per-transaction gas cap of 2^24
 * (EIP-7825), which the planner's 12 M leaves room under for the limit's margins.
 */
export const TX_GAS_CAP = 16_000_000n;

/** The worst-case payout gas an item adds to a batch (planner figure: two payouts per asset, pushed). */
export function payoutGas(item: SettleItem): number {
  if (item.kind !== 'close' && item.kind !== 'conclude') return 0;
  return item.params.assets.reduce((g, a) => g + 2 * (a === NATIVE_ASSET ? PAYOUT_MARGIN.native : PAYOUT_MARGIN.token), 0);
}

/** Gas an item adds to a batch, for the planner's caps: its own work and its payouts at worst. */
export function itemGas(item: SettleItem): number {
  if (item.kind === 'reveal') return ITEM_GAS.perSecret * item.secrets.length;
  if (item.kind === 'watch') return 0;
  const state = item.kind === 'conclude' ? item.state : item.signed.state;
  const base = item.kind === 'close' ? ITEM_GAS.close : item.kind === 'dispute' ? ITEM_GAS.dispute : ITEM_GAS.conclude;
  // Locks cost a dispute nothing (the state carries their root); a conclusion with locks stores the root.
  const locks = item.kind === 'conclude' && state.locks.length > 0 ? ITEM_GAS.rootedLocks : 0;
  return base + ITEM_GAS.perAsset * (item.params.assets.length - 1) + locks + payoutGas(item);
}

/** The distinct (recipient, asset) payouts a batch can make: the adjudicator nets them per pair. */
function payoutPairs(items: readonly SettleItem[]): { native: number; token: number } {
  const seen = new Set<string>();
  let native = 0;
  let token = 0;
  for (const item of items) {
    if (item.kind !== 'close' && item.kind !== 'conclude') continue;
    for (const asset of item.params.assets) {
      for (const p of item.params.participants) {
        const key = `${p}/${asset}`;
        if (seen.has(key)) continue;
        seen.add(key);
        if (asset === NATIVE_ASSET) native++;
        else token++;
      }
    }
  }
  return { native, token };
}

/**
 * The gas limit of a batch whose simulation measured `estimate`: the estimate with room for
 * refunds and items that take another path by the time they are mined (x1.3 + 20,000, as
 * before), plus the worst case of every payout it can make.
 */
export function batchGasLimit(estimate: bigint, items: readonly SettleItem[], payout: PayoutMode): bigint {
  const pairs = payoutPairs(items);
  const margin =
    payout === 'credit'
      ? (pairs.native + pairs.token) * PAYOUT_MARGIN.credit
      : pairs.native * PAYOUT_MARGIN.native + pairs.token * PAYOUT_MARGIN.token;
  return (estimate * 13n) / 10n + 20_000n + BigInt(margin);
}
