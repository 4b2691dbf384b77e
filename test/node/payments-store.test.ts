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
import { encodePaymentRecord } from '../../src/core/payments/record.ts';
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
  // 16 keys per chunk: stop inside one (100, 700, 701) and at the end of one (256).
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

test('a store written with the first index (chunks of 256 keys and a count) is read, and new records are added beside it', async (t) => {
  // What a node wrote before 2026-12-04: 300 records, index chunks pidx/0 (256 keys) and pidx/1 (44).
  const old = createMemoryStore();
  const keys: string[] = [];
  for (let i = 0; i < 300; i++) {
    const r = record(i, i % 3 === 0 ? 'in' : 'out');
    const k = paymentKey(r.direction, r.paymentHash);
    old.putMeta(k, encodePaymentRecord(r));
    keys.push(k);
  }
  const enc = new TextEncoder();
  old.putMeta('pidx/0', enc.encode(JSON.stringify(keys.slice(0, 256))));
  old.putMeta('pidx/1', enc.encode(JSON.stringify(keys.slice(256))));
  old.putMeta('pidx/count', enc.encode('300'));
  await old.flush();
  expectAll(t, await loaded(createMemoryStore({ image: old.snapshot() })), 300);
  const store = createMemoryStore({ image: old.snapshot() });
  await writes(store, 300, 340);
  expectAll(t, await loaded(createMemoryStore({ image: store.snapshot() })), 340);
});

test('a corrupt index chunk is an error at load, not a silently shorter history', async (t) => {
  const store = createMemoryStore();
  await writes(store, 0, 20);
  store.putMeta('pix/0', new TextEncoder().encode('{not json'));
  await store.flush();
  await t.throwsAsync(new PaymentsStore(createMemoryStore({ image: store.snapshot() })).load(), { message: /pix\/0 is corrupt/ });
});
