/**
 * The coordinator under attack and under failure: the watchtower answers a stale state while
 * the victim is offline; a coordinator killed between broadcast and receipt resumes without
 * paying twice; a transaction not mined in time is replaced with a higher fee.
 */
import test from 'ava';
import { bytesToHex } from '../../src/core/index.ts';
import { createChainService, createClients } from '../../src/chain/chain-service.ts';
import { challengeItem } from '../../src/chain/encode.ts';
import type { ChannelInfo, CloseResult, SignedStateJson } from '../../src/sdk/api.ts';
import { type Actor, actor } from '../helpers/actors.ts';
import { type CoordinatorProcess, spawnCoordinator } from '../helpers/coordinator-process.ts';
import { type LocalNet, freePort, keyHex, localNet } from '../helpers/local-net.ts';
import { type ProcessNode, spawnNode } from '../helpers/process-node.ts';
import { readSignedState } from '../../src/sdk/json.ts';

const ETHER = 10n ** 18n;
let net: LocalNet;
let coordDir: string;
let coordPort: number;
let coord: CoordinatorProcess;
const nodes: Record<string, ProcessNode> = {};
const who: Record<string, Actor> = {};
const dirs: Record<string, string> = {};
const ports: Record<string, number> = {};

async function startCoordinator(extra: string[] = []): Promise<CoordinatorProcess> {
  coord = await spawnCoordinator({
    dataDir: coordDir,
    rpc: net.chain.rpcUrl,
    adjudicator: net.adjudicator,
    port: coordPort,
    args: ['--max-delay-ms', '300', ...extra],
  });
  return coord;
}

async function startNode(name: string): Promise<ProcessNode> {
  who[name] ??= actor(`recovery-${name}`);
  dirs[name] ??= net.tempDir(name);
  ports[name] ??= await freePort();
  nodes[name] = await spawnNode({
    privateKey: keyHex(who[name]!),
    dataDir: dirs[name]!,
    rpc: net.chain.rpcUrl,
    adjudicator: net.adjudicator,
    acceptOpens: true,
    port: ports[name]!,
    coordinator: coord.multiaddr,
  });
  return nodes[name]!;
}

