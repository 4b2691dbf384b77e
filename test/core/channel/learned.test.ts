/**
 * Secrets revealed to us by the counterparty's settle of a lock we sent (docs/adr/0011): a
 * forwarding node is paid upstream with them, so they are durable before our signature on the
 * state that settles the lock leaves the node, on either side of the channel, and across a crash.
 */
import test from 'ava';
import { type Machine, learnedSecret, restore } from '../../../src/core/channel/index.ts';
import type { ChannelRecord } from '../../../src/core/channel/record.ts';
import {
  type Bytes32,
  type ChannelParams,
  type ChannelState,
  type Lock,
  type Message,
  NATIVE_ASSET,
  type Op,
  applyUpdate,
  bytesToHex,
  channelId,
  hexToBytes,
  initialState,
  keccak256,
  nobleBackend,
  stateDigest,
} from '../../../src/core/index.ts';
import { nativeBackend } from '../../../src/crypto/native-backend.ts';
import { actor } from '../../helpers/actors.ts';
import { MachineHarness } from '../../helpers/machine-harness.ts';

const backend = nativeBackend() ?? nobleBackend;
const alice = actor('learned-alice');
const bob = actor('learned-bob');
const params: ChannelParams = {
  chainId: 31337n,
  adjudicator: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
  participants: [alice.address, bob.address],
  assets: [NATIVE_ASSET],
  challengeDuration: 600n,
  nonce: 7n,
};
const secret = `0x${'5e'.repeat(32)}` as Bytes32;
const hashlock = bytesToHex(keccak256(hexToBytes(secret))) as Bytes32;
const EXPIRY = 1_700_000_600n;
const sig = (who: typeof alice, state: ChannelState) => backend.sign(stateDigest(params, state), who.privateKey);

/** A channel at v1 holding one lock of 10 sent by `sender`, both signatures, `self` its side. */
function withLock(self: 0 | 1, sender: 0 | 1): { h: MachineHarness; v1: ChannelState; lock: Lock } {
  const v0 = initialState(params, [[100n, 100n]]);
  const lock: Lock = { id: 1n, asset: 0, amount: 10n, sender, receiver: sender === 0 ? 1 : 0, hashlock, expiry: EXPIRY };
  const r = applyUpdate(params, v0, [{ kind: 'lock', id: 1n, by: sender, lock }], { now: 0n });
  if (!r.ok) throw new Error(r.detail);
  const v1 = r.value;
  const rec: ChannelRecord = {
    id: channelId(params),
    params,
    self,
    peer: { peerId: 'peer', multiaddrs: [] },
    status: 'open',
    deposits: v0.balances,
    depositFacts: [
      { asset: 0, participant: 0, amount: 100n, holdingsAfter: 100n },
      { asset: 0, participant: 1, amount: 100n, holdingsAfter: 200n },
    ],
    burnedVersion: 1n,
    versionLease: 2048n,
    nextOpId: 10n,
    createdAt: 0,
  };
  const me = self === 0 ? alice : bob;
  const m: Machine = restore(
    rec,
    { state: v1, signatures: [sig(alice, v1), sig(bob, v1)] },
    { selfKey: backend.publicKey(me.privateKey, false), firstOpId: 10n },
  );
  const h = new MachineHarness(m, { backend, self: me });
  h.markDurable();
  const other = self === 0 ? bob : alice;
  h.input({ kind: 'connected', peer: { peerId: 'peer', publicKey: backend.publicKey(other.privateKey, false) } });
  return { h, v1, lock };
}

test('follower: a secret in the leader’s settle of our lock is durable before we countersign', (t) => {
  const { h, v1 } = withLock(1, 1); // bob follows and sent the lock; alice, its receiver, settles it
  const settle: Op = { kind: 'settle', id: 3n, by: 0, lockId: 1n, secret };
  const r = applyUpdate(params, v1, [settle], { now: 0n });
  if (!r.ok) throw new Error(r.detail);
  const v2 = { ...r.value, version: 2n };
  const propose: Message = { type: 'propose', channelId: v1.channelId, version: 2n, ops: [settle], signature: sig(alice, v2) };
  h.input({ kind: 'message', message: propose });
  let checked = false;
  while (h.waiting > 0) {
    h.settle(1);
    if (h.sent.some((m) => m.type === 'countersign') && !checked) {
      checked = true;
      t.deepEqual(h.durable.record?.learned, [{ hashlock, secret, expiry: EXPIRY }], 'durable when the countersignature left');
    }
  }
  t.true(checked, 'countersigned');
  t.is(learnedSecret(h.m, hashlock)?.secret, secret);
  h.crash();
  t.is(learnedSecret(h.m, hashlock)?.secret, secret, 'kept across a restart');
});

