import test from 'ava';
import {
  MAX_VERSION_GAP,
  type Op,
  type Proposal,
  applyUpdate,
  nobleBackend,
  signState,
  stateDigest,
  validateProposal,
  validateSignedState,
  verifySignature,
} from '../../src/core/index.ts';
import { alice, bob, mallory } from '../helpers/actors.ts';
import { cosign, makeParams, makeState } from '../helpers/factories.ts';

const params = makeParams();
const current = makeState(params, { version: 5n });
const ctx = { now: 1_700_000_000n };

function propose(ops: Op[], version = 6n, signer = alice): Proposal {
  const next = applyUpdate(params, current, ops, ctx);
  if (!next.ok) throw new Error(next.detail);
  const state = { ...next.value, version };
  return { channelId: current.channelId, version, ops, signature: signState(nobleBackend, params, state, signer.privateKey) };
}

const leaderPays: Op[] = [{ kind: 'pay', id: 1n, by: 0, asset: 0, amount: 10n }];
const followerPays: Op = { kind: 'pay', id: 9n, by: 1, asset: 0, amount: 4n };

test('a valid proposal yields the next state and a digest signed by the leader', (t) => {
  const p = propose(leaderPays);
  const r = validateProposal(params, current, p, { ctx });
  if (!r.ok) return t.fail(r.detail);
  t.is(r.value.state.version, 6n);
  t.like(verifySignature(nobleBackend, r.value.digest, p.signature, { address: alice.address, publicKey: alice.publicKey }), { ok: true });
  t.like(verifySignature(nobleBackend, r.value.digest, p.signature, { address: alice.address }), { ok: true }, 'by recovery too');
});

test('a proposal signed by someone else is refused', (t) => {
  const p = propose(leaderPays, 6n, mallory);
  const r = validateProposal(params, current, p, { ctx });
  if (!r.ok) return t.fail(r.detail);
  t.like(verifySignature(nobleBackend, r.value.digest, p.signature, { address: alice.address, publicKey: alice.publicKey }), {
    ok: false,
    reason: 'wrong-signer',
  });
  t.like(verifySignature(nobleBackend, r.value.digest, p.signature, { address: alice.address }), { ok: false, reason: 'wrong-signer' });
  t.like(verifySignature(nobleBackend, r.value.digest, new Uint8Array(65), { address: alice.address }), {
    ok: false,
    reason: 'invalid-signature',
  });
});

test('replayed versions are refused; versions may skip ahead, up to MAX_VERSION_GAP', (t) => {
  t.like(validateProposal(params, current, propose(leaderPays, 5n), { ctx }), { ok: false, reason: 'stale-version' });
  t.like(
    validateProposal(params, current, propose(leaderPays, 6n), { ctx, minVersion: 7n }),
    { ok: false, reason: 'stale-version' },
    'a burned 6',
  );
  t.like(validateProposal(params, current, propose(leaderPays, 7n), { ctx, minVersion: 7n }), { ok: true }, 'after a rejected 6');
  const skipped = validateProposal(params, current, propose(leaderPays, 6n + 1024n), { ctx });
  t.true(skipped.ok, "a leader's skipped lease");
  if (skipped.ok) t.is(skipped.value.state.version, 6n + 1024n, 'the state carries the proposed version');
  t.like(validateProposal(params, current, propose(leaderPays, 6n + MAX_VERSION_GAP), { ctx }), { ok: true });
  t.like(validateProposal(params, current, propose(leaderPays, 7n + MAX_VERSION_GAP), { ctx }), { ok: false, reason: 'version-gap' });
});

test('an operation attributed to the follower must be one it requested', (t) => {
  const p = propose([followerPays]);
  t.like(validateProposal(params, current, p, { ctx }), { ok: false, reason: 'not-authorized' });
  t.like(validateProposal(params, current, p, { ctx, requested: new Map([[9n, { ...followerPays, amount: 5n }]]) }), {
    ok: false,
    reason: 'not-authorized',
  });
  t.like(validateProposal(params, current, p, { ctx, requested: new Map([[9n, followerPays]]) }), { ok: true });
});

test('a proposal for another channel is refused', (t) => {
  const p = { ...propose(leaderPays), channelId: makeState(makeParams({ nonce: 2n })).channelId };
  t.like(validateProposal(params, current, p, { ctx }), { ok: false, reason: 'wrong-channel' });
});

test('a transition that breaks the rules is refused with its reason', (t) => {
  const p: Proposal = {
    channelId: current.channelId,
    version: 6n,
    ops: [{ kind: 'pay', id: 1n, by: 0, asset: 0, amount: 5000n }],
    signature: new Uint8Array(65),
  };
  t.like(validateProposal(params, current, p, { ctx }), { ok: false, reason: 'insufficient-balance' });
});

test('a co-signed state is accepted for catch-up; stale, forged or malformed ones are not', (t) => {
  const ahead = cosign(params, makeState(params, { version: 9n, balances: [[1500n, 500n]] }));
  t.like(validateSignedState(params, current.channelId, ahead, { backend: nobleBackend, current }), { ok: true });
  t.like(
    validateSignedState(params, current.channelId, ahead, { backend: nobleBackend, current, publicKeys: [alice.publicKey, bob.publicKey] }),
    {
      ok: true,
    },
  );
  const stale = cosign(params, makeState(params, { version: 5n }));
  t.like(validateSignedState(params, current.channelId, stale, { backend: nobleBackend, current }), { ok: false, reason: 'stale-version' });
  const forged = cosign(params, makeState(params, { version: 9n }), [alice, mallory]);
  t.like(validateSignedState(params, current.channelId, forged, { backend: nobleBackend, current }), { ok: false, reason: 'wrong-signer' });
  const wrongShape = cosign(params, {
    ...makeState(params, { version: 9n }),
    balances: [
      [1n, 1n],
      [1n, 1n],
    ],
  });
  t.like(validateSignedState(params, current.channelId, wrongShape, { backend: nobleBackend, current }), {
    ok: false,
    reason: 'malformed',
  });
  const finalWithLock = cosign(params, {
    ...makeState(params, { version: 9n, isFinal: true }),
    locks: [{ id: 1n, asset: 0, amount: 1n, sender: 0, receiver: 1, hashlock: `0x${'00'.repeat(32)}`, expiry: 1n }],
  });
  t.like(validateSignedState(params, current.channelId, finalWithLock, { backend: nobleBackend }), { ok: false, reason: 'pending-locks' });
  t.is(stateDigest(params, ahead.state).length, 32);
});
