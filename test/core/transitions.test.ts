import test from 'ava';
import {
  type ChannelState,
  type Op,
  MAX_LOCKS,
  MAX_OPS,
  MAX_UINT256,
  MAX_UINT64,
  addLock,
  applyUpdate,
  bytesToHex,
  cancelLock,
  finalize,
  keccak256,
  pay,
  payMany,
  settleLock,
  swap,
  totals,
} from '../../src/core/index.ts';
import { makeParams, makeState, makeSwapParams } from '../helpers/factories.ts';

const params = makeSwapParams();
const NOW = 1_700_000_000n;
const SECRET = `0x${'11'.repeat(32)}` as const;
const HASHLOCK = bytesToHex(keccak256(Uint8Array.from({ length: 32 }, () => 0x11)));
const lockOf = (over: Partial<Parameters<typeof addLock>[3]> = {}) => ({
  id: 7n,
  asset: 0,
  amount: 100n,
  sender: 0 as const,
  receiver: 1 as const,
  hashlock: HASHLOCK,
  expiry: NOW + 600n,
  ...over,
});
const base = makeState(params);
const withLock: ChannelState = (() => {
  const r = addLock(params, base, 1n, lockOf(), { now: NOW });
  if (!r.ok) throw new Error(r.detail);
  return r.value;
})();

test('a payment moves funds, bumps the version by one and keeps the total', (t) => {
  const r = pay(params, base, { id: 1n, from: 0, asset: 1, amount: 250n });
  if (!r.ok) return t.fail(r.detail);
  t.deepEqual(r.value.balances[1], [750n, 1250n]);
  t.is(r.value.version, base.version + 1n);
  t.deepEqual(totals(r.value), totals(base));
  t.deepEqual(base.balances[1], [1000n, 1000n], 'the input state is unchanged');
});

test('several payments in both directions are one update', (t) => {
  const r = payMany(params, base, [
    { id: 1n, from: 0, asset: 0, amount: 10n },
    { id: 2n, from: 1, asset: 0, amount: 3n },
    { id: 3n, from: 0, asset: 2, amount: 1000n },
  ]);
  if (!r.ok) return t.fail(r.detail);
  t.is(r.value.version, 1n);
  t.deepEqual(r.value.balances, [
    [993n, 1007n],
    [1000n, 1000n],
    [0n, 2000n],
  ]);
});

test('a swap exchanges both legs in one version', (t) => {
  const r = swap(
    params,
    base,
    { id: 1n, by: 1, giveAsset: 1, giveAmount: 300n, takeAsset: 2, takeAmount: 50n, expiry: NOW + 10n },
    { now: NOW },
  );
  if (!r.ok) return t.fail(r.detail);
  t.deepEqual(r.value.balances[1], [1300n, 700n]);
  t.deepEqual(r.value.balances[2], [950n, 1050n]);
});

test('a lock is settled with its secret or cancelled after expiry', (t) => {
  t.deepEqual(withLock.balances[0], [900n, 1000n]);
  t.deepEqual(totals(withLock), totals(base));
  const settled = settleLock(params, withLock, { id: 2n, by: 1, lockId: 7n, secret: SECRET }, { now: NOW });
  if (!settled.ok) return t.fail(settled.detail);
  t.deepEqual(settled.value.balances[0], [900n, 1100n]);
  t.is(settled.value.locks.length, 0);
  const cancelled = cancelLock(params, withLock, { id: 2n, by: 0, lockId: 7n }, { now: NOW + 600n });
  if (!cancelled.ok) return t.fail(cancelled.detail);
  t.deepEqual(cancelled.value.balances[0], [1000n, 1000n]);
  const given = cancelLock(params, withLock, { id: 2n, by: 1, lockId: 7n }, { now: NOW });
  t.true(given.ok, 'the receiver may give a lock back before its expiry');
});

test('finalize marks the state final and nothing may follow', (t) => {
  const f = finalize(params, base, { id: 1n, by: 1 });
  if (!f.ok) return t.fail(f.detail);
  t.true(f.value.isFinal);
  const after = pay(params, f.value, { id: 2n, from: 0, asset: 0, amount: 1n });
  t.like(after, { ok: false, reason: 'channel-final' });
});

const shares = base.balances;
/** Version 0's funding: each participant deposits its 1,000 of asset 0. */
const funding = [
  { asset: 0, participant: 0 as const, amount: 1000n, holdingsAfter: 1000n },
  { asset: 0, participant: 1 as const, amount: 1000n, holdingsAfter: 2000n },
];
const credit = (state: ChannelState, op: Omit<Extract<Op, { kind: 'deposit' }>, 'kind'>, deposits: typeof funding) =>
  applyUpdate(params, state, [{ kind: 'deposit', ...op }], { now: NOW, deposits, shares });

