/**
 * The native backend must be a drop-in for noble: the same signature bytes and the same
 * accept/reject decision, without exceptions, on every input, including hostile ones.
 */
import { createRequire } from 'node:module';
import test from 'ava';
import {
  CURVE_N,
  type SignatureBackend,
  bytesToHex,
  checkSignatureEncoding,
  concatBytes,
  isValidPrivateKey,
  keccak256,
  nobleBackend,
  readWord,
  utf8,
  writeWord,
} from '../../src/core/index.ts';
import { nativeBackend } from '../../src/crypto/native-backend.ts';
import { backendByName, bestBackend } from '../../src/crypto/select-backend.ts';
import { alice, bob } from '../helpers/actors.ts';

const native = nativeBackend();
const nativeTest = native === undefined ? test.skip : test;
if (native === undefined) console.warn('SKIPPING native backend tests: the secp256k1 addon failed to load on this platform');

/** The native backend, for tests that only run when it loaded. */
function nat(): SignatureBackend {
  if (native === undefined) throw new Error('native backend unavailable');
  return native;
}

// Cases are keccak(seed ‖ label ‖ i): reproducible from the logged seed (LANES_TEST_SEED=...).
const seed = process.env['LANES_TEST_SEED'] ?? String(Date.now());
function bytesFor(label: string, i: number): Uint8Array {
  return keccak256(utf8(`backends:${seed}:${label}:${i}`));
}
function keyFor(i: number): Uint8Array {
  let key = bytesFor('key', i);
  for (let retry = 0; !isValidPrivateKey(key); retry++) key = bytesFor(`key-retry-${retry}`, i);
  return key;
}

const digest = keccak256(utf8('lanes backends'));
const hex = (bytes: Uint8Array | undefined) => (bytes === undefined ? 'undefined' : bytesToHex(bytes));

/** The high-S twin: (r, n - s) with the other v. Valid ECDSA, but refused as non-canonical. */
function highSTwin(signature: Uint8Array): Uint8Array {
  const twin = new Uint8Array(signature);
  writeWord(twin, 32, CURVE_N - readWord(signature, 32));
  twin[64] = signature[64] === 27 ? 28 : 27;
  return twin;
}

/** Calls `run` and reports a throw as a value, so "does not throw" and "agrees" are one check. */
function outcome(run: () => unknown): string {
  try {
    const value = run();
    return value instanceof Uint8Array ? hex(value) : String(value);
  } catch {
    return 'threw';
  }
}

test('native is selected when available, and by name', (t) => {
  t.is(bestBackend().name, native === undefined ? 'noble' : 'native');
  t.is(backendByName('noble'), nobleBackend);
  if (native !== undefined) t.is(backendByName('native'), native);
  t.throws(() => backendByName('bogus' as 'noble'), { instanceOf: Error, message: /Unknown signature backend/ });
});

nativeTest('500 random keys and digests: byte-identical signatures, keys, recovery and verify', (t) => {
  t.log(`seed ${seed} (rerun with LANES_TEST_SEED=${seed})`);
  const fast = nat();
  for (let i = 0; i < 500; i++) {
    const key = keyFor(i);
    const msg = bytesFor('digest', i);
    const sig = nobleBackend.sign(msg, key);
    const context = `case ${i}, seed ${seed}`;
    if (hex(fast.sign(msg, key)) !== hex(sig)) return t.fail(`signatures differ: ${context}`);
    t.true(checkSignatureEncoding(sig).ok, context);
    const pub33 = nobleBackend.publicKey(key, true);
    const pub65 = nobleBackend.publicKey(key, false);
    if (hex(fast.publicKey(key, true)) !== hex(pub33) || hex(fast.publicKey(key, false)) !== hex(pub65)) {
      return t.fail(`public keys differ: ${context}`);
    }
    if (hex(fast.recover(sig, msg)) !== hex(pub65)) return t.fail(`native recover differs: ${context}`);
    // noble is ~40x slower to verify and recover: cross-check it on every 5th case only.
    if (i % 5 === 0 && hex(nobleBackend.recover(sig, msg)) !== hex(pub65)) return t.fail(`noble recover differs: ${context}`);
    if (!fast.verify(sig, msg, pub33) || !fast.verify(sig, msg, pub65)) return t.fail(`native verify failed: ${context}`);
    if (i % 5 === 0 && !nobleBackend.verify(sig, msg, pub65)) return t.fail(`noble verify failed: ${context}`);
    const other = bytesFor('other', i);
    if (fast.verify(sig, other, pub33)) return t.fail(`native verified a wrong digest: ${context}`);
    if (i % 25 === 0) t.false(nobleBackend.verify(sig, other, pub33), context);
  }
  t.pass();
});

