/**
 * `npm run bench`: Lanes' numbers next to the floors they stand on, measured in one run on this
 * machine, so ratios mean something even on a shared, noisy machine.
 *
 *   floors   secp256k1 sign and verify per thread (scripts/bench-crypto.ts), and the crypto floor
 *            of co-signed updates: an update needs 2 signatures and 2 verifications (leader signs,
 *            follower verifies and countersigns, leader verifies), so a machine of N cores can
 *            co-sign at most N / (2·sign + 2·verify) updates a second;
 *            libp2p request/response round trips between two processes (scripts/bench-p2p.ts).
 *   Lanes    two node daemons: co-signed updates/s (many channels, one operation in flight per
 *            side) and payments/s (few channels, many in flight); then the default testnet
 *            (`lanes testnet`: 4 nodes in a ring, payment and swap channels). Each on one network:
 *            a warm-up load, then `--reps` measured loads (median, min–max), every channel then
 *            closed through the coordinator and checked on-chain.
 *
 *   remote   the same daemon through `connect()` (the WebSocket stream) against its own load
 *            generator on the same channels (scripts/bench-remote.ts).
 *   scale    1,000 channels opened between two daemons; restart time and RSS of a node holding
 *            1k, 10k and 100k channels (scripts/bench-scale.ts).
 *
 * Targets (docs/performance.md): ≥ 100,000 payments/s across the testnet with p99 < 50 ms,
 * co-signed updates/s ≥ half the crypto floor, the remote SDK at ≥ 50% of embedded payments/s with
 * p99 ≤ embedded + 10 ms, 1,000 channels open in ≤ 20 s, 100,000 channels restart in ≤ 5 s within
 * 2 GiB RSS. Printed as met or missed, with the gap.
 *
 *   npm run bench                 a table
 *   npm run bench -- --json       one JSON object
 *   npm run bench -- --quick      shorter loads, one repetition (a smoke run)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { createProgress } from '../src/testnet/progress.ts';
import { type RunOptions, type TestnetReport, runTestnet } from '../src/testnet/run.ts';

const run = promisify(execFile);
const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    seconds: { type: 'string' },
  },
});
const reps = Number(args.reps ?? (args.quick ? 1 : 3));
const seconds = Number(args.seconds ?? (args.quick ? 4 : 8));
const log = (m: string) => process.stderr.write(`${m}\n`);
const script = (name: string) => fileURLToPath(new URL(`./${name}`, import.meta.url));

interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}
const stat = (xs: readonly number[]): Stat => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor((s.length - 1) / 2)]!, min: s[0]!, max: s.at(-1)! };
};

async function jsonOf<T>(file: string, extra: string[] = []): Promise<T> {
  const { stdout } = await run(process.execPath, [script(file), '--json', ...extra], { maxBuffer: 16 << 20, timeout: 900_000 });
  return JSON.parse(stdout) as T;
}

interface CryptoBench {
  singleThread: { native?: { sign: number; verify: number }; noble: { sign: number; verify: number } };
  workerSigner: { verify: { workers: number; rate: number }[] };
  noise: { otherLoad?: number; redone: number };
}
interface P2pBench {
  sequential: { p50Us: number; p99Us: number };
  pipelined64: { perSecond: number };
  pipelined256: { perSecond: number };
}

interface Scenario {
  readonly name: string;
  readonly what: string;
  readonly options: Omit<RunOptions, 'out'>;
}

interface ScenarioResult {
  readonly name: string;
  readonly what: string;
  readonly ok: boolean;
  readonly failedChecks: readonly string[];
  readonly channels: number;
  readonly paymentsPerSecond: Stat;
  readonly updatesPerSecond: Stat;
  readonly swapsPerSecond: Stat;
  readonly p50: Stat;
  readonly p99: Stat;
  readonly operationsPerUpdate: number;
  readonly cpuPerUpdateUs: number;
  readonly cpuPerOperationUs: number;
  readonly gasPerChannel: number;
  readonly report: string;
}

const base = {
  topology: 'ring',
  seed: 1,
  swapEvery: 10,
  amount: 1_000_000_000n,
  deposit: 100n,
  durationMs: seconds * 1000,
  warmupMs: 1000,
  repetitions: reps,
  warmupRuns: 1,
  quiet: true,
} as const;

const scenarios: Scenario[] = [
  {
    name: 'two nodes: updates',
    what: '2 node processes, 128 payment channels, 1 payment in flight per side per channel',
    options: { ...base, nodes: 2, channelsPerLink: 128, swapRatio: 0, concurrency: 1 },
  },
  {
    name: 'two nodes: payments',
    what: '2 node processes, 8 payment channels, 128 payments in flight per side per channel',
    options: { ...base, nodes: 2, channelsPerLink: 8, swapRatio: 0, concurrency: 128 },
  },
  {
    name: 'testnet',
    what: '4 node processes in a ring, 8 channels (2 swap), 128 operations in flight per side per channel',
    options: { ...base, nodes: 4, channelsPerLink: 2, swapRatio: 0.25, concurrency: 128 },
  },
];

async function scenario(s: Scenario): Promise<ScenarioResult> {
  const out = mkdtempSync(join(tmpdir(), 'lanes-bench-'));
  log(`… ${s.name}: ${s.what}`);
  const progress = createProgress({ quiet: args.json || !process.stderr.isTTY });
  const r: TestnetReport = await runTestnet({ ...s.options, out: join(out, 'report') }, progress);
  const reps = r.repetitions;
  const result: ScenarioResult = {
    name: s.name,
    what: s.what,
    ok: r.ok,
    failedChecks: r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`),
    channels: r.channels.total,
    paymentsPerSecond: stat(reps.map((x) => x.paymentsPerSecond)),
    updatesPerSecond: stat(reps.map((x) => x.updatesPerSecond)),
    swapsPerSecond: stat(reps.map((x) => x.swapsPerSecond)),
    p50: stat(reps.map((x) => x.p50)),
    p99: stat(reps.map((x) => x.p99)),
    operationsPerUpdate: r.load.operationsPerUpdate,
    cpuPerUpdateUs: r.load.cpu.perUpdateUs,
    cpuPerOperationUs: r.load.cpu.perOperationUs,
    gasPerChannel: r.settlement.gasPerChannel,
    report: r.files?.html ?? '',
  };
  if (r.ok) rmSync(out, { recursive: true, force: true });
  return result;
}

// ---------------------------------------------------------------------------------------------

const cores = availableParallelism();
log(
  `lanes bench: ${cores} cores (${cpus()[0]?.model ?? 'unknown cpu'}), node ${process.version}; ${reps} measured load(s) of ${seconds} s per scenario after a warm-up load`,
);
log('… crypto floor (scripts/bench-crypto.ts)');
const crypto = await jsonOf<CryptoBench>('bench-crypto.ts');
log('… libp2p request/response between two processes (scripts/bench-p2p.ts)');
const p2p = await jsonOf<P2pBench>('bench-p2p.ts', ['--seconds', String(args.quick ? 1 : 3)]);
const fastest = crypto.singleThread.native ?? crypto.singleThread.noble;
/** CPU time of the signatures of one co-signed update: 2 signs + 2 verifies. */
const cryptoUsPerUpdate = 2e6 / fastest.sign + 2e6 / fastest.verify;
const floorUpdates = (cores * 1e6) / cryptoUsPerUpdate;
const results: ScenarioResult[] = [];
for (const s of scenarios) results.push(await scenario(s));

