import test from 'ava';
import fc from 'fast-check';
import {
  MAX_FAILURE_DETAIL,
  MAX_ROUTE_HOPS,
  PAYMENT_FAILURES,
  PAYMENT_STATUSES,
  type InvoiceRecord,
  type PaymentRecord,
  decodeInvoiceRecord,
  decodePaymentRecord,
  encodeInvoiceRecord,
  encodePaymentRecord,
} from '../../../src/core/payments/record.ts';
import { keysendKey, keysendSecret } from '../../../src/core/payments/keysend.ts';
import { paymentHashOf } from '../../../src/core/payments/invoice.ts';
import { type Address, type Bytes32, NATIVE_ASSET, bytesToHex } from '../../../src/core/index.ts';
import { packr } from '../../../src/core/codec/primitives.ts';
import { alice, bob, mallory } from '../../helpers/actors.ts';
import { TOKEN_A } from '../../helpers/factories.ts';
import { SECRET, makeInvoice } from '../../helpers/invoices.ts';

const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);
test.before((t) => t.log(`SEED=${seed}`));

const CHANNEL = `0x${'c1'.repeat(32)}` as Bytes32;

function record(overrides: Partial<PaymentRecord> = {}): PaymentRecord {
  return {
    direction: 'out',
    kind: 'invoice',
    status: 'settled',
    paymentHash: paymentHashOf(SECRET),
    secret: SECRET,
    asset: NATIVE_ASSET,
    amount: 10n ** 15n,
    fee: 0n,
    counterparty: bob.address,
    route: [{ channelId: CHANNEL, to: bob.address, amount: 10n ** 15n, expiry: 1_800_000_600n, lockId: 42n }],
    invoice: makeInvoice({}, bob),
    memo: 'coffee',
    createdAt: 1_800_000_000_000,
    updatedAt: 1_800_000_001_000,
    ...overrides,
  };
}

const hash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b) as Bytes32);
const address = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => bytesToHex(b) as Address);
const amount = fc.bigInt({ min: 1n, max: 2n ** 128n - 1n });

const recordArb: fc.Arbitrary<PaymentRecord> = fc
  .record({
    direction: fc.constantFrom('out' as const, 'in' as const),
    kind: fc.constantFrom('invoice' as const, 'keysend' as const),
    status: fc.constantFrom(...PAYMENT_STATUSES),
    paymentHash: hash,
    secret: fc.option(hash, { nil: undefined }),
    asset: fc.constantFrom(NATIVE_ASSET, TOKEN_A),
    amount,
    fee: fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }),
    counterparty: address,
    route: fc.array(
      fc.record({
        channelId: hash,
        to: address,
        amount,
        expiry: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        lockId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      }),
      { maxLength: 4 },
    ),
    invoice: fc.option(fc.constant(makeInvoice()), { nil: undefined }),
    memo: fc.constantFrom('', 'coffee', 'é'.repeat(100)),
    createdAt: fc.nat(),
    updatedAt: fc.nat(),
    failure: fc.option(
      fc.record({
        reason: fc.constantFrom(...PAYMENT_FAILURES),
        detail: fc.string({ maxLength: MAX_FAILURE_DETAIL }),
        hop: fc.option(fc.integer({ min: 0, max: MAX_ROUTE_HOPS - 1 }), { nil: undefined }),
      }),
      { nil: undefined },
    ),
  })
  .map(
    (r) =>
      // (a deep copy without undefined fields; bigints tagged as objects, so that no generated
      // string, such as a detail "0n", is taken for one)
      JSON.parse(
        JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v)),
        (_k, v: unknown) =>
          typeof v === 'object' && v !== null && typeof (v as { $bigint?: unknown }).$bigint === 'string'
            ? BigInt((v as { $bigint: string }).$bigint)
            : v,
      ) as PaymentRecord,
  );

test('property: every payment record round-trips through its codec', (t) => {
  fc.assert(
    fc.property(recordArb, (r) => {
      const back = decodePaymentRecord(encodePaymentRecord(r));
      if (!back.ok) throw new Error(back.detail);
      t.deepEqual(back.value, r);
    }),
    { numRuns: 200, seed },
  );
});

