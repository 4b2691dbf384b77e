import test from 'ava';
import fc from 'fast-check';
import { bech32m } from '@scure/base';
import {
  INVOICE_PROBLEMS,
  MAX_INVOICE_EXPIRY,
  MAX_MEMO_BYTES,
  MAX_ROUTE_HINTS,
  type InvoiceFields,
  checkInvoice,
  completeInvoice,
  decodeInvoice,
  invoiceDigest,
  paymentHashOf,
  prepareInvoice,
} from '../../../src/core/payments/invoice.ts';
import { identityOf } from '../../../src/core/payments/peer-id.ts';
import { peerRefFromPrivateKey } from '../../../src/p2p/peer.ts';
import { type Bytes32, NATIVE_ASSET, bytesToHex, nobleBackend } from '../../../src/core/index.ts';
import { packr } from '../../../src/core/codec/primitives.ts';
import { alice, bob, irene, mallory } from '../../helpers/actors.ts';
import { ADJUDICATOR, TOKEN_A } from '../../helpers/factories.ts';
import { type InvoiceOverrides, NOW, SECRET, invoiceFields, makeInvoice, signInvoice } from '../../helpers/invoices.ts';

const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);
test.before((t) => t.log(`SEED=${seed}`));

const hint = (channel: number, hop = bob, overrides = {}) => ({
  channelId: `0x${channel.toString(16).padStart(2, '0').repeat(32)}` as Bytes32,
  hopPublicKey: hop.publicKey,
  feeBase: 1000n,
  feeProportional: 250,
  minAmount: 1n,
  maxAmount: 10n ** 18n,
  ...overrides,
});

test('an invoice decodes to what was signed, the payee recovered from the signature', (t) => {
  const text = makeInvoice({ routeHints: [hint(1), hint(2, irene, { maxAmount: undefined })] });
  t.true(text.startsWith('lanes313371'));
  const r = decodeInvoice(text);
  if (!r.ok) return t.fail(r.detail);
  const inv = r.value;
  t.is(inv.payee.address, alice.address);
  t.is(inv.payee.peerId, peerRefFromPrivateKey(alice.privateKey).peerId);
  t.is(inv.chainId, 31337n);
  t.is(inv.adjudicator, ADJUDICATOR);
  t.is(inv.paymentHash, paymentHashOf(SECRET));
  t.is(inv.amount, 10n ** 15n);
  t.is(inv.asset, NATIVE_ASSET);
  t.is(inv.expiresAt, NOW + 3600n);
  t.is(inv.memo, 'coffee');
  t.is(inv.routeHints.length, 2);
  t.is(inv.routeHints[0]!.hop.address, bob.address);
  t.is(inv.routeHints[0]!.hop.peerId, peerRefFromPrivateKey(bob.privateKey).peerId);
  t.is(inv.routeHints[1]!.maxAmount, undefined);
  t.is(inv.text, text);
  t.like(decodeInvoice(`  ${text.toUpperCase()}\n`), { ok: true, value: { text } });
});

test('peer ids derived from keys are libp2p peer ids', (t) => {
  for (const a of [alice, bob, irene, mallory]) {
    t.is(identityOf(a.publicKey)?.peerId, peerRefFromPrivateKey(a.privateKey).peerId);
    t.is(identityOf(nobleBackend.publicKey(a.privateKey, false))?.address, a.address);
  }
  t.is(identityOf(new Uint8Array(33)), undefined);
});

test('an any-amount invoice for a token', (t) => {
  const r = decodeInvoice(makeInvoice({ amount: undefined, asset: TOKEN_A, memo: '' }));
  t.like(r, { ok: true, value: { amount: undefined, asset: TOKEN_A, memo: '' } });
});