interface RoutedBench {
  readonly idle: { readonly p50Ms: number; readonly p99Ms: number };
  readonly loaded: {
    readonly concurrencyPerPayer: number;
    readonly paymentsPerSecond: number;
    readonly successRate: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
  };
}
log('… routed payments over 3 hops, 4 node processes in a line (scripts/bench-routed.ts)');
const routed = await jsonOf<RoutedBench>('bench-routed.ts', ['--seconds', String(seconds), '--concurrency', '200']);
log('… route computation on 10,000 nodes and 50,000 channels (scripts/bench-route.ts)');
const route = await jsonOf<{ readonly perRouteMs: { readonly p50: number; readonly p90: number; readonly p99: number } }>(
  'bench-route.ts',
  ['--routes', args.quick ? '20' : '100'],
);

interface RemoteBench {
  readonly setup: { readonly channels: number; readonly inFlightPerChannel: number };
  readonly embedded: { readonly paymentsPerSecond: number; readonly p50Ms: number; readonly p99Ms: number };
  readonly remote: { readonly paymentsPerSecond: number; readonly p50Ms: number; readonly p99Ms: number };
  readonly ratio: number;
}
log('… remote SDK: connect() over the WebSocket against a daemon vs its load generator (scripts/bench-remote.ts)');
const remote = await jsonOf<RemoteBench>('bench-remote.ts', ['--seconds', String(seconds), '--reps', String(reps)]);
interface ScaleBench {
  readonly open: readonly { readonly channels: number; readonly seconds: number; readonly perSecond: number }[];
  readonly openTransactions: number;
  readonly restart: readonly {
    readonly channels: number;
    readonly restartSeconds: number;
    readonly rssBytes: number;
    readonly peakRssBytes: number;
  }[];
}
log('… scale: opening 1,000 channels, restart and memory at 1k/10k/100k channels (scripts/bench-scale.ts)');
const scale = await jsonOf<ScaleBench>('bench-scale.ts', args.quick ? ['--counts', '1000,10000'] : ['--open-max', '10000']);