test('a stored record that is damaged, padded or out of range is refused, never half-read', (t) => {
  const good = packr.unpack(encodePaymentRecord(record())) as unknown[];
  const cases: [string, (f: unknown[]) => void][] = [
    ['unknown format', (f) => (f[0] = 2)],
    ['unknown status', (f) => (f[3] = 'paid-twice')],
    ['zero amount', (f) => (f[7] = 0)],
    ['amount above 2^128', (f) => (f[7] = new Uint8Array(17).fill(1))],
    ['a short payment hash', (f) => (f[4] = new Uint8Array(31))],
    ['too many hops', (f) => (f[10] = Array.from({ length: MAX_ROUTE_HOPS + 1 }, () => (f[10] as unknown[])[0]))],
    ['an unknown failure reason', (f) => (f[15] = ['stolen', '', null])],
    ['a long failure detail', (f) => (f[15] = ['cancelled', 'x'.repeat(MAX_FAILURE_DETAIL + 1), 0])],
    ['a control character in the memo', (f) => (f[12] = 'a\u0007b')],
    ['a missing field', (f) => f.pop()],
    ['a padded integer', (f) => (f[8] = new Uint8Array([0, 1]))],
  ];
  for (const [what, change] of cases) {
    const f = structuredClone(good);
    change(f);
    t.false(decodePaymentRecord(packr.pack(f)).ok, what);
  }
  t.false(decodePaymentRecord(new Uint8Array(0)).ok);
  t.false(decodePaymentRecord(Uint8Array.of(0xc1)).ok);
  t.throws(() => encodePaymentRecord(record({ amount: 0n })), { instanceOf: TypeError });
});

test('invoice records keep the secret, and the payment hash is recomputed from it', (t) => {
  const r: InvoiceRecord = { text: makeInvoice({}, bob), paymentHash: paymentHashOf(SECRET), secret: SECRET, status: 'open', received: 0n };
  t.deepEqual(decodeInvoiceRecord(encodeInvoiceRecord(r), paymentHashOf), { ok: true, value: r });
  const paid = { ...r, status: 'paid' as const, received: 5n, paidAt: 1 };
  t.deepEqual(decodeInvoiceRecord(encodeInvoiceRecord(paid), paymentHashOf), { ok: true, value: paid });
  const f = packr.unpack(encodeInvoiceRecord(r)) as unknown[];
  f[3] = 'refunded';
  t.false(decodeInvoiceRecord(packr.pack(f), paymentHashOf).ok);
});

test('a hold invoice record keeps hold and released; released only on a hold invoice, and only as true', (t) => {
  const r: InvoiceRecord = { text: makeInvoice({}, bob), paymentHash: paymentHashOf(SECRET), secret: SECRET, status: 'open', received: 0n };
  for (const x of [
    { ...r, hold: true as const },
    { ...r, hold: true as const, released: true as const },
  ])
    t.deepEqual(decodeInvoiceRecord(encodeInvoiceRecord(x), paymentHashOf), { ok: true, value: x });
  t.throws(() => encodeInvoiceRecord({ ...r, released: true }), { instanceOf: TypeError });
  const f = packr.unpack(encodeInvoiceRecord({ ...r, hold: true, released: true })) as unknown[];
  t.false(decodeInvoiceRecord(packr.pack([...f.slice(0, 7), false]), paymentHashOf).ok, 'released must be true');
  t.false(decodeInvoiceRecord(packr.pack([...f.slice(0, 6), false, true]), paymentHashOf).ok, 'released without hold');
  t.false(decodeInvoiceRecord(packr.pack([...f, true]), paymentHashOf).ok, 'no ninth field');
});

test('keysend: payer and payee derive the same secret per lock, and nobody else does', (t) => {
  const payer = keysendKey(alice.privateKey, bob.publicKey);
  const payee = keysendKey(bob.privateKey, alice.publicKey);
  t.deepEqual(payer, payee);
  const s = keysendSecret(payer, CHANNEL, 7n);
  t.is(keysendSecret(payee, CHANNEL, 7n), s);
  t.not(keysendSecret(payer, CHANNEL, 8n), s);
  t.not(keysendSecret(payer, `0x${'c2'.repeat(32)}`, 7n), s);
  t.not(keysendSecret(keysendKey(mallory.privateKey, alice.publicKey), CHANNEL, 7n), s);
});
