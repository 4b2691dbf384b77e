/**
 * The coordinator's nonces against a real EVM (EDR): a transaction of ours is mined only after
 * every lower nonce is, so
 *   - a nonce allocated and never sent (a gap) would hold back every later batch, dispute
 *     answers included, for good: the submitter fills it;
 *   - a batch whose nonce another transaction used can never be mined: its items go back.
 */
import test from 'ava';
import { type ChannelParams, NATIVE_ASSET } from '../../src/core/index.ts';
import type { BatchRecord, ItemRecord } from '../../src/coordinator/records.ts';
import { StoreWriteError } from '../../src/store/durable-lmdb.ts';
import { alice, bob, fund, sign, stateOf } from '../helpers/chain.ts';
import { type SubmitterRig, stopSubmitterRig, submitterRig } from '../helpers/submitter-rig.ts';

type Rig = SubmitterRig & { readonly outcomes: SubmitterRig['mined'] };

async function rig(): Promise<Rig> {
  const r = await submitterRig({ name: 'nonces' });
  await r.tc.chain.setBalance(r.clients.account.address, 10n ** 20n);
  return { ...r, outcomes: r.mined };
}

const stop = stopSubmitterRig;

async function closeItem(r: Rig): Promise<ItemRecord> {
  const params: ChannelParams = r.tc.params(alice, bob, { assets: [NATIVE_ASSET] });
  await fund(r.tc, params, [10n, 0n]);
  const rec: ItemRecord = {
    id: r.queue.allocItemId(),
    kind: 'close',
    item: { kind: 'close', params, signed: sign(params, stateOf(params, 9n, [4n, 6n], { isFinal: true }), [alice, bob]) },
    origins: [],
    status: 'queued',
    enqueuedAt: Date.now(),
    gas: 100_000,
    attempts: 0,
  };
  r.queue.putItem(rec);
  return rec;
}