const byName = (name: string) => results.find((r) => r.name === name)!;
const testnet = byName('testnet');
const updates = byName('two nodes: updates');
const targets = [
  {
    target: '≥ 100,000 payments/s across the testnet',
    measured: testnet.paymentsPerSecond.median,
    goal: 100_000,
    met: testnet.paymentsPerSecond.median >= 100_000,
  },
  { target: 'testnet p99 latency < 50 ms', measured: testnet.p99.median, goal: 50, met: testnet.p99.median < 50 },
  {
    target: '≥ 20,000 routed payments/s over 3 hops',
    measured: routed.loaded.paymentsPerSecond,
    goal: 20_000,
    met: routed.loaded.paymentsPerSecond >= 20_000,
  },
  { target: 'routed p99 latency ≤ 100 ms (loaded)', measured: Math.round(routed.loaded.p99Ms), goal: 100, met: routed.loaded.p99Ms <= 100 },
  {
    target: 'one routed payment, idle: p50 latency ≤ 20 ms',
    measured: Math.round(routed.idle.p50Ms),
    goal: 20,
    met: routed.idle.p50Ms <= 20,
  },
  { target: 'route computation p90 ≤ 50 ms', measured: route.perRouteMs.p90, goal: 50, met: route.perRouteMs.p90 <= 50 },
  {
    target: 'remote SDK payments/s ≥ 50% of embedded (same channels)',
    measured: remote.remote.paymentsPerSecond,
    goal: Math.round(remote.embedded.paymentsPerSecond / 2),
    met: remote.ratio >= 0.5,
  },
  {
    target: 'remote SDK p99 latency ≤ embedded p99 + 10 ms',
    measured: remote.remote.p99Ms,
    goal: remote.embedded.p99Ms + 10,
    met: remote.remote.p99Ms <= remote.embedded.p99Ms + 10,
  },
  ...scaleTargets(),
  {
    target: 'co-signed updates/s ≥ half the crypto floor',
    measured: updates.updatesPerSecond.median,
    goal: Math.round(floorUpdates / 2),
    met: updates.updatesPerSecond.median >= floorUpdates / 2,
  },
];

function scaleTargets() {
  const open1k = scale.open.find((o) => o.channels === 1000);
  const r100k = scale.restart.find((r) => r.channels === 100_000);
  return [
    ...(open1k
      ? [{ target: '1,000 channels open in ≤ 20 s (seconds)', measured: open1k.seconds, goal: 20, met: open1k.seconds <= 20 }]
      : []),
    ...(r100k
      ? [
          { target: '100,000 channels: restart ≤ 5 s (seconds)', measured: r100k.restartSeconds, goal: 5, met: r100k.restartSeconds <= 5 },
          {
            target: '100,000 channels held in ≤ 2 GiB RSS (MiB)',
            measured: Math.round(Math.max(r100k.rssBytes, r100k.peakRssBytes) / 2 ** 20),
            goal: 2048,
            met: Math.max(r100k.rssBytes, r100k.peakRssBytes) <= 2 ** 31,
          },
        ]
      : []),
  ];
}