nativeTest('digests at and above the group order sign identically (RFC 6979 reduces them mod n)', (t) => {
  const fast = nat();
  const word = (value: bigint) => {
    const out = new Uint8Array(32);
    writeWord(out, 0, value);
    return out;
  };
  const max = (1n << 256n) - 1n;
  for (const value of [0n, 1n, CURVE_N - 1n, CURVE_N, CURVE_N + 1n, max]) {
    const msg = word(value);
    const sig = nobleBackend.sign(msg, alice.privateKey);
    t.is(hex(fast.sign(msg, alice.privateKey)), hex(sig), `digest ${value.toString(16)}`);
    t.true(fast.verify(sig, msg, alice.publicKey));
    t.is(hex(fast.recover(sig, msg)), hex(nobleBackend.recover(sig, msg)));
  }
});

nativeTest('high-S twins, bad v and out-of-range r or s are refused by both', (t) => {
  const fast = nat();
  const sig = nobleBackend.sign(digest, alice.privateKey);
  const twin = highSTwin(sig);
  for (const backend of [nobleBackend, fast]) {
    t.false(backend.verify(twin, digest, alice.publicKey), `${backend.name}: high-S`);
    t.is(backend.recover(twin, digest), undefined, `${backend.name}: high-S recover`);
    for (const v of [0, 1, 26, 29, 255]) {
      const bad = new Uint8Array(sig);
      bad[64] = v;
      t.false(backend.verify(bad, digest, alice.publicKey), `${backend.name}: v=${v}`);
      t.is(backend.recover(bad, digest), undefined, `${backend.name}: v=${v}`);
    }
    for (const [offset, value] of [
      [0, 0n],
      [0, CURVE_N],
      [32, 0n],
      [32, CURVE_N],
      [32, CURVE_N - 1n],
    ] as const) {
      const bad = new Uint8Array(sig);
      writeWord(bad, offset, value);
      t.false(backend.verify(bad, digest, alice.publicKey), `${backend.name}: word at ${offset} = ${value}`);
      t.is(backend.recover(bad, digest), undefined, `${backend.name}: word at ${offset} = ${value}`);
    }
    t.false(backend.verify(sig, digest, bob.publicKey), `${backend.name}: wrong key`);
  }
});

/** Public keys a peer could send: wrong shapes, hybrid encodings, points off the curve. */
function hostileKeys(): Record<string, unknown> {
  const pub65 = nobleBackend.publicKey(alice.privateKey, false);
  const hybrid = new Uint8Array(pub65);
  hybrid[0] = 0x06 + (pub65[64]! & 1); // a valid hybrid key: libsecp256k1 accepts it, noble does not
  const offCurve = new Uint8Array(pub65);
  offCurve[64]! ^= 1;
  const xTooBig = new Uint8Array(33).fill(0xff);
  xTooBig[0] = 0x02;
  const badPrefix = new Uint8Array(alice.publicKey);
  badPrefix[0] = 0x05;
  return {
    hybrid,
    offCurve,
    xTooBig,
    badPrefix,
    zeros33: new Uint8Array(33),
    zeros65: new Uint8Array(65),
    infinity: Uint8Array.of(0),
    empty: new Uint8Array(0),
    short: alice.publicKey.subarray(0, 32),
    long: concatBytes(alice.publicKey, Uint8Array.of(0)),
    undefined: undefined,
    null: null,
    string: 'not a key',
    array: Array.from(alice.publicKey),
    uint16: new Uint16Array(33),
    clamped: new Uint8ClampedArray(alice.publicKey),
    dataView: new DataView(alice.publicKey.buffer),
  };
}

/** Signatures and digests of the wrong shape or type. */
function hostileBytes(valid: Uint8Array): Record<string, unknown> {
  return {
    empty: new Uint8Array(0),
    short: valid.subarray(0, valid.length - 1),
    long: concatBytes(valid, Uint8Array.of(0)),
    veryLong: new Uint8Array(9000),
    undefined: undefined,
    null: null,
    number: 42,
    string: hex(valid),
    array: Array.from(valid),
    clamped: new Uint8ClampedArray(valid),
    buffer: valid.buffer,
  };
}