test('a top-up credits the next on-chain deposit in chain order', (t) => {
  const deposits = [
    ...funding,
    { asset: 0, participant: 1 as const, amount: 500n, holdingsAfter: 2500n },
    { asset: 0, participant: 0 as const, amount: 70n, holdingsAfter: 2570n },
  ];
  const first = credit(base, { id: 1n, by: 1, asset: 0, amount: 500n, holdingsAfter: 2500n }, deposits);
  if (!first.ok) return t.fail(first.detail);
  t.deepEqual(first.value.balances[0], [1000n, 1500n]);
  t.true(credit(first.value, { id: 2n, by: 0, asset: 0, amount: 70n, holdingsAfter: 2570n }, deposits).ok);
  t.like(credit(base, { id: 1n, by: 0, asset: 0, amount: 70n, holdingsAfter: 2570n }, deposits), {
    ok: false,
    reason: 'deposit-exceeds-holdings',
  });
  t.like(
    credit(first.value, { id: 3n, by: 1, asset: 0, amount: 500n, holdingsAfter: 2500n }, deposits),
    { ok: false, reason: 'deposit-exceeds-holdings' },
    'a deposit cannot be credited twice',
  );
});

test('either participant may credit a deposit: it goes to the participant the chain names', (t) => {
  const deposits = [...funding, { asset: 0, participant: 1 as const, amount: 300n, holdingsAfter: 2300n }];
  const byLeader = credit(base, { id: 1n, by: 0, asset: 0, amount: 300n, holdingsAfter: 2300n }, deposits);
  if (!byLeader.ok) return t.fail(byLeader.detail);
  t.deepEqual(byLeader.value.balances[0], [1000n, 1300n], 'credited to participant 1, whoever proposed it');
});

test("a stranger's deposit during funding, and an over-deposit, are surpluses credited after opening", (t) => {
  // A griefer deposits 1 for participant 1 before anyone; participant 0 then over-deposits by 5.
  const deposits = [
    { asset: 0, participant: 1 as const, amount: 1n, holdingsAfter: 1n },
    { asset: 0, participant: 0 as const, amount: 1005n, holdingsAfter: 1006n },
    { asset: 0, participant: 1 as const, amount: 1000n, holdingsAfter: 2006n },
  ];
  // Participant 1's 1 + 1000 fill its share of 1000 with 1 to spare; participant 0's 5 is surplus.
  const first = credit(base, { id: 1n, by: 1, asset: 0, amount: 5n, holdingsAfter: 1006n }, deposits);
  if (!first.ok) return t.fail(first.detail);
  const second = credit(first.value, { id: 2n, by: 0, asset: 0, amount: 1n, holdingsAfter: 2006n }, deposits);
  if (!second.ok) return t.fail(second.detail);
  t.deepEqual(second.value.balances[0], [1005n, 1001n]);
  t.is(totals(second.value)[0], 2006n, 'the state now allocates everything the chain holds');
  t.like(credit(second.value, { id: 3n, by: 0, asset: 0, amount: 1n, holdingsAfter: 2006n }, deposits), { ok: false });
});

const manyLocks: ChannelState = {
  ...base,
  locks: Array.from({ length: MAX_LOCKS }, (_, i) => ({ ...lockOf({ id: BigInt(i + 100), amount: 1n }) })),
};
const full: ChannelState = {
  ...base,
  balances: [
    [MAX_UINT256, 1n],
    [1n, 1n],
    [1n, 1n],
  ],
};

