/**
 * The CLI with a token and a separate gas key, as a user runs it: daemons in their own
 * processes on a local chain, every command through bin/lanes.js. Token amounts print and are
 * typed in the token's symbol and decimals (`lanes pay <ch> 10TST`); alice's transactions are
 * sent and paid by her gas key; her metrics are on a loopback port.
 */
import test from 'ava';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type LocalNet, freePort, localNet } from '../helpers/local-net.ts';
import { readyFile, track } from '../helpers/spawned.ts';

const BIN = new URL('../../bin/lanes.js', import.meta.url).pathname;
const run = promisify(execFile);
const ETHER = 10n ** 18n;
let net: LocalNet;
const daemons: ChildProcess[] = [];
const dirs: Record<string, string> = {};
let gas: { address: string; keyFile: string };
let metricsPort: number;

async function lanes(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

async function json<T = Record<string, unknown>>(dir: string, ...args: string[]): Promise<T> {
  const r = await lanes('--data-dir', dir, '--json', ...args);
  if (r.code !== 0) throw new Error(`lanes ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

async function startDaemon(name: string, extra: string[]): Promise<void> {
  const args = ['--data-dir', dirs[name]!, 'node', 'start', '--chain-rpc', net.chain.rpcUrl, '--adjudicator', net.adjudicator];
  const child = spawn(process.execPath, [BIN, ...args, '--log-level', 'warn', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  daemons.push(track(child));
  await readyFile(child, join(dirs[name]!, 'api.json'), `${name}'s daemon`);
}

const actor = (name: string, address: string) => ({
  name,
  address: address as `0x${string}`,
  privateKey: new Uint8Array(),
  publicKey: new Uint8Array(),
});

test.before(async () => {
  net = await localNet();
  for (const name of ['alice', 'bob']) {
    dirs[name] = net.tempDir(`units-${name}`);
    const key = await json<{ address: string }>(dirs[name]!, 'keygen');
    // Alice's node key holds no ETH and no tokens: her gas key pays for everything.
    if (name === 'bob') await net.fund(actor(name, key.address), 100n, 10n ** 24n);
  }
  gas = await json<{ address: string; keyFile: string }>(dirs.alice!, 'keygen', '--out', join(dirs.alice!, 'gas.key'));
  await net.fund(actor('gas', gas.address), 100n, 1000n * ETHER);
  writeFileSync(
    join(dirs.bob!, 'bob.json'),
    JSON.stringify({ policies: { open: { maxDeposit: { eth: '5eth', [net.token]: '1000000000000000000000' } } } }),
  );
  metricsPort = await freePort();
  await startDaemon('alice', ['--gas-key-file', gas.keyFile, '--metrics-port', String(metricsPort)]);
  await startDaemon('bob', ['--config', join(dirs.bob!, 'bob.json')]);
});

test.after.always(async () => {
  for (const d of daemons) if (d.exitCode === null) d.kill('SIGTERM');
  await Promise.all(daemons.map((d) => (d.exitCode === null ? new Promise((r) => d.once('exit', r)) : undefined)));
  await net?.stop();
});

test.serial('a token channel funded by the gas key; amounts in the token units; metrics on the loopback port', async (t) => {
  const info = await json<{ address: string; gasAccount?: string }>(dirs.alice!, 'node', 'info');
  t.is(info.gasAccount, gas.address);
  t.regex((await lanes('--data-dir', dirs.alice!, 'node', 'info')).stdout, new RegExp(`gas +${gas.address}`));
  const bob = await json<{ multiaddrs: string[] }>(dirs.bob!, 'node', 'info');
  const ch = await json<{ id: string; status: string }>(
    dirs.alice!,
    'channel',
    'open',
    '--peer',
    bob.multiaddrs[0]!,
    '--asset',
    net.token,
    '--deposit',
    (100n * ETHER).toString(),
    '--counterparty-deposit',
    '1TST',
  ).catch((e: Error) => ({ id: '', status: e.message }));
  // A token the node has no channel of yet has no known units: only base units are taken.
  t.regex(ch.status, /unknown unit "TST"/);
  const opened = await json<{ id: string; status: string }>(
    dirs.alice!,
    'channel',
    'open',
    '--peer',
    bob.multiaddrs[0]!,
    '--asset',
    net.token,
    '--deposit',
    (100n * ETHER).toString(),
  );
  t.is(opened.status, 'open');
  t.is(await net.tokenBalance(gas.address as `0x${string}`), 900n * ETHER, 'the gas account paid the deposit');
  const paid = await lanes('--data-dir', dirs.alice!, 'pay', opened.id, '10TST');
  t.is(paid.code, 0, paid.stderr);
  t.regex(paid.stdout, /^paid 10 TST in channel 0x/);
  t.regex((await lanes('--data-dir', dirs.alice!, 'pay', opened.id, '0.5 tst')).stdout, /^paid 0\.5 TST/);
  const wrongUnit = await lanes('--data-dir', dirs.alice!, 'pay', opened.id, '1eth');
  t.not(wrongUnit.code, 0, 'ether units in a token channel are refused, not read as token base units');
  t.regex(wrongUnit.stderr, /names a token/);
  const show = await lanes('--data-dir', dirs.bob!, 'channel', 'show', opened.id);
  t.regex(show.stdout, /balance +10\.5 TST mine, 89\.5 TST theirs/);
  t.regex((await lanes('--data-dir', dirs.alice!, 'channel', 'list')).stdout, /89\.5 TST/);
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  t.regex(metrics, /^lanes_node_payments_total\{outcome="ok"\} 2$/m);
  t.regex(metrics, /^lanes_node_channels\{status="open"\} 1$/m);
});
