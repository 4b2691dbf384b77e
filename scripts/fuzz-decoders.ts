/**
 * `npm run fuzz:decoders [-- --seconds 60 | --runs N] [--targets wire,store] [--parallel 2] [--seed S] [--no-coverage] [--json]`:
 * coverage-guided fuzzing of every decoder with jazzer.js (libFuzzer) — the channel protocol
 * (wire), the settlement protocol (settle), the store's records (store) and the control API's
 * request bodies (control-api), the streaming API's frames (stream); the targets are in test/fuzz/decoders/.
 *
 * Each target runs for the budget from its checked-in corpus (test/fuzz/decoders/corpus/<target>),
 * with coverage instrumentation of src/ only. Then the corpus it ended with (seeds and the new
 * inputs it found) is replayed once with istanbul coverage, for line and branch coverage of the
 * decoder's files. Per target it prints executions, executions/s, edges and features (libFuzzer's
 * `cov` and `ft`), corpus growth, line/branch coverage, and each crash with the file holding its
 * input. Everything is kept in reports/fuzz-decoders-<time>/ (logs, new inputs, crashes,
 * coverage, summary.json). Exits 1 if any target crashed or failed to run.
 *
 * A crash is a decoder bug (or a wrong property): fix it, copy the input to
 * test/fuzz/decoders/corpus/<target>/regress-<what>, and add a unit test.
 */
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { TARGETS, type Target, corpusDir, root } from '../test/fuzz/decoders/corpus.ts';
import { DICTIONARY, coverageLine, runJazzer } from '../test/fuzz/decoders/jazzer.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    runs: { type: 'string' },
    targets: { type: 'string' },
    parallel: { type: 'string', default: '1' },
    seed: { type: 'string' },
    'no-coverage': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

/**
 * The files each target's decoder lives in, for the coverage report. Only the lines from the
 * `from` marker to the `to` marker count, less the functions named by `skip`: the parts of these
 * files that are not the target's decoding (the client's result readers, the store's key layout,
 * settle's readers in wire's report) are listed apart.
 */
interface DecoderFile {
  readonly file: string;
  readonly from?: string;
  readonly to?: string;
  readonly skip?: RegExp;
}
const DECODER_FILES: Record<Target, readonly DecoderFile[]> = {
  wire: [{ file: 'src/core/codec/wire.ts' }, { file: 'src/core/codec/primitives.ts', skip: /^(params|state)$/ }],
  settle: [{ file: 'src/core/codec/settle.ts' }, { file: 'src/core/codec/primitives.ts' }],
  store: [{ file: 'src/store/record-codec.ts', to: '// Layout:' }],
  'control-api': [{ file: 'src/sdk/json.ts', from: '// Parsing input', to: '// Reading results' }],
  payments: [{ file: 'src/core/payments/invoice.ts' }, { file: 'src/core/payments/record.ts' }],
  graph: [{ file: 'src/core/routing/codec.ts' }],
  onion: [
    { file: 'src/core/forwarding/onion.ts', from: 'export function peelOnion' },
    { file: 'src/core/forwarding/quote.ts', from: 'function readQuote', to: '/** Whether `q` is signed' },
  ],
  stream: [{ file: 'src/sdk/stream-frames.ts' }, { file: 'src/sdk/error-registry.ts', from: 'export function errorFromJson' }],
};

const targets = (values.targets?.split(',') ?? [...TARGETS]) as Target[];
for (const t of targets) if (!TARGETS.includes(t)) throw new Error(`unknown target ${t} (targets: ${TARGETS.join(', ')})`);
const runs = values.runs === undefined ? undefined : Number(values.runs);
const seconds = Number(values.seconds ?? (runs === undefined ? 60 : 0));
const budget =
  runs === undefined ? [`-max_total_time=${seconds}`] : [`-runs=${runs}`, ...(seconds > 0 ? [`-max_total_time=${seconds}`] : [])];
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const out = join(root, 'reports', `fuzz-decoders-${stamp}`);

interface Coverage {
  readonly file: string;
  readonly lines: readonly [covered: number, total: number];
  readonly branches: readonly [covered: number, total: number];
  readonly uncoveredFunctions: readonly string[];
  /** What part of the file counts (empty: all of it). */
  readonly scope: string;
}

interface Outcome {
  readonly target: Target;
  readonly exitCode: number;
  readonly executions: number;
  readonly seconds: number;
  readonly execsPerSecond: number;
  readonly edges: { readonly initial: number; readonly final: number };
  readonly features: { readonly initial: number; readonly final: number };
  readonly seeds: number;
  readonly newInputs: number;
  readonly crashes: readonly { readonly file: string; readonly error: string }[];
  readonly coverage: readonly Coverage[];
  readonly log: string;
}

