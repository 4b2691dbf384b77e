/**
 * `lanes testnet`: start a network, open channels in a topology, run payments and swaps through
 * every node at once, close every channel through the coordinator, check the chain against the
 * channels, and write a report (JSON and HTML). The checks, not the speed, decide the exit code.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { decodeFunctionData, parseEventLogs, type Hex } from 'viem';
import { type Address, type Bytes32, NATIVE_ASSET } from '../core/bytes.ts';
import { LanesError } from '../core/errors.ts';
import { LanesAdjudicatorAbi } from '../chain/artifacts/LanesAdjudicator.ts';
import { TestTokenAbi } from '../chain/artifacts/mocks/TestToken.ts';
import type { ChannelInfo, CloseResult } from '../sdk/api.ts';
import { type LatencySummary, newHistogram, summarize } from '../load/histogram.ts';
import type { LoadSnapshot } from '../load/load-generator.ts';
import type { EventLoopStats } from '../load/window-probe.ts';
import { type ExistingChain, type Testnet, defaultSignerWorkers, isRunning, startTestnet } from './network.ts';
import { type Progress, createProgress } from './progress.ts';
import { renderHtml } from './report-html.ts';
import { type RoutedReport, runRoutedLoad } from './routed.ts';
import { type AssetSymbol, type ChannelPlan, type TopologyName, fundingFor, fundingOnChain, planChannels } from './topology.ts';

export interface RunOptions {
  readonly nodes: number;
  readonly topology: TopologyName;
  readonly channelsPerLink: number;
  readonly swapRatio: number;
  readonly seed: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  /** Operations each node keeps in flight per channel (closed loop). */
  readonly concurrency: number;
  /** Open loop instead: operations per second per channel per node. */
  readonly rate?: number;
  /** Base units per payment (and per swap leg). */
  readonly amount: bigint;
  /** In swap channels, every n-th operation is a swap. */
  readonly swapEvery: number;
  /** What each side deposits per asset, in whole units (ETH or tokens). */
  readonly deposit: bigint;
  readonly signerWorkers?: number;
  readonly logLevel?: string;
  /** Loads run one after the other on the same channels (default 1); the report shows the median one. */
  readonly repetitions?: number;
  /** Loads run first and left out of the report (default 0). */
  readonly warmupRuns?: number;
  /** Where the report goes (report.json, report.html). */
  readonly out: string;
  /** Data directories and logs (default: a temporary directory, removed after a passing run). */
  readonly dir?: string;
  readonly keep?: boolean;
  /** No progress output (the report is still written). */
  readonly quiet?: boolean;
  /** An existing chain instead of a new EDR one (`--chain-rpc URL --funder-key F`, src/testnet/network.ts). */
  readonly chain?: ExistingChain;
  /**
   * `direct` (default): the in-node load generator, inside each channel. `routed`: keysends
   * between nodes that share no channel, over public channels and the gossiped graph (routed.ts).
   */
  readonly workload?: 'direct' | 'routed';
}

export const DEFAULTS = {
  nodes: 4,
  topology: 'ring',
  channelsPerLink: 2,
  swapRatio: 0.25,
  seed: 1,
  durationMs: 20_000,
  warmupMs: 2_000,
  concurrency: 128,
  amount: 1_000_000_000n,
  swapEvery: 10,
  deposit: 100n,
} as const satisfies Partial<RunOptions>;

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface TimelinePoint {
  /** Seconds from the start of the load. */
  readonly t: number;
  readonly paymentsPerSecond: number;
  readonly swapsPerSecond: number;
  readonly updatesPerSecond: number;
  readonly failures: number;
  readonly p50: number;
  readonly p99: number;
}

export interface RepetitionSummary {
  readonly paymentsPerSecond: number;
  readonly updatesPerSecond: number;
  readonly swapsPerSecond: number;
  readonly operationsPerUpdate: number;
  readonly p50: number;
  readonly p99: number;
  readonly cpuPerOperationUs: number;
  readonly cpuPerUpdateUs: number;
  readonly failures: number;
}

export interface SettlementTx {
  readonly hash: Bytes32;
  readonly from: Address;
  readonly function: string;
  readonly gasUsed: number;
  readonly channels: number;
}

