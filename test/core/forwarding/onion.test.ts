/** Route onions: each hop reads its own layer and nothing else; any bytes a peer sends are typed errors. */
import test from 'ava';
import fc from 'fast-check';
import * as secp from '@noble/secp256k1';
import {
  type HopPayload,
  MAX_HOPS,
  buildOnion,
  openFailure,
  peelOnion,
  sealFailure,
  wrapFailure,
} from '../../../src/core/forwarding/index.ts';
import { keccak256, utf8 } from '../../../src/core/index.ts';
import { packr } from '../../../src/core/codec/primitives.ts';

const key = (tag: string) => keccak256(utf8(`onion ${tag}`));
const pub = (k: Uint8Array) => secp.getPublicKey(k, true);
const chan = (i: number) => `0x${i.toString(16).padStart(64, '0')}` as `0x${string}`;

function route(n: number): { keys: Uint8Array[]; payloads: HopPayload[]; onion: Uint8Array; replyKeys: readonly Uint8Array[] } {
  const keys = Array.from({ length: n }, (_, i) => key(`hop ${i}`));
  const payloads: HopPayload[] = keys.map((_, i) =>
    i === n - 1
      ? { kind: 'final', amount: 1000n, paymentSecret: `0x${'ab'.repeat(32)}`, memo: 'thanks ✓' }
      : { kind: 'forward', channelId: chan(i + 1), amount: 1000n + BigInt(n - 1 - i) * 7n },
  );
  const eph = keys.map((_, i) => key(`eph ${n} ${i}`));
  const built = buildOnion(
    keys.map((k, i) => ({ publicKey: pub(k), payload: payloads[i]! })),
    eph,
  );
  return { keys, payloads, onion: built.onion, replyKeys: built.replyKeys };
}

test('every hop of a route of 1 to 20 hops peels exactly its instruction, and the payee layer ends it', (t) => {
  for (const n of [1, 2, 3, 4, MAX_HOPS]) {
    const { keys, payloads, onion } = route(n);
    let cur: Uint8Array | undefined = onion;
    keys.forEach((k, i) => {
      const r = peelOnion(cur!, k);
      if (!r.ok) return t.fail(`hop ${i} of ${n}: ${r.reason} ${r.detail}`);
      t.deepEqual(r.value.payload, payloads[i]);
      t.is(r.value.next === undefined, i === n - 1, `hop ${i} of ${n}`);
      cur = r.value.next;
    });
  }
});

test('a hop cannot read the layer of the hop after it, nor anyone a layer not sealed to them', (t) => {
  const { keys, onion } = route(3);
  t.like(peelOnion(onion, keys[1]!), { ok: false, reason: 'not-for-us' });
  const first = peelOnion(onion, keys[0]!);
  if (!first.ok) return t.fail();
  t.like(peelOnion(first.value.next!, keys[0]!), { ok: false, reason: 'not-for-us' });
  t.like(peelOnion(first.value.next!, key('stranger')), { ok: false, reason: 'not-for-us' });
});

test('a tampered onion never opens to a different instruction: any changed byte fails, typed', (t) => {
  const { keys, onion } = route(2);
  for (let i = 0; i < onion.length; i++) {
    const bad = new Uint8Array(onion);
    bad[i] = bad[i]! ^ 0x01;
    const r = peelOnion(bad, keys[0]!);
    t.false(r.ok, `byte ${i}`);
    if (!r.ok) t.true(r.reason === 'malformed' || r.reason === 'not-for-us');
  }
});

test('arbitrary bytes are a typed error, never a throw', (t) => {
  const k = key('hop 0');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const r = peelOnion(bytes, k);
      return !r.ok && (r.reason === 'malformed' || r.reason === 'not-for-us');
    }),
    { numRuns: 2000 },
  );
  t.like(peelOnion(new Uint8Array(9000), k), { ok: false, reason: 'malformed' });
});

test('a payer cannot build a route the hops would misread', (t) => {
  const k = key('x');
  const fwd: HopPayload = { kind: 'forward', channelId: chan(1), amount: 1n };
  const fin: HopPayload = { kind: 'final', amount: 1n };
  t.throws(() => buildOnion([], []));
  t.throws(() => buildOnion([{ publicKey: pub(k), payload: fwd }], [k]), undefined, 'the last hop must be the payee');
  t.throws(() =>
    buildOnion(
      [
        { publicKey: pub(k), payload: fin },
        { publicKey: pub(k), payload: fin },
      ],
      [k, k],
    ),
  );
  t.throws(() =>
    buildOnion(
      Array.from({ length: MAX_HOPS + 1 }, (_, i) => ({ publicKey: pub(k), payload: i === MAX_HOPS ? fin : fwd })),
      [],
    ),
  );
});

