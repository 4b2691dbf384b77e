/** Funding order (src/core/funding.ts): the leader deposits at once, the follower after the leader's share is held. */
import test from 'ava';
import { depositsDue } from '../../src/core/funding.ts';

const deposits: [bigint, bigint][] = [
  [100n, 40n],
  [10n, 5n],
];

test('the leader deposits its whole share at once, and only what is still missing', (t) => {
  t.deepEqual(depositsDue({ deposits, self: 0, deposited: [0n, 0n], holdings: [0n, 0n] }), { due: [100n, 10n], waiting: false });
  t.deepEqual(depositsDue({ deposits, self: 0, deposited: [100n, 4n], holdings: [140n, 4n] }), { due: [0n, 6n], waiting: false });
});

test("the follower waits until every asset holds the leader's share", (t) => {
  t.deepEqual(depositsDue({ deposits, self: 1, deposited: [0n, 0n], holdings: [0n, 0n] }), { due: [0n, 0n], waiting: true });
  t.deepEqual(depositsDue({ deposits, self: 1, deposited: [0n, 0n], holdings: [100n, 9n] }), { due: [0n, 0n], waiting: true });
  t.deepEqual(depositsDue({ deposits, self: 1, deposited: [0n, 0n], holdings: [100n, 10n] }), { due: [40n, 5n], waiting: false });
});

test("the follower's own deposits do not count as the leader's", (t) => {
  // 100 held, but 40 of it is ours: the leader has put in 60 of its 100.
  t.deepEqual(depositsDue({ deposits, self: 1, deposited: [40n, 0n], holdings: [100n, 10n] }), { due: [0n, 0n], waiting: true });
  t.deepEqual(depositsDue({ deposits, self: 1, deposited: [40n, 0n], holdings: [140n, 10n] }), { due: [0n, 5n], waiting: false });
});

test('a leader with nothing to deposit lets the follower deposit at once; a follower with nothing owed never waits', (t) => {
  t.deepEqual(depositsDue({ deposits: [[0n, 7n]], self: 1, deposited: [0n], holdings: [0n] }), { due: [7n], waiting: false });
  t.deepEqual(depositsDue({ deposits: [[9n, 0n]], self: 1, deposited: [0n], holdings: [0n] }), { due: [0n], waiting: false });
});