export interface TestnetReport {
  readonly ok: boolean;
  /** The routed workload's figures (`--workload routed`). */
  readonly routed?: RoutedReport;
  readonly startedAt: string;
  readonly machine: { readonly node: string; readonly cores: number; readonly cpu: string; readonly platform: string };
  readonly config: Omit<RunOptions, 'amount' | 'deposit' | 'quiet' | 'keep' | 'out' | 'dir'> & { amount: string; deposit: string };
  readonly network: {
    readonly chainId: string;
    readonly adjudicator: Address;
    readonly coordinator: Address;
    readonly tokens: readonly { symbol: string; address: Address }[];
    readonly nodes: readonly { name: string; address: Address; peerId: string }[];
  };
  readonly channels: { readonly total: number; readonly payment: number; readonly swap: number };
  /** Wall-clock milliseconds per phase. */
  readonly phases: Record<'start' | 'open' | 'load' | 'close' | 'verify' | 'stop', number>;
  readonly load: {
    readonly windowMs: number;
    readonly payments: number;
    readonly swaps: number;
    readonly updates: number;
    readonly failures: Readonly<Record<string, number>>;
    readonly paymentsPerSecond: number;
    readonly swapsPerSecond: number;
    readonly updatesPerSecond: number;
    readonly operationsPerUpdate: number;
    /**
     * CPU time the node processes used in the measured window (user + system, every thread),
     * and per payment or swap and per co-signed update: on a saturated machine, the cost that
     * decides throughput.
     */
    readonly cpu: { readonly ms: number; readonly perOperationUs: number; readonly perUpdateUs: number };
    /** Milliseconds, from call to acknowledgement, payments and swaps. */
    readonly latency: LatencySummary;
    readonly perNode: readonly {
      name: string;
      payments: number;
      swaps: number;
      updates: number;
      failures: number;
      cpuMs: number;
      eventLoop: EventLoopStats;
      latency: LatencySummary;
    }[];
    readonly timeline: readonly TimelinePoint[];
  };
  /** Every measured load, in order (the `load` above is the one with the median payments/s). */
  readonly repetitions: readonly RepetitionSummary[];
  readonly settlement: {
    readonly channels: number;
    readonly viaCoordinator: number;
    readonly transactions: readonly SettlementTx[];
    readonly gasTotal: number;
    readonly gasPerChannel: number;
  };
  readonly checks: readonly Check[];
  /** Every process the run started (the chain, the coordinator, the nodes), all stopped by its end. */
  readonly processes: readonly number[];
  readonly files?: { readonly json: string; readonly html: string; readonly dir?: string };
}

