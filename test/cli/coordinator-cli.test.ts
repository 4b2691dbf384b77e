/** The coordinator from the command line: closes go through it by default, --direct bypasses it, status shows it. */
import test from 'ava';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type CoordinatorProcess, spawnCoordinator } from '../helpers/coordinator-process.ts';
import { type LocalNet, freePort, localNet } from '../helpers/local-net.ts';
import { readyFile, track } from '../helpers/spawned.ts';

const BIN = new URL('../../bin/lanes.js', import.meta.url).pathname;
const run = promisify(execFile);
let net: LocalNet;
let coord: CoordinatorProcess;
let coordDir: string;
const daemons: ChildProcess[] = [];
const dirs: Record<string, string> = {};

async function lanes(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

async function json<T>(dir: string, ...args: string[]): Promise<T> {
  const r = await lanes('--data-dir', dir, '--json', ...args);
  if (r.code !== 0) throw new Error(`lanes ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

test.before(async () => {
  net = await localNet();
  coordDir = net.tempDir('cli-coord');
  coord = await spawnCoordinator({
    dataDir: coordDir,
    rpc: net.chain.rpcUrl,
    adjudicator: net.adjudicator,
    port: await freePort(),
    args: ['--max-delay-ms', '500'],
  });
  await net.fund({ name: 'coordinator', address: coord.address, privateKey: new Uint8Array(), publicKey: new Uint8Array() }, 100n);
  for (const name of ['kim', 'lee']) {
    dirs[name] = net.tempDir(`cli-${name}`);
    const key = await json<{ address: `0x${string}` }>(dirs[name]!, 'keygen');
    await net.fund({ name, address: key.address, privateKey: new Uint8Array(), publicKey: new Uint8Array() }, 100n);
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
        '--coordinator',
        coord.multiaddr,
        '--log-level',
        'warn',
        '--accept-channels',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    daemons.push(track(child));
    await readyFile(child, join(dirs[name]!, 'api.json'), `${name}'s daemon`);
  }
});

test.after.always(async () => {
  for (const d of daemons) if (d.exitCode === null) d.kill('SIGKILL');
  await coord?.kill('SIGKILL');
  await net?.stop();
});

test.serial('channel close goes through the coordinator; --direct bypasses it; coordinator status shows the batch', async (t) => {
  const lee = await json<{ multiaddrs: string[] }>(dirs.lee!, 'node', 'info');
  const a = await json<{ id: string }>(dirs.kim!, 'channel', 'open', '--peer', lee.multiaddrs[0]!, '--deposit', '1eth');
  const b = await json<{ id: string }>(dirs.kim!, 'channel', 'open', '--peer', lee.multiaddrs[0]!, '--deposit', '1eth');
  const viaCoordinator = await json<{ via: string; status: string }>(dirs.kim!, 'channel', 'close', a.id);
  t.is(viaCoordinator.via, 'coordinator');
  t.is(viaCoordinator.status, 'closed');
  const direct = await lanes('--data-dir', dirs.kim!, 'channel', 'close', b.id, '--direct');
  t.is(direct.code, 0, direct.stderr);
  t.regex(direct.stdout, /closed \(cooperative, via direct/);
  const status = await json<{ recentBatches: { kind: string; status: string; settled: number }[]; queues: Record<string, unknown> }>(
    coordDir,
    'coordinator',
    'status',
  );
  t.true(status.recentBatches.some((x) => x.kind === 'close' && x.status === 'mined' && x.settled === 1));
  const human = await lanes('--data-dir', coordDir, 'coordinator', 'status');
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /close\s.*mined/);
  const none = await lanes('--data-dir', net.tempDir('nothing'), 'coordinator', 'status');
  t.not(none.code, 0);
  t.regex(none.stderr, /no coordinator is running/);
});

test.serial(
  'coordinator start --confirmations N: used, shown by status and its JSON; a bad N (or poll interval) is refused before anything starts',
  async (t) => {
    // The running coordinator was given none: the dev chain's default, 0.
    t.is((await coord.status()).confirmations, 0);
    t.regex((await lanes('--data-dir', coordDir, 'coordinator', 'status')).stdout, /^confirmations 0$/m);

    const dir = net.tempDir('cli-coord-confirmations');
    const deep = await spawnCoordinator({
      dataDir: dir,
      rpc: net.chain.rpcUrl,
      adjudicator: net.adjudicator,
      port: await freePort(),
      args: ['--confirmations', '3', '--chain-poll-ms', '100'],
    });
    try {
      t.is((await deep.status()).confirmations, 3);
      t.is((await json<{ confirmations: number }>(dir, 'coordinator', 'status')).confirmations, 3);
      const human = await lanes('--data-dir', dir, 'coordinator', 'status');
      t.is(human.code, 0, human.stderr);
      t.regex(human.stdout, /^confirmations 3$/m);
    } finally {
      await deep.kill('SIGTERM');
    }

    for (const [bad, message] of [
      ['-1', /--confirmations must be a whole number of blocks \(0 or more\), got "-1"/],
      ['1.5', /--confirmations must be a whole number of blocks \(0 or more\), got "1\.5"/],
      ['two', /--confirmations must be a whole number of blocks \(0 or more\), got "two"/],
      ['0x10', /--confirmations must be a whole number of blocks \(0 or more\), got "0x10"/],
      ['129', /confirmations must be a whole number from 0 to 128, got 129/],
    ] as const) {
      const badDir = join(net.tempDir('cli-coord-bad'), 'data');
      const r = await lanes(
        '--data-dir',
        badDir,
        'coordinator',
        'start',
        '--chain-rpc',
        net.chain.rpcUrl,
        '--adjudicator',
        net.adjudicator,
        '--confirmations',
        bad,
      );
      t.not(r.code, 0, `--confirmations ${bad} was accepted`);
      t.regex(r.stderr, message);
      t.false(existsSync(badDir), `--confirmations ${bad} made a data directory`);
    }
    const badDir = join(net.tempDir('cli-coord-bad'), 'data');
    const args = ['coordinator', 'start', '--chain-rpc', net.chain.rpcUrl, '--adjudicator', net.adjudicator];
    const r = await lanes('--data-dir', badDir, ...args, '--chain-poll-ms', '5');
    t.not(r.code, 0, '--chain-poll-ms 5 was accepted');
    t.regex(r.stderr, /--chain-poll-ms "5" must be a whole number of milliseconds, 10\.\.600000/);
    t.false(existsSync(badDir));
  },
);
