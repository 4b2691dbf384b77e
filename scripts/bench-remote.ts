/**
 * The "remote SDK" scenario (issue 15): payments/s and latency through `connect()` (the
 * WebSocket stream, docs/adr/0015) against a running daemon, next to the same daemon's in-process
 * load generator on the same channels, measured in one run.
 *
 * One network (`startTestnet`: an EDR chain, a coordinator, 2 node daemons started through the
 * `lanes` CLI with `--load-generator`); node-0 opens `--channels` ETH channels to node-1. Then,
 * alternately, `--reps` loads of each kind on those channels, node-0 paying node-1 with
 * `--in-flight` payments in flight per channel (closed loop), `--seconds` long, the first second
 * a warm-up that does not count:
 *
 *   embedded  the daemon's load generator (POST /v1/load: src/load/load-generator.ts): the node's
 *             own LanesApi, no API in between;
 *   remote    a client process started for the load (this script with `--client-load`),
 *             through `connect({ url, token })` (the same closed loop over `node.pay`), every
 *             call over the daemon's WebSocket.
 *
 * The targets: remote ≥ 50% of embedded payments/s, remote p99 ≤ embedded p99 + 10 ms (medians
 * over the loads). CPU of each process over each window (/proc) says where the time goes.
 *
 *   node scripts/bench-remote.ts [--seconds 8] [--reps 3] [--channels 4] [--in-flight 128]
 *                                [--transport stream|http] [--only embedded|remote] [--json]
 *
 * `--only` runs one kind (for CPU profiles: LANES_TESTNET_NODE_ARGS="--cpu-prof --cpu-prof-dir=…"
 * for the daemons, `node --cpu-prof` for this script and its client processes). `LANES_KEEP_DIR=1` keeps the daemons' data
 * and logs (with `LANES_TESTNET_NODE_ARGS=--trace-gc`, their GC pauses are in each node directory's node.log).
 * Each load reports the GC pause time of the payer, the payee (their `nodejs_gc_duration_seconds`)
 * and the client (its own `gc` performance entries). `LANES_BENCH_SURVIVORS=file` writes a
 * sampling heap profile of what the client allocates that outlives a scavenge (DevTools format).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Session } from 'node:inspector';
import type { Bytes32 } from '../src/core/bytes.ts';
import { newHistogram, summarize } from '../src/load/histogram.ts';
import type { LoadSnapshot } from '../src/load/load-generator.ts';
import { connect } from '../src/sdk/connect.ts';
import { startTestnet } from '../src/testnet/network.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    reps: { type: 'string', default: '3' },
    channels: { type: 'string', default: '4' },
    'in-flight': { type: 'string', default: '128' },
    transport: { type: 'string', default: 'stream' },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
    /** Internal: run one remote load as the client process (JSON settings), report over IPC. */
    'client-load': { type: 'string' },
  },
});
const seconds = Number(args.seconds);
const reps = Number(args.reps);
const channelCount = Number(args.channels);
const inFlight = Number(args['in-flight']);
const transport = args.transport === 'http' ? 'http' : 'stream';
const warmupMs = 1000;
const durationMs = seconds * 1000;
const amount = 1_000_000_000n;
const log = (m: string) => process.stderr.write(`${m}\n`);

type ClientReport = Omit<LoadResult, 'kind' | 'cpuCores' | 'gcMs'> & { readonly clientGcMs?: number };

/**
 * One remote load, as its own process: connects, says it is ready, waits for "go", runs the
 * closed loop (the load generator's, LoadGenerator.#run/#one, over `node.pay`) and reports.
 */