/** Runs jazzer for `target`, its output to `log` as well. */
async function jazzerTo(log: string, target: Target, args: readonly string[], limitSeconds: number) {
  const file = createWriteStream(log);
  const run = await runJazzer(target, args, limitSeconds, (chunk) => file.write(chunk));
  await new Promise<void>((resolve) => file.end(resolve));
  return run;
}

const stat = (output: string, name: string) => Number(new RegExp(`stat::${name}:\\s+(\\d+)`).exec(output)?.[1] ?? NaN);

function crashes(output: string): { file: string; error: string }[] {
  const found: { file: string; error: string }[] = [];
  const lines = output.split('\n');
  lines.forEach((line, i) => {
    const m = /Test unit written to (\S+)/.exec(line);
    if (!m?.[1]) return;
    const start = lines.slice(0, i).findLastIndex((l) => /==\d+== |Uncaught Exception|ERROR:/.test(l));
    const error = lines
      .slice(Math.max(0, start), i)
      .filter((l) => !/^(0x|MS:|artifact_prefix|Base64)/.test(l))
      .slice(0, 12)
      .join('\n');
    found.push({ file: m[1], error });
  });
  return found;
}

/** Line and branch coverage of `files` from an istanbul coverage-final.json. */
function coverageOf(json: string, files: readonly DecoderFile[]): Coverage[] {
  if (!existsSync(json)) return [];
  type Range = { start: { line: number }; end: { line: number } };
  type FileCoverage = {
    statementMap: Record<string, Range>;
    s: Record<string, number>;
    branchMap: Record<string, { loc: Range }>;
    b: Record<string, number[]>;
    fnMap: Record<string, { name: string; loc: Range }>;
    f: Record<string, number>;
  };
  const data = JSON.parse(readFileSync(json, 'utf8')) as Record<string, FileCoverage>;
  return files.flatMap(({ file, from, to, skip }) => {
    const c = data[join(root, file)];
    if (c === undefined) return [];
    const source = readFileSync(join(root, file), 'utf8').split('\n');
    const marker = (text: string | undefined, otherwise: number) => {
      const i = text === undefined ? -1 : source.findIndex((l) => l.includes(text));
      return i < 0 ? otherwise : i + 1;
    };
    const first = marker(from, 1);
    const last = marker(to, source.length + 1) - 1;
    const skipped = Object.values(c.fnMap).filter((fn) => skip?.test(fn.name));
    const counted = (r: Range) =>
      r.start.line >= first &&
      r.end.line <= last &&
      !skipped.some((fn) => r.start.line >= fn.loc.start.line && r.end.line <= fn.loc.end.line);
    const lines = new Map<number, boolean>();
    for (const [id, loc] of Object.entries(c.statementMap)) {
      if (!counted(loc)) continue;
      lines.set(loc.start.line, (lines.get(loc.start.line) ?? false) || (c.s[id] ?? 0) > 0);
    }
    const arms = Object.entries(c.b).flatMap(([id, hits]) => (counted(c.branchMap[id]!.loc) ? hits : []));
    const region = from === undefined && to === undefined ? '' : `lines ${first}-${last}`;
    return [
      {
        file,
        lines: [[...lines.values()].filter(Boolean).length, lines.size],
        branches: [arms.filter((n) => n > 0).length, arms.length],
        uncoveredFunctions: Object.entries(c.fnMap)
          .filter(([id, fn]) => (c.f[id] ?? 0) === 0 && counted(fn.loc))
          .map(([, fn]) => `${fn.name}:${fn.loc.start.line}`),
        scope: [region, ...skipped.map((fn) => `not ${fn.name}`)].filter(Boolean).join(', '),
      },
    ];
  });
}

const count = (dir: string) => (existsSync(dir) ? readdirSync(dir).length : 0);
const maxSize = (dir: string) => Math.max(0, ...readdirSync(dir).map((f) => statSync(join(dir, f)).size));

