/**
 * Both signers, on both backends, must give exactly the backend's answers, request by request,
 * however requests are mixed and batched; and fail cleanly on close, crash and bad keys.
 */
import test from 'ava';
import {
  CURVE_N,
  InvalidArgumentError,
  LanesError,
  type SignatureBackend,
  bytesToHex,
  keccak256,
  nobleBackend,
  readWord,
  utf8,
  writeWord,
} from '../../src/core/index.ts';
import { createInlineSigner } from '../../src/crypto/inline-signer.ts';
import { nativeBackend } from '../../src/crypto/native-backend.ts';
import { bestBackend } from '../../src/crypto/select-backend.ts';
import type { Signer } from '../../src/crypto/signer.ts';
import { type WorkerSigner, createWorkerSigner } from '../../src/crypto/worker-signer.ts';
import { alice } from '../helpers/actors.ts';

const native = nativeBackend();
if (native === undefined) console.warn('SKIPPING native signer tests: the secp256k1 addon failed to load on this platform');

interface Config {
  readonly name: string;
  readonly backend: SignatureBackend;
  readonly make: () => Promise<Signer>;
  /** How many verify requests the burst test issues (inline noble is slow: ~2 ms each). */
  readonly burst: number;
}

function configs(): Config[] {
  const all: Config[] = [
    { name: 'inline noble', backend: nobleBackend, make: async () => createInlineSigner(alice.privateKey, nobleBackend), burst: 1000 },
    {
      name: 'worker noble',
      backend: nobleBackend,
      make: () => createWorkerSigner({ privateKey: alice.privateKey, backend: 'noble', workers: 2 }),
      burst: 5000,
    },
  ];
  if (native !== undefined) {
    all.push(
      { name: 'inline native', backend: native, make: async () => createInlineSigner(alice.privateKey, native), burst: 5000 },
      {
        name: 'worker native',
        backend: native,
        make: () => createWorkerSigner({ privateKey: alice.privateKey, backend: 'native', workers: 2 }),
        burst: 5000,
      },
    );
  }
  return all;
}

const hex = bytesToHex;
const digestFor = (label: string, i: number) => keccak256(utf8(`signers:${label}:${i}`));

interface VerifyCase {
  readonly signature: Uint8Array;
  readonly digest: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly expected: boolean;
  readonly why: string;
}

/** A wrong-in-one-way variant of a valid (signature, digest, key); index picks the way. */
function spoil(i: number, signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array, otherKey: Uint8Array): VerifyCase {
  const sig = new Uint8Array(signature);
  const bad = (why: string, s = sig, d = digest, k = publicKey): VerifyCase => ({
    signature: s,
    digest: d,
    publicKey: k,
    expected: false,
    why,
  });
  switch (i % 8) {
    case 0:
      return bad('wrong digest', sig, digestFor('other', i));
    case 1:
      sig[5]! ^= 0x10;
      return bad('tampered r');
    case 2:
      writeWord(sig, 32, CURVE_N - readWord(sig, 32));
      sig[64] = sig[64] === 27 ? 28 : 27;
      return bad('high-S twin');
    case 3:
      return bad('wrong key', sig, digest, otherKey);
    case 4:
      sig[64] = 29;
      return bad('bad v');
    case 5:
      return bad('short signature', sig.subarray(0, 64));
    case 6:
      return bad('garbage key', sig, digest, new Uint8Array(33));
    default:
      return bad('short digest', sig, digest.subarray(1));
  }
}

/** `count` verify requests over 20 keys: 60% valid (compressed and uncompressed keys), the rest spoiled. */
function verifyCases(count: number): VerifyCase[] {
  const backend = bestBackend();
  const keys = Array.from({ length: 20 }, (_, i) => digestFor('key', i));
  const cases: VerifyCase[] = [];
  for (let i = 0; i < count; i++) {
    const key = keys[i % keys.length]!;
    const publicKey = backend.publicKey(key, i % 2 === 0);
    const digest = digestFor('digest', i);
    const signature = backend.sign(digest, key);
    if (i % 5 < 3) cases.push({ signature, digest, publicKey, expected: true, why: 'valid' });
    else cases.push(spoil(i, signature, digest, publicKey, backend.publicKey(keys[(i + 1) % keys.length]!, true)));
  }
  return cases;
}

