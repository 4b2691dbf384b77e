/**
 * Payment records and issued invoices in the node's store (docs/adr/0018), through the store
 * port's meta values: `pay/<direction>/<payment hash>` and `inv/<payment hash>` hold the records
 * (src/core/payments/record.ts), and an append-only index in chunks of {@link CHUNK} keys
 * (`pidx/<n>`, with `pidx/count`) lists them, since the port has no range scan. Everything is
 * loaded into memory at start; a write is issued at once and durable at the next flush, which the
 * service awaits where an outcome depends on it (a secret before its lock is settled, a record
 * before its lock is proposed).
 */
import type { Bytes32 } from '../core/bytes.ts';
import { paymentHashOf } from '../core/payments/invoice.ts';
import {
  type InvoiceRecord,
  type PaymentRecord,
  decodeInvoiceRecord,
  decodePaymentRecord,
  encodeInvoiceRecord,
  encodePaymentRecord,
} from '../core/payments/record.ts';
import type { ChannelStore } from '../store/store.ts';

const CHUNK = 256;
const COUNT_KEY = 'pidx/count';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const paymentKey = (direction: 'out' | 'in', hash: Bytes32): string => `pay/${direction}/${hash}`;
const invoiceKey = (hash: Bytes32): string => `inv/${hash}`;

export interface LoadedPayments {
  readonly payments: Map<string, PaymentRecord>;
  readonly invoices: Map<Bytes32, InvoiceRecord>;
  /** Keys whose record did not decode (logged by the caller, never silently used). */
  readonly unreadable: string[];
}

export class PaymentsStore {
  private readonly store: ChannelStore;
  private readonly keys = new Set<string>();
  private count = 0;
  /** The keys of the last, unfilled index chunk (the one the next new key joins). */
  private tail: string[] = [];

  constructor(store: ChannelStore) {
    this.store = store;
  }

  async load(): Promise<LoadedPayments> {
    const payments = new Map<string, PaymentRecord>();
    const invoices = new Map<Bytes32, InvoiceRecord>();
    const unreadable: string[] = [];
    const raw = await this.store.getMeta(COUNT_KEY);
    this.count = raw === undefined ? 0 : Number(decoder.decode(raw));
    if (!Number.isSafeInteger(this.count) || this.count < 0) throw new Error('payment index count is corrupt');
    for (let chunk = 0; chunk * CHUNK < this.count; chunk++) {
      const bytes = await this.store.getMeta(`pidx/${chunk}`);
      const keys = bytes === undefined ? [] : (JSON.parse(decoder.decode(bytes)) as unknown);
      if (!Array.isArray(keys)) throw new Error(`payment index chunk ${chunk} is corrupt`);
      for (const key of keys) if (typeof key === 'string') this.keys.add(key);
      if ((chunk + 1) * CHUNK > this.count) this.tail = keys.filter((k): k is string => typeof k === 'string');
    }
    for (const key of this.keys) {
      const bytes = await this.store.getMeta(key);
      if (bytes === undefined) continue;
      if (key.startsWith('inv/')) {
        const r = decodeInvoiceRecord(bytes, paymentHashOf);
        if (r.ok) invoices.set(r.value.paymentHash, r.value);
        else unreadable.push(key);
      } else {
        const r = decodePaymentRecord(bytes);
        if (r.ok) payments.set(key, r.value);
        else unreadable.push(key);
      }
    }
    return { payments, invoices, unreadable };
  }

  putPayment(record: PaymentRecord): void {
    this.put(paymentKey(record.direction, record.paymentHash), encodePaymentRecord(record));
  }

  putInvoice(record: InvoiceRecord): void {
    this.put(invoiceKey(record.paymentHash), encodeInvoiceRecord(record));
  }

  flush(): Promise<void> {
    return this.store.flush();
  }

  private put(key: string, value: Uint8Array): void {
    // The value before the index entry: the index never names a key that was not written.
    this.store.putMeta(key, value);
    if (this.keys.has(key)) return;
    this.keys.add(key);
    const chunk = Math.floor(this.count / CHUNK);
    this.tail.push(key);
    this.count++;
    this.store.putMeta(`pidx/${chunk}`, encoder.encode(JSON.stringify(this.tail)));
    this.store.putMeta(COUNT_KEY, encoder.encode(String(this.count)));
    if (this.count % CHUNK === 0) this.tail = [];
  }
}
