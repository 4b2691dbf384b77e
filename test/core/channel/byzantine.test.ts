/**
 * The channel machine against a Byzantine counterparty (test/fuzz/protocol): thousands of random
 * sequences of any message the counterparty can sign, our own operations, chain facts, time,
 * effect completions in any grouping and crashes at every boundary, with the honest side's
 * money checked after every step. `SEED=n` replays a run; `npm run fuzz:protocol -- --steps N`
 * runs long.
 */
import test from 'ava';
import { runProtocolFuzz } from '../../fuzz/protocol/commands.ts';

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
