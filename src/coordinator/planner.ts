/**
 * The batch planner: pure. Given the queued items, the policy and the time, it says which
 * batches to submit now and when to look again. No I/O, no clock: `now` is an argument, so the
 * property tests can drive it through any schedule (test/coordinator/planner.test.ts).
 *
 * A batch holds items of one kind (one adjudicator call). The items of a kind are taken in
 * order of urgency (earliest deadline, then the longest waiting) and packed greedily under the
 * item and gas caps. A batch is submitted when it is full, when its oldest item has waited
 * `maxDelayMs`, or at once when one of its items must land before a deadline within
 * `deadlineMarginMs`: a response to a stale state never waits for a batch to fill.
 *
 * Items may carry a `group`: they are then batched only with the other items of their group.
 * That is how a batch that reverted as a whole is retried: never again with the same companions
 * ({@link splitReverted}).
 */

export type BatchKind = 'close' | 'dispute' | 'conclude' | 'reveal';

export interface QueuedItem {
  readonly id: bigint;
  readonly kind: BatchKind;
  /** When it was queued (ms). */
  readonly enqueuedAt: number;
  /** Gas it adds to a batch. */
  readonly gas: number;
  /** Its transaction must be mined before this (ms): a challenge deadline. */
  readonly deadline?: number;
  /** It may not be submitted before this (ms): a conclusion waits for the challenge period. */
  readonly notBefore?: number;
  /** Batched only with items of the same group (ungrouped items form a pool of their own). */
  readonly group?: bigint;
}

export interface BatchPolicy {
  readonly maxItems: number;
  /** Gas cap of one batch transaction, base cost included. */
  readonly maxGas: number;
  /** Fixed gas of a batch transaction, per kind (21,000 plus call overhead). */
  readonly baseGas: Readonly<Record<BatchKind, number>>;
  readonly maxDelayMs: number;
  /** Submit an item with a deadline no later than this long before it. */
  readonly deadlineMarginMs: number;
}

export interface PlannedBatch {
  readonly kind: BatchKind;
  readonly items: readonly bigint[];
  readonly gas: number;
  /** The earliest deadline among its items. */
  readonly deadline?: number;
}

export interface Plan {
  /** Batches to submit now, most urgent first. */
  readonly batches: readonly PlannedBatch[];
  /** Items that can never fit in a batch (their gas alone exceeds the cap). */
  readonly oversize: readonly bigint[];
  /** When to plan again (ms), if anything is left waiting. */
  readonly wakeAt: number | undefined;
}

export const DEFAULT_POLICY: BatchPolicy = {
  maxItems: 100,
  maxGas: 12_000_000,
  baseGas: { close: 60_000, dispute: 60_000, conclude: 60_000, reveal: 40_000 },
  maxDelayMs: 2_000,
  deadlineMarginMs: 60_000,
};

/** The moment an item became eligible: when queued, or when its `notBefore` passed. */
function since(item: QueuedItem): number {
  return item.notBefore !== undefined && item.notBefore > item.enqueuedAt ? item.notBefore : item.enqueuedAt;
}

function urgency(a: QueuedItem, b: QueuedItem): number {
  const da = a.deadline ?? Number.POSITIVE_INFINITY;
  const db = b.deadline ?? Number.POSITIVE_INFINITY;
  if (da !== db) return da < db ? -1 : 1;
  const sa = since(a);
  const sb = since(b);
  if (sa !== sb) return sa - sb;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function planBatches(pending: readonly QueuedItem[], policy: BatchPolicy, now: number): Plan {
  const batches: PlannedBatch[] = [];
  const oversize: bigint[] = [];
  let wakeAt: number | undefined;
  const wake = (t: number) => {
    if (wakeAt === undefined || t < wakeAt) wakeAt = t;
  };
  // One pool per kind and group, in a fixed order (kind, then ungrouped before the groups by id).
  const pools = new Map<string, { kind: BatchKind; group: bigint; items: QueuedItem[] }>();
  for (const item of pending) {
    const group = item.group ?? -1n;
    const key = `${item.kind}/${group}`;
    let pool = pools.get(key);
    if (!pool) pools.set(key, (pool = { kind: item.kind, group, items: [] }));
    pool.items.push(item);
  }
  const ordered = [...pools.values()].sort((a, b) =>
    a.kind !== b.kind ? (a.kind < b.kind ? -1 : 1) : a.group < b.group ? -1 : a.group > b.group ? 1 : 0,
  );
  for (const { kind, items: poolItems } of ordered) {
    const base = policy.baseGas[kind];
    const eligible: QueuedItem[] = [];
    for (const item of poolItems) {
      if (base + item.gas > policy.maxGas) oversize.push(item.id);
      else if (item.notBefore !== undefined && item.notBefore > now) wake(item.notBefore);
      else eligible.push(item);
    }
    eligible.sort(urgency);
    let current: QueuedItem[] = [];
    let gas = base;
    const close = (full: boolean) => {
      if (current.length === 0) return;
      const due =
        full ||
        current.some((i) => i.deadline !== undefined && i.deadline - policy.deadlineMarginMs <= now) ||
        current.some((i) => since(i) + policy.maxDelayMs <= now);
      if (due) {
        const deadlines = current.flatMap((i) => (i.deadline === undefined ? [] : [i.deadline]));
        batches.push({ kind, items: current.map((i) => i.id), gas, ...(deadlines.length ? { deadline: Math.min(...deadlines) } : {}) });
      } else {
        for (const i of current) {
          wake(since(i) + policy.maxDelayMs);
          if (i.deadline !== undefined) wake(i.deadline - policy.deadlineMarginMs);
        }
      }
      current = [];
      gas = base;
    };
    for (const item of eligible) {
      if (current.length >= policy.maxItems || gas + item.gas > policy.maxGas) close(true);
      current.push(item);
      gas += item.gas;
    }
    close(current.length >= policy.maxItems);
  }
  batches.sort((a, b) => (a.deadline ?? Number.POSITIVE_INFINITY) - (b.deadline ?? Number.POSITIVE_INFINITY));
  return { batches, oversize, wakeAt };
}

/**
 * The groups to retry the items of a batch that reverted as a whole in, so that none of them is
 * sent with the same companions again: an item with a deadline alone (it must land, whatever
 * the rest does), the others in two halves. Each group is smaller than the batch, so a poison
 * item that keeps reverting is alone after at most log2(n) + 1 reverts, and then fails on its
 * own; no item is ever given up because of the items it was batched with.
 */
export function splitReverted(items: readonly { readonly id: bigint; readonly urgent: boolean }[]): bigint[][] {
  const groups: bigint[][] = items.filter((i) => i.urgent).map((i) => [i.id]);
  const rest = items.filter((i) => !i.urgent).map((i) => i.id);
  const half = Math.ceil(rest.length / 2);
  for (const part of [rest.slice(0, half), rest.slice(half)]) if (part.length > 0) groups.push(part);
  return groups;
}