/** Runs `n` tasks at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, task: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await task(items[i]!, i);
      }
    }),
  );
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

export async function runTestnet(o: RunOptions, progress: Progress = createProgress({ quiet: o.quiet ?? false })): Promise<TestnetReport> {
  const startedAt = new Date();
  const dir = o.dir ? resolve(o.dir) : mkdtempSync(join(tmpdir(), 'lanes-testnet-'));
  const planned = planChannels({
    nodes: o.nodes,
    topology: o.topology,
    channelsPerLink: o.channelsPerLink,
    swapRatio: o.swapRatio,
    seed: o.seed,
  });
  // Routed payments are in ETH: every channel of a routed workload carries ETH (the planner
  // alternates ETH and tUSD payment channels, which left a ring of single links without an
  // ETH path between opposite nodes); with routed swaps (--swap-every), tUSD too, so that any
  // node on a route can convert (every testnet node quotes every pair: network.ts).
  const routedAssets: AssetSymbol[] = o.swapEvery > 0 ? ['ETH', 'tUSD'] : ['ETH'];
  const plans: readonly ChannelPlan[] =
    o.workload === 'routed'
      ? planned.map((p) => ({ ...p, kind: routedAssets.length > 1 ? 'swap' : 'payment', assets: routedAssets }))
      : planned;
  const phases = { start: 0, open: 0, load: 0, close: 0, verify: 0, stop: 0 };
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  let t = performance.now();
  const lap = (phase: keyof typeof phases) => {
    const now = performance.now();
    phases[phase] = Math.round(now - t);
    t = now;
  };

  progress.step(
    `testnet: ${o.nodes} nodes, ${o.topology}, ${plans.length} channels (${plans.filter((p) => p.kind === 'swap').length} swap), data in ${dir}`,
  );
  let net: Testnet | undefined;
  const started: number[] = [];
  let partial: Omit<TestnetReport, 'ok' | 'checks' | 'phases' | 'processes'> | undefined;
  let failure: unknown;
  let routed: RoutedReport | undefined;
  try {
    net = await startTestnet({
      dir,
      nodes: o.nodes,
      fund: (o.chain ? fundingOnChain : fundingFor)(plans, o.nodes, o.deposit),
      ...(o.chain ? { chain: o.chain } : {}),
      loadGenerator: true,
      logLevel: o.logLevel ?? 'warn',
      ...(o.signerWorkers === undefined ? {} : { signerWorkers: o.signerWorkers }),
      ...(o.workload === 'routed' ? { graph: true } : {}),
      onStep: (m) => progress.step(m),
    });
    lap('start');
    const channels = await openChannels(net, plans, o, progress);
    lap('open');
    if (o.workload === 'routed') {
      routed = await runRoutedLoad(
        net,
        plans,
        { durationMs: o.durationMs, concurrency: o.concurrency, amount: o.amount, seed: o.seed, swapEvery: o.swapEvery },
        progress,
      );
      routedChecks(routed, check);
    }
    const runs: TestnetReport['load'][] = [];
    const warmups = o.warmupRuns ?? 0;
    const total = o.workload === 'routed' ? 0 : warmups + (o.repetitions ?? 1);
    for (let r = 0; r < total; r++) {
      const label = total === 1 ? 'load' : r < warmups ? `warm-up ${r + 1}` : `run ${r - warmups + 1}/${total - warmups}`;
      const l = await runLoad(net, plans, channels, o, progress, label);
      if (r >= warmups) runs.push(l);
    }
    const load = [...runs].sort((a, b) => a.paymentsPerSecond - b.paymentsPerSecond)[Math.floor((runs.length - 1) / 2)] ?? emptyLoad();
    const repetitions = runs.map(repetitionSummary);
    lap('load');
    const settlement = await closeAndVerify(net, plans, channels, progress, check);
    lap('close');
    if (net.crashed()) check('no process crashed', false, net.crashed()!);
    else check('no process crashed', true, `${net.pids().length} processes ran to the end`);
    const failed = runs.reduce((a, l) => a + Object.values(l.failures).reduce((x, y) => x + y, 0), 0);
    const operations = runs.reduce((a, l) => a + l.payments + l.swaps, 0);
    check(
      'every operation completed',
      failed === 0,
      failed === 0
        ? `${fmt(operations)} payments and swaps in the measured window${runs.length > 1 ? 's' : ''}, none failed`
        : `failures: ${runs.map((l) => JSON.stringify(l.failures)).join(', ')}`,
    );
    lap('verify');
    partial = {
      startedAt: startedAt.toISOString(),
      machine: machine(),
      config: configJson(o),
      network: {
        chainId: net.chain.chainId.toString(),
        adjudicator: net.adjudicator,
        coordinator: net.coordinator.address,
        tokens: net.tokens.map((x) => ({ symbol: x.symbol, address: x.address })),
        nodes: net.nodes.map((n) => ({ name: n.name, address: n.address, peerId: n.peerId })),
      },
      channels: {
        total: plans.length,
        payment: plans.filter((p) => p.kind === 'payment').length,
        swap: plans.filter((p) => p.kind === 'swap').length,
      },
      load,
      repetitions,
      settlement,
      ...(routed ? { routed } : {}),
    };
  } catch (e) {
    failure = e;
    check(
      'the run completed',
      false,
      e instanceof LanesError
        ? `${e.shortMessage}${e.details ? `: ${e.details}` : ''}`
        : e instanceof Error
          ? e.message.split('\n')[0]!
          : String(e),
    );
  } finally {
    if (net) {
      progress.step('stopping every process');
      started.push(...net.started());
      const pids = net.pids();
      await net.stop();
      const left = pids.filter(isRunning);
      check(
        'clean shutdown',
        left.length === 0,
        left.length === 0 ? `${pids.length} processes stopped` : `still running: ${left.join(', ')}`,
      );
    }
    lap('stop');
    progress.close();
  }
  const ok = checks.every((c) => c.ok);
  const report: TestnetReport = {
    ok,
    ...(partial ?? {
      startedAt: startedAt.toISOString(),
      machine: machine(),
      config: configJson(o),
      network: { chainId: '', adjudicator: NATIVE_ASSET, coordinator: NATIVE_ASSET, tokens: [], nodes: [] },
      channels: { total: plans.length, payment: 0, swap: 0 },
      load: emptyLoad(),
      repetitions: [],
      settlement: { channels: 0, viaCoordinator: 0, transactions: [], gasTotal: 0, gasPerChannel: 0 },
    }),
    phases,
    checks,
    processes: started,
  };
  mkdirSync(o.out, { recursive: true });
  const files = { json: join(o.out, 'report.json'), html: join(o.out, 'report.html') };
  const keepDir = o.keep || !ok || o.dir !== undefined;
  const final: TestnetReport = { ...report, files: { ...files, ...(keepDir ? { dir } : {}) } };
  writeFileSync(files.json, JSON.stringify(final, null, 2) + '\n');
  writeFileSync(files.html, renderHtml(final));
  if (!keepDir) rmSync(dir, { recursive: true, force: true });
  if (failure !== undefined && !(failure instanceof LanesError)) progress.step(`error: ${String((failure as Error)?.stack ?? failure)}`);
  return final;
}

/** The routed workload's checks: success rate, every failure traced to a hop, and conservation with fees. */
function routedChecks(r: RoutedReport, check: (name: string, ok: boolean, detail: string) => void): void {
  const rate = r.successRate * 100;
  check(
    'routed payments succeed (≥ 99.5%)',
    r.successRate >= 0.995,
    `${r.settled} of ${r.attempted} settled (${rate.toFixed(2)}%)${r.failed ? `; failures: ${JSON.stringify(r.failures)}` : ''}`,
  );
  const untraced = Object.keys(r.failures).filter((k) => !/ at hop \d+$/.test(k));
  check(
    'every routed failure names its hop',
    untraced.length === 0,
    untraced.length === 0 ? `${r.failed} failures, each with its hop` : `without a hop: ${untraced.join(', ')}`,
  );
  const text = (m: Readonly<Record<string, string>>) =>
    Object.entries(m)
      .map(([a, x]) => `${x} ${a}`)
      .join(' + ') || '0';
  const wrong = r.nodes.filter((n) => JSON.stringify(n.balanceChange) !== JSON.stringify(n.expectedChange));
  check(
    "every node's balance moved, asset by asset, by its payments, forwards and conversions",
    wrong.length === 0,
    wrong.length === 0
      ? `${r.nodes.length} nodes; fees earned ${r.nodes.map((n) => `${n.name} ${text(n.feesEarned)}`).join(', ')}; ${r.swaps.settled} routed swaps`
      : wrong.map((n) => `${n.name}: moved ${text(n.balanceChange)}, expected ${text(n.expectedChange)}`).join('; '),
  );
  if (r.swaps.attempted > 0)
    check('routed swaps settle', r.swaps.settled > 0, `${r.swaps.settled} of ${r.swaps.attempted} settled, each at its hub's quoted rate`);
}

