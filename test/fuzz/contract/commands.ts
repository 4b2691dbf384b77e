/**
 * What the contract fuzzer generates: random sequences of steps (fast-check `commands`), each
 * an honest action, an attack on the adjudicator, or time passing, and a runner that replays a
 * seed. Used by the seeded budget in `npm test` (test/chain/invariants.test.ts) and by
 * `npm run fuzz:contract` for long runs.
 */
import fc from 'fast-check';
import { MAX_CHALLENGE_DURATION, MAX_HOLDINGS } from '../../../src/core/index.ts';
import {
  Engine,
  type EngineStats,
  type ItemChoice,
  type LockChoice,
  PERMIT_MODES,
  type SigChoice,
  type StateChoice,
  type Step,
} from './engine.ts';
import { NATIVE } from './model.ts';
import { type World, createWorld } from './world.ts';

const small = fc.bigInt({ min: 0n, max: 1000n });
const amount = fc.oneof(
  { arbitrary: small, weight: 4 },
  { arbitrary: fc.bigInt({ min: 0n, max: 10n ** 24n }), weight: 3 },
  { arbitrary: fc.constantFrom(MAX_HOLDINGS, MAX_HOLDINGS + 1n, 2n ** 255n, 2n ** 256n - 1n), weight: 1 },
);
const uint8 = fc.oneof({ arbitrary: fc.nat(2), weight: 6 }, { arbitrary: fc.nat(255), weight: 1 });

const sig: fc.Arbitrary<SigChoice> = fc.oneof(
  { arbitrary: fc.constant({ form: 'canonical' as const, key: -1, exact: true }), weight: 12 },
  {
    arbitrary: fc.record({
      form: fc.constantFrom('canonical' as const, 'high-s' as const, 'bad-v' as const, 'zero-r' as const, 'zero-s' as const),
      key: fc.integer({ min: -1, max: 2 }),
      exact: fc.boolean(),
    }),
    weight: 1,
  },
);

const lockCommon = {
  amount,
  secret: fc.constantFrom('attacker' as const, 'nobody' as const),
  seed: fc.nat(50),
  expiryIn: fc.oneof({ arbitrary: fc.bigInt({ min: -2000n, max: 10_000n }), weight: 6 }, { arbitrary: fc.constant(2n ** 64n), weight: 1 }),
};
/** Mostly well-formed locks (so registrations with locks happen), sometimes any uint8 fields. */
const lock: fc.Arbitrary<LockChoice> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ asset: fc.nat(1), sender: fc.nat(1), ...lockCommon }).map((l) => ({ ...l, receiver: 1 - l.sender })),
  },
  { weight: 1, arbitrary: fc.record({ asset: uint8, sender: uint8, receiver: uint8, ...lockCommon }) },
);

const state: fc.Arbitrary<StateChoice> = fc.record({
  registered: fc.boolean(),
  version: fc.oneof({ arbitrary: fc.bigInt({ min: 0n, max: 12n }), weight: 8 }, { arbitrary: fc.constant(2n ** 64n - 1n), weight: 1 }),
  amounts: fc.array(amount, { minLength: 1, maxLength: 4 }),
  fit: fc.constantFrom('holdings' as const, 'holdings' as const, 'over' as const, 'raw' as const),
  extraRows: fc.oneof({ arbitrary: fc.constant(0), weight: 9 }, { arbitrary: fc.integer({ min: -2, max: 2 }), weight: 1 }),
  locks: fc.oneof({ arbitrary: fc.constant([]), weight: 2 }, { arbitrary: fc.array(lock, { maxLength: 3 }), weight: 1 }),
  isFinal: fc.boolean(),
});

