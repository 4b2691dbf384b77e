/**
 * The planner, driven through random arrival schedules: it never drops or duplicates an item,
 * respects the item and gas caps, flushes every item within the maximum delay of becoming
 * eligible, and submits every item with a deadline no later than the margin before it.
 */
import test from 'ava';
import fc from 'fast-check';
import { type BatchKind, type BatchPolicy, type QueuedItem, planBatches } from '../../src/coordinator/planner.ts';

const policy: BatchPolicy = {
  maxItems: 7,
  maxGas: 1_000,
  baseGas: { close: 100, dispute: 120, conclude: 100, reveal: 50 },
  maxDelayMs: 2_000,
  deadlineMarginMs: 500,
};

const itemArb = fc.record({
  kind: fc.constantFrom<BatchKind>('close', 'dispute', 'conclude', 'reveal'),
  arrival: fc.integer({ min: 0, max: 20_000 }),
  gas: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.constant(2_000)), // 2,000 can never fit
  deadlineIn: fc.option(fc.integer({ min: -100, max: 10_000 })),
  notBeforeIn: fc.option(fc.integer({ min: 0, max: 5_000 })),
});

test('never drops, never duplicates, respects caps, delays and deadlines', (t) => {
  fc.assert(
    fc.property(fc.array(itemArb, { maxLength: 120 }), (specs) => {
      const items: QueuedItem[] = specs.map((s, i) => ({
        id: BigInt(i),
        kind: s.kind,
        enqueuedAt: s.arrival,
        gas: s.gas,
        ...(s.deadlineIn === null ? {} : { deadline: s.arrival + s.deadlineIn }),
        ...(s.notBeforeIn === null ? {} : { notBefore: s.arrival + s.notBeforeIn }),
      }));
      const arrivals = [...new Set(items.map((i) => i.enqueuedAt))].sort((a, b) => a - b);
      const flushedAt = new Map<bigint, number>();
      const oversize = new Set<bigint>();
      let pending: QueuedItem[] = [];
      let now = 0;
      let wakeAt: number | undefined;
      let steps = 0;
      // An event-driven scheduler: plan at every arrival and at every wakeAt the planner asks for.
      while ((arrivals.length > 0 || pending.length > 0) && steps++ < 10_000) {
        const nextArrival = arrivals[0];
        now = Math.min(nextArrival ?? Number.POSITIVE_INFINITY, wakeAt ?? Number.POSITIVE_INFINITY);
        if (!Number.isFinite(now)) break;
        if (nextArrival === now) {
          arrivals.shift();
          pending.push(...items.filter((i) => i.enqueuedAt === now));
        }
        const plan = planBatches(pending, policy, now);
        for (const b of plan.batches) {
          if (b.items.length > policy.maxItems) return false;
          const gas = policy.baseGas[b.kind] + b.items.reduce((g, id) => g + items[Number(id)]!.gas, 0);
          if (gas > policy.maxGas || gas !== b.gas) return false;
          for (const id of b.items) {
            if (flushedAt.has(id) || items[Number(id)]!.kind !== b.kind) return false; // duplicate or mixed
            flushedAt.set(id, now);
          }
        }
        for (const id of plan.oversize) oversize.add(id);
        pending = pending.filter((i) => !flushedAt.has(i.id) && !oversize.has(i.id));
        wakeAt = plan.wakeAt;
        if (wakeAt !== undefined && wakeAt < now) return false;
      }
      for (const i of items) {
        if (oversize.has(i.id)) {
          if (policy.baseGas[i.kind] + i.gas <= policy.maxGas) return false;
          continue;
        }
        const at = flushedAt.get(i.id);
        if (at === undefined) return false; // dropped
        const eligible = Math.max(i.enqueuedAt, i.notBefore ?? 0);
        if (at < eligible) return false; // too early for its notBefore
        if (at > eligible + policy.maxDelayMs) return false; // waited too long
        if (i.deadline !== undefined && eligible <= i.deadline - policy.deadlineMarginMs && at > i.deadline - policy.deadlineMarginMs)
          return false; // late
        if (i.deadline !== undefined && eligible > i.deadline - policy.deadlineMarginMs && at !== eligible) return false; // already urgent: at once
      }
      return true;
    }),
    { numRuns: 500, seed: Number(process.env.SEED ?? Date.now() % 2 ** 31) },
  );
  t.pass();
});

test('a response to a stale state goes out at once, alone if need be', (t) => {
  const plan = planBatches(
    [
      { id: 1n, kind: 'close', enqueuedAt: 0, gas: 10 },
      { id: 2n, kind: 'dispute', enqueuedAt: 900, gas: 10, deadline: 1_200 },
    ],
    policy,
    1_000,
  );
  t.deepEqual(
    plan.batches.map((b) => [b.kind, b.items]),
    [['dispute', [2n]]],
  );
  t.is(plan.wakeAt, 2_000, 'the close waits for its maximum delay');
});
