import test from 'ava';
import { defaultSignerWorkers } from '../../src/testnet/network.ts';

test('nodes get a signature worker only when every node can have a core of its own', (t) => {
  t.is(defaultSignerWorkers(2, 2), 1);
  t.is(defaultSignerWorkers(1, 2), 1);
  t.is(defaultSignerWorkers(3, 2), 0);
  t.is(defaultSignerWorkers(4, 2), 0);
  t.is(defaultSignerWorkers(8, 16), 1);
});
