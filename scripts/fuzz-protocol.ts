/**
 * `npm run fuzz:protocol -- --steps N [--seed S] [--max-steps M] [--jobs J]`: the channel
 * machine against a Byzantine counterparty (test/fuzz/protocol) for a long run, on J processes
 * (default: one per core), each with its own seed. Reports steps, steps/s and what was reached;
 * on a violation, the counterexample shrunk to its shortest sequence with the seed and path that
 * replay it, and exits 1.
 */
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { runProtocolFuzz } from '../test/fuzz/protocol/commands.ts';
import { type WorldStats, emptyStats } from '../test/fuzz/protocol/world.ts';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '1000000' },
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
  const runs = Math.max(1, Math.ceil(steps / (maxSteps / 2)));
  let last = 0;
  try {
    const totals = runProtocolFuzz({
      seed,
      runs,
      maxSteps,
      progress: (t) => {
        if (t.steps - last >= 20_000) {
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
  `protocol fuzzer: ${steps} steps on ${jobs} process(es), sequences of up to ${maxSteps} steps, seeds ${seed}..${seed + jobs - 1}`,
);
const t0 = Date.now();
const progress = new Array<number>(jobs).fill(0);
const results = await Promise.all(
  Array.from(
    { length: jobs },
    (_, j) =>
      new Promise<{ totals?: WorldStats; failed?: string }>((resolve) => {
        const child = fork(new URL(import.meta.url).pathname, [
          '--worker',
          '--steps',
          String(Math.ceil(steps / jobs)),
          '--seed',
          String(seed + j),
          '--max-steps',
          String(maxSteps),
        ]);
        child.on('message', (m: { progress?: number; done?: WorldStats; failed?: string }) => {
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
const sum: WorldStats = emptyStats();
for (const r of results) if (r.totals) for (const k of Object.keys(sum) as (keyof WorldStats)[]) sum[k] += r.totals[k];
console.log(
  `${sum.steps} steps in ${seconds.toFixed(0)} s (${Math.round(sum.steps / seconds)} steps/s): ${sum.updates} co-signed updates, ` +
    `${sum.refused} refusals, ${sum.crashes} crashes, ${sum.settled} settlements, ${sum.unlocked} unlocks, ${sum.reveals} reveals`,
);
const failures = results.filter((r) => r.failed);
if (failures.length > 0) {
  for (const f of failures) console.error(`\nVIOLATION ${f.failed}`);
  process.exit(1);
}
console.log('no invariant violated');
