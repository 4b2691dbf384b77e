/**
 * The node's metrics in Prometheus text format (prom-client), one registry per node (ADR 0016).
 * Names follow Prometheus conventions: `lanes_node_` prefix, base units (`_seconds`, `_blocks`),
 * `_total` for counters, labels of bounded values only (never a channel id or a peer).
 * docs/grafana/lanes-node.json is a dashboard of them.
 *
 * Measured without touching the engine: the node's calls (pay, swap) are timed where the API
 * enters; co-signed updates are counted from `channel-updated` events; store flushes, chain
 * reads and coordinator submissions by decorating the node's own view of its ports
 * ({@link instrumentContext}). Gauges that need a look around (channels by status, chain head)
 * are computed when scraped.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ChainService } from '../chain/chain-service.ts';
import { CHANNEL_STATUSES, type ChannelStatus } from '../core/channel/record.ts';
import type { Context } from './context.ts';
import type { CoordinatorLink } from './coordinator-link.ts';

/** Latency buckets for payments, swaps and coordinator round trips: 0.5 ms to 10 s. */
const LATENCY = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
/** Store flushes (an fsync): 0.1 ms to 1 s. */
const FLUSH = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
/** How long a scrape waits for the chain head. */
const HEAD_TIMEOUT_MS = 2000;

export type Outcome = 'ok' | 'failed';

export class NodeMetrics {
  readonly registry = new Registry();
  readonly payments: Counter<'outcome'>;
  readonly paymentSeconds: Histogram;
  readonly swaps: Counter<'outcome'>;
  readonly swapSeconds: Histogram;
  readonly updates: Counter;
  readonly operations: Counter;
  readonly flushSeconds: Histogram;
  readonly coordinatorSeconds: Histogram<'outcome'>;
  /** The highest block the node's event reads covered. */
  #followed: bigint | undefined;
  readonly #peers = new Set<string>();

