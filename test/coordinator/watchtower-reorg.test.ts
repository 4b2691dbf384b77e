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
const anvils: Anvil[] = [];
const coordinators: CoordinatorProcess[] = [];
const libp2ps: Libp2p[] = [];
const dirs: string[] = [];
test.after.always(async () => {
  for (const l of libp2ps) await l.stop();
  for (const c of coordinators) await c.kill('SIGKILL');
  for (const a of anvils) await a.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** anvil, the adjudicator, a coordinator process watching bo's state v2, and ada's chain service; v1 is ada's stale state. */
async function watched() {
  const anvil = await startAnvil();
  anvils.push(anvil);
  const deployer = await createClients({ rpc: anvil.rpcUrl, privateKey: DEV_KEYS[0], pollingIntervalMs: 20 });
  const adjudicator: Address = await deployAdjudicator(deployer);
  const dir = mkdtempSync(join(tmpdir(), 'lanes-coord-reorg-'));
  dirs.push(dir);
  const coordinator = await spawnCoordinator({
    dataDir: dir,
    rpc: anvil.rpcUrl,
    adjudicator,
    port: await freePort(),
    // No fee replacement within the test: the answer broadcast again must be the very same one,
    // even on a machine slow enough that mining it takes more than the default 15 s.
    args: ['--max-delay-ms', '200', '--replace-after-ms', '120000'],
  });
  coordinators.push(coordinator);
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
  const libp2p = await createLibp2pNode({
    privateKey: actor('reorg-bo-peer').privateKey,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    dialTimeoutMs: 5000,
  });
  libp2ps.push(libp2p);
  await libp2p.start();
  const client = createSettleClient({ libp2p, coordinator: coordinator.multiaddr });
  await client.submit({ kind: 'watch', params: p, signed: v2 });
  client.close();
  return { anvil, chain, coordinator, p, v1, id: channelId(p) };
}

test('a watchtower answer that a reorg dropped is sent again', async (t) => {
  const { anvil, chain, p, v1, id } = await watched();
  t.true((await chain.challengeBatch([challengeItem(p, v1)])).items[0]!.ok, 'ada registers the old state');
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

test('a watchtower answer the node lost before the coordinator saw its receipt is sent again, the same bytes', async (t) => {
  const { anvil, chain, coordinator, p, v1, id } = await watched();
  // Blocks only when the test mines them: the answer waits in the mempool, its receipt unread.
  await anvil.rpc('evm_setAutomine', [false]);
  const registering = chain.challengeBatch([challengeItem(p, v1)]);
  await eventually(
    async () => {
      await anvil.mine();
      return (await chain.dispute(id))?.version;
    },
    (v) => v === 1n,
    30_000,
  );
  t.true((await registering).items[0]!.ok, 'ada registers the old state');
  type Pool = { pending: Record<string, Record<string, { hash: `0x${string}` }>> };
  const pendingAnswer = async () => {
    const pool = await anvil.rpc<Pool>('txpool_content');
    const mine = Object.entries(pool.pending).find(([a]) => a.toLowerCase() === coordinator.address.toLowerCase())?.[1];
    return mine ? Object.values(mine)[0]?.hash : undefined;
  };
  const answer = (await eventually(pendingAnswer, (h) => h !== undefined, 30_000))!;
  // The node loses it (a reorg that put it back nowhere, an evicted mempool entry).
  await anvil.rpc('anvil_dropTransaction', [answer]);
  t.is(await pendingAnswer(), undefined, 'the answer is gone from the node');
  // Sent again within seconds, not after the 120 s replacement: the same transaction.
  t.is(await eventually(pendingAnswer, (h) => h !== undefined, 30_000), answer);
  await anvil.mine();
  await eventually(
    async () => (await chain.dispute(id))?.version,
    (v) => v === 2n,
    30_000,
  );
  const mined = (await chain.events(0n, await chain.blockNumber())).events.find((e) => e.type === 'challenged' && e.version === 2n)!;
  t.is(mined.transactionHash, answer);
});
