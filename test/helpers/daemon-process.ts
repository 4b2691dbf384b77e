/**
 * `lanes node start` daemons in their own processes, started through the CLI on a LocalNet's
 * chain, as a user starts them: a funded key from `lanes keygen`, then the daemon, found ready
 * by its api.json. The caller kills what it starts (every child is returned).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LocalNet } from './local-net.ts';
import { readyFile, track } from './spawned.ts';

const BIN = new URL('../../bin/lanes.js', import.meta.url).pathname;
const run = promisify(execFile);

/** `lanes keygen` in `dir`, and the key's address funded with `ether` on the chain. */
export async function keygenFunded(net: LocalNet, dir: string, ether = 100n): Promise<{ address: `0x${string}`; keyFile: string }> {
  const { stdout } = await run(process.execPath, [BIN, '--data-dir', dir, '--json', 'keygen']);
  const k = JSON.parse(stdout) as { address: `0x${string}`; keyFile: string };
  await net.fund({ name: dir, address: k.address, privateKey: new Uint8Array(), publicKey: new Uint8Array() }, ether);
  return k;
}

export interface DaemonProcess {
  readonly child: ChildProcess;
  /** The control API, its token and the first libp2p multiaddr, from api.json. */
  readonly url: string;
  readonly token: string;
  readonly multiaddr: string;
  /** SIGTERM, and resolves once the process exited. */
  stop(): Promise<void>;
}

/** `lanes node start --accept-channels` on `net`'s chain with `extra` flags; resolves once its api.json is written. */
export async function spawnDaemon(net: LocalNet, dir: string, extra: readonly string[] = []): Promise<DaemonProcess> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      '--data-dir',
      dir,
      'node',
      'start',
      '--chain-rpc',
      net.chain.rpcUrl,
      '--adjudicator',
      net.adjudicator,
      '--accept-channels',
      '--log-level',
      process.env.LANES_TEST_LOG ?? 'warn',
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  track(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const j = await readyFile<{ pid: number; url: string; multiaddrs: string[] }>(child, join(dir, 'api.json'), `the daemon in ${dir}`);
  return {
    child,
    url: j.url.replace(/\/$/, ''),
    token: readFileSync(join(dir, 'api.token'), 'utf8').trim(),
    multiaddr: j.multiaddrs[0]!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface CliOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** One `lanes --data-dir DIR …` command through bin/lanes.js; its exit code and output (never throws on a failing command). */
export async function lanesIn(dir: string, ...args: string[]): Promise<CliOutcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, '--data-dir', dir, ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

/** `lanes --data-dir DIR --json …`, parsed; throws with the command's stderr when it fails. */
export async function lanesJson<T = Record<string, unknown>>(dir: string, ...args: string[]): Promise<T> {
  const r = await lanesIn(dir, '--json', ...args);
  if (r.code !== 0) throw new Error(`lanes ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
