import test from 'ava';
import { NATIVE_ASSET, bytesToHex, hexToBytes, keccak256 } from '../../src/core/index.ts';
import type { Lock } from '../../src/core/index.ts';
import { challengeItem, closeItem, concludeItem, unlockItem } from '../../src/chain/encode.ts';
import { ETHER, type TestChain, alice, b32, bob, fund, setupChain, sign, stateOf } from '../helpers/chain.ts';

let tc: TestChain;
test.before(async () => {
  tc = await setupChain();
});

async function funded(flat = [10n * ETHER, 10n * ETHER]) {
  const params = tc.params(alice, bob, { challengeDuration: 600n });
  await fund(tc, params, flat);
  return params;
}

test.serial('a stale state is answered by a newer one, and the channel concludes with the newer one', async (t) => {
  const params = await funded();
  const v3 = sign(params, stateOf(params, 3n, [15n * ETHER, 5n * ETHER]), [alice, bob]);
  const v9 = sign(params, stateOf(params, 9n, [4n * ETHER, 16n * ETHER]), [alice, bob]);
  // Alice registers the old state that favours her...
  const c = await tc.svc.alice.challengeBatch([challengeItem(params, v3)]);
  t.true(c.items[0]!.ok);
  const registered = await tc.svc.alice.dispute(v3.state.channelId);
  t.is(registered?.version, 3n);
  // ...Bob answers with the newer one; an equal or older version is refused.
  t.true((await tc.svc.bob.challengeBatch([challengeItem(params, v9)])).items[0]!.ok);
  t.like((await tc.svc.alice.challengeBatch([challengeItem(params, v3)])).items[0], { ok: false, reason: 'stale-version' });
  t.like((await tc.svc.alice.challengeBatch([challengeItem(params, v9)])).items[0], { ok: false, reason: 'stale-version' });
  const after = await tc.svc.bob.dispute(v3.state.channelId);
  t.is(after?.version, 9n);
  t.is(after?.finalizesAt, registered?.finalizesAt, 'a response does not extend the challenge period');
  // Too early to conclude; then too late to respond; then conclude pays the newer state.
  t.like((await tc.svc.bob.concludeBatch([concludeItem(params, v9.state)])).items[0], { ok: false, reason: 'challenge-pending' });
  await tc.chain.increaseTime(601);
  const v10 = sign(params, stateOf(params, 10n, [10n * ETHER, 10n * ETHER]), [alice, bob]);
  t.like((await tc.svc.alice.challengeBatch([challengeItem(params, v10)])).items[0], { ok: false, reason: 'challenge-expired' });
  t.like((await tc.svc.bob.concludeBatch([concludeItem(params, v3.state)])).items[0], { ok: false, reason: 'state-mismatch' });
  const before = [await tc.ethBalance(alice.address), await tc.ethBalance(bob.address)];
  const r = await tc.svc.irene.concludeBatch([concludeItem(params, v9.state)]);
  t.true(r.items[0]!.ok);
  t.is((await tc.ethBalance(alice.address)) - before[0]!, 4n * ETHER);
  t.is((await tc.ethBalance(bob.address)) - before[1]!, 16n * ETHER);
  t.deepEqual(await tc.svc.irene.holdings(v9.state.channelId, NATIVE_ASSET), { amount: 0n, closed: true });
  t.is(await tc.svc.irene.dispute(v9.state.channelId), undefined);
  t.like((await tc.svc.irene.concludeBatch([concludeItem(params, v9.state)])).items[0], { ok: false, reason: 'not-challenged' });
  t.like((await tc.svc.irene.challengeBatch([challengeItem(params, v10)])).items[0], { ok: false, reason: 'channel-closed' });
});

test.serial('conclude without a challenge, and a challenge of an unfunded channel, are refused', async (t) => {
  const params = await funded();
  const s = stateOf(params, 1n, [10n * ETHER, 10n * ETHER]);
  t.like((await tc.svc.irene.concludeBatch([concludeItem(params, s)])).items[0], { ok: false, reason: 'not-challenged' });
  const empty = tc.params(alice, bob);
  t.like((await tc.svc.irene.challengeBatch([challengeItem(empty, sign(empty, stateOf(empty, 1n, [1n, 1n]), [alice, bob]))])).items[0], {
    ok: false,
    reason: 'unknown-channel',
  });
});