const cases = verifyCases(5000);

for (const config of configs()) {
  test(`${config.name}: signatures are byte-identical to the backend's`, async (t) => {
    const signer = await config.make();
    t.teardown(() => signer.close());
    const digests = Array.from({ length: 64 }, (_, i) => digestFor('sign', i));
    const signatures = await Promise.all(digests.map((digest) => signer.sign(digest)));
    for (const [i, digest] of digests.entries()) {
      t.is(hex(signatures[i]!), hex(config.backend.sign(digest, alice.privateKey)));
    }
    t.true(await signer.verify(signatures[0]!, digests[0]!, alice.publicKey));
    t.regex(signer.description, config.name.includes('worker') ? /worker pool/ : /inline/);
  });

  test(`${config.name}: ${config.burst} mixed verify requests issued at once answer in order`, async (t) => {
    const signer = await config.make();
    t.teardown(() => signer.close());
    const burst = cases.slice(0, config.burst);
    const results = await Promise.all(burst.map((c) => signer.verify(c.signature, c.digest, c.publicKey)));
    const wrong = burst.flatMap((c, i) => (results[i] === c.expected ? [] : [`#${i} (${c.why})`]));
    t.deepEqual(wrong, []);
    t.true(burst.some((c) => !c.expected) && burst.some((c) => c.expected));
    if ('stats' in signer) {
      const { tasks, requests } = (signer as WorkerSigner).stats();
      t.log(`${requests} requests in ${tasks} tasks`);
      t.true(tasks * 8 < requests, 'requests are batched');
    }
  });

  test(`${config.name}: sign and verify requests mixed in one burst keep their own results`, async (t) => {
    const signer = await config.make();
    t.teardown(() => signer.close());
    const mixed = cases.slice(0, 400);
    const pending = mixed.flatMap((c, i) => [signer.sign(digestFor('mixed', i)), signer.verify(c.signature, c.digest, c.publicKey)]);
    const results = await Promise.all(pending);
    for (const [i, c] of mixed.entries()) {
      t.is(hex(results[2 * i] as Uint8Array), hex(config.backend.sign(digestFor('mixed', i), alice.privateKey)));
      t.is(results[2 * i + 1], c.expected, `#${i} (${c.why})`);
    }
  });

  test(`${config.name}: close() rejects later requests, and is idempotent`, async (t) => {
    const signer = await config.make();
    await signer.close();
    await signer.close();
    await t.throwsAsync(signer.sign(digestFor('closed', 0)), { instanceOf: LanesError, message: /closed/ });
    await t.throwsAsync(signer.verify(cases[0]!.signature, cases[0]!.digest, cases[0]!.publicKey), { instanceOf: LanesError });
  });

  test(`${config.name}: a malformed digest is refused`, async (t) => {
    const signer = await config.make();
    t.teardown(() => signer.close());
    await t.throwsAsync(signer.sign(new Uint8Array(31)), { instanceOf: InvalidArgumentError });
    await t.throwsAsync(signer.sign(new Uint8Array(33)), { instanceOf: InvalidArgumentError });
  });
}

for (const backend of ['noble', 'native'] as const) {
  if (backend === 'native' && native === undefined) continue;

  test(`worker ${backend}: requests still queued when close() is called are rejected`, async (t) => {
    const signer = await createWorkerSigner({ privateKey: alice.privateKey, backend, workers: 2 });
    // Only well-formed requests: malformed ones are answered at once, without a worker.
    const valid = cases.filter((c) => c.expected).slice(0, 500);
    const pending = valid.map((c) => signer.verify(c.signature, c.digest, c.publicKey));
    const signing = signer.sign(digestFor('queued', 0));
    // Same tick: nothing has been handed to a worker yet.
    const closing = signer.close();
    const settled = await Promise.allSettled([...pending, signing]);
    await closing;
    t.true(settled.every((s) => s.status === 'rejected' && s.reason instanceof LanesError && s.reason.code === 'SIGNER_CLOSED'));
  });

  test(`worker ${backend}: close() also rejects requests already in flight`, async (t) => {
    const signer = await createWorkerSigner({ privateKey: alice.privateKey, backend, workers: 2, maxBatch: 8 });
    const pending = cases.map((c) => signer.verify(c.signature, c.digest, c.publicKey));
    // Close as soon as the first task has come back: the rest is queued or in flight.
    await Promise.race(pending.filter((_, i) => cases[i]!.expected));
    await signer.close();
    const settled = await Promise.allSettled(pending);
    for (const [i, s] of settled.entries()) {
      if (s.status === 'fulfilled') t.is(s.value, cases[i]!.expected);
      else t.like(s.reason, { code: 'SIGNER_CLOSED' });
    }
    t.true(settled.some((s) => s.status === 'rejected'));
  });
}