const fieldsArb: fc.Arbitrary<InvoiceFields> = fc
  .record({
    chainId: fc.oneof(fc.constant(1n), fc.constant(31337n), fc.bigInt({ min: 1n, max: 2n ** 128n - 1n })),
    amount: fc.option(fc.bigInt({ min: 1n, max: 2n ** 128n - 1n }), { nil: undefined }),
    asset: fc.constantFrom(NATIVE_ASSET, TOKEN_A),
    createdAt: fc.bigInt({ min: 1n, max: 2n ** 40n }),
    expiresIn: fc.bigInt({ min: 1n, max: MAX_INVOICE_EXPIRY }),
    memo: fc.string({ maxLength: 100 }).filter((m) => decodeProblemFree(m)),
    hash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    hints: fc.array(
      fc.record({
        hop: fc.constantFrom(bob, irene, mallory),
        feeBase: fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }),
        feeProportional: fc.integer({ min: 0, max: 1_000_000 }),
        minAmount: fc.bigInt({ min: 0n, max: 1000n }),
        maxAmount: fc.option(fc.bigInt({ min: 1000n, max: 2n ** 128n - 1n }), { nil: undefined }),
      }),
      { maxLength: 3 },
    ),
  })
  .map((r) => {
    const fields = invoiceFields({
      chainId: r.chainId,
      asset: r.asset,
      createdAt: r.createdAt,
      expiresAt: r.createdAt + r.expiresIn,
      memo: r.memo,
      paymentHash: bytesToHex(r.hash) as Bytes32,
      routeHints: r.hints.map((h, i) => ({
        channelId: hint(i + 1).channelId,
        hopPublicKey: h.hop.publicKey,
        feeBase: h.feeBase,
        feeProportional: h.feeProportional,
        minAmount: h.minAmount,
        ...(h.maxAmount === undefined ? {} : { maxAmount: h.maxAmount }),
      })),
    });
    const { amount: _a, ...anyAmount } = fields;
    return r.amount === undefined ? anyAmount : { ...fields, amount: r.amount };
  });

function decodeProblemFree(memo: string): boolean {
  return prepareInvoice(invoiceFields({ memo })).ok;
}

const strip = (x: object) => JSON.parse(JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))) as unknown;

test('property: every invoice round-trips', (t) => {
  fc.assert(
    fc.property(fieldsArb, (fields) => {
      const text = signInvoice(fields);
      const r = decodeInvoice(text);
      if (!r.ok) throw new Error(`${r.problem}: ${r.detail}`);
      const { payee, routeHints, text: again, ...rest } = r.value;
      const { payee: _p, routeHints: hints, ...expected } = fields;
      t.deepEqual(strip(rest), strip(expected));
      t.is(payee.address, alice.address);
      t.deepEqual(
        routeHints.map((h) => h.hop.publicKey),
        hints.map((h) => bytesToHex(h.hopPublicKey)),
      );
      t.is(again, text);
    }),
    { numRuns: 100, seed },
  );
});

const ALPHABET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

test('property: any single changed character is refused', (t) => {
  const texts = [makeInvoice(), makeInvoice({ routeHints: [hint(1), hint(2, irene)], memo: 'x'.repeat(MAX_MEMO_BYTES) })];
  fc.assert(
    fc.property(fc.constantFrom(...texts), fc.nat(), fc.integer({ min: 33, max: 126 }), (text, at, code) => {
      const i = at % text.length;
      const ch = String.fromCharCode(code);
      if (ch === text[i] || ch.toLowerCase() === text[i]) return;
      const changed = text.slice(0, i) + ch + text.slice(i + 1);
      const r = decodeInvoice(changed);
      t.false(r.ok, `position ${i}: ${text[i]} -> ${ch}`);
    }),
    { numRuns: 2000, seed },
  );
  // And every substitution within the alphabet, exhaustively on the data part of the short one.
  const text = texts[0]!;
  const start = text.lastIndexOf('1') + 1;
  let tried = 0;
  for (let i = start; i < text.length; i++) {
    for (const ch of ALPHABET) {
      if (ch === text[i]) continue;
      tried++;
      if (decodeInvoice(text.slice(0, i) + ch + text.slice(i + 1)).ok) t.fail(`position ${i}: ${text[i]} -> ${ch} accepted`);
    }
  }
  t.true(tried > 5000);
});