async function clientLoad(settings: string): Promise<void> {
  const o = JSON.parse(settings) as {
    url: string;
    token: string;
    transport: 'stream' | 'http';
    ids: Bytes32[];
    inFlight: number;
    durationMs: number;
    warmupMs: number;
    amount: string;
  };
  const amount = BigInt(o.amount);
  const client = await connect({ url: o.url, token: o.token, transport: o.transport });
  await new Promise<void>((resolve) => {
    process.once('message', () => resolve());
    process.send!({ ready: true });
  });
  const hist = newHistogram();
  let clientGcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) clientGcMs += e.duration;
  });
  gc.observe({ entryTypes: ['gc'] });
  const start = Date.now();
  // LANES_BENCH_SURVIVORS=file: a sampling heap profile of what outlives a scavenge (objects a
  // minor GC collected are left out), written when the load ends (Chrome DevTools format).
  const survivors = process.env.LANES_BENCH_SURVIVORS;
  const inspector = survivors ? new Session() : undefined;
  if (inspector) {
    inspector.connect();
    inspector.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: false,
    });
  }
  const windowStart = start + o.warmupMs;
  const end = start + o.durationMs;
  let payments = 0;
  let failures = 0;
  await Promise.all(
    o.ids.flatMap((id) =>
      Array.from({ length: o.inFlight }, async () => {
        while (Date.now() < end) {
          const began = Date.now();
          const t0 = performance.now();
          try {
            await client.pay(id, { amount });
            const now = Date.now();
            if (began >= windowStart && now <= end) {
              hist.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
              payments++;
            }
          } catch {
            if (Date.now() <= end) failures++;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      }),
    ),
  );
  const l = summarize(hist);
  await client.stop();
  const report: ClientReport = {
    payments,
    failures,
    paymentsPerSecond: payments / ((o.durationMs - o.warmupMs) / 1000),
    p50Ms: l.p50,
    p99Ms: l.p99,
    clientGcMs,
  };
  gc.disconnect();
  if (inspector)
    await new Promise<void>((resolve) =>
      inspector.post('HeapProfiler.stopSampling', (err, r) => {
        if (!err) writeFileSync(survivors!, JSON.stringify(r.profile));
        resolve();
      }),
    );
  await new Promise<void>((resolve) => process.send!({ report }, () => resolve()));
}

if (args['client-load'] !== undefined) {
  await clientLoad(args['client-load']);
  process.exit(0);
}

/** User + system CPU ms of a process so far (/proc/<pid>/stat, clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface LoadResult {
  readonly kind: 'embedded' | 'remote';
  readonly payments: number;
  readonly failures: number;
  readonly paymentsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU used over the whole load (warm-up included), as cores: payer daemon, payee daemon, the client process (from when it is connected). */
  readonly cpuCores: { readonly payer: number; readonly payee: number; readonly client: number };
  /** Garbage-collection pauses over the load, in ms (daemons: their nodejs_gc_duration_seconds; the client: its own). */
  readonly gcMs: { readonly payer: number; readonly payee: number; readonly client: number };
}

