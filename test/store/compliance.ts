/**
 * The `ChannelStore` compliance suite: every implementation runs it, so the memory store that
 * engine tests rely on cannot drift from the lmdb store that production relies on.
 *
 * A harness gives each test its own empty location and knows how to "restart": close the store
 * and open the same location again, which is how every durability assertion is checked.
 */
import test, { type ExecutionContext } from 'ava';
import { type Bytes32, InvalidArgumentError, MAX_UINT256, MAX_UINT64, channelId } from '../../src/core/index.ts';
import type { ChannelStore, StoredChannel } from '../../src/store/store.ts';
import { extremeRecord, extremeSigned, paramsFor, recordFor, signedFor } from './fixtures/channels.ts';

export interface StoreHarness {
  /**
   * Opens the store at this harness's location: empty on the first call, afterwards whatever
   * the previous store left durable there (close it first, as a restarting node would).
   */
  open(): Promise<ChannelStore>;
  /** Removes whatever the harness created. */
  cleanup(): Promise<void>;
}

export type HarnessFactory = () => Promise<StoreHarness>;

/** Opens a store for one test, closing it and cleaning up afterwards whatever happens. */
async function setup(t: ExecutionContext, factory: HarnessFactory): Promise<{ store: ChannelStore; reopen: () => Promise<ChannelStore> }> {
  const harness = await factory();
  let current = await harness.open();
  t.teardown(async () => {
    await current.close().catch(() => undefined);
    await harness.cleanup();
  });
  return {
    store: current,
    reopen: async () => {
      await current.close();
      current = await harness.open();
      return current;
    },
  };
}

function byId(channels: readonly StoredChannel[], id: Bytes32): StoredChannel | undefined {
  return channels.find((c) => c.record.id === id);
}

