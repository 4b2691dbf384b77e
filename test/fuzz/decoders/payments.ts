/**
 * Fuzz target: invoices and payment records (src/core/payments, docs/adr/0018). An invoice string
 * is hostile input a user pastes; a record comes back from the store.
 *
 * - An invoice string either decodes (checksum, bounds, canonical payload, the payee's signature)
 *   to an invoice whose canonical text decodes to the same invoice, or is refused with a problem
 *   from INVOICE_PROBLEMS and a short detail: it never throws.
 * - A payment or invoice record either decodes to a value that encodes back to the same bytes, or
 *   is refused with a short detail: it never throws.
 *
 * Input: `[mode][bytes…]`, mode's low two bits: 0 the bytes as an invoice string (latin1); 1 the
 * bytes as an invoice *payload*, which the target signs with alice's key and wraps in bech32m
 * with a valid checksum, so the fuzzer explores the payload parser and the bounds instead of
 * stopping at the checksum; 2 a payment record; 3 an invoice record.
 */
import { bech32m } from '@scure/base';
import { nobleBackend } from '../../../src/core/crypto.ts';
import { INVOICE_PROBLEMS, decodeInvoice, invoiceDigest, paymentHashOf } from '../../../src/core/payments/invoice.ts';
import { decodeInvoiceRecord, decodePaymentRecord, encodeInvoiceRecord, encodePaymentRecord } from '../../../src/core/payments/record.ts';
import { type Bytes32, NATIVE_ASSET } from '../../../src/core/bytes.ts';
import { alice, bob, mallory } from '../../helpers/actors.ts';
import { TOKEN_A } from '../../helpers/factories.ts';
import { SECRET, invoiceFields, makeInvoice, signInvoice } from '../../helpers/invoices.ts';
import { same, shortDetail, violation } from './check.ts';

export const MODE = { text: 0, payload: 1, payment: 2, invoice: 3 } as const;
const PREFIX = 'lanes31337';

/** An invoice string around any payload, signed by alice (as the payee would). */
export function signedInvoice(payload: Uint8Array): string {
  const sig = nobleBackend.sign(invoiceDigest(PREFIX, payload), alice.privateKey);
  const data = new Uint8Array(payload.length + sig.length);
  data.set(payload);
  data.set(sig, payload.length);
  return bech32m.encode(PREFIX, bech32m.toWords(data), false);
}

function invoice(text: string): void {
  let r: ReturnType<typeof decodeInvoice>;
  try {
    r = decodeInvoice(text);
  } catch (e) {
    violation('decodeInvoice threw', e);
  }
  if (!r.ok) {
    if (!(INVOICE_PROBLEMS as readonly string[]).includes(r.problem)) violation('unknown invoice problem', r.problem);
    shortDetail(r.detail, 200);
    return;
  }
  same('canonical text', r.value.text, text.trim().toLowerCase());
  const again = decodeInvoice(r.value.text);
  if (!again.ok) violation('the canonical text of a decoded invoice does not decode', again);
  same('an invoice decoded from its canonical text', again.value, r.value);
}

function record(bytes: Uint8Array, payment: boolean): void {
  let r: ReturnType<typeof decodePaymentRecord> | ReturnType<typeof decodeInvoiceRecord>;
  try {
    r = payment ? decodePaymentRecord(bytes) : decodeInvoiceRecord(bytes, paymentHashOf);
  } catch (e) {
    violation('a record decoder threw', e);
  }
  if (!r.ok) return shortDetail(r.detail, 300);
  let encoded: Uint8Array;
  try {
    encoded = payment ? encodePaymentRecord(r.value as never) : encodeInvoiceRecord(r.value as never);
  } catch (e) {
    violation('the encoder refuses a record the decoder accepted', { value: r.value, error: e });
  }
  same('stored and re-encoded record', Buffer.from(encoded), Buffer.from(bytes));
}

export function fuzz(data: Buffer): void {
  if (data.length === 0) return;
  const mode = data[0]! & 3;
  const bytes = Uint8Array.from(data.subarray(1));
  if (mode === MODE.text) invoice(Buffer.from(bytes).toString('latin1'));
  else if (mode === MODE.payload) {
    if (bytes.length > 2600) return; // beyond MAX_INVOICE_LENGTH once in bech32: the length check, not the parser
    invoice(signedInvoice(bytes));
  } else record(bytes, mode === MODE.payment);
}