const dir = mkdtempSync(join(tmpdir(), 'lanes-bench-remote-'));
log(
  `… remote SDK: 2 daemons, ${channelCount} channels, ${inFlight} payments in flight per channel (node-0 pays), ${seconds} s loads, ${reps} of each, ${transport} transport`,
);
const net = await startTestnet({ dir, nodes: 2, loadGenerator: true, logLevel: 'warn' });
let exitCode = 0;
try {
  const [payer, payee] = net.nodes as [(typeof net.nodes)[0], (typeof net.nodes)[0]];
  const ids: Bytes32[] = [];
  for (let i = 0; i < channelCount; i++) {
    const ch = await payer.api.openChannel({
      peer: payee.multiaddr,
      deposit: [1000n * 10n ** 18n],
      counterpartyDeposit: [1000n * 10n ** 18n],
      waitFor: 'open',
    });
    ids.push(ch.id);
  }
  for (const id of ids) {
    for (let i = 0; (await payee.api.channel(id)).status !== 'open'; i++) {
      if (i > 600) throw new Error(`channel ${id} is not open on the payee's side`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const token = readFileSync(payer.tokenFile, 'utf8').trim();

  /** A daemon's GC pauses so far, in ms (prom-client's default metrics on GET /metrics). */
  const tokens = new Map([payer, payee].map((n) => [n, readFileSync(n.tokenFile, 'utf8').trim()]));
  const gcMsOf = async (node: typeof payer): Promise<number> => {
    const res = await fetch(`${node.apiUrl}/metrics`, { headers: { authorization: `Bearer ${tokens.get(node)!}` } });
    let ms = 0;
    for (const m of (await res.text()).matchAll(/^nodejs_gc_duration_seconds_sum\{[^}]*\} ([0-9.e+-]+)$/gm)) ms += Number(m[1]) * 1000;
    return ms;
  };

  /** Runs one load; CPU per process over it. The client is this process, or the one `track` names once it starts. */
  const around = async (kind: LoadResult['kind'], body: (track: (pid: number) => void) => Promise<ClientReport>): Promise<LoadResult> => {
    const g0 = [await gcMsOf(payer), await gcMsOf(payee)] as const;
    const c0 = [cpuMsOf(payer.pid), cpuMsOf(payee.pid), process.cpuUsage()] as const;
    let t0 = performance.now();
    let client: { pid: number; ms: number; last: number } | undefined;
    let clientPayer = c0[0];
    let clientPayee = c0[1];
    const r = await body((pid) => {
      // Counted from when the client is connected and starts: its start-up is not the load's.
      t0 = performance.now();
      clientPayer = cpuMsOf(payer.pid);
      clientPayee = cpuMsOf(payee.pid);
      client = { pid, ms: cpuMsOf(pid), last: cpuMsOf(pid) };
      const poll = setInterval(() => {
        try {
          client!.last = cpuMsOf(pid);
        } catch {
          clearInterval(poll);
        }
      }, 100);
      poll.unref();
    });
    const wall = performance.now() - t0;
    let clientMs: number;
    if (client) {
      try {
        client.last = cpuMsOf(client.pid);
      } catch {
        // exited: its last sample stands
      }
      clientMs = client.last - client.ms;
    } else {
      const cu = process.cpuUsage(c0[2]);
      clientMs = (cu.user + cu.system) / 1000;
    }
    const { clientGcMs, ...rest } = r;
    return {
      kind,
      ...rest,
      gcMs: { payer: (await gcMsOf(payer)) - g0[0], payee: (await gcMsOf(payee)) - g0[1], client: clientGcMs ?? 0 },
      cpuCores: {
        payer: (cpuMsOf(payer.pid) - clientPayer) / wall,
        payee: (cpuMsOf(payee.pid) - clientPayee) / wall,
        client: clientMs / wall,
      },
    };
  };

  const embedded = () =>
    around('embedded', async () => {
      await payer.request('POST', '/v1/load', {
        channels: ids,
        concurrency: inFlight,
        durationMs,
        warmupMs,
        amount: amount.toString(),
        swapEvery: 0,
        intervalMs: 500,
      });
      let s: LoadSnapshot;
      do {
        await new Promise((r) => setTimeout(r, 250));
        s = await payer.request<LoadSnapshot>('GET', '/v1/load?since=1000000');
      } while (s.state !== 'done');
      const failures = Object.values(s.measured.failures).reduce((a, b) => a + b, 0);
      return {
        payments: s.measured.payments,
        failures,
        paymentsPerSecond: s.measured.payments / (s.measured.windowMs / 1000),
        p50Ms: s.measured.latency.p50,
        p99Ms: s.measured.latency.p99,
      };
    });

  // The same closed loop as the load generator, over connect(), in a client process of its own
  // (clientLoad below), started for each load: an application that connects and pays. This
  // process is idle during the embedded loads, and V8's memory reducer shrinks an idle heap: a
  // client kept across them pays for that in its GC at the next burst (docs/performance.md).
  const remote = () =>
    around('remote', async (track) => {
      const child = fork(
        fileURLToPath(import.meta.url),
        [
          '--client-load',
          JSON.stringify({ url: payer.apiUrl, token, transport, ids, inFlight, durationMs, warmupMs, amount: amount.toString() }),
        ],
        {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        },
      );
      const answer = new Promise<ClientReport>((resolve, reject) => {
        child.on('message', (m: { ready?: true; report?: ClientReport }) => {
          if (m.ready) {
            track(child.pid!);
            child.send('go');
          } else if (m.report) resolve(m.report);
        });
        child.once('exit', (code) => reject(new Error(`the client process exited with ${code} before reporting`)));
      });
      const r = await answer;
      child.disconnect();
      return r;
    });

  const kinds = args.only === 'embedded' ? [embedded] : args.only === 'remote' ? [remote] : [embedded, remote];
  log('… warm-up: one load of each');
  for (const f of kinds) await f();
  const runs: LoadResult[] = [];
  for (let r = 0; r < reps; r++) {
    for (const f of kinds) {
      const x = await f();
      runs.push(x);
      log(
        `  ${x.kind.padEnd(8)} ${Math.round(x.paymentsPerSecond).toLocaleString('en-US')} payments/s, p50 ${x.p50Ms} ms, p99 ${x.p99Ms} ms` +
          `${x.failures ? `, ${x.failures} failed` : ''}; CPU (cores) payer ${x.cpuCores.payer.toFixed(2)}, payee ${x.cpuCores.payee.toFixed(2)}, client ${x.cpuCores.client.toFixed(2)}; GC (ms) payer ${Math.round(x.gcMs.payer)}, payee ${Math.round(x.gcMs.payee)}, client ${Math.round(x.gcMs.client)}`,
      );
    }
  }
  const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  const of = (kind: LoadResult['kind']) => {
    const xs = runs.filter((x) => x.kind === kind);
    return {
      paymentsPerSecond: Math.round(median(xs.map((x) => x.paymentsPerSecond))),
      paymentsPerSecondRange: [
        Math.round(Math.min(...xs.map((x) => x.paymentsPerSecond))),
        Math.round(Math.max(...xs.map((x) => x.paymentsPerSecond))),
      ],
      p50Ms: median(xs.map((x) => x.p50Ms)),
      p99Ms: median(xs.map((x) => x.p99Ms)),
      failures: xs.reduce((a, x) => a + x.failures, 0),
      cpuCores: {
        payer: median(xs.map((x) => x.cpuCores.payer)),
        payee: median(xs.map((x) => x.cpuCores.payee)),
        client: median(xs.map((x) => x.cpuCores.client)),
      },
    };
  };
  if (args.only !== undefined) {
    const x = of(args.only === 'embedded' ? 'embedded' : 'remote');
    if (args.json) process.stdout.write(`${JSON.stringify({ only: args.only, ...x, runs }, null, 2)}\n`);
    else console.log(`${args.only}: ${x.paymentsPerSecond.toLocaleString('en-US')} payments/s, p50 ${x.p50Ms} ms, p99 ${x.p99Ms} ms`);
  } else {
    const e = of('embedded');
    const rm = of('remote');
    const ratio = rm.paymentsPerSecond / e.paymentsPerSecond;
    /** Each remote load against the embedded load just before it: steadier on a shared machine than the ratio of medians. */
    const pairRatios = runs.flatMap((x, i) =>
      x.kind === 'remote' && runs[i - 1]?.kind === 'embedded' ? [x.paymentsPerSecond / runs[i - 1]!.paymentsPerSecond] : [],
    );
    const targets = [
      {
        target: 'remote payments/s ≥ 50% of embedded',
        measured: ratio,
        goal: 0.5,
        met: ratio >= 0.5,
        gap: `${(100 * ratio).toFixed(0)}% (${rm.paymentsPerSecond.toLocaleString('en-US')} of ${e.paymentsPerSecond.toLocaleString('en-US')}; load by load ${pairRatios.map((x) => `${(100 * x).toFixed(0)}%`).join(', ')})`,
      },
      {
        target: 'remote p99 ≤ embedded p99 + 10 ms',
        measured: rm.p99Ms,
        goal: e.p99Ms + 10,
        met: rm.p99Ms <= e.p99Ms + 10,
        gap: `${rm.p99Ms} ms vs ${(e.p99Ms + 10).toFixed(1)} ms (embedded ${e.p99Ms} ms + 10): ${rm.p99Ms - e.p99Ms >= 0 ? '+' : ''}${(rm.p99Ms - e.p99Ms).toFixed(1)} ms over embedded`,
      },
    ];
    const result = {
      setup: { daemons: 2, channels: channelCount, inFlightPerChannel: inFlight, loadSeconds: seconds, warmupMs, reps, transport },
      embedded: e,
      remote: rm,
      ratio,
      pairRatios,
      runs,
      targets,
    };
    if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      console.log(
        `\nremote SDK: 2 daemons, ${channelCount} channels, ${inFlight} in flight per channel, median of ${reps} loads of ${seconds} s`,
      );
      for (const [name, x] of [
        ['embedded', e],
        [`remote (${transport})`, rm],
      ] as const)
        console.log(
          `  ${name.padEnd(18)} ${x.paymentsPerSecond.toLocaleString('en-US')} payments/s (${x.paymentsPerSecondRange.map((v) => v.toLocaleString('en-US')).join('–')}), p50 ${x.p50Ms} ms, p99 ${x.p99Ms} ms; CPU payer ${x.cpuCores.payer.toFixed(2)}, payee ${x.cpuCores.payee.toFixed(2)}, client ${x.cpuCores.client.toFixed(2)} cores`,
        );
      for (const t of targets) console.log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.target}: ${t.gap}`);
    }
  }
} catch (err) {
  exitCode = 1;
  throw err;
} finally {
  await net.stop();
  if (exitCode === 0 && !process.env.LANES_KEEP_DIR) rmSync(dir, { recursive: true, force: true });
  else log(`data and logs kept in ${dir}`);
}
