/**
 * A mined batch that a reorg takes out before it is `confirmations` deep (anvil, automine). Its
 * nonce is unused again, and a nonce a stored batch holds is never filled, so before this was
 * handled every later batch (watchtower answers included) waited behind it for good. Now the
 * submitter watches each batch until it is deep, sends the very transaction again when a reorg
 * takes it out, and reports its outcome once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pino } from 'pino';
import { type Anvil, startAnvil } from '../../src/chain/anvil.ts';
import { chainServiceFromClients, createClients, deployAdjudicator } from '../../src/chain/chain-service.ts';
import { DEV_KEYS } from '../../src/chain/local-chain.ts';
import { type Bytes32, bytesToHex, hexToBytes, keccak256Hex } from '../../src/core/bytes.ts';
import { CoordinatorQueue } from '../../src/coordinator/queue.ts';
import type { BatchRecord, ItemRecord } from '../../src/coordinator/records.ts';
import { Submitter } from '../../src/coordinator/submitter.ts';
import { actor } from '../helpers/actors.ts';
import { ETHER, eventually } from '../helpers/nodes.ts';

const anvils: Anvil[] = [];
const dirs: string[] = [];
test.after.always(async () => {
  for (const a of anvils) await a.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('a batch a reorg takes out before it is deep is sent again, reported once, and the batches after it are mined', async (t) => {
  const anvil = await startAnvil();
  anvils.push(anvil);
  const deployer = await createClients({ rpc: anvil.rpcUrl, privateKey: DEV_KEYS[0], pollingIntervalMs: 20 });
  const adjudicator = await deployAdjudicator(deployer);
  const irene = actor('submitter-reorg');
  await anvil.setBalance(irene.address, 1000n * ETHER);
  const clients = await createClients({ rpc: anvil.rpcUrl, privateKey: bytesToHex(irene.privateKey), pollingIntervalMs: 20 });
  const dir = mkdtempSync(join(tmpdir(), 'lanes-submitter-reorg-'));
  dirs.push(dir);
  const queue = await CoordinatorQueue.open(join(dir, 'queue'));
  const reports: { batch: bigint; outcome: unknown }[] = [];
  const submitter = new Submitter({
    clients,
    adjudicator,
    queue,
    log: pino({ level: 'silent' }),
    payout: 'transfer',
    replaceAfterMs: 60_000,
    pollMs: 20,
    confirmations: 3,
    onMined: (batch: BatchRecord, outcome) => {
      reports.push({ batch: batch.id, outcome });
      return Promise.resolve();
    },
  });
  await submitter.start();
  const reveal = (secret: Bytes32): ItemRecord => {
    const rec: ItemRecord = {
      id: queue.allocItemId(),
      kind: 'reveal',
      item: { kind: 'reveal', secrets: [secret] },
      origins: [],
      status: 'queued',
      enqueuedAt: Date.now(),
      gas: 60_000,
      attempts: 0,
    };
    queue.putItem(rec);
    return rec;
  };
  const chain = chainServiceFromClients(clients, adjudicator);
  const revealedAt = (secret: Bytes32) => chain.revealedAt(keccak256Hex(hexToBytes(secret)));
  const nonce = () => clients.publicClient.getTransactionCount({ address: irene.address, blockTag: 'latest' });
  try {
    const s1 = bytesToHex(new Uint8Array(32).fill(1)) as Bytes32;
    const { sent } = await submitter.submit('reveal', [reveal(s1)], 60_000);
    await eventually(
      async () => reports.length,
      (n) => n === 1,
      20_000,
    );
    t.not(await revealedAt(s1), 0n, 'mined and reported at its first receipt');
    // The block goes (anvil drops its transactions): the nonce is unused again.
    await anvil.reorg(1);
    t.is(await revealedAt(s1), 0n, 'the reorg took the registration out');
    t.is(await nonce(), 0);
    await eventually(
      () => revealedAt(s1),
      (at) => at !== 0n,
      20_000,
    );
    t.is(await nonce(), 1, 'the same nonce: the very transaction went again');
    // Deep, then a later batch: not held back behind a nonce nobody sends.
    await anvil.mine(3);
    const s2 = bytesToHex(new Uint8Array(32).fill(2)) as Bytes32;
    await submitter.submit('reveal', [reveal(s2)], 60_000);
    await eventually(
      () => revealedAt(s2),
      (at) => at !== 0n,
      20_000,
    );
    await eventually(
      async () => reports.length,
      (n) => n === 2,
      20_000,
    );
    t.deepEqual(
      reports.map((r) => r.batch),
      [sent[0]!.id, sent[0]!.id + 1n],
      'each batch reported once: the first not again when mined again',
    );
    t.is(queue.batches.get(sent[0]!.id)?.status, 'mined');
    t.is(submitter.gapsFilled, 0);
  } finally {
    await submitter.stop();
    await queue.close();
  }
});
