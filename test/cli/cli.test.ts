/**
 * The `lanes` CLI driven as a user would: real daemons in their own processes, a real EDR node,
 * every command through bin/lanes.js; --json output parsed, human output read, errors checked.
 */
import test from 'ava';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type LocalNet, localNet } from '../helpers/local-net.ts';
import { readyFile, track } from '../helpers/spawned.ts';

const BIN = new URL('../../bin/lanes.js', import.meta.url).pathname;
const run = promisify(execFile);
let net: LocalNet;
const daemons: ChildProcess[] = [];
const dirs: Record<string, string> = {};
const info: Record<string, { address: string; multiaddrs: string[] }> = {};

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function lanes(...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

/** Runs a command that must succeed with --json; returns the parsed output. */
async function json<T = Record<string, unknown>>(dir: string, ...args: string[]): Promise<T> {
  const r = await lanes('--data-dir', dir, '--json', ...args);
  if (r.code !== 0) throw new Error(`lanes ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

async function startDaemon(name: string, extra: string[] = []): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      '--data-dir',
      dirs[name]!,
      'node',
      'start',
      '--chain-rpc',
      net.chain.rpcUrl,
      '--adjudicator',
      net.adjudicator,
      '--log-level',
      'warn',
      '--accept-channels',
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  daemons.push(track(child));
  await readyFile(child, join(dirs[name]!, 'api.json'), `${name}'s daemon`);
  return child;
}

test.before(async () => {
  net = await localNet();
  for (const name of ['alice', 'bob']) {
    dirs[name] = net.tempDir(`cli-${name}`);
    const key = await json<{ address: string; keyFile: string }>(dirs[name]!, 'keygen');
    info[name] = { address: key.address, multiaddrs: [] };
    await net.fund(
      { name, address: key.address as `0x${string}`, privateKey: new Uint8Array(), publicKey: new Uint8Array() },
      100n,
      10n ** 24n,
    );
  }
  writeFileSync(
    join(dirs.bob!, 'bob.json'),
    JSON.stringify({
      policies: {
        open: { maxDeposit: { eth: '5eth', [net.token]: '1000000000000000000000000' } },
        swap: { pairs: [{ receive: 'eth', give: net.token, minReceive: '1', perGive: '1000' }] },
      },
      chainPollMs: 100, // from the config file: every chain event bob's tests wait for still arrives
    }),
  );
  await startDaemon('alice');
  await startDaemon('bob', ['--config', join(dirs.bob!, 'bob.json')]);
  for (const name of ['alice', 'bob']) info[name] = await json(dirs[name]!, 'node', 'info');
});

test.after.always(async () => {
  for (const d of daemons) if (d.exitCode === null) d.kill('SIGKILL');
  await net?.stop();
});

test.serial('keygen writes an owner-only key file', (t) => {
  t.is(statSync(join(dirs.alice!, 'node.key')).mode & 0o777, 0o600);
  t.regex(info.alice!.address, /^0x[0-9a-f]{40}$/);
});

test.serial('connect, open, pay both ways, export the state, list, and close', async (t) => {
  const bobAddr = info.bob!.multiaddrs[0]!;
  const peer = await json<{ address: string }>(dirs.alice!, 'peer', 'connect', bobAddr);
  t.is(peer.address, info.bob!.address);
  const ch = await json<{ id: string; status: string }>(
    dirs.alice!,
    'channel',
    'open',
    '--peer',
    bobAddr,
    '--deposit',
    '1eth',
    '--counterparty-deposit',
    '0.5eth',
  );
  t.is(ch.status, 'open');
  const paid = await json<{ version: string; amount: string }>(dirs.alice!, 'pay', ch.id, '0.1eth');
  t.is(paid.amount, '100000000000000000');
  const human = await lanes('--data-dir', dirs.bob!, 'pay', ch.id, '0.05eth');
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /paid 0\.05 ETH in channel 0x/);
  const state = await json<{ signatures: string[]; digest: string; state: { version: string; balances: string[][] } }>(
    dirs.bob!,
    'channel',
    'state',
    ch.id,
  );
  t.is(state.signatures.length, 2);
  t.regex(state.digest, /^0x[0-9a-f]{64}$/);
  const list = await lanes('--data-dir', dirs.alice!, 'channel', 'list');
  t.regex(list.stdout, new RegExp(ch.id.slice(0, 8)));
  t.regex(list.stdout, /0\.95 ETH/);
  const closed = await json<{ status: string; transactionHash: string }>(dirs.alice!, 'channel', 'close', ch.id);
  t.is(closed.status, 'closed');
  t.regex(closed.transactionHash, /^0x[0-9a-f]{64}$/);
});

test.serial('a swap channel: an exchange the counterparty prices, one co-signed update', async (t) => {
  const ch = await json<{ id: string }>(
    dirs.alice!,
    'channel',
    'open',
    '--peer',
    info.bob!.multiaddrs[0]!,
    '--asset',
    'eth',
    net.token,
    '--deposit',
    '1eth',
    '0',
    '--counterparty-deposit',
    '0',
    '5000000000000000000000',
  );
  const swap = await json<{ give: { amount: string }; take: { amount: string } }>(
    dirs.alice!,
    'swap',
    ch.id,
    '--give',
    '0.1eth',
    '--give-asset',
    'eth',
    '--take',
    '100000000000000000000',
    '--take-asset',
    net.token,
  );
  t.is(swap.take.amount, '100000000000000000000');
  const shown = await json<{ balances: { mine: string }[] }>(dirs.alice!, 'channel', 'show', ch.id);
  t.deepEqual(
    shown.balances.map((b) => b.mine),
    ['900000000000000000', '100000000000000000000'],
  );
  const tooCheap = await lanes(
    '--data-dir',
    dirs.alice!,
    'swap',
    ch.id,
    '--give',
    '1wei',
    '--give-asset',
    'eth',
    '--take',
    '1000000',
    '--take-asset',
    net.token,
  );
  t.not(tooCheap.code, 0);
  t.regex(tooCheap.stderr, /policy: price below our minimum/);
});

test.serial('a payout the node refused is credited: withdrawable shows it, withdraw collects it', async (t) => {
  const bob = info.bob!.address as `0x${string}`;
  const ch = await json<{ id: string }>(dirs.alice!, 'channel', 'open', '--peer', info.bob!.multiaddrs[0]!, '--deposit', '1eth');
  await json(dirs.alice!, 'pay', ch.id, '0.2eth');
  await net.refuseEth(bob, true); // bob's address refuses the push: the adjudicator credits him
  const closed = await lanes('--data-dir', dirs.bob!, 'channel', 'close', ch.id).finally(() => net.refuseEth(bob, false));
  t.is(closed.code, 0, closed.stderr);
  t.regex(closed.stdout, /credited 0\.2 ETH on the adjudicator: lanes withdraw/);
  t.deepEqual(await json(dirs.bob!, 'withdrawable'), [
    { asset: '0x0000000000000000000000000000000000000000', amount: '200000000000000000' },
  ]);
  t.regex((await lanes('--data-dir', dirs.bob!, 'withdrawable')).stdout, /^0\.2 ETH$/m);
  const to = '0x00000000000000000000000000000000000c11e0';
  const r = await json<{ to: string; withdrawals: { asset: string; amount: string; transactionHash: string }[] }>(
    dirs.bob!,
    'withdraw',
    '--to',
    to,
  );
  t.is(r.to, to);
  t.deepEqual(
    r.withdrawals.map((w) => w.amount),
    ['200000000000000000'],
  );
  t.is(await net.ethBalance(to), 2n * 10n ** 17n);
  const empty = await lanes('--data-dir', dirs.bob!, 'withdraw');
  t.is(empty.code, 0, empty.stderr);
  t.regex(empty.stdout, /nothing to withdraw/);
  const named = await lanes('--data-dir', dirs.bob!, 'withdraw', 'eth');
  t.not(named.code, 0);
  t.regex(named.stderr, /nothing to withdraw in 0x0{40}/);
  const badTo = await lanes('--data-dir', dirs.bob!, 'withdraw', '--to', '0x12');
  t.not(badTo.code, 0);
  t.regex(badTo.stderr, /--to "0x12" must be a 0x address/);
  const help = await lanes('withdraw', '--help');
  t.regex(help.stdout, /\$ lanes withdraw eth --to 0x/);
});

test.serial('every error gives a non-zero exit and says what went wrong', async (t) => {
  const unknown = await lanes('--data-dir', dirs.alice!, 'pay', `0x${'12'.repeat(32)}`, '1wei');
  t.not(unknown.code, 0);
  t.regex(unknown.stderr, /unknown channel/);
  const ch = await json<{ id: string }>(dirs.alice!, 'channel', 'open', '--peer', info.bob!.multiaddrs[0]!, '--deposit', '1eth');
  const broke = await lanes('--data-dir', dirs.bob!, 'pay', ch.id, '1wei');
  t.not(broke.code, 0);
  t.regex(broke.stderr, /insufficient-balance/);
  const badAmount = await lanes('--data-dir', dirs.alice!, 'pay', ch.id, '1.5');
  t.not(badAmount.code, 0);
  t.regex(badAmount.stderr, /has decimals but no unit/);
  const badId = await lanes('--data-dir', dirs.alice!, 'channel', 'show', 'nope');
  t.not(badId.code, 0);
  t.regex(badId.stderr, /channel id must be 0x and 64 hex digits/);
  const noDaemon = await lanes('--data-dir', net.tempDir('empty'), 'node', 'info');
  t.not(noDaemon.code, 0);
  t.regex(noDaemon.stderr, /no daemon is running/);
  const badToken = join(net.tempDir('tok'), 'token');
  writeFileSync(badToken, 'wrong', { mode: 0o600 });
  const url = (JSON.parse(readFileSync(join(dirs.alice!, 'api.json'), 'utf8')) as { url: string }).url;
  const refused = await lanes('--rpc', url, '--token-file', badToken, 'node', 'info');
  t.not(refused.code, 0);
  t.regex(refused.stderr, /missing or wrong token/);
  const badConfig = join(net.tempDir('cfg'), 'config.json');
  writeFileSync(badConfig, JSON.stringify({ timeouts: { openMs: -1 } }));
  const start = ['node', 'start', '--config', badConfig, '--chain-rpc', net.chain.rpcUrl, '--adjudicator', net.adjudicator];
  const badTimeout = await lanes('--data-dir', net.tempDir('cfg-dir'), ...start);
  t.not(badTimeout.code, 0);
  t.regex(badTimeout.stderr, /timeouts\.openMs must be a positive whole number of milliseconds/);
  writeFileSync(badConfig, JSON.stringify({ timeouts: { openMS: 1000 } }));
  t.regex((await lanes('--data-dir', net.tempDir('cfg-dir'), ...start)).stderr, /timeouts\.openMS is not a timeout/);
  writeFileSync(badConfig, '{}');
  const badCap = await lanes('--data-dir', net.tempDir('cfg-dir'), ...start, '--max-pending-channels', 'lots');
  t.not(badCap.code, 0);
  t.regex(badCap.stderr, /--max-pending-channels "lots" must be a whole number/);
  const badPoll = await lanes('--data-dir', net.tempDir('cfg-dir'), ...start, '--chain-poll-ms', '5');
  t.not(badPoll.code, 0);
  t.regex(badPoll.stderr, /--chain-poll-ms "5" must be a whole number of milliseconds, 10\.\.600000/);
  const jsonErr = await lanes('--data-dir', dirs.alice!, '--json', 'pay', ch.id, '0wei');
  t.not(jsonErr.code, 0);
  t.is((JSON.parse(jsonErr.stdout) as { error: { code: string } }).error.code, 'INVALID_ARGUMENT');
});

test.serial('the control API binds loopback and refuses a missing or wrong token', async (t) => {
  const url = (JSON.parse(readFileSync(join(dirs.alice!, 'api.json'), 'utf8')) as { url: string }).url;
  t.regex(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const none = await fetch(`${url}/v1/info`);
  t.is(none.status, 401);
  const wrong = await fetch(`${url}/v1/info`, { headers: { authorization: 'Bearer nope' } });
  t.is(wrong.status, 401);
  const token = readFileSync(join(dirs.alice!, 'api.token'), 'utf8').trim();
  t.is(statSync(join(dirs.alice!, 'api.token')).mode & 0o777, 0o600);
  const ok = await fetch(`${url}/v1/info`, { headers: { authorization: `Bearer ${token}` } });
  t.is(ok.status, 200);
  const bad = await fetch(`${url}/v1/channels/0x12/pay`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{"amount":"x"}',
  });
  t.is(bad.status, 400);
  t.regex(((await bad.json()) as { error: { message: string } }).error.message, /channel id must be/);
});

test.serial('a key file others can read is refused; a 0755 data directory is made 0700; SIGTERM stops a daemon cleanly', async (t) => {
  const dir = net.tempDir('cli-carol');
  await json(dir, 'keygen');
  chmodSync(join(dir, 'node.key'), 0o644);
  const refused = await lanes('--data-dir', dir, 'node', 'start', '--chain-rpc', net.chain.rpcUrl, '--adjudicator', net.adjudicator);
  t.not(refused.code, 0);
  t.regex(refused.stderr, /accessible to other users \(mode 0644\)/);
  chmodSync(join(dir, 'node.key'), 0o600);
  dirs.carol = dir;
  chmodSync(dir, 0o755); // made by hand, or restored from a backup: the daemon closes it at start
  const carol = await startDaemon('carol');
  t.is(statSync(dir).mode & 0o777, 0o700, 'the data directory is 0700 once the daemon runs');
  const exited = new Promise<number | null>((resolve) => carol.once('exit', (code) => resolve(code)));
  carol.kill('SIGTERM');
  t.is(await exited, 0);
  t.false(existsSync(join(dir, 'api.json')), 'api.json is removed on a clean stop');
});
