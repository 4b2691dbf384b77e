/**
 * The memoizing onion curve (src/crypto/onion-cache.ts, ADR 0021): the same values as the curve
 * it wraps, computed once per (private key, public key), bounded, and keyed by the private key's
 * identity, so two keys never share a result.
 */
import test from 'ava';
import * as secp from '@noble/secp256k1';
import { NOBLE_CURVE, type OnionCurve, buildOnion, peelOnion } from '../../src/core/forwarding/onion.ts';
import { cachingOnionCurve } from '../../src/crypto/onion-cache.ts';

function counting(): { curve: OnionCurve; calls: { shared: number; pub: number; point: number } } {
  const calls = { shared: 0, pub: 0, point: 0 };
  return {
    calls,
    curve: {
      sharedX: (k, p) => (calls.shared++, NOBLE_CURVE.sharedX(k, p)),
      publicKey: (k) => (calls.pub++, NOBLE_CURVE.publicKey(k)),
      isPoint: (p) => (calls.point++, NOBLE_CURVE.isPoint(p)),
    },
  };
}

test('the same results as the wrapped curve, each computed once', (t) => {
  const { curve, calls } = counting();
  const cached = cachingOnionCurve(curve);
  const a = secp.utils.randomSecretKey();
  const b = secp.utils.randomSecretKey();
  const pb = NOBLE_CURVE.publicKey(b);
  for (let i = 0; i < 3; i++) {
    t.deepEqual(cached.sharedX(a, pb), NOBLE_CURVE.sharedX(a, pb));
    t.deepEqual(cached.publicKey(a), NOBLE_CURVE.publicKey(a));
    t.true(cached.isPoint(pb));
  }
  t.deepEqual(calls, { shared: 1, pub: 1, point: 1 });
  // Another array holding the same key bytes is another key to the cache: computed again, equal.
  const a2 = new Uint8Array(a);
  t.deepEqual(cached.sharedX(a2, pb), NOBLE_CURVE.sharedX(a, pb));
  t.is(calls.shared, 2);
  // Another private key never gets the first one's result.
  const c = secp.utils.randomSecretKey();
  t.deepEqual(cached.sharedX(c, pb), NOBLE_CURVE.sharedX(c, pb));
  t.notDeepEqual(cached.sharedX(c, pb), cached.sharedX(a, pb));
});

test('a table keeps at most `max` public keys per private key: the oldest go first', (t) => {
  const { curve, calls } = counting();
  const cached = cachingOnionCurve(curve, 4);
  const a = secp.utils.randomSecretKey();
  const pubs = Array.from({ length: 6 }, () => NOBLE_CURVE.publicKey(secp.utils.randomSecretKey()));
  for (const p of pubs) cached.sharedX(a, p);
  t.is(calls.shared, 6);
  cached.sharedX(a, pubs[5]!); // still there
  t.is(calls.shared, 6);
  cached.sharedX(a, pubs[0]!); // evicted: computed again
  t.is(calls.shared, 7);
  const bad = new Uint8Array(33).fill(0xff);
  bad[0] = 2;
  t.false(cached.isPoint(bad));
  t.false(cached.isPoint(bad));
  t.is(calls.point, 1);
});

test('a payer reusing a session key over the cache builds onions a hop peels through its own cache', (t) => {
  const { curve, calls } = counting();
  const payer = cachingOnionCurve(curve);
  const hopCurve = cachingOnionCurve(curve);
  const hop = secp.utils.randomSecretKey();
  const session = secp.utils.randomSecretKey();
  for (let i = 0; i < 10; i++) {
    const salt = new Uint8Array(16).fill(i);
    const built = buildOnion([{ publicKey: NOBLE_CURVE.publicKey(hop), payload: { kind: 'final', amount: BigInt(i) } }], [session], payer, [
      salt,
    ]);
    const r = peelOnion(built.onion, hop, hopCurve);
    if (!r.ok) return t.fail(r.detail);
    t.is(r.value.payload.amount, BigInt(i));
  }
  t.is(calls.shared, 2, 'one ECDH for the payer, one for the hop, for ten payments');
});