test('leader: a secret in the follower’s request to settle our lock is durable before our proposal leaves', (t) => {
  const { h, v1 } = withLock(0, 0); // alice leads and sent the lock; bob, its receiver, asks to settle it
  const settle: Op = { kind: 'settle', id: 4n, by: 1, lockId: 1n, secret };
  h.input({ kind: 'message', message: { type: 'request', channelId: v1.channelId, ops: [settle] } });
  let checked = false;
  while (h.waiting > 0) {
    h.settle(1);
    if (h.sent.some((m) => m.type === 'propose') && !checked) {
      checked = true;
      t.deepEqual(h.durable.record?.learned, [{ hashlock, secret, expiry: EXPIRY }], 'durable when the proposal left');
    }
  }
  t.true(checked, 'proposed');
});

test('forget-learned drops the secrets named, durably at the next flush, and only those', (t) => {
  const { h, v1 } = withLock(0, 0);
  const settle: Op = { kind: 'settle', id: 4n, by: 1, lockId: 1n, secret };
  h.input({ kind: 'message', message: { type: 'request', channelId: v1.channelId, ops: [settle] } });
  h.settle();
  t.is(learnedSecret(h.m, hashlock)?.secret, secret);
  h.input({ kind: 'forget-learned', hashlocks: [`0x${'cd'.repeat(32)}`] });
  t.is(learnedSecret(h.m, hashlock)?.secret, secret, 'an unknown hashlock changes nothing');
  h.input({ kind: 'forget-learned', hashlocks: [hashlock] });
  h.input({ kind: 'tick', operationTimeoutMs: 30_000 });
  h.settle();
  t.is(learnedSecret(h.m, hashlock), undefined);
  h.crash();
  t.is(learnedSecret(h.m, hashlock), undefined, 'forgotten across a restart once written');
});

test('a settle of a lock the counterparty sent teaches nothing (we are its receiver: the secret was ours)', (t) => {
  const { h, v1 } = withLock(1, 0); // bob follows and receives alice's lock; bob settles it himself
  h.input({ kind: 'ops', ops: [{ op: { kind: 'settle', id: 11n, by: 1, lockId: 1n, secret }, caller: 1 }] });
  h.settle();
  t.is(h.durable.record?.learned, undefined);
  void v1;
});

test('a lock whose secret was registered on-chain before its expiry cannot be cancelled by its sender afterwards (it is the receiver’s)', (t) => {
  // bob follows and receives alice's lock; bob (or anyone) registered the secret in time.
  const { h, v1, lock } = withLock(1, 0);
  h.now = { ms: Number(EXPIRY - 100n) * 1000, chainTime: EXPIRY - 100n };
  h.input({ kind: 'chain', fact: { kind: 'secret-revealed', hashlock, secret, at: EXPIRY - 100n } });
  h.settle();
  t.deepEqual(h.durable.record?.revealed, [{ hashlock, at: EXPIRY - 100n }]);
  // After the expiry, alice proposes to take the lock back: by the clock alone that is allowed.
  h.now = { ms: Number(EXPIRY + 10n) * 1000, chainTime: EXPIRY + 10n };
  const cancel: Op = { kind: 'cancel', id: 20n, by: 0, lockId: lock.id };
  const r = applyUpdate(params, v1, [cancel], { now: EXPIRY + 10n });
  if (!r.ok) throw new Error(r.detail);
  const v2 = { ...r.value, version: 2n };
  h.input({
    kind: 'message',
    message: { type: 'propose', channelId: v1.channelId, version: 2n, ops: [cancel], signature: sig(alice, v2) },
  });
  h.settle();
  t.false(
    h.sent.some((m) => m.type === 'countersign'),
    'bob does not sign away a lock the chain pays him',
  );
  t.true(h.sent.some((m) => m.type === 'reject' && m.reason === 'lock-revealed'));
  // And bob may still settle it off-chain, after the expiry: the registry already made it his.
  const settle = applyUpdate(params, v1, [{ kind: 'settle', id: 21n, by: 1, lockId: lock.id, secret }], {
    now: EXPIRY + 10n,
    revealedAt: (x) => (x === hashlock ? EXPIRY - 100n : undefined),
  });
  t.true(settle.ok);
});

test('within the settle margin before its expiry a lock settles only through the registry', (t) => {
  const { v1, lock } = withLock(1, 0);
  const op: Op = { kind: 'settle', id: 21n, by: 1, lockId: lock.id, secret };
  t.true(applyUpdate(params, v1, [op], { now: EXPIRY - 121n, settleMargin: 120n }).ok);
  t.like(applyUpdate(params, v1, [op], { now: EXPIRY - 120n, settleMargin: 120n }), { ok: false, reason: 'lock-expired' });
  t.true(applyUpdate(params, v1, [op], { now: EXPIRY - 1n, settleMargin: 120n, revealedAt: () => EXPIRY - 200n }).ok);
  t.like(
    applyUpdate(params, v1, [op], { now: EXPIRY - 1n, settleMargin: 120n, revealedAt: () => EXPIRY }),
    { ok: false },
    'registered too late',
  );
});
