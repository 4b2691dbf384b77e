/** The load generator against a scripted node: counting, windows, swaps, failures, merging. */
import test from 'ava';
import type { Address, Bytes32 } from '../../src/core/index.ts';
import { RejectedError } from '../../src/sdk/errors.ts';
import type { ChannelInfo, LanesEvents } from '../../src/sdk/api.ts';
import { LoadGenerator, type LoadSnapshot } from '../../src/load/load-generator.ts';
import { parseLoadSpec } from '../../src/load/load-spec.ts';
import { aggregate } from '../../src/testnet/run.ts';

const ETH = `0x${'00'.repeat(20)}` as Address;
const TOKEN = `0x${'11'.repeat(20)}` as Address;
const payCh = `0x${'aa'.repeat(32)}` as Bytes32;
const swapCh = `0x${'bb'.repeat(32)}` as Bytes32;

function fakeNode(o: { failEvery?: number; delayMs?: number } = {}) {
  const listeners: ((e: LanesEvents['channel-updated']) => void)[] = [];
  const calls = { pay: 0, swap: 0, swapGive: [] as Address[] };
  let version = 0n;
  const settle = async <T>(value: T): Promise<T> => {
    await new Promise((r) => setTimeout(r, o.delayMs ?? 1));
    const n = calls.pay + calls.swap;
    if (o.failEvery && n % o.failEvery === 0) throw new RejectedError('insufficient-balance', 'scripted');
    version++;
    for (const l of listeners) l({ channelId: payCh, version, operations: 1 });
    return value;
  };
  const api = {
    channel: async (id: Bytes32) =>
      ({
        id,
        status: 'open',
        role: id === payCh ? 'leader' : 'follower',
        assets: id === payCh ? [ETH] : [ETH, TOKEN],
      }) as unknown as ChannelInfo,
    pay: (id: Bytes32) => {
      calls.pay++;
      return settle({ channelId: id, id: 1n, version, asset: ETH, amount: 1n });
    },
    swap: (id: Bytes32, p: { give: { asset: Address } }) => {
      calls.swap++;
      calls.swapGive.push(p.give.asset);
      return settle({ channelId: id, id: 1n, version, give: { asset: ETH, amount: 1n }, take: { asset: TOKEN, amount: 1n } });
    },
    on: (_e: 'channel-updated', l: (e: LanesEvents['channel-updated']) => void) => {
      listeners.push(l);
      return () => listeners.splice(listeners.indexOf(l), 1);
    },
  };
  return { api: api as never, calls };
}

test('closed loop: counts payments and swaps, alternates swap directions, counts updates on led channels only', async (t) => {
  const node = fakeNode();
  const gen = new LoadGenerator(node.api);
  await gen.start(
    parseLoadSpec({
      channels: [payCh, swapCh],
      concurrency: 4,
      durationMs: 400,
      warmupMs: 100,
      amount: '5',
      swapEvery: 4,
      intervalMs: 100,
    }),
  );
  await gen.finished();
  const s = gen.snapshot(true);
  t.is(s.state, 'done');
  t.is(s.inFlight, 0);
  t.is(s.total.payments + s.total.swaps, node.calls.pay + node.calls.swap);
  t.true(s.total.swaps > 0 && node.calls.swap === s.total.swaps, 'only the two-asset channel swaps');
  t.true(node.calls.swapGive.includes(ETH) && node.calls.swapGive.includes(TOKEN), 'swaps go both ways');
  t.true(s.measured.payments < s.total.payments, 'the warm-up is left out of the measured window');
  t.is(s.measured.windowMs, 300, 'duration minus warm-up');
  t.is(s.measured.latency.count, s.measured.payments + s.measured.swaps);
  t.true(s.total.updates > 0 && s.total.updates <= s.total.payments + s.total.swaps);
  t.true(s.intervals.length >= 4);
  t.truthy(s.measured.histogram);
  t.is(
    s.intervals.reduce((a, iv) => a + iv.payments + iv.swaps, 0),
    s.total.payments + s.total.swaps,
    'the timeline adds up',
  );
});

test('failures are counted by reason and the load goes on', async (t) => {
  const node = fakeNode({ failEvery: 5 });
  const gen = new LoadGenerator(node.api);
  await gen.start(parseLoadSpec({ channels: [payCh], concurrency: 2, durationMs: 300, warmupMs: 0, amount: '1' }));
  await gen.finished();
  const s = gen.snapshot();
  t.true((s.total.failures['insufficient-balance'] ?? 0) > 0);
  t.true(s.total.payments > 0);
});

test('open loop keeps the rate; stop ends early; a second start waits for the first to finish', async (t) => {
  const node = fakeNode();
  const gen = new LoadGenerator(node.api);
  await gen.start(parseLoadSpec({ channels: [payCh], concurrency: 100, rate: 200, durationMs: 500, warmupMs: 0, amount: '1' }));
  await t.throwsAsync(gen.start(parseLoadSpec({ channels: [payCh], concurrency: 1, durationMs: 10, amount: '1' })), { message: /already/ });
  await gen.finished();
  const n = gen.snapshot().total.payments;
  t.true(n > 0 && n <= 110, `${n} payments: never more than 200/s for 0.5 s`);
  await gen.start(parseLoadSpec({ channels: [payCh], concurrency: 1, durationMs: 60_000, amount: '1' }));
  const stopped = await gen.stop();
  t.is(stopped.state, 'done');
});

test('a spec from JSON is checked field by field', (t) => {
  t.throws(() => parseLoadSpec({ channels: [], concurrency: 1, durationMs: 1, amount: '1' }), { message: /channels/ });
  t.throws(() => parseLoadSpec({ channels: ['0x12'], concurrency: 1, durationMs: 1, amount: '1' }), { message: /channels\[0\]/ });
  t.throws(() => parseLoadSpec({ channels: [payCh], concurrency: 0, durationMs: 1, amount: '1' }), { message: /concurrency/ });
  t.throws(() => parseLoadSpec({ channels: [payCh], concurrency: 1, durationMs: 1, amount: '-1' }), { message: /amount/ });
  t.throws(() => parseLoadSpec('load'), { message: /JSON object/ });
});

test("merging nodes' snapshots: counts add up and latency histograms merge exactly", async (t) => {
  const runs: LoadSnapshot[] = [];
  for (const delayMs of [1, 20]) {
    const gen = new LoadGenerator(fakeNode({ delayMs }).api);
    await gen.start(parseLoadSpec({ channels: [payCh], concurrency: 2, durationMs: 300, warmupMs: 0, amount: '1', intervalMs: 100 }));
    await gen.finished();
    runs.push(gen.snapshot(true));
  }
  const merged = aggregate(runs, ['fast', 'slow']);
  t.is(merged.payments, runs[0]!.measured.payments + runs[1]!.measured.payments);
  t.is(merged.latency.count, merged.payments);
  const max = Math.max(runs[0]!.measured.latency.max, runs[1]!.measured.latency.max);
  t.true(Math.abs(merged.latency.max - max) <= max * 0.001, 'the max, to the histogram’s 3 significant digits');
  const p50s = runs.map((r) => r.measured.latency.p50).sort((a, b) => a - b);
  t.true(merged.latency.p50 >= p50s[0]! && merged.latency.p50 <= p50s[1]!, 'the merged median lies between the nodes’ medians');
  t.is(merged.perNode.length, 2);
  t.is(
    merged.timeline.reduce((a, p) => a + p.paymentsPerSecond * 0.1, 0),
    runs[0]!.total.payments + runs[1]!.total.payments,
  );
});