if (args.json) {
  console.log(
    JSON.stringify(
      {
        machine: { cores, cpu: cpus()[0]?.model, node: process.version },
        method: { measuredLoads: reps, warmupLoads: 1, loadSeconds: seconds, statistic: 'median (min–max) over loads' },
        floors: {
          signPerSecondPerThread: Math.round(fastest.sign),
          verifyPerSecondPerThread: Math.round(fastest.verify),
          cryptoUsPerUpdate: Math.round(cryptoUsPerUpdate),
          cryptoFloorUpdatesPerSecond: Math.round(floorUpdates),
          libp2pRoundTripsPerSecond: p2p.pipelined64.perSecond,
          libp2pRoundTripP50Us: p2p.sequential.p50Us,
        },
        scenarios: results.map((r) => ({
          ...r,
          updatesVsCryptoFloor: r.updatesPerSecond.median / floorUpdates,
          cpuPerUpdateVsCrypto: r.cpuPerUpdateUs / cryptoUsPerUpdate,
          paymentsVsCryptoFloorUpdates: r.paymentsPerSecond.median / floorUpdates,
        })),
        routed,
        route,
        remote,
        scale,
        targets,
      },
      null,
      2,
    ),
  );
} else {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const st = (s: Stat, unit = '') => `${n(s.median)}${unit} (${n(s.min)}–${n(s.max)})`;
  const ms = (s: Stat) => `${s.median} ms (${s.min}–${s.max})`;
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  console.log(`\nFloors (${cores} cores)`);
  console.log(`  secp256k1 sign      ${n(fastest.sign)}/s per thread`);
  console.log(`  secp256k1 verify    ${n(fastest.verify)}/s per thread`);
  console.log(
    `  crypto floor        ${n(floorUpdates)} co-signed updates/s (2 signs + 2 verifies = ${n(cryptoUsPerUpdate)} µs per update, on ${cores} cores)`,
  );
  console.log(
    `  libp2p              ${n(p2p.pipelined64.perSecond)} round trips/s (64 in flight), ${n(p2p.sequential.p50Us)} µs p50 one at a time`,
  );
  for (const r of results) {
    console.log(`\n${r.name}: ${r.what}`);
    console.log(
      `  payments/s          ${st(r.paymentsPerSecond)}   = ${(r.paymentsPerSecond.median / floorUpdates).toFixed(1)}× the crypto floor's updates/s`,
    );
    console.log(`  co-signed updates/s ${st(r.updatesPerSecond)}   = ${pct(r.updatesPerSecond.median / floorUpdates)} of the crypto floor`);
    if (r.swapsPerSecond.max > 0) console.log(`  swaps/s             ${st(r.swapsPerSecond)}`);
    console.log(`  latency             p50 ${ms(r.p50)}, p99 ${ms(r.p99)}`);
    console.log(
      `  CPU                 ${n(r.cpuPerUpdateUs)} µs per update (${(r.cpuPerUpdateUs / cryptoUsPerUpdate).toFixed(1)}× its signatures), ${n(r.cpuPerOperationUs)} µs per operation, ${r.operationsPerUpdate.toFixed(1)} operations per update`,
    );
    console.log(
      `  settlement          ${n(r.gasPerChannel)} gas per channel, ${r.ok ? 'every check passed' : `FAILED: ${r.failedChecks.join('; ')}`}`,
    );
  }
  console.log('\nrouted: 4 node processes in a line, 3-hop keysends both ways, 200 in flight per payer');
  console.log(
    `  routed payments/s   ${n(routed.loaded.paymentsPerSecond)}, success ${(100 * routed.loaded.successRate).toFixed(2)}%, p50 ${n(routed.loaded.p50Ms)} ms, p99 ${n(routed.loaded.p99Ms)} ms`,
  );
  console.log(`  idle, one at a time p50 ${routed.idle.p50Ms.toFixed(1)} ms, p99 ${routed.idle.p99Ms.toFixed(1)} ms`);
  console.log(`  route computation   p50 ${route.perRouteMs.p50} ms, p99 ${route.perRouteMs.p99} ms (10,000 nodes, 50,000 channels)`);
  console.log(
    `\nremote SDK: 2 daemons, ${remote.setup.channels} channels, ${remote.setup.inFlightPerChannel} payments in flight per channel, node-0 paying`,
  );
  for (const [name, x] of [
    ['embedded', remote.embedded],
    ['connect() stream', remote.remote],
  ] as const)
    console.log(`  ${name.padEnd(19)} ${n(x.paymentsPerSecond)} payments/s, p50 ${x.p50Ms} ms, p99 ${x.p99Ms} ms`);
  console.log(`  remote / embedded   ${pct(remote.ratio)}`);
  console.log("\nscale: two daemons on EDR (open); records written straight into a node's store (restart, RSS)");
  for (const o of scale.open) console.log(`  open ${n(o.channels)} channels  ${o.seconds.toFixed(1)} s (${o.perSecond.toFixed(0)}/s)`);
  for (const r of scale.restart)
    console.log(
      `  ${n(r.channels).padStart(7)} channels  restart ${r.restartSeconds.toFixed(2)} s, RSS ${n(r.rssBytes / 2 ** 20)} MiB (peak ${n(r.peakRssBytes / 2 ** 20)} MiB)`,
    );
  console.log('\nTargets');
  for (const t of targets) {
    const gap = t.target.includes('latency')
      ? `${t.measured} ms${t.target.includes('embedded') ? ` (limit ${t.goal.toFixed(1)} ms)` : ''}`
      : t.target.includes('(seconds)') || t.target.includes('(MiB)')
        ? `${t.measured.toFixed(t.target.includes('MiB') ? 0 : 2)} of ${t.goal}`
        : `${n(t.measured)} of ${n(t.goal)} (${pct(t.measured / t.goal)})`;
    console.log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.target}: ${gap}`);
  }
}
if (results.some((r) => !r.ok)) process.exitCode = 1;
