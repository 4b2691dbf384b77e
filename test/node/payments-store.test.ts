/**
 * The payment records' store (src/node/payments-store.ts): every record written is in the history
 * after a restart, across the index's chunks, and a restart in the middle of a chunk goes on
 * appending to it; over lmdb on disk as over the in-memory store. A start reads only the payments
 * that are not final (their marks), the history is paged newest first, and stores written before
 * the marks and the tail key existed are read.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Address, Bytes32 } from '../../src/core/bytes.ts';
import type { PaymentRecord } from '../../src/core/payments/record.ts';
import { PaymentsStore, paymentKey } from '../../src/node/payments-store.ts';
import { paymentHashOf } from '../../src/core/payments/invoice.ts';
import { type InvoiceRecord, encodeInvoiceRecord, encodePaymentRecord } from '../../src/core/payments/record.ts';
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

/** The whole history after a start, by key. */
async function loaded(store: ChannelStore): Promise<Map<string, PaymentRecord>> {
  const p = new PaymentsStore(store);
  const { unreadable } = await p.load();
  if (unreadable.length > 0) throw new Error(`unreadable: ${unreadable.join(', ')}`);
  const all = await p.history({ offset: 0, limit: Number.MAX_SAFE_INTEGER }, new Map());
  return new Map(all.map((r) => [paymentKey(r.direction, r.paymentHash), r]));
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

test('a corrupt index chunk is an error, not a silently shorter history', async (t) => {
  const store = createMemoryStore();
  await writes(store, 0, 20); // pix/0 full, pix/1 the tail
  store.putMeta('pix/0', new TextEncoder().encode('{not json'));
  await store.flush();
  const p = new PaymentsStore(createMemoryStore({ image: store.snapshot() }));
  await p.load();
  await t.throwsAsync(p.history({ offset: 0, limit: 100 }, new Map()), { message: /pix\/0 is corrupt/ });
  store.putMeta('pix/1', new TextEncoder().encode('[1'));
  await store.flush();
  await t.throwsAsync(new PaymentsStore(createMemoryStore({ image: store.snapshot() })).load(), { message: /pix\/1 is corrupt/ });
});

const pending = (i: number, status: PaymentRecord['status'] = 'in-flight'): PaymentRecord => ({
  ...record(i),
  status,
  createdAt: 1000 + i,
});

test('a start reads only the payments that are not final, whatever the history holds', async (t) => {
  const store = createMemoryStore();
  const p = new PaymentsStore(store);
  await p.load();
  for (let i = 0; i < 50; i++) p.putPayment(record(i));
  p.putPayment(pending(100, 'pending'));
  p.putPayment(pending(101));
  p.putPayment(pending(102));
  p.putPayment({ ...pending(102), status: 'settled' }); // final again: its mark goes
  await p.flush();
  let image = store.snapshot();
  t.deepEqual([...image.keys()].filter((k) => k.startsWith('m/pact/')).sort(), [
    `m/pact/${paymentKey('out', hash(100))}`,
    `m/pact/${paymentKey('out', hash(101))}`,
  ]);
  const again = new PaymentsStore(createMemoryStore({ image }));
  const { active } = await again.load();
  t.deepEqual([...active.keys()].sort(), [paymentKey('out', hash(100)), paymentKey('out', hash(101))]);
  // A crash after a final record, before its mark went: the mark is checked and removed.
  const crashed = createMemoryStore({ image });
  crashed.putMeta(paymentKey('out', hash(100)), encodePaymentRecord({ ...pending(100), status: 'failed' }));
  await crashed.flush();
  image = crashed.snapshot();
  const after = createMemoryStore({ image });
  const third = await new PaymentsStore(after).load();
  t.deepEqual([...third.active.keys()], [paymentKey('out', hash(101))]);
  await after.flush();
  t.false(after.snapshot().has(`m/pact/${paymentKey('out', hash(100))}`), 'the stale mark is gone');
});

test('a store written before the marks: read in full once, its active payments marked', async (t) => {
  const old = createMemoryStore();
  const keys: string[] = [];
  for (let i = 0; i < 40; i++) {
    const r = i === 7 || i === 33 ? pending(i) : record(i);
    const k = paymentKey(r.direction, r.paymentHash);
    old.putMeta(k, encodePaymentRecord(r));
    keys.push(k);
  }
  const enc = new TextEncoder();
  old.putMeta('pix/0', enc.encode(JSON.stringify(keys.slice(0, 16))));
  old.putMeta('pix/1', enc.encode(JSON.stringify(keys.slice(16, 32))));
  old.putMeta('pix/2', enc.encode(JSON.stringify(keys.slice(32))));
  await old.flush();
  const store = createMemoryStore({ image: old.snapshot() });
  const { active } = await new PaymentsStore(store).load();
  t.deepEqual([...active.keys()].sort(), [paymentKey('out', hash(33)), paymentKey('out', hash(7))].sort());
  await store.flush();
  const image = store.snapshot();
  t.true(image.has('m/pact-ready') && image.has(`m/pact/${paymentKey('out', hash(7))}`));
  t.deepEqual(new TextDecoder().decode(await store.getMeta('pix-tail')), '2');
  const next = new PaymentsStore(createMemoryStore({ image }));
  t.is((await next.load()).active.size, 2);
  t.is((await next.history({ offset: 0, limit: 1000 }, new Map())).length, 40);
});

test('the history is paged newest first, filtered, with what the service holds and never wrote in front', async (t) => {
  const store = createMemoryStore();
  const p = new PaymentsStore(store);
  await p.load();
  for (let i = 0; i < 45; i++) p.putPayment({ ...record(i, i % 2 === 0 ? 'in' : 'out'), createdAt: i });
  p.putPayment({ ...record(0, 'in'), memo: 'written again' }); // indexed once
  await p.flush();
  const hashes = (rs: PaymentRecord[]) => rs.map((r) => Number(BigInt(r.paymentHash)));
  const fresh = new PaymentsStore(createMemoryStore({ image: store.snapshot() }));
  await fresh.load();
  t.deepEqual(hashes(await fresh.history({ offset: 0, limit: 5 }, new Map())), [44, 43, 42, 41, 40]);
  t.deepEqual(hashes(await fresh.history({ offset: 40, limit: 10 }, new Map())), [4, 3, 2, 1, 0]);
  t.deepEqual(hashes(await fresh.history({ offset: 0, limit: 3, direction: 'out' }, new Map())), [43, 41, 39]);
  t.deepEqual(hashes(await fresh.history({ offset: 0, limit: 100, status: 'failed' }, new Map())), []);
  // The service's copy wins over the disk's, and a record it never wrote comes first.
  const changed: PaymentRecord = { ...record(43), createdAt: 43, memo: 'changed in memory' };
  fresh.putPayment({ ...record(43), createdAt: 43 });
  const memory = new Map<string, PaymentRecord>([
    [paymentKey('out', hash(43)), changed],
    [paymentKey('out', hash(99)), { ...pending(99, 'pending'), createdAt: 99 }],
  ]);
  const page = await fresh.history({ offset: 0, limit: 3 }, memory);
  t.deepEqual(hashes(page), [99, 43, 44], 'a record written again after a start is listed at its newest place');
  t.is(page[1]!.memo, 'changed in memory');
  // A failed invoice paid again after the service forgot it: indexed again, listed once, newest.
  fresh.forget(paymentKey('in', hash(0)));
  fresh.putPayment({ ...record(0, 'in'), createdAt: 100 });
  t.deepEqual(hashes(await fresh.history({ offset: 0, limit: 3 }, new Map())), [0, 43, 44]);
  t.is((await fresh.history({ offset: 0, limit: 1000 }, new Map())).length, 45);
});

/** An invoice record (its payment hash is its secret's: the reader derives it). */
const invoiceRecord = (i: number, status: InvoiceRecord['status']): InvoiceRecord => {
  const secret = hash(i + 2_000_000);
  return {
    text: `lanes-test-invoice-${i}`,
    paymentHash: paymentHashOf(secret),
    secret,
    status,
    received: status === 'paid' ? 5n : 0n,
    ...(status === 'paid' ? { paidAt: 9 } : {}),
  };
};
const ih = (i: number) => invoiceRecord(i, 'open').paymentHash;

test('a start reads only the open invoices; invoices page newest first; a store from before is marked once', async (t) => {
  const store = createMemoryStore();
  const p = new PaymentsStore(store);
  await p.load();
  for (let i = 0; i < 30; i++) p.putInvoice(invoiceRecord(i, 'open'));
  for (let i = 0; i < 30; i += 3) p.putInvoice(invoiceRecord(i, 'paid')); // 10 paid, 20 still open
  p.unmarkOpen(ih(1)); // long expired: the service let it go
  await p.flush();
  const image = store.snapshot();
  t.is([...image.keys()].filter((k) => k.startsWith('m/iopen/')).length, 19);
  const again = new PaymentsStore(createMemoryStore({ image }));
  const { invoices } = await again.load();
  t.is(invoices.size, 19);
  t.false(invoices.has(ih(0)) || invoices.has(ih(1)));
  const index = new Map(Array.from({ length: 30 }, (_, i) => [ih(i), i]));
  const order = (rs: InvoiceRecord[]) => rs.map((r) => index.get(r.paymentHash));
  t.deepEqual(order(await again.invoiceHistory({ offset: 0, limit: 3 }, new Map())), [29, 28, 27]);
  t.deepEqual(
    order(await again.invoiceHistory({ offset: 28, limit: 5 }, new Map())),
    [1, 0],
    'every invoice is in the history, marked or not',
  );
  t.is((await again.invoiceHistory({ offset: 29, limit: 1 }, new Map()))[0]!.status, 'paid');
  // Written before the marks: every invoice read once, the open ones marked.
  const old = createMemoryStore();
  const enc = new TextEncoder();
  const keys: string[] = [];
  for (let i = 0; i < 5; i++) {
    old.putMeta(`inv/${ih(i)}`, encodeInvoiceRecord(invoiceRecord(i, i === 2 ? 'paid' : 'open')));
    keys.push(`inv/${ih(i)}`);
  }
  old.putMeta('pix/0', enc.encode(JSON.stringify(keys)));
  await old.flush();
  const migrated = createMemoryStore({ image: old.snapshot() });
  t.is((await new PaymentsStore(migrated).load()).invoices.size, 4);
  await migrated.flush();
  const after = migrated.snapshot();
  t.true(after.has('m/iopen-ready'));
  t.is([...after.keys()].filter((k) => k.startsWith('m/iopen/')).length, 4);
});
