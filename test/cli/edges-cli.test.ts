/**
 * The CLI's and the remote client's edges (issue 16), driven as a user would: real daemons in
 * their own processes on a real EDR chain, every command through bin/lanes.js.
 *
 * - `channel close --force` says it is still waiting and when the challenge period ends, and
 *   `--no-wait` returns once the state is registered; a slow daemon is a timeout, never
 *   "unreachable".
 * - Client errors name their file or URL: a corrupt api.json, another server on the port, an
 *   --rpc that is not a URL, nothing listening.
 * - `node start` against a chain nobody serves says so in one line and leaves the data
 *   directory as it was.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { connect } from '../../src/sdk/connect.ts';
import { OperationTimeoutError } from '../../src/sdk/errors.ts';
import { type DaemonProcess, keygenFunded, spawnDaemon } from '../helpers/daemon-process.ts';
import { type LocalNet, freePort, localNet } from '../helpers/local-net.ts';

const BIN = new URL('../../bin/lanes.js', import.meta.url).pathname;
const run = promisify(execFile);
let net: LocalNet;
const daemons: DaemonProcess[] = [];
const others: ChildProcess[] = [];
const dirs: Record<string, string> = {};
let alice: DaemonProcess;
let bob: DaemonProcess;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

async function lanes(...args: string[]): Promise<Outcome> {
  const t0 = Date.now();
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 180_000 });
    return { code: 0, stdout, stderr, ms: Date.now() - t0 };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '', ms: Date.now() - t0 };
  }
}

/** A channel alice opens with bob, funded, with this challenge period. */
async function openChannel(challengeSeconds: number): Promise<string> {
  const r = await lanes(
    '--data-dir',
    dirs.alice!,
    '--json',
    'channel',
    'open',
    '--peer',
    bob.multiaddr,
    '--deposit',
    '1eth',
    '--challenge-duration',
    String(challengeSeconds),
  );
  if (r.code !== 0) throw new Error(`channel open failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { id: string }).id;
}

/** A web server that is not a Lanes daemon, in its own process, on 127.0.0.1:port. */
async function foreignServer(port: number): Promise<ChildProcess> {
  const code = `require('node:http').createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }); res.end('<!DOCTYPE html><html><body>hello</body></html>'); }).listen(${port}, '127.0.0.1', () => console.log('ready'));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  others.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`the foreign server exited with ${c}`)));
  });
  return child;
}

const ISO = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/;

test.before(async () => {
  net = await localNet();
  for (const name of ['alice', 'bob']) {
    dirs[name] = net.tempDir(`edges-cli-${name}`);
    await keygenFunded(net, dirs[name]!, 100n);
  }
  alice = await spawnDaemon(net, dirs.alice!);
  bob = await spawnDaemon(net, dirs.bob!);
  daemons.push(alice, bob);
});

test.after.always(async () => {
  for (const d of daemons) if (d.child.exitCode === null) d.child.kill('SIGKILL');
  for (const c of others) if (c.exitCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
  await net?.stop();
});

test.serial('close --force --no-wait returns once the state is registered, with the end of the challenge period', async (t) => {
  const id = await openChannel(3600);
  const before = Date.now();
  const r = await lanes('--data-dir', dirs.alice!, '--json', 'channel', 'close', id, '--force', '--no-wait');
  t.is(r.code, 0, r.stderr);
  t.true(r.ms < 30_000, `took ${r.ms} ms`);
  const j = JSON.parse(r.stdout) as { status: string; mode: string; challengeEndsAt?: number };
  t.is(j.mode, 'force');
  t.is(j.status, 'disputed');
  t.is(typeof j.challengeEndsAt, 'number');
  // The chain's clock: an hour from the registration, give or take the chain's drift.
  t.true(Math.abs(j.challengeEndsAt! - (before + 3600_000)) < 300_000, `challengeEndsAt ${j.challengeEndsAt}`);
  // `channel show` says it too.
  const show = await lanes('--data-dir', dirs.alice!, 'channel', 'show', id);
  t.is(show.code, 0, show.stderr);
  t.regex(show.stdout, new RegExp(`status +disputed[\\s\\S]*the challenge period ends at ${new Date(j.challengeEndsAt!).toISOString()}`));
});

test.serial('close --force that outlasts its wait says it is still waiting and when the challenge ends, never "unreachable"', async (t) => {
  const id = await openChannel(3600);
  const r = await lanes('--data-dir', dirs.alice!, 'channel', 'close', id, '--force', '--timeout', '3');
  t.not(r.code, 0);
  t.true(r.ms < 60_000, `took ${r.ms} ms`);
  t.regex(r.stderr, new RegExp(`registered version \\d+ on-chain; the challenge period ends at ${ISO.source}`));
  t.regex(r.stderr, new RegExp(`still waiting: the challenge period ends at ${ISO.source}; the close goes on in the daemon`));
  t.true(r.stderr.includes(`lanes channel show ${id}`), r.stderr);
  t.notRegex(r.stderr, /cannot reach|unreachable|not running/i);
  // The daemon still has it: registered, and concluded when the challenge period ends.
  const show = await lanes('--data-dir', dirs.alice!, '--json', 'channel', 'show', id);
  t.is((JSON.parse(show.stdout) as { status: string }).status, 'disputed');
});

test.serial('a daemon slower than the client timeout is an OperationTimeoutError, not DAEMON_UNREACHABLE', async (t) => {
  const id = await openChannel(3600);
  const node = await connect({ url: alice.url, token: alice.token, transport: 'http', timeoutMs: 1500 });
  try {
    const e = await t.throwsAsync(node.close(id as `0x${string}`, { mode: 'force', waitFor: 'closed' }));
    t.true(e instanceof OperationTimeoutError, `${e?.name}: ${e?.message}`);
    t.is((e as OperationTimeoutError).code, 'TIMEOUT');
    t.true((e as OperationTimeoutError).maybeApplied);
    t.regex(e!.message, new RegExp(`the daemon at ${alice.url} did not answer within 1.5 s`));
    t.notRegex(e!.message, /cannot reach/);
  } finally {
    await node.stop();
  }
});

test.serial('a corrupt api.json is named, with the parser’s reason', async (t) => {
  const dir = net.tempDir('edges-cli-corrupt');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'api.json'), '{"url": "http://127.0.0.1:7', { mode: 0o600 });
  writeFileSync(join(dir, 'api.token'), 'x\n', { mode: 0o600 });
  const r = await lanes('--data-dir', dir, 'node', 'info');
  t.is(r.code, 1);
  t.true(r.stderr.startsWith(`lanes: ${join(dir, 'api.json')} is not valid JSON: `), r.stderr);
  const j = await lanes('--data-dir', dir, '--json', 'channel', 'list');
  t.is((JSON.parse(j.stdout) as { error: { code: string } }).error.code, 'BAD_JSON_FILE');
});

