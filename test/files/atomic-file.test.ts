import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { writeFileAtomic } from '../../src/files/atomic-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'lanes-atomic-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const MODULE = new URL('../../src/files/atomic-file.ts', import.meta.url).pathname;

/**
 * Another process rewrites `file` 2,000 times (`how`: 'atomic' through writeFileAtomic, 'plain'
 * through writeFileSync) while this one reads it as fast as it can, as the CLI and the testnet
 * poll for api.json and coordinator.json. Returns how many reads did not parse.
 */
async function tornReads(file: string, how: 'atomic' | 'plain'): Promise<{ reads: number; torn: number }> {
  writeFileSync(file, '{}');
  const code = `
    import { writeFileSync } from 'node:fs';
    import { writeFileAtomic } from ${JSON.stringify(MODULE)};
    const body = JSON.stringify({ pid: process.pid, pad: 'x'.repeat(4000) }) + '\\n';
    for (let i = 0; i < 2000; i++) ${how === 'atomic' ? 'writeFileAtomic' : 'writeFileSync'}(${JSON.stringify(file)}, body);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'ignore', 'inherit'] });
  let done = false;
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => ((done = true), r(c))));
  let reads = 0;
  let torn = 0;
  while (!done) {
    try {
      JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      torn++;
    }
    if (++reads % 100 === 0) await new Promise((r) => setImmediate(r));
  }
  if ((await exited) !== 0) throw new Error(`the writer (${how}) failed`);
  return { reads, torn };
}

test.serial('a reader polling the file never sees it empty or half-written (writeFileSync, the control, does show it)', async (t) => {
  const plain = await tornReads(join(dir, 'plain.json'), 'plain');
  t.true(plain.torn > 0, `the reader should catch writeFileSync's truncation (${plain.reads} reads)`);
  const atomic = await tornReads(join(dir, 'atomic.json'), 'atomic');
  t.true(atomic.reads > 1000, `the reader ran alongside the writer (${atomic.reads} reads)`);
  t.is(atomic.torn, 0);
  t.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.new')),
    [],
    'no temporary file is left',
  );
});

test.serial('the file gets the mode asked for, also when it replaces one with another mode', (t) => {
  const file = join(dir, 'mode.json');
  writeFileSync(file, 'old', { mode: 0o644 });
  writeFileAtomic(file, '{"a":1}\n');
  t.is(statSync(file).mode & 0o777, 0o600);
  t.is(readFileSync(file, 'utf8'), '{"a":1}\n');
  writeFileAtomic(file, '{"a":2}\n', 0o640);
  t.is(statSync(file).mode & 0o777, 0o640);
});

test.serial('a temporary file left by a crash with the same PID is replaced, not reused', (t) => {
  const file = join(dir, 'crash.json');
  writeFileSync(`${file}.${process.pid}.new`, 'half', { mode: 0o666 });
  writeFileAtomic(file, '{"b":1}\n');
  t.is(readFileSync(file, 'utf8'), '{"b":1}\n');
  t.is(statSync(file).mode & 0o777, 0o600);
});

test.serial('a write that fails leaves the old file and no temporary file', (t) => {
  const file = join(dir, 'missing-dir', 'x.json');
  t.throws(() => writeFileAtomic(file, '{}'), { code: 'ENOENT' });
  t.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.new')),
    [],
  );
});
