/** The forwarding decision: every rule a hop enforces on an incoming routed lock, each with its reason. */
import test from 'ava';
import {
  DEFAULT_TIMING,
  type ForwardPolicy,
  type NextChannel,
  decideForward,
  forwardFee,
  settlesOffChain,
} from '../../../src/core/forwarding/index.ts';
import type { Address, Lock } from '../../../src/core/index.ts';

const ETH = '0x0000000000000000000000000000000000000000' as Address;
const USD = '0x00000000000000000000000000000000000000aa' as Address;
const NOW = 1_700_000_000n;
const policy: ForwardPolicy = { enabled: true, baseFee: 10n, feePpm: 1000n, minAmount: 1n, maxAmount: 10n ** 18n, maxLocks: 483 };
const next: NextChannel = {
  channelId: `0x${'0c'.repeat(32)}`,
  open: true,
  assets: [USD, ETH],
  spendable: [0n, 10_000n],
  locks: 0,
  policy,
};
const incoming = (amount: bigint, expiry = NOW + 600n): Lock => ({
  id: 1n,
  asset: 0,
  amount,
  sender: 0,
  receiver: 1,
  hashlock: `0x${'11'.repeat(32)}`,
  expiry,
});
const fwd = (amount: bigint) => ({ kind: 'forward' as const, channelId: next.channelId, amount });
const decide = (o: Partial<Parameters<typeof decideForward>[0]>) =>
  decideForward({ incoming: incoming(1011n), asset: ETH, payload: fwd(1000n), next, now: NOW, ...o });
const reason = (d: ReturnType<typeof decideForward>) => (d.action === 'fail' ? d.reason : d.action);

test('a lock paying our fee is forwarded with the same hashlock and expiry, the asset by its index on the next channel', (t) => {
  t.is(forwardFee(policy, 1000n), 11n);
  t.deepEqual(decide({}), {
    action: 'forward',
    channelId: next.channelId,
    lock: { asset: 1, amount: 1000n, hashlock: incoming(0n).hashlock, expiry: NOW + 600n },
    fee: 11n,
  });
});

test('each rule refuses with its reason', (t) => {
  t.is(reason(decide({ incoming: incoming(1010n) })), 'fee-insufficient', 'one short of base + ppm (rounded up)');
  t.is(reason(decide({ incoming: incoming(900n) })), 'fee-insufficient', 'less than what it forwards');
  t.is(reason(decide({ next: undefined })), 'unknown-next-channel');
  t.is(reason(decide({ next: { ...next, open: false } })), 'unknown-next-channel');
  t.is(reason(decide({ next: { ...next, policy: { ...policy, enabled: false } } })), 'channel-disabled');
  t.is(reason(decide({ asset: `0x${'ee'.repeat(20)}` })), 'asset-mismatch');
  t.is(reason(decide({ payload: fwd(0n), incoming: incoming(11n) })), 'amount-below-minimum');
  t.is(reason(decide({ next: { ...next, policy: { ...policy, maxAmount: 999n } } })), 'amount-above-maximum');
  t.is(reason(decide({ next: { ...next, spendable: [0n, 999n] } })), 'temporary-channel-failure');
  t.is(reason(decide({ next: { ...next, locks: 483 } })), 'temporary-channel-failure');
  const soon = NOW + DEFAULT_TIMING.registrationMargin + DEFAULT_TIMING.minRouteWindow;
  t.is(reason(decide({ incoming: incoming(1011n, soon) })), 'expiry-too-soon', 'no time left to register the secret');
  t.is(reason(decide({ incoming: incoming(1011n, soon + 1n) })), 'forward');
  t.is(reason(decide({ incoming: incoming(1011n, NOW + DEFAULT_TIMING.maxExpiryAhead + 1n) })), 'expiry-too-far');
});

test('the payee takes a lock of at least the amount the payer meant, with time to register the secret', (t) => {
  t.deepEqual(decide({ payload: { kind: 'final', amount: 1000n }, incoming: incoming(1000n) }), { action: 'receive', amount: 1000n });
  t.is(reason(decide({ payload: { kind: 'final', amount: 1000n }, incoming: incoming(999n) })), 'incorrect-payment-details');
  t.is(reason(decide({ payload: { kind: 'final', amount: 1n }, incoming: incoming(1n, NOW + 60n) })), 'expiry-too-soon');
});

test('a lock settles off-chain only until its expiry less the registration margin', (t) => {
  const e = NOW + 1000n;
  t.true(settlesOffChain(e, e - DEFAULT_TIMING.registrationMargin - 1n, DEFAULT_TIMING));
  t.false(settlesOffChain(e, e - DEFAULT_TIMING.registrationMargin, DEFAULT_TIMING));
});