test.serial('another server on the port is named as not a Lanes control API, by the CLI and by connect()', async (t) => {
  const port = await freePort();
  await foreignServer(port);
  const url = `http://127.0.0.1:${port}`;
  for (const cmd of [
    ['node', 'info'],
    ['channel', 'list'],
  ]) {
    const r = await lanes('--rpc', url, '--token-file', join(dirs.alice!, 'api.token'), ...cmd);
    t.is(r.code, 1);
    t.is(r.stderr.trim(), `lanes: ${url} is not a Lanes control API (got text/html)`);
  }
  for (const transport of ['http', 'stream'] as const) {
    const e = await t.throwsAsync(connect({ url, token: alice.token, transport }));
    t.is((e as { code?: string }).code, 'NOT_LANES_API', `${transport}: ${e?.message}`);
    t.is(e!.message, `${url} is not a Lanes control API (got text/html)`);
  }
});

test.serial('--rpc that is not a URL says so; nothing listening is "not running (connection refused)"', async (t) => {
  const token = join(dirs.alice!, 'api.token');
  const bad = await lanes('--rpc', 'notaurl', '--token-file', token, 'node', 'info');
  t.is(bad.code, 1);
  t.true(bad.stderr.startsWith('lanes: --rpc notaurl is not a URL\n'), bad.stderr);
  t.notRegex(bad.stderr, /not running/);
  const port = await freePort();
  const none = await lanes('--rpc', `http://127.0.0.1:${port}`, '--token-file', token, 'node', 'info');
  t.is(none.code, 1);
  t.true(none.stderr.startsWith(`lanes: the daemon at http://127.0.0.1:${port} is not running (connection refused)\n`), none.stderr);
});

test.serial('node start against an unreachable chain says so in one line and leaves the data directory as it was', async (t) => {
  const port = await freePort();
  const rpc = `http://127.0.0.1:${port}`;
  const start = (dir: string) =>
    lanes('--data-dir', dir, 'node', 'start', '--chain-rpc', rpc, '--adjudicator', net.adjudicator, '--log-level', 'warn');
  // A data directory that does not exist yet: it still does not.
  const fresh = join(net.tempDir('edges-cli-chain'), 'fresh');
  const a = await start(fresh);
  t.not(a.code, 0);
  t.is(a.stderr, `lanes: cannot reach the chain at ${rpc}: connection refused\n`);
  t.false(existsSync(fresh), `left ${existsSync(fresh) ? readdirSync(fresh).join(', ') : ''}`);
  // One that `lanes keygen` made: only the key is there after.
  const keyed = net.tempDir('edges-cli-chain-keyed');
  await run(process.execPath, [BIN, '--data-dir', keyed, 'keygen']);
  const b = await start(keyed);
  t.not(b.code, 0);
  t.is(b.stderr, `lanes: cannot reach the chain at ${rpc}: connection refused\n`);
  t.deepEqual(readdirSync(keyed), ['node.key']);
});
