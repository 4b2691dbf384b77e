/**
 * How a decoder target runs under jazzer.js: Node 24 with the compatibility preload
 * (jazzer-compat.ts: the prebuilt libFuzzer addon on this glibc, and .ts sources instrumented as
 * JavaScript), jazzer's CLI, and entry.mjs, which exports every target by name.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Target, root } from './corpus.ts';

const here = join(root, 'test/fuzz/decoders');

/** The libFuzzer dictionary of each target. */
export const DICTIONARY: Record<Target, string> = {
  wire: join(here, 'msgpack.dict'),
  settle: join(here, 'msgpack.dict'),
  store: join(here, 'msgpack.dict'),
  'control-api': join(here, 'json.dict'),
  payments: join(here, 'msgpack.dict'),
  graph: join(here, 'msgpack.dict'),
  onion: join(here, 'msgpack.dict'),
  stream: join(here, 'stream.dict'),
};

/** Node's arguments for `jazzer entry.mjs -f <target> --sync`, instrumenting src/ only, then `args`. */
export function jazzerArgs(target: Target, args: readonly string[]): string[] {
  const cli = createRequire(import.meta.url).resolve('@jazzer.js/core/dist/cli.js');
  return [
    '--disable-warning=ExperimentalWarning', // stripTypeScriptTypes, in jazzer-compat's hook
    '--import',
    join(here, 'jazzer-compat.ts'),
    cli,
    join(here, 'entry.mjs'),
    '-f',
    target,
    '--sync',
    '-i',
    join(root, 'src/'),
    '-e',
    'node_modules',
    ...args,
  ];
}

/** Runs jazzer (no stdin); resolves with its exit code and output. Killed after `limitSeconds`. */
export function runJazzer(
  target: Target,
  args: readonly string[],
  limitSeconds: number,
  onOutput: (chunk: Buffer) => void = () => {},
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, jazzerArgs(target, args), {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      onOutput(chunk);
      output = (output + chunk.toString('utf8')).slice(-400_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), limitSeconds * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 1 : 0), output });
    });
  });
}

/** libFuzzer's `cov` (edges) and `ft` (features) on a status line. */
export function coverageLine(line: string | undefined): { cov: number; ft: number } {
  const m = /cov: (\d+) ft: (\d+)/.exec(line ?? '');
  return { cov: Number(m?.[1] ?? 0), ft: Number(m?.[2] ?? 0) };
}
