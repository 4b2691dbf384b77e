/**
 * A node's answer to a stale state, dropped by a reorg, is sent again before the deadline
 * (docs/adr/0014). Two nodes on anvil (automine, 0 confirmations: the node hears of its answer
 * at once, so only the reorg check can tell it is gone); alice registers an old state while her
 * node is stopped; bob's node answers; `anvil_reorg` replaces the answer's block by an empty one.
 * And a payee's secret registration, dropped the same way, is sent again while its lock lives.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pino } from 'pino';
import { type Address, bytesToHex } from '../../src/core/index.ts';
import { type Anvil, startAnvil } from '../../src/chain/anvil.ts';
import { createChainService, createClients, deployAdjudicator } from '../../src/chain/chain-service.ts';
import { challengeItem } from '../../src/chain/encode.ts';
import { DEV_KEYS } from '../../src/chain/local-chain.ts';
import { createNode } from '../../src/node/create-node.ts';
import type { LanesNode } from '../../src/node/node.ts';
import { readSignedState } from '../../src/sdk/json.ts';
import { actor, alice, bob } from '../helpers/actors.ts';
import { ETHER, eventually } from '../helpers/nodes.ts';

/** Waits until both nodes hold the same version of the channel. */
async function converged(id: `0x${string}`, x: LanesNode, y: LanesNode): Promise<void> {
  await eventually(
    async () => [(await x.channel(id)).version, (await y.channel(id)).version],
    ([v, w]) => v === w,
  );
}