  constructor(ctx: Pick<Context, 'channels' | 'chain' | 'events'>) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.payments = new Counter({
      name: 'lanes_node_payments_total',
      help: 'Payments this node made, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.paymentSeconds = new Histogram({
      name: 'lanes_node_payment_duration_seconds',
      help: 'From a pay call to the co-signed, stored state carrying it (completed payments)',
      buckets: LATENCY,
      registers,
    });
    this.swaps = new Counter({
      name: 'lanes_node_swaps_total',
      help: 'Swaps this node asked for, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.swapSeconds = new Histogram({
      name: 'lanes_node_swap_duration_seconds',
      help: 'From a swap call to the co-signed, stored state carrying it (completed swaps)',
      buckets: LATENCY,
      registers,
    });
    this.updates = new Counter({
      name: 'lanes_node_channel_updates_total',
      help: 'Co-signed states stored, in every channel and role',
      registers,
    });
    this.operations = new Counter({
      name: 'lanes_node_channel_operations_total',
      help: 'Operations (payments, swaps, deposits, locks…) the co-signed states carried',
      registers,
    });
    this.flushSeconds = new Histogram({
      name: 'lanes_node_store_flush_duration_seconds',
      help: 'Time until the store made the writes issued so far durable',
      buckets: FLUSH,
      registers,
    });
    this.coordinatorSeconds = new Histogram({
      name: 'lanes_node_coordinator_round_trip_seconds',
      help: 'From submitting an item to the coordinator to its answer (accepted, or failed)',
      labelNames: ['outcome'],
      buckets: LATENCY,
      registers,
    });
    new Gauge({
      name: 'lanes_node_channels',
      help: 'Channels by status',
      labelNames: ['status'],
      registers,
      collect() {
        const counts = new Map<ChannelStatus, number>(CHANNEL_STATUSES.map((s) => [s, 0]));
        for (const ch of ctx.channels.values()) counts.set(ch.record.status, (counts.get(ch.record.status) ?? 0) + 1);
        for (const [status, n] of counts) this.set({ status }, n);
      },
    });
    const peers = this.#peers;
    new Gauge({
      name: 'lanes_node_peers_connected',
      help: 'Peers this node is connected to',
      registers,
      collect() {
        this.set(peers.size);
      },
    });
    const followed = () => this.#followed;
    const head = new Gauge({
      name: 'lanes_node_chain_head_block',
      help: 'The chain head, as the RPC endpoint reports it when scraped',
      registers,
    });
    const seen = new Gauge({
      name: 'lanes_node_chain_followed_block',
      help: 'The highest block the node has read events up to',
      registers,
    });
    const headErrors = new Counter({
      name: 'lanes_node_chain_head_errors_total',
      help: 'Scrapes that could not read the chain head',
      registers,
    });
    new Gauge({
      name: 'lanes_node_chain_head_lag_blocks',
      help: 'Blocks between the chain head and the highest block the node has read events up to',
      registers,
      async collect() {
        let timer: NodeJS.Timeout | undefined;
        try {
          const h = await Promise.race([
            ctx.chain.blockNumber(),
            new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), HEAD_TIMEOUT_MS))),
          ]);
          head.set(Number(h));
          const f = followed();
          if (f !== undefined) {
            seen.set(Number(f));
            this.set(Number(h > f ? h - f : 0n));
          }
        } catch {
          headErrors.inc();
        } finally {
          clearTimeout(timer);
        }
      },
    });
    ctx.events.on('channel-updated', (e) => {
      this.updates.inc();
      this.operations.inc(e.operations);
    });
    ctx.events.on('peer-connected', (p) => this.#peers.add(p.peerId));
    ctx.events.on('peer-disconnected', (p) => this.#peers.delete(p.peerId));
  }

  /** Records that event reads covered up to `block`. */
  followed(block: bigint): void {
    if (this.#followed === undefined || block > this.#followed) this.#followed = block;
  }

  /** Times `work` (a pay or swap call) into `seconds`, counting its outcome in `count`. */
  async time<T>(count: Counter<'outcome'>, seconds: Histogram, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      const value = await work();
      seconds.observe((performance.now() - start) / 1000);
      count.inc({ outcome: 'ok' });
      return value;
    } catch (e) {
      count.inc({ outcome: 'failed' });
      throw e;
    }
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type of {@link NodeMetrics.text}. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * The node's context with its store flushes, chain event reads and coordinator submissions
 * measured. Every field is the original's (the context is a record of readonly references), so
 * the engine behaves exactly as before; only this node's view of the ports is decorated.
 */
export function instrumentContext(ctx: Context, m: NodeMetrics): Context {
  const flush = async () => {
    const start = performance.now();
    await ctx.flush();
    m.flushSeconds.observe((performance.now() - start) / 1000);
  };
  const chain = wrap(ctx.chain, {
    events: async (fromBlock: bigint, toBlock?: bigint) => {
      const r = await ctx.chain.events(fromBlock, toBlock);
      if (r.nextBlock > 0n) m.followed(r.nextBlock - 1n);
      return r;
    },
    readLogs: async (...args: Parameters<ChainService['readLogs']>) => {
      const r = await ctx.chain.readLogs(...args);
      m.followed(r.to);
      return r;
    },
  });
  const link = ctx.settle;
  const settle =
    link &&
    wrap(link, {
      async submit(item: Parameters<CoordinatorLink['submit']>[0]) {
        const start = performance.now();
        const since = () => (performance.now() - start) / 1000;
        try {
          const r = await link.submit(item);
          m.coordinatorSeconds.observe({ outcome: 'ok' }, since());
          return r;
        } catch (e) {
          m.coordinatorSeconds.observe({ outcome: 'failed' }, since());
          throw e;
        }
      },
    });
  return { ...ctx, chain, flush, ...(settle ? { settle } : {}) };
}

/** `target` with some of its methods replaced; everything else (and its own keys) is the target's. */
function wrap<T extends object>(target: T, replaced: Partial<T>): T {
  return new Proxy(target, {
    get: (t, key, receiver) => (Object.hasOwn(replaced, key) ? replaced[key as keyof T] : Reflect.get(t, key, receiver)),
  });
}