test('a valid checksum does not make a forged invoice valid: signature and payee are checked', (t) => {
  // mallory signs an invoice that names alice as its payee (to divert a payment, say).
  const forged = signInvoice(invoiceFields(), mallory);
  t.like(decodeInvoice(forged), { ok: false, problem: 'signature' });
  // A signature that is not canonical (high S) or garbage.
  const prepared = prepareInvoice(invoiceFields());
  if (!prepared.ok) return t.fail();
  const bad = new Uint8Array(65).fill(0xff);
  t.like(decodeInvoice(completeInvoice(prepared.value, bad)), { ok: false, problem: 'signature' });
  const zero = new Uint8Array(65);
  zero[64] = 27;
  t.like(decodeInvoice(completeInvoice(prepared.value, zero)), { ok: false, problem: 'signature' });
  // A payload changed after signing, with a fresh checksum.
  const good = nobleBackend.sign(prepared.value.digest, alice.privateKey);
  const payload = packr.unpack(prepared.value.payload) as unknown[];
  payload[5] = 1; // the amount
  const tampered = new Uint8Array([...packr.pack(payload), ...good]);
  t.like(decodeInvoice(bech32m.encode('lanes31337', bech32m.toWords(tampered), false)), { ok: false, problem: 'signature' });
  // The same bytes under another chain's prefix: the prefix is signed too.
  const moved = new Uint8Array([...prepared.value.payload, ...good]);
  t.like(decodeInvoice(bech32m.encode('lanes1', bech32m.toWords(moved), false)), { ok: false, problem: 'signature' });
});

test('property: random signatures are refused', (t) => {
  const prepared = prepareInvoice(invoiceFields());
  if (!prepared.ok) return t.fail();
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 65, maxLength: 65 }), (sig) => {
      t.false(decodeInvoice(completeInvoice(prepared.value, sig)).ok);
    }),
    { numRuns: 200, seed },
  );
});

/** Signs any payload as alice would: for inputs the encoder itself refuses to build. */
function rawInvoice(payload: unknown[], prefix = 'lanes31337'): string {
  const bytes = packr.pack(payload);
  const sig = nobleBackend.sign(invoiceDigest(prefix, bytes), alice.privateKey);
  return bech32m.encode(prefix, bech32m.toWords(new Uint8Array([...bytes, ...sig])), false);
}

const validPayload = (): unknown[] => {
  const p = prepareInvoice(invoiceFields());
  if (!p.ok) throw new Error('refused');
  return packr.unpack(p.value.payload) as unknown[];
};

test('every bound is checked on decoding, even when the payee signed it', (t) => {
  const cases: [string, (p: unknown[]) => void, string][] = [
    ['a huge memo', (p) => (p[8] = 'x'.repeat(MAX_MEMO_BYTES + 1)), 'bounds'],
    ['a control character in the memo', (p) => (p[8] = 'pay\u001b[2Jnow'), 'bounds'],
    ['a bidi override in the memo', (p) => (p[8] = 'abc\u202edef'), 'bounds'],
    ['zero amount', (p) => (p[5] = 0), 'bounds'],
    ['an amount above 2^128-1', (p) => (p[5] = new Uint8Array(17).fill(1)), 'bounds'],
    ['no expiry', (p) => (p[7] = 0), 'bounds'],
    ['expiry beyond a year', (p) => (p[7] = Number(MAX_INVOICE_EXPIRY) + 1), 'bounds'],
    ['created at 0', (p) => (p[6] = 0), 'bounds'],
    ['unknown format', (p) => (p[0] = 2), 'malformed'],
    ['a missing field', (p) => p.pop(), 'malformed'],
    ['an extra field', (p) => p.push(1), 'malformed'],
    ['the native asset as 20 zero bytes', (p) => (p[4] = new Uint8Array(20)), 'malformed'],
    ['a padded integer', (p) => (p[6] = new Uint8Array([0, ...new Uint8Array(5).fill(1)])), 'malformed'],
    ['a short payment hash', (p) => (p[3] = new Uint8Array(31)), 'malformed'],
    [
      'too many route hints',
      (p) => {
        const h = [new Uint8Array(32).fill(1), bob.publicKey, 0, 0, 0, null];
        p[9] = Array.from({ length: MAX_ROUTE_HINTS + 1 }, (_, i) => [new Uint8Array(32).fill(i + 1), ...h.slice(1)]);
      },
      'malformed',
    ],
    [
      'a hint whose hop key is not on the curve',
      // 0x03 followed by 32 bytes of 0x03: no point of the curve has that x (0x02… would be one).
      (p) => (p[9] = [[new Uint8Array(32).fill(1), new Uint8Array(33).fill(3), 0, 0, 0, null]]),
      'malformed',
    ],
    ['a hint with max below min', (p) => (p[9] = [[new Uint8Array(32).fill(1), bob.publicKey, 0, 0, 10, 5]]), 'bounds'],
    ['a hint through the payee itself', (p) => (p[9] = [[new Uint8Array(32).fill(1), alice.publicKey, 0, 0, 0, null]]), 'bounds'],
    ['a proportional fee above 100%', (p) => (p[9] = [[new Uint8Array(32).fill(1), bob.publicKey, 0, 1_000_001, 0, null]]), 'bounds'],
  ];
  for (const [what, change, problem] of cases) {
    const p = validPayload();
    change(p);
    t.like(decodeInvoice(rawInvoice(p)), { ok: false, problem }, what);
  }
  t.like(decodeInvoice(rawInvoice(validPayload(), 'lanes0')), { ok: false, problem: 'prefix' });
  t.like(decodeInvoice(rawInvoice(validPayload(), 'lnbc')), { ok: false, problem: 'prefix' });
});

