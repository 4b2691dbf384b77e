/** The stream client's table of calls in flight (stream-frames.ts): a Map's contract, by id. */
import test from 'ava';
import { IdMap } from '../../src/sdk/stream-frames.ts';

test('IdMap: set, get, has, delete, size, and values in id order as a copy', (t) => {
  const m = new IdMap<string>();
  t.is(m.size, 0);
  for (const id of [3, 1, 2, 2 ** 40]) m.set(id, `v${id}`);
  m.set(1, 'one'); // replaced, not counted twice
  t.is(m.size, 4);
  t.is(m.get(1), 'one');
  t.true(m.has(2));
  t.false(m.has(5));
  t.is(m.get(5), undefined);
  const values = m.values();
  t.deepEqual(values, ['one', 'v2', 'v3', `v${2 ** 40}`]);
  for (const id of [1, 2, 3]) t.true(m.delete(id)); // while going through the copy
  t.false(m.delete(1));
  t.is(m.size, 1);
  t.deepEqual(m.values(), [`v${2 ** 40}`]);
  t.is(values.length, 4, 'the copy is unchanged');
});