// ---------------------------------------------------------------------------------------------
// Seeds (seeds.ts writes them to corpus/payments): valid invoices, records, and near misses.

const seed = (mode: number, bytes: Uint8Array | string) =>
  Uint8Array.of(mode, ...(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes));

export function paymentSeeds(): Map<string, Uint8Array> {
  const hash = paymentHashOf(SECRET);
  const texts: [string, string][] = [
    ['valid-invoice', makeInvoice()],
    ['valid-any-amount-token', makeInvoice({ amount: undefined, asset: TOKEN_A, memo: '' })],
    [
      'valid-hints-full-memo',
      makeInvoice({
        memo: 'é'.repeat(319),
        routeHints: [1, 2, 3].map((i) => ({
          channelId: `0x${String(i).repeat(64)}` as Bytes32,
          hopPublicKey: bob.publicKey,
          feeBase: 2n ** 128n - 1n,
          feeProportional: 1_000_000,
          minAmount: 0n,
          ...(i === 2 ? {} : { maxAmount: 2n ** 128n - 1n }),
        })),
      }),
    ],
  ];
  const out = new Map<string, Uint8Array>();
  for (const [name, text] of texts) {
    out.set(name, seed(MODE.text, text));
    out.set(`${name}-upper`, seed(MODE.text, `  ${text.toUpperCase()}\n`));
    out.set(`bad-${name}-one-char`, seed(MODE.text, text.slice(0, 20) + (text[20] === 'q' ? 'p' : 'q') + text.slice(21)));
    const data = bech32m.fromWords(bech32m.decode(text as `${string}1${string}`, 4096).words);
    out.set(`payload-${name}`, seed(MODE.payload, data.subarray(0, data.length - 65)));
  }
  out.set('bad-forged', seed(MODE.text, signInvoice(invoiceFields(), mallory)));
  out.set('bad-wrong-prefix', seed(MODE.text, makeInvoice().replace('lanes31337', 'lnbc')));
  out.set('bad-too-long', seed(MODE.text, `lanes313371${'q'.repeat(4200)}`));
  out.set('bad-payload-not-msgpack', seed(MODE.payload, Uint8Array.of(0xc1, 0xc1)));
  const record = {
    direction: 'out' as const,
    kind: 'invoice' as const,
    status: 'failed' as const,
    paymentHash: hash,
    secret: SECRET,
    asset: NATIVE_ASSET,
    amount: 2n ** 128n - 1n,
    fee: 0n,
    counterparty: bob.address,
    route: [{ channelId: hash, to: bob.address, amount: 1n, expiry: 2n ** 64n - 1n, lockId: 7n }],
    invoice: makeInvoice(),
    memo: 'coffee',
    createdAt: 1,
    updatedAt: 2,
    failure: { reason: 'cancelled' as const, detail: 'the payee gave the lock back', hop: 0 },
  };
  out.set('valid-payment-record', seed(MODE.payment, encodePaymentRecord(record)));
  const { secret: _s, failure: _f, invoice: _i, ...keysend } = record;
  out.set('valid-keysend-record', seed(MODE.payment, encodePaymentRecord({ ...keysend, kind: 'keysend', status: 'in-flight', route: [] })));
  const swap = { asset: `0x${'aa'.repeat(20)}` as const, amount: 5n, hub: bob.address, rateNum: 3000n, rateDen: 1n };
  out.set(
    'valid-swap-record',
    seed(MODE.payment, encodePaymentRecord({ ...record, status: 'settled', failure: undefined, swap } as never)),
  );
  const inv = { text: makeInvoice(), paymentHash: hash, secret: SECRET, status: 'paid' as const, received: 5n, paidAt: 9 };
  out.set('valid-invoice-record', seed(MODE.invoice, encodeInvoiceRecord(inv)));
  out.set('valid-released-hold-invoice-record', seed(MODE.invoice, encodeInvoiceRecord({ ...inv, hold: true, released: true })));
  out.set('bad-record-trailing', seed(MODE.payment, Uint8Array.of(...encodePaymentRecord(record), 0xc0)));
  return out;
}
