/**
 * The channel machine against a Byzantine counterparty (test/fuzz/protocol): thousands of random
 * sequences of any message the counterparty can sign, our own operations, chain facts, time,
 * effect completions in any grouping and crashes at every boundary, with the honest side's
 * money checked after every step. `SEED=n` replays a run; `npm run fuzz:protocol -- --steps N`
 * runs long.
 */
import test from 'ava';
import { type Step, runProtocolFuzz, runStep } from '../../fuzz/protocol/commands.ts';
import { ProtocolWorld } from '../../fuzz/protocol/world.ts';

const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);

test('the honest side never loses money, whatever its counterparty signs and sends, across crashes', (t) => {
  t.timeout(240_000);
  t.log(`SEED=${seed}`);
  const stats = runProtocolFuzz({ seed, runs: 3000, maxSteps: 60 });
  t.log(
    `${stats.steps} steps: ${stats.updates} co-signed updates, ${stats.refused} refusals, ${stats.crashes} crashes, ${stats.settled} settlements, ${stats.quietTicks} quiet ticks checked`,
  );
  // The budget must reach the interesting places, or it proves little.
  t.true(stats.updates > 500, 'co-signed updates happen');
  t.true(stats.refused > 500, 'refusals happen');
  t.true(stats.crashes > 500, 'crashes happen');
  t.true(stats.settled > 50, 'settlements happen');
  t.true(stats.quietTicks > 100, 'quiet machines are ticked (and checked to do nothing)');
});

// Counterexamples the fuzzer found, replayed step by step (the world checks every step).

/** Runs `steps` on a world whose honest side is the leader (role 0) with these deposit shares. */
function replay(shares: [[bigint, bigint], [bigint, bigint]], steps: readonly Step[]): ProtocolWorld {
  const w = new ProtocolWorld({ role: 0, seed: 0, shares, duration: 600n });
  for (const s of steps) runStep(w, s);
  return w;
}
test('regression: a state registered on-chain while a newer catch-up state is being written does not end up on disk over it', (t) => {
  // SEED=1055777165: we proposed v1 (refused) and v2; the counterparty sent v2 co-signed as a
  // catch-up state and, while its write was in flight, registered v1 on-chain. v1 was written
  // after v2, so the disk held v1 while the caller of the payment in v2 was told it succeeded.
  const w = replay(
    [
      [0n, 1n],
      [1n, 0n],
    ],
    [
      { t: 'adv', spec: { m: 'request', ops: [{ mine: true, spec: { k: 'lock', asset: 0, amount: 1n, seed: 0, expiresIn: 1 }, id: 0 }] } },
      { t: 'complete', n: 1000 },
      { t: 'adv', spec: { m: 'reject', pick: 0, ops: 'none', reason: 'policy' } },
      { t: 'own', spec: { k: 'pay', asset: 1, amount: 1n } },
      { t: 'complete', n: 1000 },
      { t: 'close', force: true },
      { t: 'adv', spec: { m: 'state', pick: 35, forge: false } },
      { t: 'complete', n: 3 },
      { t: 'chain', what: 'register', pick: 4 },
      { t: 'tick', seconds: 1 },
    ] as Step[],
  );
  t.is(w.h.durable.latest?.state.version, w.h.m.latest?.state.version, 'the disk holds the latest state');
});

test('regression: the same after a crash, with a cancel of our own in the newer state', (t) => {
  // SEED=1055789453: the disk held v2 while a cancel in v1025 was reported done.
  const w = replay(
    [
      [0n, 2n],
      [0n, 1n],
    ],
    [
      {
        t: 'adv',
        spec: {
          m: 'request',
          ops: [
            { mine: true, spec: { k: 'pay', asset: 0, amount: 1n }, id: 0 },
            { mine: true, spec: { k: 'lock', asset: 0, amount: 1n, seed: 0, expiresIn: 1 }, id: 1 },
            { mine: true, spec: { k: 'lock', asset: 0, amount: 0n, seed: 0, expiresIn: 0 }, id: 0 },
          ],
        },
      },
      { t: 'complete', n: 1000 },
      { t: 'own', spec: { k: 'swap', give: 0, giveAmount: 1n, takeAmount: 1n, expiresIn: 1 } },
      { t: 'adv', spec: { m: 'state', pick: 13, forge: false } },
      { t: 'complete', n: 1000 },
      { t: 'crash' },
      { t: 'own', spec: { k: 'cancel', pick: 0 } },
      { t: 'tick', seconds: 1 },
      { t: 'adv', spec: { m: 'state', pick: 3, forge: false } },
      { t: 'complete', n: 1 },
      { t: 'chain', what: 'register', pick: 22 },
      { t: 'complete', n: 1 },
      { t: 'complete', n: 4 },
    ] as Step[],
  );
  t.is(w.h.durable.latest?.state.version, w.h.m.latest?.state.version, 'the disk holds the latest state');
});

test('regression: a final state the chain paid out, at the version of a catch-up state being written, is ours at once', (t) => {
  // SEED=1056094818, found against the first version of the fix above (which skipped the chain's
  // state at the same version as the one being adopted): the finalize's caller was told it was
  // paid at v1 while nothing on disk said v1 yet.
  const w = replay(
    [
      [0n, 0n],
      [0n, 0n],
    ],
    [
      { t: 'own', spec: { k: 'finalize' } },
      { t: 'complete', n: 1000 },
      { t: 'adv', spec: { m: 'cooperate' } },
      { t: 'adv', spec: { m: 'reject', pick: 0, ops: 'none', reason: 'policy' } },
      { t: 'adv', spec: { m: 'state', pick: 3, forge: false } },
      { t: 'complete', n: 2 },
      { t: 'chain', what: 'close', pick: 15 },
      { t: 'complete', n: 1000 },
    ] as Step[],
  );
  t.is(w.h.durable.latest?.state.version, w.h.m.latest?.state.version, 'the disk holds the latest state');
});
