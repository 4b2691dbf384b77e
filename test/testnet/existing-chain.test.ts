/**
 * "Run Lanes on your chain" as a user runs it, on a chain Lanes did not start: anvil mining a
 * block a second (not automine), `lanes deploy` and `lanes chain info` through bin/lanes as
 * separate processes, then `lanes testnet --chain-rpc --funder-key --adjudicator` on that
 * deployment. Asserts what the commands print and what the chain holds; never timings.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { privateKeyToAccount } from 'viem/accounts';
import { type Anvil, startAnvil } from '../../src/chain/anvil.ts';
import { DEV_KEYS } from '../../src/chain/local-chain.ts';
import type { ChainInfo, Deployment } from '../../src/chain/deploy.ts';
import { type Address, hexToBytes, isAddress, keccak256Hex } from '../../src/core/bytes.ts';
import type { TestnetReport } from '../../src/testnet/run.ts';

/** What the README runs: bin/lanes, which execs the Node 24 of node_modules. */
const BIN = new URL('../../bin/lanes', import.meta.url).pathname;
const execFileP = promisify(execFile);

const DEV_ADDRESS_3 = privateKeyToAccount(DEV_KEYS[3]).address;
let anvil: Anvil;
let dir: string;
test.before(async () => {
  anvil = await startAnvil({ blockTime: 1 });
  dir = mkdtempSync(join(tmpdir(), 'lanes-existing-chain-'));
});
test.after.always(async () => {
  await anvil?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A key file as `lanes keygen` writes them (0600), holding one of anvil's prefunded keys. */
function keyFile(name: string, key: string, mode = 0o600): string {
  const file = join(dir, name);
  writeFileSync(file, `${key}\n`, { mode });
  chmodSync(file, mode);
  return file;
}

async function lanes(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(BIN, args, { timeout: 240_000, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

const json = <T>(r: { code: number; stdout: string; stderr: string }): T => {
  if (r.code !== 0) throw new Error(`lanes exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};

type Json<T> = { [K in keyof T]: T[K] extends bigint ? string : T[K] };
let deployed: Json<Deployment> | undefined;

test.serial('lanes deploy waits for the confirmations asked for, and lanes chain info finds this build there', async (t) => {
  const d = json<Json<Deployment>>(
    await lanes(
      '--json',
      'deploy',
      '--chain-rpc',
      anvil.rpcUrl,
      '--key-file',
      keyFile('deployer.key', DEV_KEYS[2]),
      '--confirmations',
      '2',
    ),
  );
  deployed = d;
  t.true(isAddress(d.adjudicator));
  t.is(d.chainId, '31337');
  t.is(d.confirmations, 2);
  // The command returned only once two blocks were on top of the deployment's, which is on the chain.
  const head = BigInt(await anvil.rpc<string>('eth_blockNumber'));
  t.true(head >= BigInt(d.blockNumber) + 2n);
  const block = await anvil.rpc<{ hash: string }>('eth_getBlockByNumber', [`0x${BigInt(d.blockNumber).toString(16)}`, false]);
  t.is(block.hash, d.blockHash);
  const code = await anvil.rpc<string>('eth_getCode', [d.adjudicator, 'latest']);
  t.is(d.codeHash, keccak256Hex(hexToBytes(code)));

  const info = json<Json<ChainInfo> & { adjudicator: ChainInfo['adjudicator'] }>(
    await lanes('--json', 'chain', 'info', '--chain-rpc', anvil.rpcUrl, '--adjudicator', d.adjudicator),
  );
  t.is(info.chainId, '31337');
  t.true(BigInt(info.head) >= head);
  t.like(info, { confirmations: 0, confirmationsSource: 'default' }, 'a dev chain id: 0 unless configured');
  t.deepEqual(info.adjudicator, { address: d.adjudicator, deployed: true, codeHash: d.codeHash, matchesBuild: true });
  const text = await lanes('chain', 'info', '--chain-rpc', anvil.rpcUrl, '--adjudicator', d.adjudicator, '--confirmations', '3');
  t.is(text.code, 0);
  t.regex(text.stdout, /chain id\s+31337/);
  t.regex(text.stdout, /confirmations\s+3 \(configured\)/);
  t.regex(text.stdout, new RegExp(`code hash\\s+${d.codeHash}`));
  t.regex(text.stdout, /this build of LanesAdjudicator/);

  // An address without code is reported, and the command fails.
  const empty = await lanes('--json', 'chain', 'info', '--chain-rpc', anvil.rpcUrl, '--adjudicator', `0x${'11'.repeat(20)}`);
  t.is(empty.code, 1);
  t.like(JSON.parse(empty.stdout) as ChainInfo, { adjudicator: { deployed: false, matchesBuild: false } });
});

test.serial('lanes deploy refuses a key file other users can read, and sends nothing', async (t) => {
  const nonce = await anvil.rpc<string>('eth_getTransactionCount', [DEV_ADDRESS_3, 'latest']);
  const r = await lanes('deploy', '--chain-rpc', anvil.rpcUrl, '--key-file', keyFile('open.key', DEV_KEYS[3], 0o644));
  t.is(r.code, 1);
  t.regex(r.stderr, /accessible to other users/);
  t.is(await anvil.rpc<string>('eth_getTransactionCount', [DEV_ADDRESS_3, 'latest']), nonce);
});

test.serial('lanes testnet: the existing chain flags go together', async (t) => {
  const alone = await lanes('testnet', '--funder-key', join(dir, 'funder.key'));
  t.is(alone.code, 1);
  t.regex(alone.stderr, /--funder-key needs --chain-rpc/);
  const noFunder = await lanes('testnet', '--chain-rpc', anvil.rpcUrl);
  t.is(noFunder.code, 1);
  t.regex(noFunder.stderr, /--chain-rpc needs --funder-key/);
});

test.serial('lanes testnet runs on the existing chain and on the adjudicator lanes deploy put there', async (t) => {
  if (!deployed) return t.fail('the deploy test did not run');
  const out = join(dir, 'report');
  const funder = keyFile('funder.key', DEV_KEYS[4]);
  const report = json<TestnetReport>(
    await lanes(
      '--json',
      'testnet',
      '--chain-rpc',
      anvil.rpcUrl,
      '--funder-key',
      funder,
      '--adjudicator',
      deployed.adjudicator,
      // Nodes count deposits and closes one block deep, as on a chain that reorgs.
      '--confirmations',
      '1',
      '--nodes',
      '2',
      '--channels-per-link',
      '2',
      '--swap-ratio',
      '0.5',
      '--duration',
      '2',
      '--warmup',
      '0.5',
      '--concurrency',
      '8',
      '--swap-every',
      '4',
      '--deposit',
      '1',
      '--dir',
      join(dir, 'net'),
      '--out',
      out,
    ),
  );
  t.deepEqual(
    report.checks.filter((c) => !c.ok),
    [],
  );
  t.true(report.ok);
  t.is(report.network.adjudicator, deployed.adjudicator);
  t.is(report.network.chainId, '31337');
  t.true(report.load.payments > 0 && report.load.swaps > 0);
  t.true(report.settlement.channels === 2 && report.settlement.transactions.length > 0);
  // It started a coordinator and two nodes, not a chain, and left none of them running.
  t.is(report.processes.length, 3);
  t.false(report.processes.includes(anvil.pid));
  t.deepEqual(report.processes.filter(alive), []);
  t.true(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).ok as boolean);

  // The testnet's tokens are contracts, but not the adjudicator: chain info says so.
  const token = report.network.tokens[0]!.address as Address;
  const r = await lanes('chain', 'info', '--chain-rpc', anvil.rpcUrl, '--adjudicator', token);
  t.is(r.code, 1);
  t.regex(r.stdout, /NOT this build of LanesAdjudicator/);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