function machine(): TestnetReport['machine'] {
  return {
    node: process.version,
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    platform: `${process.platform} ${process.arch}`,
  };
}

function configJson(o: RunOptions): TestnetReport['config'] {
  return {
    nodes: o.nodes,
    topology: o.topology,
    channelsPerLink: o.channelsPerLink,
    swapRatio: o.swapRatio,
    seed: o.seed,
    durationMs: o.durationMs,
    warmupMs: o.warmupMs,
    concurrency: o.concurrency,
    ...(o.rate === undefined ? {} : { rate: o.rate }),
    amount: o.amount.toString(),
    swapEvery: o.swapEvery,
    deposit: o.deposit.toString(),
    signerWorkers: o.signerWorkers ?? defaultSignerWorkers(o.nodes),
    ...(o.logLevel === undefined ? {} : { logLevel: o.logLevel }),
    ...(o.repetitions === undefined ? {} : { repetitions: o.repetitions }),
    ...(o.warmupRuns === undefined ? {} : { warmupRuns: o.warmupRuns }),
  };
}

function repetitionSummary(l: TestnetReport['load']): RepetitionSummary {
  return {
    paymentsPerSecond: Math.round(l.paymentsPerSecond),
    updatesPerSecond: Math.round(l.updatesPerSecond),
    swapsPerSecond: Math.round(l.swapsPerSecond),
    operationsPerUpdate: Math.round(l.operationsPerUpdate * 10) / 10,
    p50: l.latency.p50,
    p99: l.latency.p99,
    cpuPerOperationUs: l.cpu.perOperationUs,
    cpuPerUpdateUs: l.cpu.perUpdateUs,
    failures: Object.values(l.failures).reduce((a, b) => a + b, 0),
  };
}

