/**
 * `npm test`: every check the project has, in one command.
 *
 * Runs type-check, lint + format check, contract compilation (with a check that the committed
 * generated artifacts match the sources) and the ava suite. Every step runs even when an
 * earlier one fails, so one CI run reports everything. The last line is
 * `N passed, N failed[, N skipped]`: ava's test counts plus one per check step.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) => realpathSync(`${root}node_modules/.bin/${name}`);

interface Step {
  readonly name: string;
  readonly args: string[];
  /** Parse ava's summary instead of counting the step as one check. */
  readonly ava?: boolean;
}

const steps: Step[] = [
  { name: 'types', args: [bin('tsc'), '-p', 'tsconfig.json'] },
  { name: 'lint', args: [bin('eslint'), '--max-warnings', '0', '.'] },
  { name: 'format', args: [bin('prettier'), '--check', '--log-level', 'warn', '.'] },
  ...(existsSync(`${root}scripts/compile-contracts.ts`) ? [{ name: 'contracts', args: ['scripts/compile-contracts.ts', '--check'] }] : []),
  { name: 'tests', args: [bin('ava')], ava: true },
];

/**
 * Every process a step starts carries this in its environment, so the ones it leaves running (a
 * daemon a failed test did not stop, orphaned to init) can be found and killed when it ends.
 * Such a process holds the step's stdout or stderr open, and without this the run would wait for
 * it for good.
 */
const MARK = 'LANES_TEST_RUN';

function run(step: Step): Promise<{ code: number; output: string; leftover: string[] }> {
  const mark = randomBytes(8).toString('hex');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, step.args, {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '0', [MARK]: mark },
    });
    let output = '';
    const keep = (chunk: Buffer, to: NodeJS.WriteStream) => {
      to.write(chunk);
      if (step.ava) output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', (c: Buffer) => keep(c, process.stdout));
    child.stderr.on('data', (c: Buffer) => keep(c, process.stderr));
    // 'exit', not 'close': a process left behind keeps the pipes open. Its output still drains
    // for a moment, then whatever is left running is killed and the pipes are let go.
    child.on('exit', (code, signal) => {
      setTimeout(() => {
        const leftover = killMarked(mark);
        child.stdout.destroy();
        child.stderr.destroy();
        resolve({ code: code ?? (signal ? 1 : 0), output, leftover });
      }, 500);
    });
  });
}

/** Kills (SIGKILL) every process whose environment carries `mark`; their command lines. */
function killMarked(mark: string): string[] {
  if (!existsSync('/proc/self/environ')) return [];
  const needle = `${MARK}=${mark}`;
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(needle)) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
      process.kill(pid, 'SIGKILL');
      found.push(`${pid} ${cmd.slice(0, 200)}`);
    } catch {
      // Gone already, or not ours to read.
    }
  }
  return found;
}

function count(output: string, pattern: RegExp): number {
  let total = 0;
  for (const m of output.matchAll(pattern)) total += Number(m[1]);
  return total;
}

let passed = 0;
let failed = 0;
let skipped = 0;
const failures: string[] = [];
const started = Date.now();

for (const step of steps) {
  console.log(`\n── ${step.name} ${'─'.repeat(60 - step.name.length)}`);
  const t0 = Date.now();
  const { code, output, leftover } = await run(step);
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  if (leftover.length > 0) {
    // A test that starts a process stops it by PID; these were not, and are killed now.
    console.log(`── ${step.name}: ${leftover.length} process(es) left running, killed:\n${leftover.map((l) => `   ${l}`).join('\n')}`);
  }
  if (step.ava) {
    const p = count(output, /^\s*(\d+) tests? passed/gm);
    const f =
      count(output, /^\s*(\d+) tests? failed/gm) +
      count(output, /^\s*(\d+) uncaught exceptions?/gm) +
      count(output, /^\s*(\d+) unhandled rejections?/gm);
    const s = count(output, /^\s*(\d+) tests? skipped/gm) + count(output, /^\s*(\d+) tests? todo/gm);
    passed += p;
    skipped += s;
    // A non-zero exit with no failure counted (a crash, a timeout) still counts as a failure.
    const counted = f > 0 || code === 0 ? f : 1;
    failed += counted;
    if (counted > 0) failures.push(`${step.name} (${counted})`);
    console.log(`── ${step.name}: exit ${code} in ${seconds}s`);
  } else if (code === 0) {
    passed += 1;
    console.log(`── ${step.name}: ok in ${seconds}s`);
  } else {
    failed += 1;
    failures.push(step.name);
    console.log(`── ${step.name}: FAILED (exit ${code}) in ${seconds}s`);
  }
}

console.log(
  `\nchecks and tests finished in ${((Date.now() - started) / 1000).toFixed(0)}s${failures.length ? `; failed: ${failures.join(', ')}` : ''}`,
);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