export function runStoreCompliance(name: string, factory: HarnessFactory): void {
  const it = (title: string, body: (t: ExecutionContext) => Promise<void>): void => {
    test(`${name}: ${title}`, body);
  };

  it('an empty store loads nothing and has no meta', async (t) => {
    const { store } = await setup(t, factory);
    t.deepEqual(await store.load(), []);
    t.is(await store.getMeta('cursor'), undefined);
    await t.notThrowsAsync(store.flush());
  });

  it('records and states with extreme values round-trip exactly, before and after a restart', async (t) => {
    const { store, reopen } = await setup(t, factory);
    const params = paramsFor(MAX_UINT256);
    const id = channelId(params);
    const expected: StoredChannel = { record: extremeRecord(params), latest: extremeSigned(params) };
    store.putRecord(expected.record);
    store.putState(id, expected.latest!);
    t.deepEqual(await store.load(), [expected], 'visible before the flush');
    await store.flush();
    t.deepEqual(await store.load(), [expected]);
    const reopened = await reopen();
    t.deepEqual(await reopened.load(), [expected]);
    t.is((await reopened.load())[0]!.latest!.state.version, MAX_UINT64);
  });

  it('a record alone loads without a latest state', async (t) => {
    const { store, reopen } = await setup(t, factory);
    const record = recordFor(paramsFor(1), { status: 'proposed' });
    store.putRecord(record);
    await store.flush();
    const [loaded] = await (await reopen()).load();
    t.deepEqual(loaded, { record });
    t.false('latest' in loaded!);
  });

  it('every channel status and an absent note survive', async (t) => {
    const { store, reopen } = await setup(t, factory);
    const statuses = ['proposed', 'funding', 'open', 'closing', 'disputed', 'closed', 'rejected'] as const;
    const records = statuses.map((status, i) => recordFor(paramsFor(100 + i), { status }));
    for (const r of records) store.putRecord(r);
    await store.flush();
    const loaded = await (await reopen()).load();
    for (const r of records) t.deepEqual(byId(loaded, r.id)?.record, r);
  });

  it('a later write to the same key overwrites the earlier one', async (t) => {
    const { store, reopen } = await setup(t, factory);
    const params = paramsFor(2);
    const id = channelId(params);
    store.putRecord(recordFor(params, { status: 'funding' }));
    store.putState(id, signedFor(params, 0n));
    await store.flush();
    store.putRecord(recordFor(params, { status: 'open', nextOpId: 7n }));
    store.putState(id, signedFor(params, 1n));
    store.putState(id, signedFor(params, 2n)); // same tick: the last one wins
    await store.flush();
    const [c] = await (await reopen()).load();
    t.is(c!.record.status, 'open');
    t.is(c!.record.nextOpId, 7n);
    t.deepEqual(c!.latest, signedFor(params, 2n));
  });

  it('meta values are stored, overwritten and reloaded byte for byte', async (t) => {
    const { store, reopen } = await setup(t, factory);
    const cursor = Uint8Array.of(0, 1, 2, 0, 255);
    store.putMeta('chain-cursor', Uint8Array.of(9));
    store.putMeta('chain-cursor', cursor);
    store.putMeta('empty', new Uint8Array(0));
    store.putMeta('ключ/✓', Uint8Array.of(42));
    t.deepEqual(await store.getMeta('chain-cursor'), cursor, 'visible before the flush');
    await store.flush();
    const reopened = await reopen();
    t.deepEqual(await reopened.getMeta('chain-cursor'), cursor);
    t.deepEqual(await reopened.getMeta('empty'), new Uint8Array(0));
    t.deepEqual(await reopened.getMeta('ключ/✓'), Uint8Array.of(42));
    t.is(await reopened.getMeta('chain'), undefined, 'no prefix matching');
    t.deepEqual(await reopened.load(), [], 'meta entries are not channels');
  });

  it('meta values are deleted and scanned by prefix, in key order, across a restart', async (t) => {
    const { store, reopen } = await setup(t, factory);
    store.putMeta('pact/out/0x02', Uint8Array.of(2));
    store.putMeta('pact/in/0x01', Uint8Array.of(1));
    store.putMeta('pact/out/0x01', Uint8Array.of(3));
    store.putMeta('pactx', Uint8Array.of(4));
    store.putMeta('pac', Uint8Array.of(5));
    store.deleteMeta('pact/out/0x02');
    store.deleteMeta('never-written');
    t.deepEqual(
      await store.scanMeta('pact/'),
      [
        ['pact/in/0x01', Uint8Array.of(1)],
        ['pact/out/0x01', Uint8Array.of(3)],
      ],
      'visible before the flush; the deleted key and the neighbours outside the prefix are not listed',
    );
    await store.flush();
    const reopened = await reopen();
    t.deepEqual(
      (await reopened.scanMeta('pact')).map(([k]) => k),
      ['pact/in/0x01', 'pact/out/0x01', 'pactx'],
    );
    t.is(await reopened.getMeta('pact/out/0x02'), undefined, 'the delete is durable');
    t.deepEqual(await reopened.scanMeta('zzz'), []);
    t.deepEqual(await reopened.load(), [], 'meta entries are not channels');
    t.throws(() => reopened.deleteMeta(''), { instanceOf: InvalidArgumentError });
    await t.throwsAsync(reopened.scanMeta(''), { instanceOf: InvalidArgumentError });
  });

  it('a returned meta value is a copy the caller may change', async (t) => {
    const { store } = await setup(t, factory);
    const value = Uint8Array.of(1, 2, 3);
    store.putMeta('k', value);
    await store.flush();
    const got = (await store.getMeta('k'))!;
    got[0] = 99;
    t.deepEqual(await store.getMeta('k'), Uint8Array.of(1, 2, 3));
  });

  it('flushes resolve in call order, each after the writes issued before it', async (t) => {
    const { store, reopen } = await setup(t, factory);
    const order: string[] = [];
    const flushes: Promise<void>[] = [];
    for (let i = 0; i < 5; i++) {
      const params = paramsFor(10 + i);
      store.putRecord(recordFor(params));
      store.putState(channelId(params), signedFor(params, BigInt(i)));
      flushes.push(store.flush().then(() => void order.push(`flush ${i}`)));
      if (i % 2 === 1) await new Promise((resolve) => setImmediate(resolve)); // some flushes span ticks
    }
    await Promise.all(flushes);
    t.deepEqual(order, ['flush 0', 'flush 1', 'flush 2', 'flush 3', 'flush 4']);
    t.is((await (await reopen()).load()).length, 5);
  });

  it('a flush with nothing to write resolves, and repeated flushes are harmless', async (t) => {
    const { store } = await setup(t, factory);
    await store.flush();
    await Promise.all([store.flush(), store.flush(), store.flush()]);
    t.pass();
  });

  it('1000 channels written in one tick share one flush and all survive a restart', async (t) => {
    const { store, reopen } = await setup(t, factory);
    const n = 1000;
    const ids: Bytes32[] = [];
    for (let i = 0; i < n; i++) {
      const params = paramsFor(1000 + i);
      const id = channelId(params);
      ids.push(id);
      store.putRecord(recordFor(params));
      store.putState(id, signedFor(params, BigInt(i)));
    }
    await store.flush();
    const loaded = await (await reopen()).load();
    t.is(loaded.length, n);
    t.deepEqual(
      loaded.map((c) => c.record.id),
      [...ids].sort(),
      'loaded in id order',
    );
    for (const c of loaded) {
      const i = ids.indexOf(c.record.id);
      t.is(c.latest?.state.version, BigInt(i));
    }
  });

  it('invalid writes throw synchronously, write nothing and do not fail the next flush', async (t) => {
    const { store, reopen } = await setup(t, factory);
    const params = paramsFor(5);
    const id = channelId(params);
    const other = channelId(paramsFor(6));
    const bad: [string, () => void][] = [
      ['a state for another channel', () => store.putState(other, signedFor(params, 1n))],
      ['a balance above uint256', () => store.putState(id, signedFor(params, 1n, { balances: [[MAX_UINT256 + 1n, 0n]] }))],
      ['a version above uint64', () => store.putState(id, signedFor(params, MAX_UINT64 + 1n))],
      ['a negative amount', () => store.putRecord(recordFor(params, { burnedVersion: -1n }))],
      ['a short signature', () => store.putState(id, { ...signedFor(params, 1n), signatures: [new Uint8Array(64), new Uint8Array(65)] })],
      ['a bad channel id', () => store.putState('0x1234' as Bytes32, signedFor(params, 1n))],
      ['a fractional createdAt', () => store.putRecord(recordFor(params, { createdAt: 1.5 }))],
      ['an unknown status', () => store.putRecord(recordFor(params, { status: 'lost' as 'open' }))],
      ['an empty meta key', () => store.putMeta('', Uint8Array.of(1))],
      ['an oversized meta key', () => store.putMeta('k'.repeat(5000), Uint8Array.of(1))],
    ];
    for (const [what, write] of bad) t.throws(write, { instanceOf: InvalidArgumentError }, what);
    await t.notThrowsAsync(store.flush());
    t.deepEqual(await (await reopen()).load(), []);
  });

  it('a state without its record is not a channel', async (t) => {
    const { store, reopen } = await setup(t, factory);
    const params = paramsFor(7);
    store.putState(channelId(params), signedFor(params, 1n));
    await store.flush();
    t.deepEqual(await (await reopen()).load(), []);
  });

  it('close flushes; afterwards writes throw and reads reject; closing twice is fine', async (t) => {
    const harness = await factory();
    t.teardown(() => harness.cleanup());
    const store = await harness.open();
    const params = paramsFor(8);
    store.putRecord(recordFor(params));
    store.putMeta('m', Uint8Array.of(1));
    await store.close();
    await store.close();
    t.throws(() => store.putRecord(recordFor(params)), { message: /closed/ });
    await t.throwsAsync(store.load(), { message: /closed/ });
    await t.throwsAsync(store.getMeta('m'), { message: /closed/ });
    await t.throwsAsync(store.flush(), { message: /closed/ });
    const reopened = await harness.open();
    t.is((await reopened.load()).length, 1, 'close flushed the writes issued before it');
    t.deepEqual(await reopened.getMeta('m'), Uint8Array.of(1));
    await reopened.close();
  });
}