function emptyLoad(): TestnetReport['load'] {
  return {
    windowMs: 0,
    payments: 0,
    swaps: 0,
    updates: 0,
    failures: {},
    paymentsPerSecond: 0,
    swapsPerSecond: 0,
    updatesPerSecond: 0,
    operationsPerUpdate: 0,
    cpu: { ms: 0, perOperationUs: 0, perUpdateUs: 0 },
    latency: summarize(newHistogram()),
    perNode: [],
    timeline: [],
  };
}

// ---------------------------------------------------------------------------------------------
// Phases

async function openChannels(net: Testnet, plans: readonly ChannelPlan[], o: RunOptions, progress: Progress): Promise<ChannelInfo[]> {
  const bar = progress.bar('opening', plans.length, 'channels');
  const opened: ChannelInfo[] = [];
  let done = 0;
  // A node sends its deposits one at a time; more opens in flight than nodes only queue.
  await pool(plans, Math.max(2, net.nodes.length), async (p, i) => {
    const leader = net.nodes[p.leader]!;
    const follower = net.nodes[p.follower]!;
    const deposit = p.assets.map(() => o.deposit * 10n ** 18n);
    opened[i] = await leader.api.openChannel({
      peer: follower.multiaddr,
      assets: p.assets.map((s) => net.asset(s)),
      deposit,
      counterpartyDeposit: deposit,
      challengeDuration: 3600n,
      waitFor: 'open',
      ...(o.workload === 'routed' ? { public: true } : {}),
    });
    bar.update(++done);
  });
  bar.stop();
  // The follower sees the funding on its next chain poll.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const states = await Promise.all(plans.map((p, i) => net.nodes[p.follower]!.api.channel(opened[i]!.id)));
    const pending = states.filter((s) => s.status !== 'open');
    if (pending.length === 0) break;
    if (Date.now() > deadline) throw new LanesError(`${pending.length} channels are still not open on the follower's side`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return opened;
}

interface Poll {
  readonly at: number;
  readonly payments: number;
  readonly swaps: number;
  readonly updates: number;
}

async function runLoad(
  net: Testnet,
  plans: readonly ChannelPlan[],
  channels: readonly ChannelInfo[],
  o: RunOptions,
  progress: Progress,
  label = 'load',
): Promise<TestnetReport['load']> {
  const startAt = Date.now() + 1000;
  const byNode = net.nodes.map((n) =>
    plans.filter((p) => p.leader === n.index || p.follower === n.index).map((p) => channels[p.index]!.id),
  );
  await Promise.all(
    net.nodes.map((n, i) =>
      byNode[i]!.length === 0
        ? Promise.resolve()
        : n.request('POST', '/v1/load', {
            channels: byNode[i],
            concurrency: o.concurrency,
            ...(o.rate === undefined ? {} : { rate: o.rate }),
            durationMs: o.durationMs,
            warmupMs: o.warmupMs,
            startAt,
            amount: o.amount.toString(),
            swapEvery: o.swapEvery,
            intervalMs: 500,
          }),
    ),
  );
  const active = net.nodes.filter((_, i) => byNode[i]!.length > 0);
  const bar = progress.bar(label, Math.round(o.durationMs / 1000), 's');
  let last: Poll = { at: startAt, payments: 0, swaps: 0, updates: 0 };
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    if (net.crashed()) throw new LanesError(net.crashed()!);
    const since = Math.max(0, Math.floor((Date.now() - startAt) / 500) - 2);
    const snaps = await Promise.all(active.map((n) => n.request<LoadSnapshot>('GET', `/v1/load?since=${since}`)));
    const now = Date.now();
    const sum = (f: (s: LoadSnapshot) => number) => snaps.reduce((a, s) => a + f(s), 0);
    const poll: Poll = {
      at: now,
      payments: sum((s) => s.total.payments),
      swaps: sum((s) => s.total.swaps),
      updates: sum((s) => s.total.updates),
    };
    const dt = (poll.at - last.at) / 1000;
    // The latest finished interval's p99, worst across nodes.
    const p99 = Math.max(0, ...snaps.map((s) => s.intervals.at(-2)?.latency.p99 ?? 0));
    const failures = sum((s) => Object.values(s.total.failures).reduce((a, b) => a + b, 0));
    if (now >= startAt && dt > 0) {
      bar.update(
        Math.min(Math.round(o.durationMs / 1000), Math.max(0, Math.floor((now - startAt) / 1000))),
        `${fmt((poll.payments - last.payments) / dt)} payments/s  ${fmt((poll.updates - last.updates) / dt)} updates/s  ${fmt((poll.swaps - last.swaps) / dt)} swaps/s  p99 ${p99.toFixed(1)} ms${failures ? `  ${failures} failed` : ''}`,
      );
      last = poll;
    }
    if (snaps.every((s) => s.state === 'done')) break;
  }
  bar.stop();
  const finals = await Promise.all(active.map((n) => n.request<LoadSnapshot>('GET', '/v1/load?detail=1')));
  return aggregate(
    finals,
    active.map((n) => n.name),
  );
}

