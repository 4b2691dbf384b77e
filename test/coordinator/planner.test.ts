/**
 * The planner, driven through random arrival schedules: it never drops or duplicates an item,
 * respects the item and gas caps, flushes every item within the maximum delay of becoming
 * eligible, and submits every item with a deadline no later than the margin before it.
 */
import test from 'ava';
import fc from 'fast-check';
import { type BatchKind, type BatchPolicy, type QueuedItem, planBatches, splitReverted } from '../../src/coordinator/planner.ts';

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

const seed = () => Number(process.env.SEED ?? Date.now() % 2 ** 31);

test('a batch never mixes groups, and an item of a group of one goes out alone', (t) => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          kind: fc.constantFrom<BatchKind>('close', 'dispute'),
          gas: fc.integer({ min: 1, max: 200 }),
          group: fc.option(fc.integer({ min: 0, max: 4 })),
          arrival: fc.integer({ min: 0, max: 3_000 }),
        }),
        { maxLength: 80 },
      ),
      (specs) => {
        const items: QueuedItem[] = specs.map((s, i) => ({
          id: BigInt(i),
          kind: s.kind,
          enqueuedAt: s.arrival,
          gas: s.gas,
          ...(s.group === null ? {} : { group: BigInt(s.group) }),
        }));
        const sizes = new Map<bigint, number>();
        for (const i of items) if (i.group !== undefined) sizes.set(i.group, (sizes.get(i.group) ?? 0) + 1);
        // Long after every arrival: everything is due, so every item is in some batch.
        const plan = planBatches(items, policy, 10_000);
        const seen = new Set<bigint>();
        for (const b of plan.batches) {
          const groups = new Set(b.items.map((id) => items[Number(id)]!.group ?? 'none'));
          if (groups.size !== 1) return false; // mixed
          const g = items[Number(b.items[0]!)]!.group;
          if (g !== undefined && sizes.get(g) === 1 && b.items.length !== 1) return false;
          for (const id of b.items) {
            if (seen.has(id)) return false;
            seen.add(id);
          }
        }
        return seen.size === items.length; // nothing left behind
      },
    ),
    { numRuns: 300, seed: seed() },
  );
  t.pass();
});

test('a reverted batch is split so that no item meets the same companions, deadlines alone', (t) => {
  fc.assert(
    fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 120 }), (urgent) => {
      const items = urgent.map((u, i) => ({ id: BigInt(i), urgent: u }));
      const groups = splitReverted(items);
      const all = groups.flat();
      if (all.length !== items.length || new Set(all).size !== items.length) return false; // dropped or duplicated
      for (const g of groups) {
        if (g.length === 0) return false;
        if (items.length > 1 && g.length >= items.length) return false; // the same companions again
        if (g.some((id) => items[Number(id)]!.urgent) && g.length !== 1) return false; // a deadline not alone
      }
      return true;
    }),
    { numRuns: 500, seed: seed() },
  );
  // Repeated reverts isolate one poison item among n in at most log2(n) + 1 rounds.
  let group = Array.from({ length: 100 }, (_, i) => ({ id: BigInt(i), urgent: false }));
  let rounds = 0;
  while (group.length > 1) {
    rounds++;
    group = splitReverted(group)
      .find((g) => g.includes(37n))!
      .map((id) => ({ id, urgent: false }));
  }
  t.true(rounds <= 8);
});