test('a failure sealed by the failing hop and wrapped on the way back names that hop and its reason to the payer only', (t) => {
  const { keys, onion, replyKeys } = route(4);
  // Each hop peels; hop 2 fails the payment.
  const replies: Uint8Array[] = [];
  let cur = onion;
  for (const k of keys.slice(0, 3)) {
    const r = peelOnion(cur, k);
    if (!r.ok) return t.fail();
    replies.push(r.value.replyKey);
    cur = r.value.next!;
  }
  let failure = sealFailure(replies[2]!, 'fee-insufficient', 'fee 3 < 11');
  failure = wrapFailure(replies[1]!, failure);
  failure = wrapFailure(replies[0]!, failure);
  t.deepEqual(openFailure(failure, replyKeys), { ok: true, hop: 2, reason: 'fee-insufficient', detail: 'fee 3 < 11' });
  // A hop that alters the report on its way is blamed (it cannot forge another hop's report).
  const bad = new Uint8Array(failure);
  bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
  t.deepEqual(openFailure(bad, replyKeys), { ok: false, hop: 0 });
  t.deepEqual(
    openFailure(wrapFailure(replies[0]!, sealFailure(new Uint8Array([...key('x'), ...key('y')]).subarray(0, 44), 'x')), replyKeys),
    { ok: false, hop: 1 },
  );
});

// Version 2 (ADR 0021): one ephemeral key for many layers to a hop, a salt per layer.
test('version 2: layers sealed to a hop with the same ephemeral key and fresh salts all peel, and differ', (t) => {
  const hop = key('v2 hop');
  const eph = key('v2 session');
  const payload: HopPayload = { kind: 'final', amount: 77n, memo: 'v2' };
  const salt = (i: number) => new Uint8Array(16).fill(i + 1);
  const seen = new Set<string>();
  const replies = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const built = buildOnion([{ publicKey: pub(hop), payload }], [eph], undefined, [salt(i)]);
    const r = peelOnion(built.onion, hop);
    if (!r.ok) return t.fail(`${r.reason}: ${r.detail}`);
    t.deepEqual(r.value.payload, payload);
    t.deepEqual(r.value.replyKey, built.replyKeys[0]);
    seen.add(Buffer.from(built.onion.subarray(-40)).toString('hex'));
    replies.add(Buffer.from(built.replyKeys[0]!).toString('hex'));
  }
  t.is(seen.size, 5, 'no two layers share a keystream');
  t.is(replies.size, 5, 'nor a reply key');
  // Without salts the layer is version 1, as before, and still peels.
  const v1 = buildOnion([{ publicKey: pub(hop), payload }], [eph]);
  t.like(peelOnion(v1.onion, hop), { ok: true });
});

test('version 2: a changed salt, a salt of another length or a missing field is refused, typed', (t) => {
  const hop = key('v2 hop');
  const built = buildOnion([{ publicKey: pub(hop), payload: { kind: 'final', amount: 1n } }], [key('v2 eph')], undefined, [
    new Uint8Array(16).fill(3),
  ]);
  const outer = packr.unpack(built.onion) as unknown[];
  t.is(outer[0], 2);
  const salt = new Uint8Array(outer[2] as Uint8Array);
  salt[0]! ^= 1;
  t.like(peelOnion(packr.pack([2, outer[1], salt, outer[3]]), hop), { ok: false, reason: 'not-for-us' });
  t.like(peelOnion(packr.pack([2, outer[1], new Uint8Array(15), outer[3]]), hop), { ok: false, reason: 'malformed' });
  t.like(peelOnion(packr.pack([2, outer[1], outer[3]]), hop), { ok: false, reason: 'malformed' });
  t.like(peelOnion(packr.pack([1, outer[1], outer[2], outer[3]]), hop), { ok: false, reason: 'malformed' });
  t.throws(
    () => buildOnion([{ publicKey: pub(hop), payload: { kind: 'final', amount: 1n } }], [key('e')], undefined, [new Uint8Array(8)]),
    {
      instanceOf: RangeError,
    },
  );
});
