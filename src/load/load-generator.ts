/**
 * The load generator behind `lanes testnet` and `npm run bench`: closed-loop (or fixed-rate)
 * payments and swaps on a set of channels, run inside a node daemon started with
 * `--load-generator`, so that what is measured is the node, not HTTP. It drives the node through
 * the same {@link LanesApi} an application uses, and records what it sees:
 *
 * - payments and swaps completed (counted once, by the node that made them), failures by code;
 * - co-signed updates (counted on the channels this node leads: each update once);
 * - latency from call to acknowledgement, in an HDR histogram (µs, 3 significant digits) that
 *   the testnet merges across nodes exactly;
 * - a timeline of fixed intervals from the agreed start, each with its own histogram.
 *
 * Only operations started after the warm-up and completed before the end count towards the
 * measured window; the timeline shows everything.
 */
import { performance } from 'node:perf_hooks';
import { encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import type { Address, Bytes32 } from '../core/bytes.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import type { LanesApi } from '../sdk/api.ts';
import { type LatencySummary, newHistogram, summarize } from './histogram.ts';
import type { LoadSpec, LoadSpecJson } from './load-spec.ts';
import { type EventLoopStats, WindowProbe } from './window-probe.ts';

export interface LoadInterval {
  /** Milliseconds from the start to the beginning of the interval. */
  readonly t: number;
  readonly payments: number;
  readonly swaps: number;
  readonly updates: number;
  readonly failures: number;
  readonly latency: LatencySummary;
  /** The interval's latency histogram (µs), HdrHistogram compressed base64; in detailed snapshots. */
  readonly histogram?: string;
}

export interface LoadCounts {
  readonly payments: number;
  readonly swaps: number;
  readonly updates: number;
  readonly failures: Readonly<Record<string, number>>;
}

export interface LoadSnapshot {
  readonly state: 'idle' | 'waiting' | 'running' | 'draining' | 'done';
  readonly spec?: LoadSpecJson;
  /** Milliseconds since the start (negative while waiting for it). */
  readonly elapsedMs: number;
  readonly inFlight: number;
  /** Everything completed so far. */
  readonly total: LoadCounts;
  /** Completed inside the measured window (after the warm-up, before the end). */
  readonly measured: LoadCounts & {
    readonly windowMs: number;
    /** CPU time this process used in the window (user + system, all threads), ms. */
    readonly cpuMs: number;
    /** How busy the event loop was in the window (0 to 1), and how late it ran timers (ms). */
    readonly eventLoop: EventLoopStats;
    readonly latency: LatencySummary;
    /** The measured window's latency histogram (µs), compressed base64; in detailed snapshots. */
    readonly histogram?: string;
  };
  /** The timeline from interval `firstInterval` on (all of it unless the caller asked `since`). */
  readonly firstInterval: number;
  readonly intervals: readonly LoadInterval[];
}

class Interval {
  payments = 0;
  swaps = 0;
  updates = 0;
  failures = 0;
  readonly latency = newHistogram();
  /** Set once the interval is over (percentiles cost a walk of the histogram). */
  summary: LatencySummary | undefined;
  encoded: string | undefined;
}

class Counts {
  payments = 0;
  swaps = 0;
  updates = 0;
  readonly failures: Record<string, number> = {};
  json(): LoadCounts {
    return { payments: this.payments, swaps: this.swaps, updates: this.updates, failures: { ...this.failures } };
  }
}

type Api = Pick<LanesApi, 'pay' | 'swap' | 'channel' | 'on'>;

interface Target {
  readonly id: Bytes32;
  readonly assets: readonly Address[];
  /** Operations started on this channel (picks pay or swap, and which way). */
  started: number;
}

/** Runs one load at a time against a node. */
export class LoadGenerator {
  readonly #api: Api;
  readonly #clock: () => number;
  #spec: LoadSpec | undefined;
  #state: LoadSnapshot['state'] = 'idle';
  #start = 0;
  #inFlight = 0;
  #total = new Counts();
  #measured = new Counts();
  #latency = newHistogram();
  #intervals: Interval[] = [];
  #led = new Set<string>();
  #stopRequested = false;
  #unsubscribe: (() => void) | undefined;
  #done: Promise<void> = Promise.resolve();
  #probe = new WindowProbe();

  constructor(api: Api, clock: () => number = Date.now) {
    this.#api = api;
    this.#clock = clock;
  }

  /** Checks the channels and starts the load (at `spec.startAt`); rejects if one is already running. */
  async start(spec: LoadSpec): Promise<LoadSnapshot> {
    if (this.#state !== 'idle' && this.#state !== 'done')
      throw new InvalidArgumentError(`a load is already ${this.#state}: stop it first (POST /v1/load/stop)`);
    const targets: Target[] = [];
    const led = new Set<string>();
    for (const id of spec.channels) {
      const info = await this.#api.channel(id);
      if (info.status !== 'open') throw new InvalidArgumentError(`channel ${id} is ${info.status}, not open`);
      targets.push({ id, assets: info.assets, started: 0 });
      if (info.role === 'leader') led.add(id);
    }
    this.#spec = spec;
    this.#led = led;
    this.#total = new Counts();
    this.#measured = new Counts();
    this.#latency = newHistogram();
    this.#intervals = [];
    this.#inFlight = 0;
    this.#probe = new WindowProbe();
    this.#stopRequested = false;
    this.#start = spec.startAt ?? this.#clock();
    this.#state = 'waiting';
    this.#unsubscribe?.();
    this.#unsubscribe = this.#api.on('channel-updated', (e) => {
      if (this.#state !== 'running' && this.#state !== 'draining') return;
      if (!this.#led.has(e.channelId)) return;
      const now = this.#clock();
      this.#total.updates++;
      this.#interval(now).updates++;
      if (this.#inWindow(now)) this.#measured.updates++;
    });
    this.#done = this.#run(targets);
    return this.snapshot();
  }

  /** Stops starting operations and waits for those in flight. */
  async stop(): Promise<LoadSnapshot> {
    this.#stopRequested = true;
    await this.#done;
    return this.snapshot();
  }

  /** Resolves when the current load has finished. */
  finished(): Promise<void> {
    return this.#done;
  }

  /**
   * Counters so far. `detail` adds the latency histograms (for merging across nodes); `since`
   * leaves out the intervals before it (a poller that has them already).
   */
  snapshot(detail = false, since = 0): LoadSnapshot {
    const spec = this.#spec;
    const now = this.#clock();
    const current = spec ? Math.floor((now - this.#start) / (spec.intervalMs ?? 500)) : 0;
    const windowMs = spec ? Math.max(0, Math.min(now, this.#start + spec.durationMs) - (this.#start + spec.warmupMs)) : 0;
    const step = spec?.intervalMs ?? 500;
    const draining = this.#state === 'running' && spec !== undefined && now >= this.#start + spec.durationMs;
    return {
      state: draining ? 'draining' : this.#state,
      ...(spec ? { spec: { ...spec, amount: spec.amount.toString() } } : {}),
      elapsedMs: spec ? now - this.#start : 0,
      inFlight: this.#inFlight,
      total: this.#total.json(),
      measured: {
        ...this.#measured.json(),
        windowMs,
        ...this.#probe.read(),
        latency: summarize(this.#latency),
        ...(detail ? { histogram: encodeIntoCompressedBase64(this.#latency) } : {}),
      },
      firstInterval: Math.min(since, this.#intervals.length),
      intervals: this.#intervals.slice(since).map((iv, k) => {
        const i = since + k;
        const over = i < current || this.#state === 'done';
        const summary = iv.summary ?? summarize(iv.latency);
        if (over) iv.summary = summary;
        const histogram = detail ? (iv.encoded ?? encodeIntoCompressedBase64(iv.latency)) : undefined;
        if (over && histogram !== undefined) iv.encoded = histogram;
        return {
          t: i * step,
          payments: iv.payments,
          swaps: iv.swaps,
          updates: iv.updates,
          failures: iv.failures,
          latency: summary,
          ...(histogram === undefined ? {} : { histogram }),
        };
      }),
    };
  }

  close(): void {
    this.#stopRequested = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  #interval(now: number): Interval {
    const step = this.#spec?.intervalMs ?? 500;
    const i = Math.max(0, Math.floor((now - this.#start) / step));
    for (let k = this.#intervals.length; k <= i; k++) this.#intervals.push(new Interval());
    return this.#intervals[i]!;
  }

  #inWindow(now: number): boolean {
    const spec = this.#spec!;
    return now >= this.#start + spec.warmupMs && now <= this.#start + spec.durationMs;
  }

  async #run(targets: Target[]): Promise<void> {
    const spec = this.#spec!;
    const wait = this.#start - this.#clock();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    this.#state = 'running';
    const end = this.#start + spec.durationMs;
    // CPU and event-loop figures over the measured window: a timer at each end.
    const probe = this.#probe;
    const windowStart = setTimeout(() => probe.begin(), Math.max(0, this.#start + spec.warmupMs - this.#clock()));
    const windowEnd = setTimeout(() => probe.end(), Math.max(0, end - this.#clock()));
    const more = () => !this.#stopRequested && this.#clock() < end;
    try {
      if (spec.rate === undefined) {
        await Promise.all(
          targets.flatMap((t) =>
            Array.from({ length: spec.concurrency }, async () => {
              while (more()) await this.#one(t);
            }),
          ),
        );
      } else {
        await this.#openLoop(targets, spec.rate, more);
      }
    } finally {
      clearTimeout(windowStart);
      clearTimeout(windowEnd);
      probe.end();
      this.#state = 'done';
    }
  }

  /** Starts `rate` operations per second per channel, in 10 ms ticks, at most `concurrency` in flight each. */
  async #openLoop(targets: Target[], rate: number, more: () => boolean): Promise<void> {
    const spec = this.#spec!;
    const inFlight = new Map<Target, number>(targets.map((t) => [t, 0]));
    const pending = new Set<Promise<void>>();
    const began = this.#clock();
    let issued = 0;
    while (more()) {
      const due = Math.floor(((this.#clock() - began) / 1000) * rate);
      for (; issued < due; issued++) {
        for (const t of targets) {
          if (inFlight.get(t)! >= spec.concurrency) continue;
          inFlight.set(t, inFlight.get(t)! + 1);
          const p = this.#one(t).then(() => {
            inFlight.set(t, inFlight.get(t)! - 1);
            pending.delete(p);
          });
          pending.add(p);
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    this.#state = 'draining';
    await Promise.all(pending);
  }

  async #one(t: Target): Promise<void> {
    const spec = this.#spec!;
    const n = t.started++;
    const swap = t.assets.length > 1 && spec.swapEvery > 0 && n % spec.swapEvery === spec.swapEvery - 1;
    // Alternate assets and directions so that balances stay where they started.
    const a = t.assets[Math.floor(n / Math.max(1, spec.swapEvery)) % t.assets.length]!;
    const b = t.assets[(t.assets.indexOf(a) + 1) % t.assets.length]!;
    const began = this.#clock();
    const t0 = performance.now();
    this.#inFlight++;
    try {
      if (swap) {
        await this.#api.swap(t.id, { give: { asset: a, amount: spec.amount }, take: { asset: b, amount: spec.amount } });
      } else {
        await this.#api.pay(t.id, t.assets.length === 1 ? { amount: spec.amount } : { asset: a, amount: spec.amount });
      }
      const now = this.#clock();
      const us = Math.max(1, Math.round((performance.now() - t0) * 1000));
      const iv = this.#interval(now);
      iv.latency.recordValue(us);
      if (swap) {
        this.#total.swaps++;
        iv.swaps++;
      } else {
        this.#total.payments++;
        iv.payments++;
      }
      if (began >= this.#start + spec.warmupMs && this.#inWindow(now)) {
        this.#latency.recordValue(us);
        if (swap) this.#measured.swaps++;
        else this.#measured.payments++;
      }
    } catch (e) {
      const code = failureCode(e);
      const now = this.#clock();
      this.#total.failures[code] = (this.#total.failures[code] ?? 0) + 1;
      this.#interval(now).failures++;
      if (this.#inWindow(now)) this.#measured.failures[code] = (this.#measured.failures[code] ?? 0) + 1;
      // A failing channel must not spin: back off a little.
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      this.#inFlight--;
    }
  }
}

function failureCode(e: unknown): string {
  const x = e as { reason?: unknown; code?: unknown };
  if (typeof x.reason === 'string') return x.reason;
  if (typeof x.code === 'string') return x.code;
  return 'ERROR';
}