test.serial('locks pay the receiver only when the secret was revealed on-chain before expiry', async (t) => {
  const params = await funded();
  const now = await tc.svc.irene.timestamp();
  const secrets = [b32(0xa1), b32(0xa2), b32(0xa3)];
  const hashlock = (s: `0x${string}`) => bytesToHex(keccak256(hexToBytes(s)));
  const lock = (id: bigint, sender: 0 | 1, amount: bigint, secret: `0x${string}`, expiry: bigint): Lock => ({
    id,
    asset: 0,
    amount,
    sender,
    receiver: sender === 0 ? 1 : 0,
    hashlock: hashlock(secret),
    expiry,
  });
  const locks = [
    lock(1n, 0, 2n * ETHER, secrets[0]!, now + 300n), // revealed in time: to bob
    lock(2n, 0, 1n * ETHER, secrets[1]!, now + 300n), // never revealed: back to alice
    lock(3n, 1, 3n * ETHER, secrets[2]!, now + 100n), // revealed after expiry: back to bob
  ];
  const s = sign(params, stateOf(params, 5n, [5n * ETHER, 9n * ETHER], { locks }), [alice, bob]);
  t.true((await tc.svc.alice.challengeBatch([challengeItem(params, s)])).items[0]!.ok);
  await tc.svc.bob.revealSecrets([secrets[0]!]);
  t.true((await tc.svc.irene.revealedAt(hashlock(secrets[0]!))) > 0n);
  await tc.chain.increaseTime(200);
  await tc.svc.alice.revealSecrets([secrets[2]!, secrets[0]!]); // a second reveal keeps the first time
  await tc.chain.increaseTime(500);
  const before = [await tc.ethBalance(alice.address), await tc.ethBalance(bob.address)];
  const r = await tc.svc.irene.concludeBatch([concludeItem(params, s.state)]);
  t.true(r.items[0]!.ok);
  // The conclusion pays the balances; the locks, proven against the state's root, in one batch.
  const u = await tc.svc.irene.unlockBatch([0, 1, 2].map((i) => unlockItem(params, s.state, i)));
  t.deepEqual(
    u.items.map((i) => i.ok),
    [true, true, true],
  );
  const got = [(await tc.ethBalance(alice.address)) - before[0]!, (await tc.ethBalance(bob.address)) - before[1]!];
  t.deepEqual(got, [5n * ETHER + 1n * ETHER, 9n * ETHER + 2n * ETHER + 3n * ETHER]);
  t.is(got[0]! + got[1]!, 20n * ETHER, 'everything deposited is paid out');
});

test.serial('many channels are challenged and concluded in one call each, with per-item results', async (t) => {
  const channels = [];
  for (let i = 0; i < 5; i++) {
    const params = await funded([ETHER, ETHER]);
    channels.push({ params, signed: sign(params, stateOf(params, BigInt(i + 1), [ETHER / 2n, ETHER + ETHER / 2n]), [alice, bob]) });
  }
  const c = await tc.svc.irene.challengeBatch(channels.map((ch) => challengeItem(ch.params, ch.signed)));
  t.deepEqual(
    c.items.map((i) => i.ok),
    [true, true, true, true, true],
  );
  // A cooperative close still works during a challenge: a final state signed by both wins.
  const first = channels[0]!;
  const final = sign(first.params, stateOf(first.params, 100n, [ETHER, ETHER], { isFinal: true }), [alice, bob]);
  t.true((await tc.svc.irene.closeBatch([closeItem(first.params, final)])).items[0]!.ok);
  await tc.chain.increaseTime(601);
  const r = await tc.svc.irene.concludeBatch(channels.map((ch) => concludeItem(ch.params, ch.signed.state)));
  t.deepEqual(
    r.items.map((i) => (i.ok ? 'ok' : i.reason)),
    ['channel-closed', 'ok', 'ok', 'ok', 'ok'],
  );
});

test.serial('a final state can be registered by challenge and concluded', async (t) => {
  const params = await funded([ETHER, 0n]);
  const s = sign(params, stateOf(params, 4n, [0n, ETHER], { isFinal: true }), [alice, bob]);
  t.true((await tc.svc.bob.challengeBatch([challengeItem(params, s)])).items[0]!.ok);
  await tc.chain.increaseTime(601);
  t.true((await tc.svc.bob.concludeBatch([concludeItem(params, s.state)])).items[0]!.ok);
});

test.serial('one batch registering two versions of a channel: each Challenged event reads its own state from the calldata', async (t) => {
  const params = await funded();
  const v9 = sign(params, stateOf(params, 9n, [4n * ETHER, 16n * ETHER]), [alice, bob]);
  const v11 = sign(params, stateOf(params, 11n, [6n * ETHER, 14n * ETHER]), [alice, bob]);
  const r = await tc.svc.alice.challengeBatch([challengeItem(params, v9), challengeItem(params, v11)]);
  t.true(r.items.every((i) => i.ok));
  t.is((await tc.svc.bob.dispute(v9.state.channelId))?.version, 11n);
  const of = async (version: bigint) => (await tc.svc.bob.registeredState(r.hash, params, version))?.state.version;
  t.is(await of(11n), 11n, 'the version the event names, not the first item of the channel');
  t.is(await of(9n), 9n);
  t.is(await of(10n), undefined);
});