/** Every rejection a transition can produce, with an input that produces it. */
const rejections: { reason: string; title: string; state?: ChannelState; ops: Op[]; now?: bigint }[] = [
  { reason: 'unknown-asset', title: 'payment in an asset the channel lacks', ops: [{ kind: 'pay', id: 1n, by: 0, asset: 3, amount: 1n }] },
  { reason: 'invalid-amount', title: 'zero payment', ops: [{ kind: 'pay', id: 1n, by: 0, asset: 0, amount: 0n }] },
  { reason: 'invalid-amount', title: 'negative payment', ops: [{ kind: 'pay', id: 1n, by: 0, asset: 0, amount: -5n }] },
  { reason: 'invalid-amount', title: 'payment above uint256', ops: [{ kind: 'pay', id: 1n, by: 0, asset: 0, amount: MAX_UINT256 + 1n }] },
  { reason: 'insufficient-balance', title: 'paying more than held', ops: [{ kind: 'pay', id: 1n, by: 1, asset: 0, amount: 1001n }] },
  {
    reason: 'overflow',
    title: 'receiving past uint256 (a state whose total already exceeds uint256, which checkState refuses on receipt)',
    state: full,
    ops: [{ kind: 'pay', id: 1n, by: 1, asset: 0, amount: 1n }],
  },
  {
    reason: 'invalid-swap',
    title: 'swap of an asset for itself',
    ops: [{ kind: 'swap', id: 1n, by: 0, giveAsset: 1, giveAmount: 1n, takeAsset: 1, takeAmount: 1n, expiry: NOW + 1n }],
  },
  {
    reason: 'swap-expired',
    title: 'swap after its expiry',
    ops: [{ kind: 'swap', id: 1n, by: 0, giveAsset: 1, giveAmount: 1n, takeAsset: 2, takeAmount: 1n, expiry: NOW }],
  },
  {
    reason: 'insufficient-balance',
    title: 'swap whose counterparty leg is unfunded (atomic: neither leg moves)',
    ops: [{ kind: 'swap', id: 1n, by: 0, giveAsset: 1, giveAmount: 1n, takeAsset: 2, takeAmount: 1001n, expiry: NOW + 1n }],
  },
  {
    reason: 'invalid-expiry',
    title: 'swap expiry above uint64',
    ops: [{ kind: 'swap', id: 1n, by: 0, giveAsset: 1, giveAmount: 1n, takeAsset: 2, takeAmount: 1n, expiry: MAX_UINT64 + 1n }],
  },
  { reason: 'not-authorized', title: 'a lock sent by the other participant', ops: [{ kind: 'lock', id: 1n, by: 1, lock: lockOf() }] },
  { reason: 'malformed', title: 'a lock to oneself', ops: [{ kind: 'lock', id: 1n, by: 0, lock: lockOf({ receiver: 0 }) }] },
  { reason: 'invalid-expiry', title: 'a lock already expired', ops: [{ kind: 'lock', id: 1n, by: 0, lock: lockOf({ expiry: NOW }) }] },
  { reason: 'duplicate-lock', title: 'a lock id used twice', state: withLock, ops: [{ kind: 'lock', id: 1n, by: 0, lock: lockOf() }] },
  {
    reason: 'too-many-locks',
    title: 'one lock too many',
    state: manyLocks,
    ops: [{ kind: 'lock', id: 1n, by: 0, lock: lockOf({ id: 1n }) }],
  },
  {
    reason: 'insufficient-balance',
    title: 'locking more than held',
    ops: [{ kind: 'lock', id: 1n, by: 0, lock: lockOf({ amount: 1001n }) }],
  },
  {
    reason: 'unknown-lock',
    title: 'settling a lock that does not exist',
    ops: [{ kind: 'settle', id: 1n, by: 1, lockId: 99n, secret: SECRET }],
  },
  {
    reason: 'wrong-secret',
    title: 'settling with the wrong secret',
    state: withLock,
    ops: [{ kind: 'settle', id: 1n, by: 1, lockId: 7n, secret: `0x${'22'.repeat(32)}` }],
  },
  {
    reason: 'lock-expired',
    title: 'settling at the expiry',
    state: withLock,
    now: NOW + 600n,
    ops: [{ kind: 'settle', id: 1n, by: 1, lockId: 7n, secret: SECRET }],
  },
  {
    reason: 'lock-not-expired',
    title: 'the sender cancelling early',
    state: withLock,
    ops: [{ kind: 'cancel', id: 1n, by: 0, lockId: 7n }],
  },
  { reason: 'unknown-lock', title: 'cancelling a lock that does not exist', ops: [{ kind: 'cancel', id: 1n, by: 0, lockId: 1n }] },
  { reason: 'pending-locks', title: 'finalising with a pending lock', state: withLock, ops: [{ kind: 'finalize', id: 1n, by: 0 }] },
  {
    reason: 'channel-final',
    title: 'any update after final',
    state: { ...base, isFinal: true },
    ops: [{ kind: 'pay', id: 1n, by: 0, asset: 0, amount: 1n }],
  },
  {
    reason: 'deposit-exceeds-holdings',
    title: 'a top-up the chain never saw',
    ops: [{ kind: 'deposit', id: 1n, by: 0, asset: 0, amount: 1n, holdingsAfter: 2001n }],
  },
  {
    reason: 'too-many-ops',
    title: 'an update with too many operations',
    ops: Array.from({ length: MAX_OPS + 1 }, (_, i): Op => ({ kind: 'pay', id: BigInt(i), by: 0, asset: 0, amount: 1n })),
  },
  {
    reason: 'overflow',
    title: 'a version at the uint64 limit',
    state: { ...base, version: MAX_UINT64 },
    ops: [{ kind: 'pay', id: 1n, by: 0, asset: 0, amount: 1n }],
  },
];

for (const c of rejections) {
  test(`rejects ${c.title} as ${c.reason}`, (t) => {
    const state = c.state ?? base;
    const snapshot = structuredClone(state);
    const r = applyUpdate(params, state, c.ops, { now: c.now ?? NOW });
    t.false(r.ok);
    if (!r.ok) {
      t.is(r.reason, c.reason as typeof r.reason, r.detail);
      t.true(r.detail.length > 0);
    }
    t.deepEqual(state, snapshot, 'the input state is unchanged');
  });
}

test('a one-asset payment channel rejects a second asset', (t) => {
  const p = makeParams();
  t.like(pay(p, makeState(p), { id: 1n, from: 0, asset: 1, amount: 1n }), { ok: false, reason: 'unknown-asset' });
});
