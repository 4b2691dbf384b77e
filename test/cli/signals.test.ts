/**
 * Signals reach the daemons (issue 15). A supervisor knows only the PID it started: here
 * `bin/lanes.js` run by the system's older Node, which re-runs the CLI under Node 24. A SIGTERM
 * or SIGINT to that PID must stop everything cleanly, and leave no process behind: not the CLI
 * under the wrapper, not the chain, coordinator or nodes of `lanes testnet up`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import test from 'ava';

const BIN = new URL('../../bin/lanes.js', import.meta.url).pathname;
/** The shell entry point (package.json's bin), which execs Node 24. */
const SH_BIN = new URL('../../bin/lanes', import.meta.url).pathname;

/** A `node` on PATH older than 24 (the system's), to run the wrapper as a user's shell would. */
function systemNode(): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(d, 'node');
    if (d.includes('node_modules') || !existsSync(candidate)) continue;
    try {
      const v = execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim();
      if (Number(v.slice(1).split('.')[0]) < 24) return candidate;
    } catch {
      // not runnable
    }
  }
  return undefined;
}

/** Alive and not a zombie: `kill(pid, 0)` succeeds on a zombie too. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The live descendants of `pid`, from each process's parent in /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      if (!alive(c)) continue;
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** Every live process whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text) && alive(Number(entry))) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

async function until<T>(what: string, f: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function exited(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode });
    const timer = setTimeout(() => reject(new Error(`pid ${child.pid} did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

const root = mkdtempSync(join(tmpdir(), 'lanes-signals-'));
const spawned: ChildProcess[] = [];
test.after.always(() => {
  // Whatever a failed run left: the test must not leave orphans of its own either.
  for (const c of spawned) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const pid of processesMentioning(root)) process.kill(pid, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

interface NetworkFile {
  pid: number;
  chain: { rpcUrl: string; pid: number };
  contracts: { adjudicator: string };
  coordinator: { pid: number };
  nodes: { pid: number }[];
}

test('SIGINT to `lanes node start` and SIGTERM to `lanes testnet up`, through the wrapper, and SIGTERM through bin/lanes, leave no process behind', async (t) => {
  const node = systemNode();
  // Without an older Node the wrapper imports the CLI in-process: the signal handling is still tested.
  t.log(
    node
      ? `wrapper run by ${node} (${execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()})`
      : 'no Node < 24 on PATH: no wrapper',
  );
  const runner = node ?? process.execPath;
  const lanes = (...args: string[]): ChildProcess => {
    const c = spawn(runner, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    c.once('exit', () => t.log(`${args.slice(2, 4).join(' ')}: ${out.trim().split('\n').slice(-3).join(' | ')}`));
    spawned.push(c);
    return c;
  };

  const dir = join(root, 'testnet');
  const up = lanes('--json', 'testnet', 'up', '--nodes', '2', '--channels-per-link', '1', '--swap-ratio', '0', '--dir', dir);
  const net = await until('network.json', () => readJson<NetworkFile>(join(dir, 'network.json')), 240_000);
  const testnetPids = [net.pid, net.chain.pid, net.coordinator.pid, ...net.nodes.map((n) => n.pid)];
  t.true(testnetPids.every(alive), 'the testnet runs');
  const tree = descendants(up.pid!);
  if (node) t.not(net.pid, up.pid, 'the CLI runs under the wrapper, in a process of its own');

  // A node of our own on the testnet's chain, stopped by SIGINT to the PID we started.
  const nodeDir = join(root, 'node');
  const daemon = lanes('--data-dir', nodeDir, 'node', 'start', '--chain-rpc', net.chain.rpcUrl, '--adjudicator', net.contracts.adjudicator);
  const api = await until('api.json', () => readJson<{ pid: number }>(join(nodeDir, 'api.json')), 120_000);
  t.true(alive(api.pid));
  daemon.kill('SIGINT');
  t.deepEqual(await exited(daemon, 60_000), { code: 0, signal: null }, 'the node stopped cleanly');
  t.false(alive(api.pid), 'the daemon under the wrapper is gone');
  t.false(existsSync(join(nodeDir, 'api.json')), 'a clean stop removes api.json');
  t.deepEqual(processesMentioning(nodeDir), []);

  // Through bin/lanes (sh): it execs Node 24, so the PID we started is the daemon itself.
  const shDir = join(root, 'node-sh');
  const sh = spawn(
    SH_BIN,
    ['--data-dir', shDir, 'node', 'start', '--chain-rpc', net.chain.rpcUrl, '--adjudicator', net.contracts.adjudicator],
    {
      stdio: 'ignore',
    },
  );
  spawned.push(sh);
  const shApi = await until('api.json of the bin/lanes daemon', () => readJson<{ pid: number }>(join(shDir, 'api.json')), 120_000);
  t.is(shApi.pid, sh.pid!, 'bin/lanes execs: no wrapper process');
  sh.kill('SIGTERM');
  t.deepEqual(await exited(sh, 60_000), { code: 0, signal: null }, 'the bin/lanes daemon stopped cleanly');
  t.false(existsSync(join(shDir, 'api.json')));
  t.deepEqual(processesMentioning(shDir), []);

  // SIGTERM to the PID of `lanes testnet up`: the chain, the coordinator and both nodes stop with it.
  up.kill('SIGTERM');
  t.deepEqual(await exited(up, 120_000), { code: 0, signal: null }, 'testnet up stopped cleanly');
  t.deepEqual(testnetPids.filter(alive), [], 'no process of the testnet is left');
  t.deepEqual(processesMentioning(dir), []);
  t.deepEqual(tree.filter(alive), [], 'no descendant of the PID signalled is left');
  t.false(existsSync(join(dir, 'network.json')));
});

test('a signal while `lanes testnet up` is still starting leaves no process behind', async (t) => {
  const runner = systemNode() ?? process.execPath;
  const dir = join(root, 'starting');
  const up = spawn(runner, [BIN, 'testnet', 'up', '--nodes', '2', '--dir', dir], { stdio: 'ignore' });
  spawned.push(up);
  // The chain is up and the coordinator is starting: signal in the middle of the start.
  await until('the coordinator directory', () => (existsSync(join(dir, 'coordinator')) ? true : undefined), 120_000);
  const started = descendants(up.pid!);
  t.true(started.length >= 2, 'the CLI and the chain at least');
  up.kill('SIGTERM');
  const end = await exited(up, 60_000);
  t.not(end.code, 0, 'the start was cut short');
  await until('every started process to go', () => (processesMentioning(dir).length === 0 ? true : undefined), 10_000);
  t.true(started.every((pid) => !alive(pid)));
});