nativeTest('hostile inputs: verify says false and recover undefined, exactly as noble does, never throwing', (t) => {
  const fast = nat();
  const sig = nobleBackend.sign(digest, alice.privateKey);
  const asBytes = (value: unknown) => value as Uint8Array;
  const cases: [string, () => unknown, () => unknown][] = [];
  for (const [name, key] of Object.entries(hostileKeys())) {
    cases.push([`key ${name}`, () => nobleBackend.verify(sig, digest, asBytes(key)), () => fast.verify(sig, digest, asBytes(key))]);
  }
  for (const [name, bad] of Object.entries(hostileBytes(sig))) {
    cases.push([
      `signature ${name}`,
      () => nobleBackend.verify(asBytes(bad), digest, alice.publicKey),
      () => fast.verify(asBytes(bad), digest, alice.publicKey),
    ]);
    cases.push([`signature ${name} (recover)`, () => nobleBackend.recover(asBytes(bad), digest), () => fast.recover(asBytes(bad), digest)]);
  }
  for (const [name, bad] of Object.entries(hostileBytes(digest))) {
    cases.push([
      `digest ${name}`,
      () => nobleBackend.verify(sig, asBytes(bad), alice.publicKey),
      () => fast.verify(sig, asBytes(bad), alice.publicKey),
    ]);
    cases.push([`digest ${name} (recover)`, () => nobleBackend.recover(sig, asBytes(bad)), () => fast.recover(sig, asBytes(bad))]);
  }
  for (const [name, reference, candidate] of cases) {
    const expected = outcome(reference);
    t.not(expected, 'threw', `noble threw on ${name}`);
    t.is(outcome(candidate), expected, name);
  }
  t.false(fast.verify(sig, digest, hostileKeys()['hybrid'] as Uint8Array), 'hybrid keys are refused, as noble refuses them');
});

nativeTest('digests of other lengths follow noble (RFC 6979 bits2int), and inputs may be subarrays or Buffers', (t) => {
  const fast = nat();
  for (const length of [0, 1, 31, 33, 64, 8192]) {
    const msg = new Uint8Array(length);
    msg.set(digest.subarray(0, Math.min(32, length)));
    const sig = nobleBackend.sign(msg, alice.privateKey);
    t.is(hex(fast.sign(msg, alice.privateKey)), hex(sig), `length ${length}`);
    t.is(fast.verify(sig, msg, alice.publicKey), nobleBackend.verify(sig, msg, alice.publicKey), `length ${length}`);
    t.is(hex(fast.recover(sig, msg)), hex(nobleBackend.recover(sig, msg)), `length ${length}`);
  }
  const sig = nobleBackend.sign(digest, alice.privateKey);
  const packed = concatBytes(Uint8Array.of(1, 2, 3), sig, digest, alice.publicKey);
  const sigView = packed.subarray(3, 68);
  const digestView = packed.subarray(68, 100);
  const keyView = packed.subarray(100);
  t.true(fast.verify(sigView, digestView, keyView));
  t.is(hex(fast.recover(sigView, digestView)), hex(nobleBackend.publicKey(alice.privateKey, false)));
  t.is(hex(fast.sign(digestView, alice.privateKey)), hex(sig));
  t.true(fast.verify(Buffer.from(sig), Buffer.from(digest), Buffer.from(alice.publicKey)));
  t.is(hex(fast.sign(Buffer.from(digest), Buffer.from(alice.privateKey))), hex(sig));
  t.is(hex(packed.subarray(3, 68)), hex(sig), 'inputs are not modified');
});

nativeTest('invalid private keys throw in both, without the key in the message', (t) => {
  const fast = nat();
  const tooBig = new Uint8Array(32);
  writeWord(tooBig, 0, CURVE_N);
  for (const key of [new Uint8Array(32), tooBig, new Uint8Array(31), new Uint8Array(33)]) {
    for (const backend of [nobleBackend, fast]) {
      const error = t.throws(() => backend.sign(digest, key));
      t.false(error?.message.includes(hex(key).slice(2)) ?? true);
      t.throws(() => backend.publicKey(key, true));
    }
  }
  t.throws(() => fast.sign(new Uint8Array(9000), alice.privateKey));
  t.throws(() => nobleBackend.sign(new Uint8Array(9000), alice.privateKey));
});

nativeTest('the native backend is the libsecp256k1 addon, not the package’s pure-JS fallback', (t) => {
  nat();
  const loaded = Object.keys(createRequire(import.meta.url).cache);
  t.true(
    loaded.some((file) => /secp256k1.*\.node$/.test(file)),
    'the compiled addon is loaded',
  );
  t.false(
    loaded.some((file) => /secp256k1[\\/](lib[\\/])?elliptic\.js$/.test(file)),
    'the elliptic fallback is not',
  );
});