async function until(ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const rpc = (r: Rig, method: string, params: unknown[] = []) =>
  r.clients.publicClient.request({ method: method as never, params: params as never });

test.serial('a nonce allocated and never sent is filled, and the batch behind it is mined', async (t) => {
  const r = await rig();
  try {
    const item = await closeItem(r);
    const leaked = r.queue.allocBatch(); // as a crash or a failure between allocation and record did
    const { sent } = await r.submitter.submit('close', [item], 100_000);
    t.is(sent.length, 1);
    t.is(sent[0]!.nonce, leaked.nonce + 1n);
    await until(() => r.outcomes.has(sent[0]!.id));
    const outcome = r.outcomes.get(sent[0]!.id)!;
    t.true(Array.isArray(outcome) && outcome.every((x) => x.ok), 'the close behind the gap is mined');
    t.is(r.submitter.gapsFilled, 1);
    const count = await r.clients.publicClient.getTransactionCount({ address: r.clients.account.address });
    t.is(BigInt(count), leaked.nonce + 2n, 'the filler and the batch, nothing else');
  } finally {
    await stop(r);
  }
});

test.serial('a batch whose nonce another transaction used is dropped, and its items are handed back', async (t) => {
  const r = await rig();
  try {
    const item = await closeItem(r);
    await rpc(r, 'evm_setAutomine', [false]);
    const { sent } = await r.submitter.submit('close', [item], 100_000);
    const batch = sent[0]!;
    // The same key, the same nonce, a higher fee: from elsewhere (another process with our key).
    const fees = await r.clients.publicClient.estimateFeesPerGas();
    await r.clients.walletClient.sendTransaction({
      to: r.clients.account.address,
      value: 0n,
      nonce: Number(batch.nonce),
      maxFeePerGas: fees.maxFeePerGas * 4n,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas * 4n + 10n ** 9n,
    });
    await rpc(r, 'evm_mine');
    await rpc(r, 'evm_setAutomine', [true]);
    await until(() => r.outcomes.has(batch.id));
    t.is(r.outcomes.get(batch.id), 'dropped');
    t.is(r.queue.batches.get(batch.id)!.status, 'dropped');
    const receipt = await r.clients.publicClient.getTransactionReceipt({ hash: batch.txs[0]!.hash }).catch(() => undefined);
    t.is(receipt, undefined, 'the batch itself was never mined');
  } finally {
    await rpc(r, 'evm_setAutomine', [true]).catch(() => undefined);
    await stop(r);
  }
});

test.serial('a nonce a stored batch has is never filled, even a mined one (a reorg may have taken it out)', async (t) => {
  const r = await rig();
  try {
    const item = await closeItem(r);
    // Nonce 0 belongs to a batch recorded as mined whose block is gone: the chain is at nonce 0.
    const { id, nonce } = r.queue.allocBatch();
    const gone: BatchRecord = {
      id,
      kind: 'close',
      itemIds: [],
      nonce,
      gas: 100_000n,
      txs: [],
      status: 'mined',
      createdAt: Date.now(),
    };
    r.queue.putBatch(gone);
    const { sent } = await r.submitter.submit('close', [item], 100_000);
    t.is(sent[0]!.nonce, nonce + 1n);
    await new Promise((resolve) => setTimeout(resolve, 4_500)); // past GAP_MS, several lookups
    t.is(r.submitter.gapsFilled, 0, 'its nonce is left to it');
    t.false(r.outcomes.has(sent[0]!.id));
  } finally {
    await stop(r);
  }
});

test.serial('a batch whose record cannot be stored is never sent: its items and its nonce go back', async (t) => {
  const r = await rig();
  try {
    const item = await closeItem(r);
    await r.queue.flush();
    const flush = r.queue.flush.bind(r.queue);
    let failures = 1;
    r.queue.flush = () => (failures-- > 0 ? Promise.reject(new StoreWriteError('disk full')) : flush());
    await t.throwsAsync(r.submitter.submit('close', [item], 100_000), { instanceOf: StoreWriteError });
    t.is(item.status, 'queued', 'planned again, not left submitted');
    t.is(item.batchId, undefined);
    t.is(item.attempts, 0);
    t.is([...r.queue.batches.values()].length, 0, 'no batch left pending and unfollowed');
    t.is(await r.clients.publicClient.getTransactionCount({ address: r.clients.account.address }), 0, 'nothing reached the chain');
    const { sent } = await r.submitter.submit('close', [item], 100_000);
    t.is(sent[0]!.nonce, 0n, 'the nonce it had is used again: no gap');
    await until(() => r.outcomes.has(sent[0]!.id));
    const outcome = r.outcomes.get(sent[0]!.id)!;
    t.true(Array.isArray(outcome) && outcome.every((x) => x.ok), 'the close is mined at the next try');
    t.is(r.submitter.gapsFilled, 0);
  } finally {
    await stop(r);
  }
});

test.serial('a receipt whose logs do not match its batch is read again, not the end of following it', async (t) => {
  const tc = await (await import('../helpers/chain.ts')).setupChain();
  let stripped = 0;
  // A backend that answers the first two receipts without their logs (buggy, or lying).
  const provider = {
    request: async (args: { method: string; params?: unknown }) => {
      const r = (await tc.chain.provider.request(args as never)) as { logs?: unknown[] } | null;
      if (args.method === 'eth_getTransactionReceipt' && r && stripped < 2) {
        stripped++;
        return { ...r, logs: [] };
      }
      return r;
    },
  };
  const r = await submitterRig({ tc, provider: provider as never, name: 'nonces-receipt' });
  await r.tc.chain.setBalance(r.clients.account.address, 10n ** 20n);
  try {
    const item = await closeItem({ ...r, outcomes: r.mined });
    const { sent } = await r.submitter.submit('close', [item], 100_000);
    await until(() => r.mined.has(sent[0]!.id));
    const outcome = r.mined.get(sent[0]!.id)!;
    t.true(Array.isArray(outcome) && outcome.every((x) => x.ok), 'the close is reported from a receipt read again');
    t.is(stripped, 2);
  } finally {
    await stop(r);
  }
});
