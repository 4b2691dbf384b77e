/**
 * Admission against the real adjudicator on EDR: every item the coordinator would spend gas on
 * must be one the chain can settle today; everything else is refused with a reason.
 */
import test from 'ava';
import { challengeItem, closeItem, concludeItem } from '../../src/chain/encode.ts';
import { type ChannelParams, type Lock, hexToBytes, keccak256Hex } from '../../src/core/index.ts';
import { type WatchedLocks, admit } from '../../src/coordinator/admission.ts';
import { type TestChain, alice, b32, bob, fund, mallory, setupChain, sign, stateOf } from '../helpers/chain.ts';

let tc: TestChain;
const none: WatchedLocks = { lockExpiry: () => undefined };

test.before(async () => {
  tc = await setupChain();
});

const reason = (r: { ok: boolean; reason?: string }) => (r.ok ? 'ok' : r.reason);

async function funded(flat: readonly bigint[] = [10n, 0n], overrides: Partial<ChannelParams> = {}): Promise<ChannelParams> {
  const p = tc.params(alice, bob, overrides);
  await fund(tc, p, flat);
  return p;
}

test.serial('closes and disputes of a channel nobody funded are refused: there is nothing to pay out', async (t) => {
  const p = tc.params(mallory, bob); // made up, never funded
  const signed = sign(p, stateOf(p, 3n, [1n, 1n], { isFinal: true }), [mallory, bob]);
  t.is(reason(await admit({ kind: 'close', params: p, signed }, tc.svc.irene, none)), 'unknown-channel');
  t.is(reason(await admit({ kind: 'dispute', params: p, signed }, tc.svc.irene, none)), 'unknown-channel');
  t.is(reason(await admit({ kind: 'watch', params: p, signed }, tc.svc.irene, none)), 'unknown-channel');
});

test.serial('a close is admitted only if the channel holds what it pays, and is open', async (t) => {
  const p = await funded([10n, 0n]);
  const fits = sign(p, stateOf(p, 3n, [4n, 6n], { isFinal: true }), [alice, bob]);
  const greedy = sign(p, stateOf(p, 3n, [10n, 10n], { isFinal: true }), [alice, bob]);
  t.is(reason(await admit({ kind: 'close', params: p, signed: fits }, tc.svc.irene, none)), 'ok');
  t.is(reason(await admit({ kind: 'close', params: p, signed: greedy }, tc.svc.irene, none)), 'deposit-exceeds-holdings');
  await tc.svc.alice.closeBatch([closeItem(p, fits)]);
  t.is(reason(await admit({ kind: 'close', params: p, signed: fits }, tc.svc.irene, none)), 'closed');
});

test.serial('a dispute must be newer than the registered state, within its period', async (t) => {
  const p = await funded([10n, 0n], { challengeDuration: 100n });
  const v2 = sign(p, stateOf(p, 2n, [5n, 5n]), [alice, bob]);
  const v3 = sign(p, stateOf(p, 3n, [2n, 8n]), [alice, bob]);
  t.is(reason(await admit({ kind: 'dispute', params: p, signed: v2 }, tc.svc.irene, none)), 'ok', 'nothing registered yet');
  await tc.svc.alice.challengeBatch([challengeItem(p, v2)]);
  t.is(
    reason(await admit({ kind: 'dispute', params: p, signed: v2 }, tc.svc.irene, none)),
    'stale-version',
    'the cheater re-queues what she registered',
  );
  t.is(reason(await admit({ kind: 'dispute', params: p, signed: v3 }, tc.svc.irene, none)), 'ok');
  await tc.chain.increaseTime(101);
  t.is(reason(await admit({ kind: 'dispute', params: p, signed: v3 }, tc.svc.irene, none)), 'closed', 'too late: only a conclusion now');
});

test.serial(
  'a conclusion must be exactly the registered state, and waits for its period only (its locks are unlocked after)',
  async (t) => {
    const p = await funded([10n, 0n], { challengeDuration: 100n });
    const now = BigInt((await tc.deployer.publicClient.getBlock()).timestamp);
    const lock: Lock = { id: 1n, asset: 0, amount: 1n, sender: 0, receiver: 1, hashlock: b32(0x42), expiry: now + 10_000n };
    const state = stateOf(p, 4n, [5n, 4n], { locks: [lock] });
    const never = await funded([10n, 0n]);
    t.is(
      reason(await admit({ kind: 'conclude', params: never, state: stateOf(never, 1n, [10n, 0n]) }, tc.svc.irene, none)),
      'state-mismatch',
      'never challenged: nothing to conclude',
    );
    const r = await tc.svc.alice.challengeBatch([challengeItem(p, sign(p, state, [alice, bob]))]);
    t.true(r.items[0]!.ok);
    const junk = { ...state, balances: [[9n, 0n]] as [bigint, bigint][] };
    t.is(reason(await admit({ kind: 'conclude', params: p, state: junk }, tc.svc.irene, none)), 'state-mismatch', 'a made-up state');
    const good = await admit({ kind: 'conclude', params: p, state }, tc.svc.irene, none);
    const d = (await tc.svc.irene.dispute(state.channelId))!;
    t.true(lock.expiry > d.finalizesAt);
    t.is(good.ok ? good.value.notBeforeChain : undefined, d.finalizesAt, 'due when the period ends, whatever its locks');
    // And the adjudicator agrees: before the period ends it refuses, after it pays the balances.
    const early = await tc.svc.alice.concludeBatch([concludeItem(p, state)]);
    t.deepEqual(early.items[0], { channelId: state.channelId, ok: false, reason: 'challenge-pending' });
    await tc.chain.increaseTime(101);
    const due = await tc.svc.alice.concludeBatch([concludeItem(p, state)]);
    t.deepEqual(due.items[0], { channelId: state.channelId, ok: true });
  },
);

test.serial('reveals only of secrets whose hashlocks are in watched states, unexpired and not yet revealed', async (t) => {
  const secret = b32(0x07);
  const hashlock = keccak256Hex(hexToBytes(secret));
  const other = b32(0x08);
  const now = BigInt((await tc.deployer.publicClient.getBlock()).timestamp);
  const watched = (expiry: bigint): WatchedLocks => ({ lockExpiry: (h) => (h === hashlock ? expiry : undefined) });
  t.is(reason(await admit({ kind: 'reveal', secrets: [secret] }, tc.svc.irene, none)), 'unknown-lock', 'an arbitrary secret');
  t.is(reason(await admit({ kind: 'reveal', secrets: [secret, other] }, tc.svc.irene, watched(now + 1000n))), 'unknown-lock');
  t.is(reason(await admit({ kind: 'reveal', secrets: [secret] }, tc.svc.irene, watched(now - 1n))), 'lock-expired');
  const ok = await admit({ kind: 'reveal', secrets: [secret, secret] }, tc.svc.irene, watched(now + 1000n));
  t.deepEqual(ok.ok ? ok.value.item : undefined, { kind: 'reveal', secrets: [secret] }, 'duplicates go once');
  await tc.svc.alice.revealSecrets([secret]);
  t.is(reason(await admit({ kind: 'reveal', secrets: [secret] }, tc.svc.irene, watched(now + 1000n))), 'policy', 'already revealed');
});
