/**
 * The testnet report as one self-contained HTML page: the summary, the checks, throughput and
 * latency over time as inline SVG charts, per-node figures and the settlement transactions.
 * No scripts, no external assets: it opens anywhere, offline.
 */
import type { TestnetReport, TimelinePoint } from './run.ts';

const esc = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const num = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

interface Series {
  readonly name: string;
  readonly color: string;
  readonly values: readonly number[];
}

/** A line chart of series over the timeline's seconds. */
export function lineChart(title: string, unit: string, t: readonly number[], series: readonly Series[]): string {
  const W = 760;
  const H = 260;
  const L = 70;
  const R = 20;
  const T = 30;
  const B = 40;
  const maxX = Math.max(1, ...t);
  const maxY = niceMax(Math.max(1, ...series.flatMap((s) => s.values)));
  const x = (v: number) => L + (v / maxX) * (W - L - R);
  const y = (v: number) => H - B - (v / maxY) * (H - T - B);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * maxY);
  const xticks = Array.from({ length: 6 }, (_, i) => (i * maxX) / 5);
  const grid = ticks
    .map(
      (v) =>
        `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" class="grid"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${esc(short(v))}</text>`,
    )
    .join('');
  const xs = xticks.map((v) => `<text x="${x(v)}" y="${H - B + 16}" text-anchor="middle">${num(v, v < 10 ? 1 : 0)}</text>`).join('');
  const lines = series
    .map((s) => {
      const pts = s.values.map((v, i) => `${x(t[i]!).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      return `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts}"/>`;
    })
    .join('');
  const legend = series
    .map(
      (s, i) =>
        `<rect x="${L + i * 170}" y="8" width="12" height="12" fill="${s.color}"/><text x="${L + 18 + i * 170}" y="18">${esc(s.name)}</text>`,
    )
    .join('');
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(title)}">
${legend}${grid}${xs}<text x="${W / 2}" y="${H - 6}" text-anchor="middle">seconds from start</text>
<text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle">${esc(unit)}</text>${lines}</svg></figure>`;
}

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function short(v: number): string {
  if (v >= 1e6) return `${num(v / 1e6, 1)}M`;
  if (v >= 1e3) return `${num(v / 1e3, 1)}k`;
  return num(v, v < 10 && v % 1 ? 1 : 0);
}