const rpc = async (method: string, params: unknown[] = []) => {
  const c = await createClients({ rpc: net.chain.rpcUrl, privateKey: bytesToHex(actor('rpc').privateKey) });
  return c.publicClient.request({ method: method as never, params: params as never });
};

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline)
      throw new Error(`condition not met; last: ${JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test.before(async () => {
  net = await localNet();
  coordDir = net.tempDir('coord');
  coordPort = await freePort();
  await startCoordinator();
  await net.fund({ name: 'coordinator', address: coord.address, privateKey: new Uint8Array(), publicKey: new Uint8Array() }, 1000n);
  for (const name of ['ada', 'bo']) {
    await startNode(name);
    await net.fund(who[name]!, 100n);
  }
});

test.after.always(async () => {
  await rpc('evm_setAutomine', [true]).catch(() => undefined);
  await Promise.all(Object.values(nodes).map((n) => n.kill('SIGKILL')));
  await coord?.kill('SIGKILL');
  await net?.stop();
});

test.serial('stale-state attack: while bo is offline, the watchtower answers and concludes, and bo is paid in full', async (t) => {
  const ch = await nodes.ada!.call<ChannelInfo>('openChannel', {
    peer: nodes.bo!.info.multiaddrs[0],
    deposit: [5n * ETHER],
    challengeDuration: 300n,
  });
  await nodes.ada!.call('pay', ch.id, { amount: ETHER });
  const old = await nodes.ada!.call<SignedStateJson>('signedState', ch.id); // ada 4, bo 1
  await nodes.ada!.call('pay', ch.id, { amount: 2n * ETHER }); // ada 2, bo 3
  await until(
    () => nodes.bo!.call<ChannelInfo>('channel', ch.id),
    (c) => c.balances[0]!.mine === 3n * ETHER,
  );
  // The coordinator holds bo's latest state once its watch update lands.
  await until(
    () => coord.status(),
    (s) => s.watched >= 1,
  );
  await new Promise((r) => setTimeout(r, 1500)); // the update after the last payment
  const boBefore = await net.ethBalance(who.bo!.address);
  // bo goes offline; ada (her node stopped too) registers the old state herself.
  await nodes.bo!.kill('SIGKILL');
  await nodes.ada!.kill('SIGKILL');
  const cheat = await createChainService({
    rpc: net.chain.rpcUrl,
    privateKey: keyHex(who.ada!),
    adjudicator: net.adjudicator,
    pollingIntervalMs: 20,
  });
  const p = old.params;
  const params = {
    chainId: BigInt(p.chainId),
    adjudicator: p.adjudicator,
    participants: p.participants,
    assets: p.assets,
    challengeDuration: BigInt(p.challengeDuration),
    nonce: BigInt(p.nonce),
  };
  t.true((await cheat.challengeBatch([challengeItem(params, readSignedState(old))])).items[0]!.ok);
  const answered = await until(
    () => cheat.dispute(ch.id),
    (d) => d !== undefined && d.version > BigInt(old.state.version),
  );
  t.true(answered!.version >= 2n, 'the coordinator registered the newer state');
  await net.increaseTime(301);
  await until(
    () => cheat.holdings(ch.id, p.assets[0]!),
    (h) => h.closed,
  );
  t.is((await net.ethBalance(who.bo!.address)) - boBefore, 3n * ETHER, 'bo, offline throughout, received his 3 ETH');
  await startNode('ada');
  await startNode('bo');
});

test.serial('a coordinator killed between broadcast and receipt resumes without paying twice', async (t) => {
  const ch = await nodes.ada!.call<ChannelInfo>('openChannel', { peer: nodes.bo!.info.multiaddrs[0], deposit: [ETHER] });
  await nodes.ada!.call('pay', ch.id, { amount: ETHER / 4n });
  const nonceBefore = Number(await rpc('eth_getTransactionCount', [coord.address, 'latest']));
  await rpc('evm_setAutomine', [false]);
  const closing = nodes.ada!.call<CloseResult>('close', ch.id);
  await until(
    () => coord.status(),
    (s) => s.recentBatches.some((b) => b.status === 'pending'),
  );
  await coord.kill('SIGKILL');
  await rpc('evm_mine', []); // the broadcast transaction is mined while the coordinator is down
  await rpc('evm_setAutomine', [true]);
  await startCoordinator();
  const result = await closing;
  t.is(result.status, 'closed');
  const s = await until(
    () => coord.status(),
    (x) => x.recentBatches[0]?.status === 'mined',
  );
  t.is(s.recentBatches[0]!.transactions, 1);
  t.is(Number(await rpc('eth_getTransactionCount', [coord.address, 'latest'])), nonceBefore + 1, 'exactly one transaction');
});

test.serial('a transaction not mined in time is replaced with a higher fee; exactly one is mined', async (t) => {
  await coord.kill('SIGTERM');
  await startCoordinator(['--replace-after-ms', '800']);
  const ch = await nodes.bo!.call<ChannelInfo>('openChannel', { peer: nodes.ada!.info.multiaddrs[0], deposit: [ETHER] });
  const nonceBefore = Number(await rpc('eth_getTransactionCount', [coord.address, 'latest']));
  await rpc('evm_setAutomine', [false]);
  const closing = nodes.bo!.call<CloseResult>('close', ch.id);
  await until(
    () => coord.status(),
    (s) => s.recentBatches.some((b) => b.status === 'pending' && b.transactions >= 2),
  );
  await rpc('evm_mine', []);
  await rpc('evm_setAutomine', [true]);
  t.is((await closing).status, 'closed');
  const s = await until(
    () => coord.status(),
    (x) => x.recentBatches[0]?.status === 'mined',
  );
  t.true(s.recentBatches[0]!.transactions >= 2, 'it was replaced');
  t.is(Number(await rpc('eth_getTransactionCount', [coord.address, 'latest'])), nonceBefore + 1, 'one nonce, one mined transaction');
  const metrics = await (await fetch(`${coord.statusUrl}/metrics`)).text();
  t.regex(metrics, /lanes_coordinator_replacements_total [1-9]/);
});