test('strings that are not invoices are refused with a short detail', (t) => {
  const text = makeInvoice();
  const cases: [unknown, string][] = [
    [text.slice(0, -1), 'checksum'],
    [text.slice(0, text.length >> 1), 'checksum'],
    [text.slice(0, 20) + text.slice(21), 'checksum'],
    [text.slice(0, 10) + text.slice(10, 20).toUpperCase() + text.slice(20), 'malformed'],
    ['lanes', 'malformed'],
    ['', 'malformed'],
    [42, 'malformed'],
    ['x'.repeat(5000), 'too-long'],
    [bech32m.encode('lanes31337', bech32m.toWords(new Uint8Array(10)), false), 'malformed'],
    [bech32m.encode('lanes31337', bech32m.toWords(new Uint8Array(100).fill(0xc1)), false), 'malformed'],
  ];
  for (const [input, problem] of cases) {
    const r = decodeInvoice(input);
    t.like(r, { ok: false, problem }, String(input).slice(0, 40));
    if (!r.ok) t.true(r.detail.length > 0 && r.detail.length < 200, r.detail);
  }
});

test('creating refuses out-of-range fields', (t) => {
  const cases: InvoiceOverrides[] = [
    { memo: 'é'.repeat(320) },
    { memo: '\ud800' },
    { memo: 'line\nbreak' },
    { amount: 0n },
    { amount: 2n ** 128n },
    { expiresAt: NOW },
    { expiresAt: NOW + MAX_INVOICE_EXPIRY + 1n },
    { chainId: 0n },
    { paymentHash: '0x12' as Bytes32 },
    { routeHints: [hint(1, bob, { hopPublicKey: new Uint8Array(5) })] },
    { routeHints: [hint(1), hint(1, irene)] },
    { routeHints: Array.from({ length: MAX_ROUTE_HINTS + 1 }, (_, i) => hint(i + 1)) },
  ];
  for (const c of cases) t.like(prepareInvoice(invoiceFields(c)), { ok: false, problem: 'bounds' }, JSON.stringify(Object.keys(c)));
  t.true(prepareInvoice(invoiceFields({ memo: 'é'.repeat(319) })).ok);
});

test('checkInvoice refuses other chains, other adjudicators and expired invoices', (t) => {
  const r = decodeInvoice(makeInvoice());
  if (!r.ok) return t.fail();
  const here = { chainId: 31337n, adjudicator: ADJUDICATOR, now: NOW + 10n } as const;
  t.like(checkInvoice(r.value, here), { ok: true });
  t.like(checkInvoice(r.value, { ...here, chainId: 1n }), { ok: false, problem: 'wrong-chain' });
  t.like(checkInvoice(r.value, { ...here, adjudicator: TOKEN_A }), { ok: false, problem: 'wrong-chain' });
  t.like(checkInvoice(r.value, { ...here, now: NOW + 3600n }), { ok: false, problem: 'expired' });
  t.is(new Set<string>(INVOICE_PROBLEMS).size, INVOICE_PROBLEMS.length);
});