async function fuzzTarget(target: Target): Promise<Outcome> {
  const dir = join(out, target);
  const fresh = join(dir, 'corpus');
  const artifacts = join(dir, 'crashes');
  mkdirSync(fresh, { recursive: true });
  mkdirSync(artifacts, { recursive: true });
  const seeds = corpusDir(target);
  const libfuzzer = [
    `-artifact_prefix=${artifacts}/`,
    `-dict=${DICTIONARY[target]}`,
    `-max_len=${Math.max(4096, maxSize(seeds))}`,
    ...(values.seed === undefined ? [] : [`-seed=${values.seed}`]),
  ];
  const log = join(dir, 'fuzz.log');
  const started = Date.now();
  const run = await jazzerTo(log, target, [fresh, seeds, '--', ...budget, '-print_final_stats=1', ...libfuzzer], (seconds || 600) + 120);
  const elapsed = (Date.now() - started) / 1000;
  const statusLines = run.output.split('\n').filter((l) => /^#\d+\s/.test(l));
  const inited = statusLines.find((l) => l.includes('INITED'));
  const last = statusLines.at(-1);
  // The final stats are missing when a crash stopped the run: then the last status line's count.
  const executions = stat(run.output, 'number_of_executed_units') || Number(/^#(\d+)/.exec(last ?? '')?.[1] ?? 0);
  const found = crashes(run.output);

  let coverage: Coverage[] = [];
  if (!values['no-coverage']) {
    const covDir = join(dir, 'coverage');
    const replay = ['--mode', 'regression', '--coverage', '--coverage_directory', covDir, '--coverage_reporters', 'json'];
    await jazzerTo(join(dir, 'coverage.log'), target, [...replay, fresh, seeds, '--', ...libfuzzer], 300);
    coverage = coverageOf(join(covDir, 'coverage-final.json'), DECODER_FILES[target]);
  }
  return {
    target,
    exitCode: run.code,
    executions,
    seconds: elapsed,
    execsPerSecond: stat(run.output, 'average_exec_per_sec') || Math.round(executions / elapsed),
    edges: { initial: coverageLine(inited).cov, final: coverageLine(last).cov },
    features: { initial: coverageLine(inited).ft, final: coverageLine(last).ft },
    seeds: count(seeds),
    newInputs: count(fresh),
    crashes: found,
    coverage,
    log: relative(root, log),
  };
}

async function pool<T, R>(items: readonly T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, width) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]!);
      }
    }),
  );
  return results;
}

const pct = ([a, b]: readonly [number, number]) => (b === 0 ? 'n/a' : `${((100 * a) / b).toFixed(1)}% (${a}/${b})`);

mkdirSync(out, { recursive: true });
const what = runs === undefined ? `${seconds} s` : `${runs} runs`;
console.log(
  `decoder fuzzing with jazzer.js: ${targets.join(', ')}; ${what} per target, ${values.parallel} at a time; output in ${relative(root, out)}/`,
);
const outcomes = await pool(targets, Number(values.parallel), async (t) => {
  const o = await fuzzTarget(t);
  if (!values.json) {
    console.log(`\n${t}:`);
    console.log(`  executions ${o.executions} in ${o.seconds.toFixed(0)} s: ${o.execsPerSecond} exec/s`);
    console.log(`  edges (cov) ${o.edges.initial} → ${o.edges.final}, features (ft) ${o.features.initial} → ${o.features.final}`);
    console.log(`  corpus: ${o.seeds} checked in, ${o.newInputs} new inputs (${relative(root, join(out, t, 'corpus'))})`);
    for (const c of o.coverage) {
      console.log(`  ${c.file}${c.scope ? ` (${c.scope})` : ''}: lines ${pct(c.lines)}, branches ${pct(c.branches)}`);
      if (c.uncoveredFunctions.length > 0) console.log(`    never called: ${c.uncoveredFunctions.join(', ')}`);
    }
    for (const c of o.crashes) console.log(`  CRASH, input in ${relative(root, c.file)}:\n${c.error.replace(/^/gm, '    ')}`);
    if (o.exitCode !== 0 && o.crashes.length === 0) console.log(`  FAILED: jazzer exited ${o.exitCode}, see ${o.log}`);
  }
  return o;
});

const failed = outcomes.filter((o) => o.crashes.length > 0 || o.exitCode !== 0 || !Number.isFinite(o.executions));
writeSummary();
if (values.json) console.log(JSON.stringify(outcomes, null, 2));
else {
  console.log('\n| target | executions | exec/s | edges | features | new inputs | decoder lines | crashes |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const o of outcomes) {
    const lines = o.coverage.reduce<[number, number]>((acc, c) => [acc[0] + c.lines[0], acc[1] + c.lines[1]], [0, 0]);
    console.log(
      `| ${o.target} | ${o.executions} | ${o.execsPerSecond} | ${o.edges.final} | ${o.features.final} | ${o.newInputs} | ${pct(lines)} | ${o.crashes.length} |`,
    );
  }
  console.log(failed.length === 0 ? '\nno crashes' : `\nFAILED: ${failed.map((o) => o.target).join(', ')}`);
}
process.exit(failed.length === 0 ? 0 : 1);

function writeSummary(): void {
  writeFileSync(join(out, 'summary.json'), JSON.stringify({ budget: what, seed: values.seed ?? null, outcomes }, null, 2));
}