test('worker signer: a crashed worker rejects only its own requests and is replaced', async (t) => {
  const backend = native === undefined ? 'noble' : 'native';
  const signer = await createWorkerSigner({ privateKey: alice.privateKey, backend, workers: 2, maxBatch: 16 });
  t.teardown(() => signer.close());
  const burst = cases.slice(0, 2000);
  const pending = burst.map((c) => signer.verify(c.signature, c.digest, c.publicKey));
  await Promise.resolve(); // let the burst be handed out
  await signer.killWorker(0);
  const settled = await Promise.allSettled(pending);
  const crashed = settled.filter((s) => s.status === 'rejected');
  t.true(crashed.length > 0 && crashed.length < burst.length, `${crashed.length} requests lost with the worker`);
  for (const [i, s] of settled.entries()) {
    if (s.status === 'fulfilled') t.is(s.value, burst[i]!.expected, `#${i}`);
    else {
      t.like(s.reason, { name: 'LanesError', code: 'CRYPTO_WORKER_CRASHED' });
      t.false(String(s.reason.message).includes(hex(alice.privateKey).slice(2)));
    }
  }
  t.is(signer.stats().crashes, 1);
  // The replacement serves new requests.
  for (let wait = 0; wait < 500 && signer.stats().liveWorkers < 2; wait++) await new Promise((resolve) => setTimeout(resolve, 10));
  t.is(signer.stats().liveWorkers, 2, 'the replacement worker started');
  const again = await Promise.all(burst.map((c) => signer.verify(c.signature, c.digest, c.publicKey)));
  t.deepEqual(
    again,
    burst.map((c) => c.expected),
  );
  t.is(hex(await signer.sign(digestFor('after-crash', 0))), hex(bestBackend().sign(digestFor('after-crash', 0), alice.privateKey)));
});

test('invalid private keys are refused without showing the key', async (t) => {
  const tooBig = new Uint8Array(32);
  writeWord(tooBig, 0, CURVE_N + 5n);
  for (const key of [new Uint8Array(32), tooBig, alice.privateKey.subarray(0, 31)]) {
    const secret = hex(key).slice(2);
    const inline = t.throws(() => createInlineSigner(key, nobleBackend), { instanceOf: InvalidArgumentError });
    t.false(JSON.stringify(inline?.toJSON()).includes(secret) || String(inline?.message).includes(secret));
    const worker = await t.throwsAsync(createWorkerSigner({ privateKey: key, backend: 'noble', workers: 1 }), {
      instanceOf: InvalidArgumentError,
    });
    t.false(String(worker?.message).includes(secret));
  }
});

test('worker signer: bad pool options are refused', async (t) => {
  await t.throwsAsync(createWorkerSigner({ privateKey: alice.privateKey, backend: 'noble', workers: 0 }), {
    instanceOf: InvalidArgumentError,
  });
  await t.throwsAsync(createWorkerSigner({ privateKey: alice.privateKey, backend: 'noble', workers: 1, maxBatch: 0 }), {
    instanceOf: InvalidArgumentError,
  });
});

test('the inline signer copies the key: later changes to the caller’s buffer do not matter', async (t) => {
  const key = new Uint8Array(alice.privateKey);
  const signer = createInlineSigner(key, nobleBackend);
  key.fill(7);
  const digest = digestFor('copy', 0);
  t.is(hex(await signer.sign(digest)), hex(nobleBackend.sign(digest, alice.privateKey)));
});