/** Merges the nodes' snapshots: counts add up, histograms merge exactly. */
export function aggregate(snaps: readonly LoadSnapshot[], names: readonly string[]): TestnetReport['load'] {
  const latency = newHistogram();
  const failures: Record<string, number> = {};
  for (const s of snaps) {
    if (s.measured.histogram) latency.add(decodeFromCompressedBase64(s.measured.histogram));
    for (const [k, v] of Object.entries(s.measured.failures)) failures[k] = (failures[k] ?? 0) + v;
  }
  const windowMs = Math.min(...snaps.map((s) => s.measured.windowMs));
  const sum = (f: (s: LoadSnapshot) => number) => snaps.reduce((a, s) => a + f(s), 0);
  const payments = sum((s) => s.measured.payments);
  const swaps = sum((s) => s.measured.swaps);
  const updates = sum((s) => s.measured.updates);
  const cpuMs = sum((s) => s.measured.cpuMs);
  const seconds = windowMs / 1000;
  const intervals = Math.max(0, ...snaps.map((s) => s.intervals.length));
  const step = (snaps[0]?.spec?.intervalMs ?? 500) / 1000;
  const timeline: TimelinePoint[] = [];
  for (let i = 0; i < intervals; i++) {
    const h = newHistogram();
    let p = 0;
    let sw = 0;
    let u = 0;
    let f = 0;
    for (const s of snaps) {
      const iv = s.intervals[i];
      if (!iv) continue;
      p += iv.payments;
      sw += iv.swaps;
      u += iv.updates;
      f += iv.failures;
      if (iv.histogram) h.add(decodeFromCompressedBase64(iv.histogram));
    }
    const l = summarize(h);
    timeline.push({
      t: i * step,
      paymentsPerSecond: p / step,
      swapsPerSecond: sw / step,
      updatesPerSecond: u / step,
      failures: f,
      p50: l.p50,
      p99: l.p99,
    });
  }
  return {
    windowMs,
    payments,
    swaps,
    updates,
    failures,
    paymentsPerSecond: seconds > 0 ? payments / seconds : 0,
    swapsPerSecond: seconds > 0 ? swaps / seconds : 0,
    updatesPerSecond: seconds > 0 ? updates / seconds : 0,
    operationsPerUpdate: updates > 0 ? (payments + swaps) / updates : 0,
    cpu: {
      ms: cpuMs,
      perOperationUs: payments + swaps > 0 ? Math.round((cpuMs * 1000) / (payments + swaps)) : 0,
      perUpdateUs: updates > 0 ? Math.round((cpuMs * 1000) / updates) : 0,
    },
    latency: summarize(latency),
    perNode: snaps.map((s, i) => ({
      name: names[i]!,
      payments: s.measured.payments,
      swaps: s.measured.swaps,
      updates: s.measured.updates,
      failures: Object.values(s.measured.failures).reduce((a, b) => a + b, 0),
      cpuMs: s.measured.cpuMs,
      eventLoop: s.measured.eventLoop,
      latency: s.measured.latency,
    })),
    timeline,
  };
}

