/**
 * Payment records and issued invoices in the node's store (docs/adr/0018), through the store
 * port's meta values: `pay/<direction>/<payment hash>` and `inv/<payment hash>` hold the records
 * (src/core/payments/record.ts), and an append-only index lists them, since the port has no
 * range scan: chunks of {@link CHUNK} keys, `pix/0`, `pix/1`, … read until one is missing (a
 * chunk is started only once the one before is full). Stores written before 2026-12-04 also have
 * the first index (`pidx/<n>` of 256 keys, with `pidx/count`): read at start, never written
 * again. (Rewriting a 256-key chunk per new payment cost more than the payment's own record.)
 * Everything is
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

/** Keys per chunk of the index. */
const CHUNK = 16;
const chunkKey = (n: number): string => `pix/${n}`;
/** The first index (read only): chunks of 256 keys and their count. */
const V1_CHUNK = 256;
const V1_COUNT_KEY = 'pidx/count';
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
  /** The index chunk the next new key joins, and the keys it holds. */
  private chunk = 0;
  private tail: string[] = [];

  constructor(store: ChannelStore) {
    this.store = store;
  }

  async load(): Promise<LoadedPayments> {
    const payments = new Map<string, PaymentRecord>();
    const invoices = new Map<Bytes32, InvoiceRecord>();
    const unreadable: string[] = [];
    const chunkKeys = (bytes: Uint8Array, where: string): string[] => {
      let keys: unknown;
      try {
        keys = JSON.parse(decoder.decode(bytes));
      } catch {
        keys = undefined;
      }
      if (!Array.isArray(keys)) throw new Error(`payment index chunk ${where} is corrupt`);
      return keys.filter((k): k is string => typeof k === 'string');
    };
    const raw = await this.store.getMeta(V1_COUNT_KEY);
    const v1Count = raw === undefined ? 0 : Number(decoder.decode(raw));
    if (!Number.isSafeInteger(v1Count) || v1Count < 0) throw new Error('payment index count is corrupt');
    for (let chunk = 0; chunk * V1_CHUNK < v1Count; chunk++) {
      const bytes = await this.store.getMeta(`pidx/${chunk}`);
      if (bytes !== undefined) for (const key of chunkKeys(bytes, `pidx/${chunk}`)) this.keys.add(key);
    }
    for (let chunk = 0; ; chunk++) {
      const bytes = await this.store.getMeta(chunkKey(chunk));
      if (bytes === undefined) break;
      const keys = chunkKeys(bytes, chunkKey(chunk));
      for (const key of keys) this.keys.add(key);
      this.chunk = chunk;
      this.tail = keys;
    }
    if (this.tail.length >= CHUNK) {
      this.chunk++;
      this.tail = [];
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
    this.tail.push(key);
    this.store.putMeta(chunkKey(this.chunk), encoder.encode(JSON.stringify(this.tail)));
    if (this.tail.length >= CHUNK) {
      this.chunk++;
      this.tail = [];
    }
  }
}
