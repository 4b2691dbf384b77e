import test from 'ava';
import type { Input, Machine } from '../../src/core/channel/index.ts';
import { Channel } from '../../src/node/channel.ts';
import { TURN_BUDGET_MS } from '../../src/runtime/turns.ts';

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

const TICK: Input = { kind: 'tick', operationTimeoutMs: 1000 };

test('channel inputs queued in one turn yield to the event loop once the turn has used its budget', async (t) => {
  let done = 0;
  const channels = Array.from(
    { length: 20 },
    () =>
      new Channel({} as Machine, () => {
        busy(TURN_BUDGET_MS / 2);
        done++;
      }),
  );
  let immediateRanAfter: number | undefined;
  // Scheduled before any input: without a budget every step would run first, in this turn.
  setImmediate(() => {
    immediateRanAfter = done;
  });
  for (const ch of channels) ch.input(TICK);
  await Promise.all(channels.map((ch) => ch.idle()));
  t.is(done, 20);
  t.not(immediateRanAfter, undefined);
  t.true(immediateRanAfter! < 20, `the loop turned after ${immediateRanAfter} of 20 steps`);
  t.true(immediateRanAfter! >= 1, 'the first steps run at once');
});

test("one channel's inputs run one at a time, in order, across turns, and an input queued by a step runs after it", async (t) => {
  const order: number[] = [];
  let running = 0;
  const ch: Channel = new Channel({} as Machine, (_c, input) => {
    t.is(running++, 0, 'never two steps of one channel at once');
    busy(TURN_BUDGET_MS / 3);
    const n = (input as { operationTimeoutMs: number }).operationTimeoutMs;
    order.push(n);
    if (n === 3) ch.input({ kind: 'tick', operationTimeoutMs: 100 }); // queued by a step
    running--;
  });
  for (let i = 0; i < 12; i++) ch.input({ kind: 'tick', operationTimeoutMs: i });
  await ch.idle();
  t.deepEqual(order, [...Array.from({ length: 12 }, (_, i) => i), 100]);
});
