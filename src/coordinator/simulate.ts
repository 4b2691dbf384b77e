/**
 * Simulation before broadcast, and bisection when a batch does not pass.
 *
 * Adjudicator items fail one by one (ItemFailed), but a batch transaction can still revert as a
 * whole: out of gas (a hostile token, a batch too big for the block), or a bug. Then every item
 * in it fails, so one poison item would take its companions down with it. The submitter
 * therefore runs each batch as an `eth_call` at the gas limit it would broadcast with, and never
 * broadcasts one that reverts: it halves the batch and simulates each half, down to the single
 * items that revert on their own. Those are the only ones refused; every other item goes out in
 * a group that passed.
 */
import { BaseError, type Hex, type PublicClient } from 'viem';
import type { Address } from '../core/bytes.ts';

export type Simulation = { readonly ok: true; readonly gas: bigint } | { readonly ok: false; readonly reason: string };

export interface Isolated<T> {
  /** Groups that passed their simulation, in input order, each with its gas limit. */
  readonly groups: readonly { readonly items: readonly T[]; readonly gas: bigint }[];
  /** Items whose simulation reverts with no companion at all. */
  readonly failing: readonly { readonly item: T; readonly reason: string }[];
  readonly simulations: number;
}

/**
 * Splits `items` into groups that pass `simulate` and the items that fail it alone, by
 * bisection: a group that fails is halved until each part passes or is a single item. At most
 * 2n - 1 simulations; with one poison item among n, about 2 log2 n. An item for which `alone`
 * holds (one with a deadline) is taken out of a group that fails and tried on its own first:
 * it is then sent with no companion at all, since something in its batch was already suspect.
 */
export async function isolate<T>(
  items: readonly T[],
  simulate: (group: readonly T[]) => Promise<Simulation>,
  alone: (item: T) => boolean = () => false,
): Promise<Isolated<T>> {
  const groups: { items: readonly T[]; gas: bigint }[] = [];
  const failing: { item: T; reason: string }[] = [];
  let simulations = 0;
  const visit = async (group: readonly T[]): Promise<void> => {
    if (group.length === 0) return;
    simulations++;
    const s = await simulate(group);
    if (s.ok) groups.push({ items: group, gas: s.gas });
    else if (group.length === 1) failing.push({ item: group[0]!, reason: s.reason });
    else {
      const solo = group.filter(alone);
      for (const item of solo) await visit([item]);
      const rest = solo.length === 0 ? group : group.filter((i) => !alone(i));
      if (rest.length === 0) return;
      if (solo.length > 0) return visit(rest);
      const half = Math.ceil(rest.length / 2);
      await visit(rest.slice(0, half));
      await visit(rest.slice(half));
    }
  };
  await visit(items);
  return { groups, failing, simulations };
}

/**
 * Whether an RPC error means the call itself fails (a revert, out of gas): the answer a
 * simulation looks for. Anything else (the endpoint unreachable, rate-limiting us, a timeout)
 * says nothing about the batch and is thrown, so no item is refused for a network problem.
 */
export function isExecutionFailure(e: unknown): boolean {
  const pattern = /revert|out of gas|gas required exceeds|invalid opcode|invalid jump|stack (underflow|overflow)/i;
  if (!(e instanceof BaseError)) return false;
  return (
    e.walk((x) => {
      const err = x as { details?: unknown; message?: unknown; name?: unknown };
      return (
        err.name === 'ExecutionRevertedError' ||
        (typeof err.details === 'string' && pattern.test(err.details)) ||
        (typeof err.message === 'string' && pattern.test(err.message))
      );
    }) !== null
  );
}

export interface SimulationTarget {
  readonly publicClient: PublicClient;
  readonly from: Address;
  readonly to: Address;
}

/**
 * Simulates one batch's calldata: estimates its gas, derives the limit it would be sent with
 * (`limit`), refuses it if that exceeds `cap` (the block's gas limit, or the transaction cap),
 * and runs it as an `eth_call` at exactly that limit.
 */
export async function simulateBatch(t: SimulationTarget, data: Hex, limit: (estimate: bigint) => bigint, cap: bigint): Promise<Simulation> {
  let estimate: bigint;
  try {
    estimate = await t.publicClient.estimateGas({ account: t.from, to: t.to, data });
  } catch (e) {
    if (isExecutionFailure(e)) return { ok: false, reason: `gas estimation reverted: ${describe(e)}` };
    throw e;
  }
  const gas = limit(estimate);
  if (gas > cap) return { ok: false, reason: `needs a gas limit of ${gas}, above the cap of ${cap}` };
  try {
    await t.publicClient.call({ account: t.from, to: t.to, data, gas });
  } catch (e) {
    if (isExecutionFailure(e)) return { ok: false, reason: `reverts at a gas limit of ${gas}: ${describe(e)}` };
    throw e;
  }
  return { ok: true, gas };
}

function describe(e: unknown): string {
  const err = e as { details?: string; shortMessage?: string; message?: string };
  return (err.details ?? err.shortMessage ?? err.message ?? String(e)).slice(0, 200);
}
