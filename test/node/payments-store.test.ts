/**
 * The payment records' store (src/node/payments-store.ts): every record written comes back after
 * a restart, across the index's chunks, and a restart in the middle of a chunk goes on appending
 * to it; over lmdb on disk as over the in-memory store.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Address, Bytes32 } from '../../src/core/bytes.ts';
import type { PaymentRecord } from '../../src/core/payments/record.ts';
import { PaymentsStore, paymentKey } from '../../src/node/payments-store.ts';
import { openLmdbStore } from '../../src/store/lmdb-store.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import type { ChannelStore } from '../../src/store/store.ts';

const hash = (i: number) => `0x${i.toString(16).padStart(64, '0')}` as Bytes32;

const record = (i: number, direction: 'out' | 'in' = 'out'): PaymentRecord => ({
  direction,
  kind: 'keysend',
  status: 'settled',
  paymentHash: hash(i),
  secret: hash(i + 1_000_000),
  asset: `0x${'00'.repeat(20)}` as Address,
  amount: BigInt(i + 1),
  fee: 0n,
  counterparty: `0x${'11'.repeat(20)}` as Address,
  route: [],
  memo: '',
  createdAt: 1,
  updatedAt: 2,
});

async function writes(store: ChannelStore, from: number, to: number): Promise<void> {
  const p = new PaymentsStore(store);
  await p.load();
  for (let i = from; i < to; i++) p.putPayment(record(i, i % 3 === 0 ? 'in' : 'out'));
  // A record written again (its status changed) is not indexed twice.
  if (to > from) p.putPayment({ ...record(from, from % 3 === 0 ? 'in' : 'out'), memo: 'again' });
  await p.flush();
}

async function loaded(store: ChannelStore): Promise<Map<string, PaymentRecord>> {
  const { payments, unreadable } = await new PaymentsStore(store).load();
  if (unreadable.length > 0) throw new Error(`unreadable: ${unreadable.join(', ')}`);
  return payments;
}

function expectAll(t: ExecutionContext, payments: Map<string, PaymentRecord>, n: number): void {
  t.is(payments.size, n);
  for (let i = 0; i < n; i++) {
    const key = paymentKey(i % 3 === 0 ? 'in' : 'out', hash(i));
    const r = payments.get(key);
    if (r?.amount !== BigInt(i + 1)) return void t.fail(`record ${i} (${key}) is missing or wrong`);
  }
  t.pass();
}

test('in memory: restarts inside and at the end of index chunks keep every record', async (t) => {
  let image = createMemoryStore().snapshot();
  // 256 keys per chunk: stop at 100 (inside the first), 256 (its end), 700 (inside the third).
  for (const [from, to] of [
    [0, 100],
    [100, 256],
    [256, 700],
    [700, 701],
  ] as const) {
    const store = createMemoryStore({ image });
    await writes(store, from, to);
    image = store.snapshot();
    expectAll(t, await loaded(createMemoryStore({ image })), to);
  }
});

test('on lmdb: the same, with the store closed and opened between', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lanes-payments-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [from, to] of [
    [0, 300],
    [300, 513],
  ] as const) {
    const store = await openLmdbStore({ path: dir });
    await writes(store, from, to);
    await store.close();
    const again = await openLmdbStore({ path: dir });
    expectAll(t, await loaded(again), to);
    await again.close();
  }
});