let anvil: Anvil | undefined;
const dirs: string[] = [];
const nodes: LanesNode[] = [];
test.after.always(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
  await anvil?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('an answer to a stale state that a reorg dropped is sent again', async (t) => {
  anvil = await startAnvil();
  const deployer = await createClients({ rpc: anvil.rpcUrl, privateKey: DEV_KEYS[0], pollingIntervalMs: 20 });
  const adjudicator: Address = await deployAdjudicator(deployer);
  for (const who of [alice, bob]) await anvil.setBalance(who.address, 1000n * ETHER);
  /** The first blocks of bob's chain watcher's reads: it has handled what is below one once it reads from there. */
  const reads: bigint[] = [];
  const start = async (who: typeof alice) => {
    const dir = mkdtempSync(join(tmpdir(), 'lanes-reorg-'));
    dirs.push(dir);
    const svc = await createChainService({
      rpc: anvil!.rpcUrl,
      privateKey: bytesToHex(who.privateKey),
      adjudicator,
      pollingIntervalMs: 20,
    });
    const node = await createNode({
      privateKey: who.privateKey,
      dataDir: dir,
      chainService:
        who === bob
          ? {
              ...svc,
              readLogs: (from, upTo, filter) => {
                reads.push(from);
                return svc.readLogs(from, upTo, filter);
              },
            }
          : svc,
      policies: { open: () => true },
      logger: pino({ level: process.env.LANES_TEST_LOG ?? 'silent' }),
      chainPollMs: 50,
      confirmations: 0,
      timeouts: { operationMs: 20_000, openMs: 10_000, chainMs: 20_000 },
    });
    nodes.push(node);
    return { node, multiaddr: (await node.info()).multiaddrs[0]! };
  };
  const a = await start(alice);
  const b = await start(bob);
  const answered: bigint[] = [];
  b.node.on('stale-state-answered', (e) => answered.push(e.answered));

  const ch = await a.node.openChannel({ peer: b.multiaddr, deposit: [4n * ETHER], challengeDuration: 3600n });
  await a.node.pay(ch.id, { amount: ETHER });
  await converged(ch.id, a.node, b.node);
  const old = readSignedState(await a.node.signedState(ch.id));
  await a.node.pay(ch.id, { amount: 2n * ETHER });
  await converged(ch.id, a.node, b.node);
  const ours = (await b.node.channel(ch.id)).version;
  const p = (await a.node.signedState(ch.id)).params;
  const params = {
    chainId: BigInt(p.chainId),
    adjudicator: p.adjudicator,
    participants: p.participants,
    assets: p.assets,
    challengeDuration: BigInt(p.challengeDuration),
    nonce: BigInt(p.nonce),
  };

  // alice stops her node and registers the old state, which favours her, straight on-chain.
  await a.node.stop();
  const raw = await createChainService({ rpc: anvil.rpcUrl, privateKey: bytesToHex(alice.privateKey), adjudicator, pollingIntervalMs: 20 });
  t.true((await raw.challengeBatch([challengeItem(params, old)])).items[0]!.ok);
  // (the event follows the answer's receipt, which can come a poll after the chain shows it)
  await eventually(
    async () => [(await raw.dispute(ch.id))?.version, answered.length] as const,
    ([v, n]) => v === ours && n === 1,
  );
  t.deepEqual(answered, [ours], 'bob answered');

  // bob's node has taken in its answer's registration once its watcher reads past the block.
  const { events } = await raw.events(0n, await raw.blockNumber());
  const answer = events.find((e) => e.type === 'challenged' && e.version === ours)!;
  // (the loop reads one step after another: a read from above the block means the step that
  // read the block is done, its facts handled and durable).
  await anvil.mine();
  await eventually(
    async () => reads.at(-1)!,
    (from) => from >= answer.blockNumber,
  );
  await anvil.mine();
  await eventually(
    async () => reads.at(-1)!,
    (from) => from > answer.blockNumber,
  );

  // The answer's block (and any after it) is replaced: the chain holds alice's old state again.
  await anvil.reorg(Number((await raw.blockNumber()) - answer.blockNumber + 1n));
  t.is((await raw.dispute(ch.id))?.version, old.state.version, 'the reorg dropped the answer');

  // bob's node notices (the block's hash changed), reads the dispute again, and answers again.
  await eventually(
    async () => [(await raw.dispute(ch.id))?.version, answered.length] as const,
    ([v, n]) => v === ours && n >= 2,
    30_000,
  );
  t.deepEqual(answered, [ours, ours], 'answered a second time');
});

test('a secret registration that a reorg dropped is sent again before the lock expires', async (t) => {
  // Its own chain and nodes: the test above runs beside it.
  const chain = await startAnvil();
  const payer = actor('reorg-reveal-payer');
  const payee = actor('reorg-reveal-payee');
  try {
    const deployer = await createClients({ rpc: chain.rpcUrl, privateKey: DEV_KEYS[0], pollingIntervalMs: 20 });
    const adjudicator: Address = await deployAdjudicator(deployer);
    for (const who of [payer, payee]) await chain.setBalance(who.address, 1000n * ETHER);
    const start = async (who: typeof payer) => {
      const dir = mkdtempSync(join(tmpdir(), 'lanes-reorg-reveal-'));
      dirs.push(dir);
      const node = await createNode({
        privateKey: who.privateKey,
        dataDir: dir,
        chain: { rpc: chain.rpcUrl, adjudicator },
        policies: { open: () => true },
        logger: pino({ level: process.env.LANES_TEST_LOG ?? 'silent' }),
        chainPollMs: 50,
        confirmations: 0,
        timeouts: { operationMs: 3_000, openMs: 10_000, chainMs: 20_000 },
      });
      nodes.push(node);
      return node;
    };
    const p = await start(payer);
    const q = await start(payee);
    const ch = await p.openChannel({ peer: (await q.info()).multiaddrs[0]!, deposit: [4n * ETHER], challengeDuration: 3600n });
    const inv = await q.createInvoice({ amount: ETHER, hold: true });
    const paying = p.payInvoice(inv.invoice);
    paying.catch(() => undefined);
    await eventually(
      async () => (await q.channel(ch.id)).balances[0]!.locked,
      (l) => l === ETHER,
    );
    // The payer goes away with the lock in place; the payee's settle cannot be co-signed, so
    // its secret goes on-chain (the channel is not connected).
    await p.stop();
    await q.settleInvoice(inv.paymentHash);
    const raw = await createChainService({
      rpc: chain.rpcUrl,
      privateKey: bytesToHex(payer.privateKey),
      adjudicator,
      pollingIntervalMs: 20,
    });
    const revealed = await eventually(
      () => raw.revealedAt(inv.paymentHash),
      (at) => at > 0n,
      30_000,
    );
    t.true(revealed > 0n, 'registered');
    t.is((await q.forwardingStats()).registered, 1);
    // Its block (and any after it) is replaced by empty ones: the registry forgets the secret.
    const { events } = await raw.events(0n, await raw.blockNumber());
    const reveal = events.find((e) => e.type === 'secret-revealed');
    const at = reveal?.blockNumber ?? (await raw.blockNumber());
    await chain.reorg(Number((await raw.blockNumber()) - at + 1n));
    t.is(await raw.revealedAt(inv.paymentHash), 0n, 'the reorg dropped the registration');
    // The payee's node checks its registration again while the lock lives, and sends it anew.
    await eventually(
      () => raw.revealedAt(inv.paymentHash),
      (x) => x > 0n,
      60_000,
    );
    t.is((await q.forwardingStats()).registered, 2, 'registered a second time');
  } finally {
    await chain.stop();
  }
});