/** Balance of `who` in `asset` on-chain. */
async function balanceOf(net: Testnet, asset: Address, who: Address): Promise<bigint> {
  if (asset === NATIVE_ASSET) return net.clients.publicClient.getBalance({ address: who });
  return (await net.clients.publicClient.readContract({
    address: asset,
    abi: TestTokenAbi,
    functionName: 'balanceOf',
    args: [who],
  })) as bigint;
}

async function closeAndVerify(
  net: Testnet,
  plans: readonly ChannelPlan[],
  opened: readonly ChannelInfo[],
  progress: Progress,
  check: (name: string, ok: boolean, detail: string) => void,
): Promise<TestnetReport['settlement']> {
  const { publicClient } = net.clients;
  const assets = [NATIVE_ASSET, ...net.tokens.map((x) => x.address)];
  const label = (a: Address) => (a === NATIVE_ASSET ? 'ETH' : (net.tokens.find((x) => x.address === a)?.symbol ?? a));

  // The latest co-signed state as each side sees it: they must agree.
  const views = await Promise.all(
    plans.map(async (p) => {
      const id = opened[p.index]!.id;
      const [l, f] = await Promise.all([net.nodes[p.leader]!.api.channel(id), net.nodes[p.follower]!.api.channel(id)]);
      return { plan: p, leader: l, follower: f };
    }),
  );
  const disagree = views.filter(
    (v) =>
      v.leader.version !== v.follower.version ||
      v.leader.balances.some((b, i) => b.mine !== v.follower.balances[i]!.theirs || b.theirs !== v.follower.balances[i]!.mine),
  );
  check(
    'both sides hold the same latest state',
    disagree.length === 0,
    disagree.length === 0 ? `${views.length} channels agree on version and balances` : `${disagree.length} channels disagree`,
  );
  const locked = views.filter((v) => v.leader.balances.some((b) => b.locked > 0n)).length;

  // Each node's expected payout per asset: its balance in the final state of every channel.
  const expected = net.nodes.map(() => new Map<Address, bigint>(assets.map((a) => [a, 0n])));
  for (const v of views) {
    for (const b of v.leader.balances) {
      const le = expected[v.plan.leader]!;
      const fe = expected[v.plan.follower]!;
      le.set(b.asset, le.get(b.asset)! + b.mine);
      fe.set(b.asset, fe.get(b.asset)! + b.theirs);
    }
  }
  const before = await Promise.all(net.nodes.map((n) => Promise.all(assets.map((a) => balanceOf(net, a, n.address)))));
  const fromBlock = (await publicClient.getBlockNumber()) + 1n;

  const bar = progress.bar('closing', plans.length, 'channels');
  let closed = 0;
  const results: CloseResult[] = [];
  await Promise.all(
    views.map(async (v, i) => {
      results[i] = await net.nodes[v.plan.leader]!.api.close(v.leader.id, { mode: 'cooperative' });
      bar.update(++closed);
    }),
  );
  bar.stop();
  const viaCoordinator = results.filter((r) => r.via === 'coordinator').length;
  check(
    'every channel settled through the coordinator',
    viaCoordinator === results.length,
    `${viaCoordinator} of ${results.length} channels settled by the coordinator`,
  );
  // The follower learns of the settlement from the chain.
  const deadline = Date.now() + 30_000;
  let followersClosed: number;
  for (;;) {
    const states = await Promise.all(views.map((v) => net.nodes[v.plan.follower]!.api.channel(v.leader.id)));
    followersClosed = states.filter((s) => s.status === 'closed').length;
    if (followersClosed === views.length || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const leadersClosed = results.filter((r) => r.status === 'closed').length;
  check(
    'every channel is closed on both sides',
    leadersClosed === views.length && followersClosed === views.length,
    `closed: ${leadersClosed} of ${views.length} leaders, ${followersClosed} of ${views.length} followers`,
  );

  // Settlement transactions: every transaction to the adjudicator since the closes began.
  const toBlock = await publicClient.getBlockNumber();
  const transactions: SettlementTx[] = [];
  for (let b = fromBlock; b <= toBlock; b++) {
    const block = await publicClient.getBlock({ blockNumber: b, includeTransactions: true });
    for (const tx of block.transactions) {
      if (tx.to?.toLowerCase() !== net.adjudicator) continue;
      const receipt = await publicClient.getTransactionReceipt({ hash: tx.hash });
      let fn = 'unknown';
      try {
        fn = decodeFunctionData({ abi: LanesAdjudicatorAbi, data: tx.input }).functionName;
      } catch {
        // not ours to name
      }
      const events = parseEventLogs({ abi: LanesAdjudicatorAbi, logs: receipt.logs });
      transactions.push({
        hash: tx.hash.toLowerCase() as Bytes32,
        from: tx.from.toLowerCase() as Address,
        function: fn,
        gasUsed: Number(receipt.gasUsed),
        channels: events.filter((e) => e.eventName === 'Closed' || e.eventName === 'Concluded').length,
      });
    }
  }
  const fromNodes = transactions.filter((x) => x.from !== net.coordinator.address);
  check(
    'nodes sent no settlement transactions of their own',
    fromNodes.length === 0,
    fromNodes.length === 0 ? `${transactions.length} transaction(s), all from the coordinator` : `${fromNodes.length} from nodes`,
  );
  const gasTotal = transactions.reduce((a, x) => a + x.gasUsed, 0);
  const settledChannels = transactions.reduce((a, x) => a + x.channels, 0);

  // Conservation: what each node received equals its final balances; totals equal deposits.
  const after = await Promise.all(net.nodes.map((n) => Promise.all(assets.map((a) => balanceOf(net, a, n.address)))));
  const mismatches: string[] = [];
  const paidOut = new Map<Address, bigint>(assets.map((a) => [a, 0n]));
  net.nodes.forEach((n, i) =>
    assets.forEach((a, k) => {
      const got = after[i]![k]! - before[i]![k]!;
      paidOut.set(a, paidOut.get(a)! + got);
      const want = expected[i]!.get(a)!;
      if (got !== want) mismatches.push(`${n.name} ${label(a)}: received ${got}, final balance ${want}`);
    }),
  );
  check(
    "each node's payout equals its final off-chain balance",
    mismatches.length === 0,
    mismatches.length === 0 ? `${net.nodes.length} nodes × ${assets.length} assets match to the wei` : mismatches.slice(0, 5).join('; '),
  );
  const deposits = new Map<Address, bigint>(assets.map((a) => [a, 0n]));
  const logs = await publicClient.getContractEvents({
    address: net.adjudicator,
    abi: LanesAdjudicatorAbi,
    eventName: 'Deposited',
    fromBlock: 0n,
  });
  for (const l of logs) {
    const { asset, amount } = l.args as { asset: Hex; amount: bigint };
    const a = asset.toLowerCase() as Address;
    deposits.set(a, (deposits.get(a) ?? 0n) + amount);
  }
  const finals = new Map<Address, bigint>(assets.map((a) => [a, 0n]));
  for (const e of expected) for (const [a, v] of e) finals.set(a, finals.get(a)! + v);
  const held = await Promise.all(assets.map((a) => balanceOf(net, a, net.adjudicator)));
  const totals = assets.map((a, k) => ({ a, dep: deposits.get(a)!, fin: finals.get(a)!, out: paidOut.get(a)!, held: held[k]! }));
  const bad = totals.filter((x) => x.dep !== x.fin || x.dep !== x.out || x.held !== 0n);
  check(
    'per asset: deposits = final balances = payouts, and the adjudicator keeps nothing',
    bad.length === 0 && locked === 0,
    bad.length === 0 && locked === 0
      ? totals.map((x) => `${label(x.a)} ${x.dep}`).join(', ')
      : [
          ...bad.map((x) => `${label(x.a)}: deposited ${x.dep}, final ${x.fin}, paid out ${x.out}, still held ${x.held}`),
          ...(locked ? [`${locked} channels hold locked amounts`] : []),
        ].join('; '),
  );
  return {
    channels: settledChannels,
    viaCoordinator,
    transactions,
    gasTotal,
    gasPerChannel: settledChannels > 0 ? Math.round(gasTotal / settledChannels) : 0,
  };
}
