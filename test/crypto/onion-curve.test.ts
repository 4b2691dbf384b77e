/**
 * libsecp256k1's onion curve (src/crypto/native-backend.ts) against noble's: the same shared
 * secrets and keys, so an onion built with one peels with the other, and invalid points are refused.
 */
import test from 'ava';
import * as secp from '@noble/secp256k1';
import { NOBLE_CURVE, buildOnion, peelOnion } from '../../src/core/forwarding/onion.ts';
import { nativeOnionCurve } from '../../src/crypto/native-backend.ts';

const native = nativeOnionCurve();

test('the native curve computes what noble computes, and onions cross between them', (t) => {
  if (!native) {
    t.pass('the libsecp256k1 addon does not load here');
    return;
  }
  for (let i = 0; i < 50; i++) {
    const a = secp.utils.randomSecretKey();
    const b = secp.utils.randomSecretKey();
    const pb = NOBLE_CURVE.publicKey(b);
    t.deepEqual(native.publicKey(a), NOBLE_CURVE.publicKey(a));
    t.deepEqual(native.sharedX(a, pb), NOBLE_CURVE.sharedX(a, pb));
    t.true(native.isPoint(pb));
  }
  const bad = new Uint8Array(33).fill(0xff);
  bad[0] = 2;
  t.false(native.isPoint(bad));
  t.is(native.isPoint(bad), NOBLE_CURVE.isPoint(bad));
  const keys = [secp.utils.randomSecretKey(), secp.utils.randomSecretKey()];
  const hops = [
    {
      publicKey: NOBLE_CURVE.publicKey(keys[0]!),
      payload: { kind: 'forward' as const, channelId: `0x${'11'.repeat(32)}` as const, amount: 5n },
    },
    { publicKey: NOBLE_CURVE.publicKey(keys[1]!), payload: { kind: 'final' as const, amount: 5n } },
  ];
  const eph = [secp.utils.randomSecretKey(), secp.utils.randomSecretKey()];
  const built = buildOnion(hops, eph, native);
  t.deepEqual(built, buildOnion(hops, eph, NOBLE_CURVE));
  const first = peelOnion(built.onion, keys[0]!, NOBLE_CURVE);
  t.true(first.ok);
  if (!first.ok) return;
  const second = peelOnion(first.value.next!, keys[1]!, native);
  t.like(second, { ok: true, value: { payload: { kind: 'final', amount: 5n } } });
});
