/**
 * The watchtower's answer to a stale state, dropped by a reorg, is sent again before the
 * deadline (docs/adr/0014): a coordinator process on anvil (automine); bo sends a watch and goes
 * away; ada registers an old state; the watchtower answers; `anvil_reorg` replaces the answer's
 * block by an empty one, whether or not the coordinator has read that block yet.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { Libp2p } from 'libp2p';
import { type Anvil, startAnvil } from '../../src/chain/anvil.ts';
import { createChainService, createClients, deployAdjudicator } from '../../src/chain/chain-service.ts';
import { challengeItem } from '../../src/chain/encode.ts';
import { DEV_KEYS } from '../../src/chain/local-chain.ts';
import { type Address, type ChannelParams, NATIVE_ASSET, bytesToHex, channelId } from '../../src/core/index.ts';
import { createLibp2pNode } from '../../src/p2p/libp2p-node.ts';
import { createSettleClient } from '../../src/p2p/settle-client.ts';
import { actor } from '../helpers/actors.ts';
import { sign, stateOf } from '../helpers/chain.ts';
import { type CoordinatorProcess, spawnCoordinator } from '../helpers/coordinator-process.ts';
import { freePort } from '../helpers/local-net.ts';
import { eventually } from '../helpers/nodes.ts';

const ETHER = 10n ** 18n;
const ada = actor('reorg-ada');
const bo = actor('reorg-bo');
let anvil: Anvil | undefined;
let coordinator: CoordinatorProcess | undefined;
let libp2p: Libp2p | undefined;
const dirs: string[] = [];
test.after.always(async () => {
  await libp2p?.stop();
  await coordinator?.kill('SIGKILL');
  await anvil?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('a watchtower answer that a reorg dropped is sent again', async (t) => {
  anvil = await startAnvil();
  const deployer = await createClients({ rpc: anvil.rpcUrl, privateKey: DEV_KEYS[0], pollingIntervalMs: 20 });
  const adjudicator: Address = await deployAdjudicator(deployer);
  const dir = mkdtempSync(join(tmpdir(), 'lanes-coord-reorg-'));
  dirs.push(dir);
  coordinator = await spawnCoordinator({
    dataDir: dir,
    rpc: anvil.rpcUrl,
    adjudicator,
    port: await freePort(),
    // No fee replacement within the test: the answer broadcast again must be the very same one,
    // even on a machine slow enough that mining it takes more than the default 15 s.
    args: ['--max-delay-ms', '200', '--replace-after-ms', '120000'],
  });
  for (const a of [ada.address, bo.address, coordinator.address]) await anvil.setBalance(a, 1000n * ETHER);

  const chain = await createChainService({ rpc: anvil.rpcUrl, privateKey: bytesToHex(ada.privateKey), adjudicator, pollingIntervalMs: 20 });
  const p: ChannelParams = {
    chainId: 31337n,
    adjudicator,
    participants: [ada.address, bo.address],
    assets: [NATIVE_ASSET],
    challengeDuration: 3600n,
    nonce: 1n,
  };
  await chain.deposit(p, 0, 0, 10n * ETHER);
  const v1 = sign(p, stateOf(p, 1n, [8n * ETHER, 2n * ETHER]), [ada, bo]);
  const v2 = sign(p, stateOf(p, 2n, [2n * ETHER, 8n * ETHER]), [ada, bo]);

  // bo hands the watchtower his latest state and goes away.
  libp2p = await createLibp2pNode({ privateKey: actor('reorg-bo-peer').privateKey, listen: ['/ip4/127.0.0.1/tcp/0'], dialTimeoutMs: 5000 });
  await libp2p.start();
  const client = createSettleClient({ libp2p, coordinator: coordinator.multiaddr });
  await client.submit({ kind: 'watch', params: p, signed: v2 });
  client.close();

  t.true((await chain.challengeBatch([challengeItem(p, v1)])).items[0]!.ok, 'ada registers the old state');
  const id = channelId(p);
  await eventually(
    async () => (await chain.dispute(id))?.version,
    (v) => v === 2n,
    30_000,
  );
  const { events } = await chain.events(0n, await chain.blockNumber());
  const answer = events.find((e) => e.type === 'challenged' && e.version === 2n)!;
  t.truthy(answer, 'the watchtower answered');

  await anvil.reorg(Number((await chain.blockNumber()) - answer.blockNumber + 1n));
  t.is((await chain.dispute(id))?.version, 1n, 'the reorg dropped the answer');

  // A wait, not a timing assertion: under a full suite on 2 cores, noticing the reorg and
  // broadcasting again once took over 30 s (the challenge period is an hour).
  await eventually(
    async () => (await chain.dispute(id))?.version,
    (v) => v === 2n,
    90_000,
  );
  const again = (await chain.events(0n, await chain.blockNumber())).events.find((e) => e.type === 'challenged' && e.version === 2n)!;
  t.is(again.transactionHash, answer.transactionHash, 'the very answer, broadcast again (its nonce leaves no gap)');
});
