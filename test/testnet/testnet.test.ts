/**
 * `lanes testnet` and `lanes testnet up` through the CLI, as a user runs them: real processes
 * (EDR chain, coordinator, node daemons), a few seconds of traffic. Asserts what the run checks
 * (conservation on-chain, settlement through the coordinator) and that nothing is left running;
 * never timings.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { connect } from '../../src/sdk/connect.ts';
import type { TestnetReport } from '../../src/testnet/run.ts';
import type { NetworkJson } from '../../src/testnet/up.ts';

const BIN = new URL('../../bin/lanes.js', import.meta.url).pathname;
const run = promisify(execFile);
const dirs: string[] = [];
const children: ChildProcess[] = [];
test.after.always(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(name: string): string {
  const d = mkdtempSync(join(tmpdir(), `lanes-${name}-`));
  dirs.push(d);
  return d;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test.serial(
  'lanes testnet: traffic on every node, every channel closed through the coordinator, the chain agrees, nothing left running',
  async (t) => {
    const out = tempDir('report');
    const { stdout } = await run(
      process.execPath,
      [
        BIN,
        '--json',
        'testnet',
        '--nodes',
        '3',
        '--topology',
        'ring',
        '--channels-per-link',
        '1',
        '--swap-ratio',
        '0.34',
        '--duration',
        '3',
        '--warmup',
        '0.5',
        '--concurrency',
        '8',
        '--swap-every',
        '4',
        '--deposit',
        '10',
        '--out',
        out,
      ],
      { timeout: 300_000, maxBuffer: 64 << 20 },
    );
    const report = JSON.parse(stdout) as TestnetReport;
    t.deepEqual(
      report.checks.filter((c) => !c.ok),
      [],
    );
    t.true(report.ok);
    for (const name of [
      "each node's payout equals its final off-chain balance",
      'per asset: deposits = final balances = payouts, and the adjudicator keeps nothing',
      'every channel settled through the coordinator',
      'clean shutdown',
    ]) {
      t.true(
        report.checks.some((c) => c.name === name && c.ok),
        name,
      );
    }
    t.is(report.channels.total, 3);
    t.is(report.channels.swap, 1);
    t.true(report.load.payments > 0 && report.load.swaps > 0 && report.load.updates > 0);
    t.is(report.load.perNode.length, 3);
    t.true(report.settlement.transactions.length >= 1);
    t.true(report.settlement.transactions.every((x) => x.function === 'closeBatch' && x.from === report.network.coordinator));
    t.is(report.settlement.channels, 3);
    t.true(report.settlement.gasPerChannel > 0);
    t.is(report.processes.length, 5, 'chain, coordinator, 3 nodes');
    t.deepEqual(report.processes.filter(alive), []);
    t.deepEqual(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).ok, true);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    t.regex(html, /<svg[^>]*aria-label="Throughput"/);
    t.regex(html, /All checks passed/);
  },
);

test.serial(
  'lanes testnet --workload routed: keysends between nodes with no channel, routed through the others; fees conserve',
  async (t) => {
    // A ring of 4, one channel per link: 0-2 and 1-3 share no channel, so every payment takes 2
    // channels (one forwarder between).
    const out = tempDir('routed-report');
    const { stdout } = await run(
      process.execPath,
      [
        BIN,
        '--json',
        'testnet',
        '--workload',
        'routed',
        '--nodes',
        '4',
        '--channels-per-link',
        '1',
        '--duration',
        '2',
        '--concurrency',
        '2',
        '--swap-every',
        '4',
        '--deposit',
        '10',
        '--out',
        out,
      ],
      { timeout: 300_000, maxBuffer: 64 << 20 },
    );
    const report = JSON.parse(stdout) as TestnetReport;
    t.deepEqual(
      report.checks.filter((c) => !c.ok),
      [],
    );
    const r = report.routed!;
    t.true(r.settled > 0);
    t.deepEqual(Object.keys(r.hops), ['2'], 'every route: payer, one forwarder, payee');
    t.is(r.nodes.length, 4);
    for (const n of r.nodes) t.deepEqual(n.balanceChange, n.expectedChange, n.name);
    // Every 4th payment of a node is a routed swap: tUSD to the payee, paid with ETH, converted
    // by the forwarder at its quoted rate (1:1 on the testnet).
    t.true(r.swaps.attempted > 0 && r.swaps.settled > 0, JSON.stringify(r.swaps));
    t.is(
      r.nodes.reduce((a, n) => a + n.converted, 0),
      r.swaps.settled,
      'each routed swap converted once',
    );
    // Each plain payment paid its forwarder 100 ppm of the amount (the daemon's default fee), in ETH.
    t.true(r.nodes.every((n) => n.forwarded === 0 || BigInt(n.feesEarned.ETH ?? 0) === BigInt(n.forwarded) * 100_000n));
    t.deepEqual(report.processes.filter(alive), []);
  },
);

test.serial('lanes testnet up: a network to drive by hand, described in network.json; Ctrl-C stops every process', async (t) => {
  const dir = tempDir('up');
  const child = spawn(
    process.execPath,
    [BIN, 'testnet', 'up', '--nodes', '2', '--channels-per-link', '1', '--swap-ratio', '0', '--dir', dir],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let stdout = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.resume();
  const file = join(dir, 'network.json');
  for (let i = 0; i < 1200 && !stdout.includes('Ctrl-C stops every process'); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.true(existsSync(file), stdout);
  const info = JSON.parse(readFileSync(file, 'utf8')) as NetworkJson;
  t.is(info.nodes.length, 2);
  t.is(info.channels.length, 1);
  t.true(info.contracts.tokens.length >= 2);
  t.regex(stdout, new RegExp(info.chain.rpcUrl));
  // Every part answers where network.json says.
  const chainId = await (
    await fetch(info.chain.rpcUrl, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }) })
  ).json();
  t.is(BigInt((chainId as { result: string }).result).toString(), info.chain.chainId);
  t.is(
    ((await (await fetch(`${info.coordinator.statusUrl}/status`)).json()) as { address: string }).address.toLowerCase(),
    info.coordinator.address,
  );
  const leader = info.nodes.find((n) => n.name === info.channels[0]!.leader)!;
  const api = await connect({ url: leader.apiUrl, token: readFileSync(leader.tokenFile, 'utf8').trim() });
  t.is((await api.info()).peerId, leader.peerId);
  const paid = await api.pay(info.channels[0]!.id, { amount: 1000n });
  t.true(paid.version > 0n);
  await api.stop();
  // And the CLI finds the node from its data directory.
  const { stdout: list } = await run(process.execPath, [BIN, '--data-dir', leader.dataDir, '--json', 'channel', 'list']);
  t.is((JSON.parse(list) as { id: string }[])[0]!.id, info.channels[0]!.id);

  // A node restarted by hand, with its own command line: network.json follows it (issue 16).
  const follower = info.nodes.find((n) => n.name !== leader.name)!;
  const argv = readFileSync(`/proc/${follower.pid}/cmdline`, 'utf8')
    .split('\0')
    .filter((a) => a !== '');
  process.kill(follower.pid, 'SIGTERM');
  for (let i = 0; i < 200 && alive(follower.pid); i++) await new Promise((r) => setTimeout(r, 100));
  t.false(alive(follower.pid));
  const again = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  children.push(again);
  let now = info;
  for (let i = 0; i < 600; i++) {
    now = JSON.parse(readFileSync(file, 'utf8')) as NetworkJson;
    if (now.nodes.find((n) => n.name === follower.name)!.pid === again.pid) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const moved = now.nodes.find((n) => n.name === follower.name)!;
  t.is(moved.pid, again.pid!, 'network.json names the restarted process');
  t.is(moved.multiaddr, follower.multiaddr, 'which listens where it did (its port is kept)');
  const back = await connect({ url: moved.apiUrl, token: readFileSync(moved.tokenFile, 'utf8').trim() });
  t.is((await back.info()).peerId, follower.peerId, 'and answers at the API URL network.json gives');
  await back.stop();

  const pids = [info.chain.pid, info.coordinator.pid, ...now.nodes.map((n) => n.pid)];
  t.true(pids.every(alive));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGINT');
  t.is(await exited, 0);
  t.deepEqual(pids.filter(alive), [], 'the node restarted by hand is stopped with the rest');
  t.false(existsSync(file), 'network.json is removed once everything stopped');
});
