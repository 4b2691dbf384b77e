/** The coordinator's metrics, in Prometheus text format (prom-client). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface CoordinatorMetrics {
  readonly registry: Registry;
  readonly queueDepth: Gauge<'kind' | 'status'>;
  readonly watched: Gauge;
  readonly batchItems: Histogram<'kind'>;
  readonly gasPerItem: Histogram<'kind'>;
  readonly requestToReceipt: Histogram<'kind'>;
  readonly items: Counter<'kind' | 'outcome'>;
  readonly replacements: Counter;
  readonly refusals: Counter<'reason'>;
  readonly simulationFailures: Counter<'kind'>;
  readonly reverted: Counter<'kind'>;
}

export function createMetrics(): CoordinatorMetrics {
  const registry = new Registry();
  const opts = { registers: [registry] };
  return {
    registry,
    queueDepth: new Gauge({
      name: 'lanes_coordinator_queue_depth',
      help: 'Items waiting, by kind and status',
      labelNames: ['kind', 'status'],
      ...opts,
    }),
    watched: new Gauge({ name: 'lanes_coordinator_watched_channels', help: 'Channels whose latest state the watchtower holds', ...opts }),
    batchItems: new Histogram({
      name: 'lanes_coordinator_batch_items',
      help: 'Items per submitted batch',
      labelNames: ['kind'],
      buckets: [1, 2, 5, 10, 20, 50, 100, 200],
      ...opts,
    }),
    gasPerItem: new Histogram({
      name: 'lanes_coordinator_gas_per_item',
      help: 'Gas per item of mined batches',
      labelNames: ['kind'],
      buckets: [20_000, 30_000, 40_000, 50_000, 70_000, 100_000, 150_000, 250_000],
      ...opts,
    }),
    requestToReceipt: new Histogram({
      name: 'lanes_coordinator_request_to_receipt_seconds',
      help: 'Time from accepting an item to its receipt',
      labelNames: ['kind'],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300],
      ...opts,
    }),
    items: new Counter({
      name: 'lanes_coordinator_items_total',
      help: 'Items finished, by kind and outcome',
      labelNames: ['kind', 'outcome'],
      ...opts,
    }),
    replacements: new Counter({ name: 'lanes_coordinator_replacements_total', help: 'Transactions replaced with a higher fee', ...opts }),
    refusals: new Counter({
      name: 'lanes_coordinator_refusals_total',
      help: 'Submissions refused at the door, by reason',
      labelNames: ['reason'],
      ...opts,
    }),
    simulationFailures: new Counter({
      name: 'lanes_coordinator_simulation_failures_total',
      help: 'Items whose simulation reverted even alone (not sent)',
      labelNames: ['kind'],
      ...opts,
    }),
    reverted: new Counter({
      name: 'lanes_coordinator_reverted_batches_total',
      help: 'Batch transactions that reverted as a whole on-chain',
      labelNames: ['kind'],
      ...opts,
    }),
  };
}