const attackerItem = fc.record({ from: fc.constant('attacker' as const), ch: fc.nat(20), state, sigs: fc.tuple(sig, sig) });
const item: fc.Arbitrary<ItemChoice> = fc.oneof(
  { arbitrary: fc.record({ from: fc.constant('honest' as const), ch: fc.nat(20), older: fc.constant(undefined) }), weight: 3 },
  { arbitrary: fc.record({ from: fc.constant('honest' as const), ch: fc.nat(20), older: fc.nat(20) }), weight: 1 },
  { arbitrary: attackerItem, weight: 4 },
);

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('open-honest' as const),
      pair: fc.nat(2),
      assets: fc.constantFrom(0 as const, 1 as const, 2 as const),
      duration: fc.constantFrom(60n, 600n, 3600n, 86_400n),
      amounts: fc.array(fc.oneof(small, fc.bigInt({ min: 0n, max: 10n ** 21n })), { minLength: 4, maxLength: 4 }),
      p1Pays: fc.oneof({ arbitrary: fc.constant(true), weight: 5 }, { arbitrary: fc.constant(false), weight: 1 }),
      batch: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('update' as const),
      ch: fc.nat(20),
      splits: fc.array(fc.nat(1000), { minLength: 1, maxLength: 2 }),
      locks: fc.array(
        fc.record({
          sender: fc.constantFrom(0 as const, 1 as const),
          asset: fc.nat(1),
          share: fc.integer({ min: 1, max: 50 }),
          expiryIn: fc.bigInt({ min: 1n, max: 20_000n }),
          known: fc.boolean(),
          seed: fc.nat(1_000_000),
        }),
        { maxLength: 3 },
      ),
      skip: fc.bigInt({ min: 0n, max: 2n }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('open-attacker' as const),
      keys: fc.tuple(fc.nat(2), fc.nat(2)),
      assets: fc.oneof(
        { arbitrary: fc.uniqueArray(fc.nat(12), { minLength: 1, maxLength: 3 }), weight: 8 },
        { arbitrary: fc.array(fc.nat(12), { maxLength: 9 }), weight: 1 },
      ),
      duration: fc.oneof(
        { arbitrary: fc.constantFrom(0n, 1n, 60n, 3600n, MAX_CHALLENGE_DURATION), weight: 8 },
        { arbitrary: fc.constantFrom(MAX_CHALLENGE_DURATION + 1n, 2n ** 64n - 1n), weight: 1 },
      ),
      deposits: fc.array(
        fc.record({
          assetIndex: fc.oneof(
            { arbitrary: fc.bigInt({ min: 0n, max: 2n }), weight: 6 },
            { arbitrary: fc.bigInt({ min: 0n, max: 10n }), weight: 1 },
          ),
          participant: fc.oneof({ arbitrary: fc.bigInt({ min: 0n, max: 1n }), weight: 8 }, { arbitrary: fc.constant(2n), weight: 1 }),
          amount,
          wrongValue: fc.oneof({ arbitrary: fc.constant(false), weight: 8 }, { arbitrary: fc.constant(true), weight: 1 }),
        }),
        { maxLength: 4 },
      ),
      how: fc.constantFrom('single' as const, 'single' as const, 'batch' as const, 'withdrawable' as const),
    }),
  },
  {
    weight: 9,
    arbitrary: fc.record({
      t: fc.constant('batch' as const),
      op: fc.constantFrom('close' as const, 'challenge' as const, 'conclude' as const),
      payout: fc.constantFrom('transfer' as const, 'credit' as const),
      byAttacker: fc.boolean(),
      items: fc.array(item, { minLength: 1, maxLength: 5 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('unlock' as const),
      payout: fc.constantFrom('transfer' as const, 'credit' as const),
      byAttacker: fc.boolean(),
      items: fc.array(
        fc.record({
          from: fc.constantFrom('honest' as const, 'attacker' as const),
          ch: fc.nat(20),
          slot: fc.nat(8),
          tamper: fc.oneof(
            { arbitrary: fc.constant('none' as const), weight: 4 },
            {
              arbitrary: fc.constantFrom(
                'amount' as const,
                'receiver' as const,
                'slot' as const,
                'far-slot' as const,
                'proof' as const,
                'channel' as const,
              ),
              weight: 3,
            },
          ),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('reveal' as const),
      secrets: fc.array(fc.record({ kind: fc.constantFrom('random' as const, 'attacker' as const, 'public' as const), seed: fc.nat(50) }), {
        minLength: 1,
        maxLength: 4,
      }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('withdraw' as const), who: fc.nat(8), asset: fc.nat(12), to: fc.nat(2) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('permit-deposit' as const),
      mode: fc.constantFrom(...PERMIT_MODES),
      who: fc.nat(2),
      other: fc.nat(3),
      target: fc.oneof(
        { arbitrary: fc.constant('new' as const), weight: 6 },
        { arbitrary: fc.constantFrom('attack' as const, 'honest' as const), weight: 1 },
      ),
      ch: fc.nat(20),
      // The permit token, one without permit, the gas burner, the reentrant one; rarely the rest.
      token: fc.oneof({ arbitrary: fc.nat(3), weight: 8 }, { arbitrary: fc.integer({ min: 4, max: 11 }), weight: 1 }),
      withEth: fc.boolean(),
      assetIndex: fc.oneof(
        { arbitrary: fc.bigInt({ min: 0n, max: 1n }), weight: 6 },
        { arbitrary: fc.bigInt({ min: 0n, max: 3n }), weight: 1 },
      ),
      participant: fc.oneof({ arbitrary: fc.bigInt({ min: 0n, max: 1n }), weight: 8 }, { arbitrary: fc.constant(2n), weight: 1 }),
      // Mostly within the key's own balance (10^24 of each token).
      amount: fc.oneof({ arbitrary: small, weight: 3 }, { arbitrary: amount, weight: 1 }),
      approve: fc.oneof(
        { arbitrary: fc.constant('none' as const), weight: 3 },
        { arbitrary: fc.constantFrom('exact' as const, 'short' as const, 'max' as const, 'zero' as const), weight: 2 },
      ),
      deadline: fc.constantFrom('hour' as const, 'exact' as const),
      late: fc.constantFrom(0n, 1n, 3600n),
      garbage: fc.constantFrom('random' as const, 'high-s' as const, 'bad-v' as const, 'wrong-value' as const),
      seed: fc.nat(1000),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('redeposit' as const),
      who: fc.nat(2),
      honest: fc.boolean(),
      ch: fc.nat(20),
      assetIndex: fc.bigInt({ min: 0n, max: 2n }),
      participant: fc.bigInt({ min: 0n, max: 1n }),
      share: fc.integer({ min: 1, max: 100 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('time' as const),
      seconds: fc.oneof(fc.bigInt({ min: 0n, max: 100n }), fc.bigInt({ min: 100n, max: 5000n }), fc.constant(100_000n)),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('mischief' as const),
      what: fc.constantFrom('false' as const, 'burn' as const, 'lie' as const, 'reenter' as const),
      on: fc.boolean(),
      amount,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('code' as const),
      who: fc.nat(2),
      code: fc.constantFrom('none' as const, 'rejecting' as const, 'burning' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('donate' as const), ch: fc.nat(20), asset: fc.nat(3), amount: small }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('crafted' as const),
      item: attackerItem,
      honest: fc.option(fc.nat(20), { nil: undefined }),
      at: fc.nat(2000),
      byte: fc.nat(255),
    }),
  },
);

class StepCommand implements fc.AsyncCommand<Engine, World> {
  readonly s: Step;
  constructor(s: Step) {
    this.s = s;
  }
  check(): boolean {
    return true;
  }
  run(engine: Engine): Promise<void> {
    return engine.step(this.s);
  }
  toString(): string {
    return JSON.stringify(this.s, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  }
}

export interface FuzzRun {
  readonly seed: number;
  /** Sequences to run. */
  readonly runs: number;
  /** The most steps in one sequence. */
  readonly maxSteps: number;
  /** Called after each sequence with the totals so far. */
  readonly progress?: (totals: EngineStats, sequences: number) => void;
}

/** How long the last world took to build (ms): deployments, minting, approvals. */
export let setupMs = 0;

/** Runs the fuzzer; throws fast-check's report (the shrunk counterexample and its seed) on a violation. */
export async function runContractFuzz(o: FuzzRun): Promise<EngineStats> {
  const t0 = performance.now();
  const world = await createWorld();
  setupMs = performance.now() - t0;
  const initial = new Map<string, bigint>();
  const pairs = world.accounts.flatMap((a) => world.assets.map((asset) => [a, asset] as const));
  const snap = await world.read({ holdings: [], owed: [], balances: pairs, disputes: [] });
  pairs.forEach(([a, asset], i) => initial.set(`${a}|${asset}`, snap.balances[i]!));
  let base = await world.snapshot();
  const totals: EngineStats = { steps: 0, transactions: 0, items: 0, settled: 0, reverted: 0, outcomes: {} };
  let sequences = 0;
  await fc.assert(
    fc.asyncProperty(fc.commands([step.map((s) => new StepCommand(s))], { maxCommands: o.maxSteps, size: 'max' }), async (cmds) => {
      base = await world.revert(base);
      const engine = new Engine(world, initial);
      try {
        await fc.asyncModelRun(() => ({ model: engine, real: world }), cmds);
      } finally {
        totals.steps += engine.stats.steps;
        totals.transactions += engine.stats.transactions;
        totals.items += engine.stats.items;
        totals.settled += engine.stats.settled;
        totals.reverted += engine.stats.reverted;
        for (const [k, v] of Object.entries(engine.stats.outcomes)) totals.outcomes[k] = (totals.outcomes[k] ?? 0) + v;
        sequences++;
        o.progress?.(totals, sequences);
      }
    }),
    { seed: o.seed, numRuns: o.runs, endOnFailure: false },
  );
  return totals;
}

export { NATIVE };
