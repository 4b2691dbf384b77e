/**
 * What a node agrees to when its counterparty asks: opening a channel (and depositing into it)
 * and swaps the counterparty initiates. Payments to us need no policy; everything else that
 * could cost us does.
 */
import type { Address } from '../core/bytes.ts';
import type { ChannelParams } from '../core/params.ts';
import type { Balances } from '../core/state.ts';

export type PolicyDecision =
  true | { readonly accept: false; readonly reason: string; /** The policy itself failed (it threw). */ readonly failed?: true };

/** Runs a policy callback; one that throws refuses, marked as a failure of ours, not a decision. */
async function guarded<T>(decide: (x: T) => PolicyDecision | Promise<PolicyDecision>, x: T): Promise<PolicyDecision> {
  try {
    return await decide(x);
  } catch (e) {
    return { accept: false, reason: `the policy failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300), failed: true };
  }
}

export interface OpenProposal {
  readonly params: ChannelParams;
  /** Version 0 balances: `[leader, follower]` per asset. */
  readonly deposits: Balances;
  /** What we would have to deposit, per asset. */
  readonly ourDeposit: readonly bigint[];
  readonly from: { readonly peerId: string; readonly address: Address };
}

export interface SwapOffer {
  readonly channelId: `0x${string}`;
  /** What we would receive. */
  readonly receive: { readonly asset: Address; readonly amount: bigint };
  /** What we would give. */
  readonly give: { readonly asset: Address; readonly amount: bigint };
  readonly expiry: bigint;
}

/** Open policy: a callback, or limits on what we deposit (default: deposit nothing). */
export type OpenPolicy =
  | ((proposal: OpenProposal) => PolicyDecision | Promise<PolicyDecision>)
  | {
      /** Largest deposit we accept to make, per asset address (absent asset: 0). */
      readonly maxDeposit?: Readonly<Record<Address, bigint>>;
      /** Assets we accept in a channel (default: any). */
      readonly assets?: readonly Address[];
    };

/**
 * Swap policy: a callback, or the pairs we trade with a minimum price: for `{ receive: A,
 * give: B, minReceive: x, perGive: y }` we accept when received / given >= x / y.
 */
export type SwapPolicy =
  | ((offer: SwapOffer) => PolicyDecision | Promise<PolicyDecision>)
  | {
      readonly pairs: readonly {
        readonly receive: Address;
        readonly give: Address;
        readonly minReceive: bigint;
        readonly perGive: bigint;
        /** Largest amount we give in one swap. */
        readonly maxGive?: bigint;
      }[];
    };

export async function decideOpen(policy: OpenPolicy | undefined, proposal: OpenProposal): Promise<PolicyDecision> {
  if (typeof policy === 'function') return guarded(policy, proposal);
  const assets = policy?.assets;
  if (assets && proposal.params.assets.some((a) => !assets.includes(a))) {
    return { accept: false, reason: 'an asset of the channel is not accepted' };
  }
  for (const [i, amount] of proposal.ourDeposit.entries()) {
    if (amount === 0n) continue;
    const max = policy?.maxDeposit?.[proposal.params.assets[i]!] ?? 0n;
    if (amount > max) return { accept: false, reason: `deposit of ${amount} in ${proposal.params.assets[i]} exceeds the ${max} we accept` };
  }
  return true;
}

export async function decideSwap(policy: SwapPolicy | undefined, offer: SwapOffer): Promise<PolicyDecision> {
  if (policy === undefined) return { accept: false, reason: 'this node does not swap' };
  if (typeof policy === 'function') return guarded(policy, offer);
  const pair = policy.pairs.find((p) => p.receive === offer.receive.asset && p.give === offer.give.asset);
  if (!pair) return { accept: false, reason: `no swap of ${offer.give.asset} for ${offer.receive.asset}` };
  if (pair.maxGive !== undefined && offer.give.amount > pair.maxGive) return { accept: false, reason: `gives more than ${pair.maxGive}` };
  // receive / give >= minReceive / perGive, in integers.
  if (offer.receive.amount * pair.perGive < pair.minReceive * offer.give.amount)
    return { accept: false, reason: 'price below our minimum' };
  return true;
}
