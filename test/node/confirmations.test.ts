/**
 * Funding counts only after the node's confirmations (docs/adr/0014): two nodes with
 * `confirmations: 2` on anvil, mining a block a second as a real chain does; the channel opens
 * only once the deposit has two blocks on top of it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pino } from 'pino';
import type { Address } from '../../src/core/index.ts';
import { type Anvil, startAnvil } from '../../src/chain/anvil.ts';
import { LanesAdjudicatorAbi } from '../../src/chain/artifacts/LanesAdjudicator.ts';
import { createClients, deployAdjudicator } from '../../src/chain/chain-service.ts';
import { DEV_KEYS } from '../../src/chain/local-chain.ts';
import { createNode } from '../../src/node/create-node.ts';
import type { LanesNode } from '../../src/node/node.ts';
import { alice, bob } from '../helpers/actors.ts';
import { ETHER } from '../helpers/nodes.ts';

let anvil: Anvil | undefined;
const dirs: string[] = [];
const nodes: LanesNode[] = [];
test.after.always(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
  await anvil?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('a channel opens only once its deposit has the confirmations', async (t) => {
  anvil = await startAnvil({ blockTime: 1 });
  const deployer = await createClients({ rpc: anvil.rpcUrl, privateKey: DEV_KEYS[0], pollingIntervalMs: 50 });
  const adjudicator: Address = await deployAdjudicator(deployer);
  for (const who of [alice, bob]) await anvil.setBalance(who.address, 1000n * ETHER);
  const start = async (who: typeof alice) => {
    const dir = mkdtempSync(join(tmpdir(), 'lanes-confirmations-'));
    dirs.push(dir);
    const node = await createNode({
      privateKey: who.privateKey,
      dataDir: dir,
      chain: { rpc: anvil!.rpcUrl, adjudicator },
      policies: { open: () => true },
      logger: pino({ level: process.env.LANES_TEST_LOG ?? 'silent' }),
      chainPollMs: 100,
      confirmations: 2,
      timeouts: { operationMs: 20_000, openMs: 10_000, chainMs: 30_000 },
    });
    nodes.push(node);
    return node;
  };
  const a = await start(alice);
  const b = await start(bob);
  const ch = await a.openChannel({ peer: (await b.info()).multiaddrs[0]!, deposit: [ETHER] });
  const openedAt = await deployer.publicClient.getBlockNumber({ cacheTime: 0 });
  t.is(ch.status, 'open');
  const [deposit] = await deployer.publicClient.getContractEvents({
    address: adjudicator,
    abi: LanesAdjudicatorAbi,
    eventName: 'Deposited',
    fromBlock: 0n,
  });
  t.truthy(deposit);
  t.true(openedAt >= deposit!.blockNumber + 2n, `deposit in block ${deposit!.blockNumber}, open at head ${openedAt}`);
});
