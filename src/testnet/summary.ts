/** The testnet report as text, for the end of `lanes testnet`. */
import Table from 'cli-table3';
import type { TestnetReport } from './run.ts';

const num = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function summaryText(r: TestnetReport): string {
  const l = r.load;
  const t = new Table({ style: { head: [], border: [] } });
  t.push(
    { 'payments/s': num(l.paymentsPerSecond) },
    { 'co-signed updates/s': num(l.updatesPerSecond) },
    { 'swaps/s': num(l.swapsPerSecond) },
    { 'operations per update': num(l.operationsPerUpdate, 1) },
    {
      'node CPU': `${num(l.cpu.ms / Math.max(1, l.windowMs), 2)} cores: ${num(l.cpu.perOperationUs)} µs per operation, ${num(l.cpu.perUpdateUs)} µs per update`,
    },
    { 'latency p50/p90/p99/max': `${l.latency.p50} / ${l.latency.p90} / ${l.latency.p99} / ${l.latency.max} ms` },
    { 'measured window': `${num(l.windowMs / 1000, 1)} s: ${num(l.payments)} payments, ${num(l.swaps)} swaps, ${num(l.updates)} updates` },
    {
      settlement: `${r.settlement.transactions.length} transaction(s) for ${r.settlement.channels} channels, ${num(r.settlement.gasPerChannel)} gas per channel`,
    },
  );
  const routed = r.routed ? routedText(r.routed) : [];
  const checks = r.checks.map((c) => `${c.ok ? '✔' : '✘'} ${c.name}: ${c.detail}`);
  const reps =
    r.repetitions.length > 1
      ? [
          `${r.repetitions.length} runs (median shown): ${r.repetitions.map((x) => `${num(x.paymentsPerSecond)}/s p99 ${x.p99} ms`).join(', ')}`,
        ]
      : [];
  return [
    `${r.config.nodes} nodes (${r.config.topology}), ${r.channels.total} channels (${r.channels.swap} swap), ${r.machine.cores} cores, ${r.machine.node}`,
    ...(r.routed ? routed : [t.toString()]),
    ...reps,
    ...checks,
    r.ok ? 'all checks passed' : 'SOME CHECKS FAILED',
    ...(r.files ? [`report: ${r.files.html} (and report.json)${r.files.dir ? `; data and logs: ${r.files.dir}` : ''}`] : []),
  ].join('\n');
}

/** The routed workload's figures: throughput, success, hops, latency, and each node's fees. */
function routedText(r: NonNullable<TestnetReport['routed']>): string[] {
  const t = new Table({ style: { head: [], border: [] } });
  t.push(
    { 'routed payments/s': num(r.paymentsPerSecond) },
    ...(r.swaps.attempted > 0 ? [{ 'routed swaps': `${num(r.swaps.settled)} settled of ${num(r.swaps.attempted)}` }] : []),
    { 'success rate': `${num(r.successRate * 100, 2)}% (${num(r.settled)} of ${num(r.attempted)})` },
    {
      hops: Object.entries(r.hops)
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([h, n]) => `${h}: ${num(n)}`)
        .join(', '),
    },
    { 'latency p50/p90/p99/max': `${r.latency.p50} / ${r.latency.p90} / ${r.latency.p99} / ${r.latency.max} ms` },
    { 'measured window': `${num(r.windowMs / 1000, 1)} s` },
  );
  const nodes = new Table({
    head: ['node', 'sent', 'received', 'forwarded', 'converted', 'fees earned (base units)', 'fees paid (base units)'],
    style: { head: [], border: [] },
  });
  const units = (m: Readonly<Record<string, string>>) =>
    Object.entries(m)
      .map(([a, x]) => `${x} ${a}`)
      .join(', ') || '0';
  for (const n of r.nodes)
    nodes.push([n.name, num(n.sent), num(n.received), num(n.forwarded), num(n.converted), units(n.feesEarned), units(n.feesPaid)]);
  return [t.toString(), nodes.toString()];
}
