/**
 * `npm run fuzz:contract -- --steps N [--seed S] [--max-steps M] [--jobs J]`: the adjudicator's
 * invariant fuzzer (test/fuzz/contract) for a long run. Runs sequences of up to M steps (default
 * 60) until N steps are done, on J processes (default: one per core, each with its own seed),
 * and reports steps, steps/s and the item outcomes reached. On a violation it prints the
 * counterexample shrunk to its shortest sequence, with the seed and path that replay it, and
 * exits 1.
 */
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { runContractFuzz } from '../test/fuzz/contract/commands.ts';
import type { EngineStats } from '../test/fuzz/contract/engine.ts';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    'max-steps': { type: 'string', default: '60' },
    jobs: { type: 'string' },
    worker: { type: 'boolean', default: false },
  },
});
const steps = Number(values.steps);
const maxSteps = Number(values['max-steps']);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);

if (values.worker) {
  // One process: sequences until its share of steps is done; totals to the parent.
  const runs = Math.max(1, Math.ceil(steps / (maxSteps / 2)));
  let last = 0;
  try {
    const totals = await runContractFuzz({
      seed,
      runs,
      maxSteps,
      progress: (t) => {
        if (t.steps - last >= 2000) {
          last = t.steps;
          process.send?.({ progress: t.steps });
        }
      },
    });
    process.send?.({ done: totals });
  } catch (e) {
    const err = e as Error & { cause?: Error };
    process.send?.({ failed: `${err.message}\n${err.cause?.message ?? ''}` });
  }
  process.exit(0);
}

const jobs = Number(values.jobs ?? availableParallelism());
console.log(
  `contract fuzzer: ${steps} steps on ${jobs} process(es), sequences of up to ${maxSteps} steps, seeds ${seed}..${seed + jobs - 1}`,
);
const t0 = Date.now();
const progress = new Array<number>(jobs).fill(0);
const results = await Promise.all(
  Array.from(
    { length: jobs },
    (_, j) =>
      new Promise<{ totals?: EngineStats; failed?: string }>((resolve) => {
        const child = fork(new URL(import.meta.url).pathname, [
          '--worker',
          '--steps',
          String(Math.ceil(steps / jobs)),
          '--seed',
          String(seed + j),
          '--max-steps',
          String(maxSteps),
        ]);
        child.on('message', (m: { progress?: number; done?: EngineStats; failed?: string }) => {
          if (m.progress !== undefined) {
            progress[j] = m.progress;
            const done = progress.reduce((a, b) => a + b, 0);
            process.stdout.write(`\r  ${done} steps, ${Math.round((done * 1000) / (Date.now() - t0))} steps/s   `);
          }
          if (m.done) resolve({ totals: m.done });
          if (m.failed) resolve({ failed: `seed ${seed + j}: ${m.failed}` });
        });
        child.on('exit', (code) => resolve({ failed: `seed ${seed + j}: worker exited with ${code}` }));
      }),
  ),
);
process.stdout.write('\n');
const seconds = (Date.now() - t0) / 1000;
const failures = results.filter((r) => r.failed);
const sum: EngineStats = { steps: 0, transactions: 0, items: 0, settled: 0, reverted: 0, outcomes: {} };
for (const r of results) {
  if (!r.totals) continue;
  sum.steps += r.totals.steps;
  sum.transactions += r.totals.transactions;
  sum.items += r.totals.items;
  sum.settled += r.totals.settled;
  sum.reverted += r.totals.reverted;
  for (const [k, v] of Object.entries(r.totals.outcomes)) sum.outcomes[k] = (sum.outcomes[k] ?? 0) + v;
}
console.log(
  `${sum.steps} steps in ${seconds.toFixed(0)} s (${Math.round(sum.steps / seconds)} steps/s): ${sum.transactions} transactions ` +
    `(${sum.reverted} reverted, as the model predicted), ${sum.items} batch items (${sum.settled} settled)`,
);
for (const [k, v] of Object.entries(sum.outcomes).sort()) console.log(`  ${k.padEnd(32)} ${v}`);
if (failures.length > 0) {
  for (const f of failures) console.error(`\nVIOLATION ${f.failed}`);
  process.exit(1);
}
console.log('no invariant violated');
