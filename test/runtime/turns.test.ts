import test from 'ava';
import { Channel } from '../../src/node/channel.ts';
import { TURN_BUDGET_MS } from '../../src/runtime/turns.ts';
import type { ChannelRecord } from '../../src/store/store.ts';

const channel = (): Channel => new Channel({} as ChannelRecord);

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

test('channel steps started in one turn yield to the event loop once the turn has used its budget', async (t) => {
  const channels = Array.from({ length: 20 }, channel);
  let immediateRanAfter: number | undefined;
  let done = 0;
  // Scheduled before any step: without a budget every step would run first, in this turn.
  setImmediate(() => {
    immediateRanAfter = done;
  });
  await Promise.all(
    channels.map((ch) =>
      ch.run(() => {
        busy(TURN_BUDGET_MS / 2);
        done++;
      }),
    ),
  );
  t.is(done, 20);
  t.not(immediateRanAfter, undefined);
  t.true(immediateRanAfter! < 20, `the loop turned after ${immediateRanAfter} of 20 steps`);
  t.true(immediateRanAfter! >= 1, 'the first steps run at once');
});

test("one channel's steps still run one at a time, in order, across turns", async (t) => {
  const ch = channel();
  const order: number[] = [];
  let running = 0;
  await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      ch.run(async () => {
        t.is(running++, 0, 'never two steps of one channel at once');
        busy(TURN_BUDGET_MS / 3);
        await new Promise((r) => setImmediate(r));
        order.push(i);
        running--;
      }),
    ),
  );
  t.deepEqual(
    order,
    Array.from({ length: 12 }, (_, i) => i),
  );
});

test('a failing step rejects its caller and does not stop the steps after it', async (t) => {
  const ch = channel();
  busy(TURN_BUDGET_MS + 1); // start past the budget: the steps below are deferred
  const first = ch.run(() => {
    throw new Error('boom');
  });
  const second = ch.run(() => 7);
  await t.throwsAsync(first, { message: 'boom' });
  t.is(await second, 7);
});
