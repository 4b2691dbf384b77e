import test from 'ava';
import { channelId } from '../../src/core/index.ts';
import { type MemoryStore, createMemoryStore } from '../../src/store/memory-store.ts';
import {
  StoreCorruptError,
  decodeChannelRecord,
  decodeSignedState,
  encodeChannelRecord,
  encodeSignedState,
} from '../../src/store/record-codec.ts';
import { runStoreCompliance } from './compliance.ts';
import { extremeRecord, extremeSigned, paramsFor, recordFor, signedFor } from './fixtures/channels.ts';

// The harness's "location" is the durable image of the store it opened last.
runStoreCompliance('memory', () => {
  let last: MemoryStore | undefined;
  return Promise.resolve({
    open: () => {
      last = createMemoryStore(last === undefined ? {} : { image: last.snapshot() });
      return Promise.resolve(last);
    },
    cleanup: () => Promise.resolve(),
  });
});

const params = paramsFor(1);
const id = channelId(params);
const tick = () => new Promise((resolve) => setImmediate(resolve));

test('memory: failNextFlush rejects that flush and discards the writes it covers', async (t) => {
  const store = createMemoryStore();
  store.putRecord(recordFor(params));
  store.putState(id, signedFor(params, 1n));
  await store.flush();
  store.putState(id, signedFor(params, 2n));
  store.putMeta('cursor', Uint8Array.of(2));
  const boom = new Error('disk on fire');
  store.failNextFlush(boom);
  const failing = store.flush();
  store.putMeta('after', Uint8Array.of(3)); // issued after the failing flush() call: not covered
  await t.throwsAsync(failing, { is: boom });
  const [c] = await store.load();
  t.is(c!.latest!.state.version, 1n, 'the discarded write is not visible either');
  t.is(await store.getMeta('cursor'), undefined);
  t.deepEqual(await store.getMeta('after'), Uint8Array.of(3));
  await t.notThrowsAsync(store.flush(), 'only the next flush fails');
  const restarted = createMemoryStore({ image: store.snapshot() });
  t.is((await restarted.load())[0]!.latest!.state.version, 1n);
  t.deepEqual(await restarted.getMeta('after'), Uint8Array.of(3));
});

test('memory: failNextFlush without an error rejects with a STORE_WRITE_FAILED error', async (t) => {
  const store = createMemoryStore();
  store.failNextFlush();
  await t.throwsAsync(store.flush(), { message: /simulated flush failure/ });
});

test('memory: a failed flush leaves earlier pending flushes alone', async (t) => {
  const store = createMemoryStore();
  store.putRecord(recordFor(params));
  const first = store.flush();
  store.putState(id, signedFor(params, 1n));
  store.failNextFlush();
  const second = store.flush();
  await t.notThrowsAsync(first);
  await t.throwsAsync(second);
  t.deepEqual(await createMemoryStore({ image: store.snapshot() }).load(), [{ record: recordFor(params) }]);
});

test('memory: the snapshot holds only what a flush made durable', async (t) => {
  const store = createMemoryStore();
  store.putRecord(recordFor(params));
  t.is(store.pendingWrites, 1);
  t.is(store.snapshot().size, 0);
  const flushed = store.flush();
  t.is(store.snapshot().size, 0, 'not durable until the flush resolves');
  await flushed;
  t.is(store.pendingWrites, 0);
  store.putState(id, signedFor(params, 1n));
  const crashed = createMemoryStore({ image: store.snapshot() });
  t.deepEqual(await crashed.load(), [{ record: recordFor(params) }], 'a crash loses the unflushed state');
});

test('memory: flush resolves on a later macrotask, never synchronously or in the same microtask run', async (t) => {
  const store = createMemoryStore();
  store.putRecord(recordFor(params));
  let done = false;
  const flushed = store.flush().then(() => {
    done = true;
  });
  for (let i = 0; i < 10; i++) await Promise.resolve();
  t.false(done);
  await tick();
  await flushed;
  t.true(done);
});

test('memory: a corrupted byte in the image makes load fail with a clear error naming the key', async (t) => {
  const store = createMemoryStore();
  store.putRecord(recordFor(params));
  store.putState(id, signedFor(params, 1n));
  await store.flush();
  const image = store.snapshot();
  const key = `s/${id}`;
  image.get(key)![10]! ^= 0x01;
  const error = await t.throwsAsync(createMemoryStore({ image }).load(), { instanceOf: StoreCorruptError });
  t.regex(error!.message, new RegExp(`corrupt ${key}: checksum mismatch`));
  t.is((error as StoreCorruptError).code, 'STORE_CORRUPT');
});

test('memory: editing the snapshot does not change the store', async (t) => {
  const store = createMemoryStore();
  store.putRecord(recordFor(params));
  await store.flush();
  store.snapshot().clear();
  for (const v of store.snapshot().values()) v.fill(0);
  t.deepEqual(await store.load(), [{ record: recordFor(params) }]);
});

// Record codec: the properties both stores rely on, tested once here on bare bytes.

test('codec: encoding is deterministic', (t) => {
  const a = encodeChannelRecord(extremeRecord(params));
  const b = encodeChannelRecord(structuredClone(extremeRecord(params)));
  t.deepEqual(a, b);
  t.deepEqual(encodeSignedState(extremeSigned(params)), encodeSignedState(extremeSigned(params)));
});

test('codec: every single-bit flip is detected, never half-decoded', (t) => {
  const samples: [Uint8Array, (b: Uint8Array) => unknown][] = [
    [encodeChannelRecord(extremeRecord(params)), decodeChannelRecord],
    [encodeSignedState(extremeSigned(params)), decodeSignedState],
  ];
  for (const [bytes, decode] of samples) {
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      const copy = new Uint8Array(bytes);
      copy[bit >> 3]! ^= 1 << (bit & 7);
      t.throws(() => decode(copy), { instanceOf: StoreCorruptError });
    }
  }
});

test('codec: truncated values and values of the wrong kind are refused', (t) => {
  const record = encodeChannelRecord(extremeRecord(params));
  for (let n = 0; n < record.length; n += 7) t.throws(() => decodeChannelRecord(record.subarray(0, n)), { instanceOf: StoreCorruptError });
  t.throws(() => decodeSignedState(record), { instanceOf: StoreCorruptError, message: /expected a state value/ });
});