function table(head: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export function renderHtml(r: TestnetReport): string {
  const tl: readonly TimelinePoint[] = r.load.timeline;
  const t = tl.map((p) => p.t);
  const charts =
    tl.length === 0
      ? '<p>No load ran.</p>'
      : lineChart('Throughput', 'per second', t, [
          { name: 'payments/s', color: '#2563eb', values: tl.map((p) => p.paymentsPerSecond) },
          { name: 'co-signed updates/s', color: '#16a34a', values: tl.map((p) => p.updatesPerSecond) },
          { name: 'swaps/s', color: '#d97706', values: tl.map((p) => p.swapsPerSecond) },
        ]) +
        lineChart('Latency (call to acknowledgement)', 'ms', t, [
          { name: 'p50', color: '#2563eb', values: tl.map((p) => p.p50) },
          { name: 'p99', color: '#dc2626', values: tl.map((p) => p.p99) },
        ]);
  const l = r.load;
  const summary = table(
    ['measure', 'value'],
    [
      ['payments/s', num(l.paymentsPerSecond)],
      ['co-signed updates/s', num(l.updatesPerSecond)],
      ['swaps/s', num(l.swapsPerSecond)],
      ['operations per update', num(l.operationsPerUpdate, 1)],
      [
        'node CPU (all node processes)',
        `${num(l.cpu.ms / Math.max(1, l.windowMs), 2)} cores; ${num(l.cpu.perOperationUs)} µs per operation, ${num(l.cpu.perUpdateUs)} µs per update`,
      ],
      ['latency p50 / p90 / p99 / max (ms)', `${l.latency.p50} / ${l.latency.p90} / ${l.latency.p99} / ${l.latency.max}`],
      ['measured window', `${num(l.windowMs / 1000, 1)} s (after ${num(r.config.warmupMs / 1000, 1)} s warm-up)`],
      ['payments, swaps, updates', `${num(l.payments)}, ${num(l.swaps)}, ${num(l.updates)}`],
      ['settlement transactions', num(r.settlement.transactions.length)],
      ['gas per channel (settlement)', num(r.settlement.gasPerChannel)],
    ],
  );
  const checks = `<ul class="checks">${r.checks
    .map((c) => `<li class="${c.ok ? 'ok' : 'fail'}"><b>${c.ok ? '✔' : '✘'} ${esc(c.name)}</b> — ${esc(c.detail)}</li>`)
    .join('')}</ul>`;
  const perNode = table(
    ['node', 'payments', 'swaps', 'updates led', 'failures', 'CPU s', 'loop busy', 'loop delay p99 ms', 'p50 ms', 'p99 ms', 'max ms'],
    l.perNode.map((n) => [
      n.name,
      num(n.payments),
      num(n.swaps),
      num(n.updates),
      n.failures,
      num(n.cpuMs / 1000, 1),
      `${Math.round(n.eventLoop.utilization * 100)}%`,
      n.eventLoop.delayP99,
      n.latency.p50,
      n.latency.p99,
      n.latency.max,
    ]),
  );
  const txs = table(
    ['transaction', 'function', 'channels', 'gas used', 'gas per channel'],
    r.settlement.transactions.map((x) => [x.hash, x.function, x.channels, num(x.gasUsed), x.channels ? num(x.gasUsed / x.channels) : '']),
  );
  const c = r.config;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lanes testnet report</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;max-width:860px;margin:2em auto;padding:0 1em;color:#111}
h1{font-size:22px}h2{font-size:17px;margin-top:1.8em}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;font-variant-numeric:tabular-nums}
td{word-break:break-all}th{background:#f5f5f5}
.verdict{font-size:18px;font-weight:600;padding:.5em 1em;border-radius:6px}.pass{background:#dcfce7}.failed{background:#fee2e2}
.checks{list-style:none;padding:0}.checks li{margin:.3em 0}.ok b{color:#166534}.fail b{color:#991b1b}
svg text{font-size:11px;fill:#444}.grid{stroke:#eee}figure{margin:1em 0}figcaption{font-weight:600}
</style></head><body>
<h1>Lanes testnet report</h1>
<p class="verdict ${r.ok ? 'pass' : 'failed'}">${r.ok ? 'All checks passed' : 'Some checks failed'}</p>
<p>${esc(r.startedAt)} · ${c.nodes} nodes, ${esc(c.topology)}, ${r.channels.total} channels (${r.channels.swap} swap) ·
${c.rate === undefined ? `closed loop, ${c.concurrency} in flight per channel per node` : `${c.rate} operations/s per channel per node`} ·
${esc(r.machine.node)} on ${r.machine.cores} cores (${esc(r.machine.cpu)})</p>
<h2>Summary</h2>${summary}
${
  r.repetitions.length > 1
    ? `<h2>Runs</h2><p>The summary and charts show the run with the median payments/s.</p>${table(
        ['run', 'payments/s', 'updates/s', 'swaps/s', 'ops/update', 'p50 ms', 'p99 ms', 'CPU µs/op', 'CPU µs/update', 'failures'],
        r.repetitions.map((x, i) => [
          i + 1,
          num(x.paymentsPerSecond),
          num(x.updatesPerSecond),
          num(x.swapsPerSecond),
          x.operationsPerUpdate,
          x.p50,
          x.p99,
          x.cpuPerOperationUs,
          x.cpuPerUpdateUs,
          x.failures,
        ]),
      )}`
    : ''
}
<h2>Checks</h2>${checks}
<h2>Over time</h2>${charts}
<h2>Per node</h2>${perNode}
<h2>Settlement</h2>${txs}
<h2>Phases (ms)</h2>${table(Object.keys(r.phases), [Object.values(r.phases).map((v) => num(v))])}
<h2>Configuration</h2><pre>${esc(JSON.stringify({ config: r.config, network: r.network }, null, 2))}</pre>
</body></html>
`;
}
