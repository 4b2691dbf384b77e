/**
 * Payment records and issued invoices in the node's store (docs/adr/0018 and its 2026-12-04
 * addendum), through the store port's meta values:
 * - `pay/<direction>/<payment hash>`: a payment record (src/core/payments/record.ts);
 * - `inv/<payment hash>`: an invoice we issued;
 * - `pact/<record key>`: marks a payment that is not final yet (pending, in flight), so a start
 *   reads only those, not the whole history (`pact-ready` says the marks are complete);
 * - `iopen/<payment hash>`: marks an invoice that is open (not paid), the same way
 *   (`iopen-ready`); the service removes the mark of one long expired;
 * - `pix/<n>`: the history index, append-only chunks of {@link CHUNK} keys in the order records
 *   were first written (`pix-tail` names the chunk new keys join). `payments()` walks it from the
 *   newest end, so a page costs what it lists, not the node's whole history. Stores written
 *   before 2026-12-04 also have the first index (`pidx/<n>` of 256 keys, with `pidx/count`): read
 *   (last) when a listing reaches it, never written again.
 *
 * A mark is written before the record that makes a payment active and removed after the record
 * that makes it final, so a crash between the two leaves at most a stale mark, which the next
 * start checks against the record and removes. A store without `pact-ready` (written before the
 * marks existed) is read in full once and its marks written.
 *
 * Every write is issued at once and durable at the next flush, which the service awaits where an
 * outcome depends on it (a secret before its lock is settled, a record before its lock is
 * proposed).
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
/** The chunk new keys join; written when a chunk is started. */
const TAIL_KEY = 'pix-tail';
/** The first index (read only): chunks of 256 keys and their count. */
const V1_CHUNK = 256;
const V1_COUNT_KEY = 'pidx/count';
const ACTIVE_PREFIX = 'pact/';
const activeKey = (key: string): string => ACTIVE_PREFIX + key;
/** Present once every active payment has its mark. */
const ACTIVE_READY_KEY = 'pact-ready';
/** Marks an invoice of ours that is still open (`iopen/<payment hash>`): a start reads only those. */
const OPEN_PREFIX = 'iopen/';
const OPEN_READY_KEY = 'iopen-ready';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const paymentKey = (direction: 'out' | 'in', hash: Bytes32): string => `pay/${direction}/${hash}`;
const invoiceKey = (hash: Bytes32): string => `inv/${hash}`;

/** Not final yet: a start picks these up again. */
export const isActive = (r: PaymentRecord): boolean => r.status === 'pending' || r.status === 'in-flight';

export interface LoadedPayments {
  /** The payments that are not final (pending, in flight), by record key. */
  readonly active: Map<string, PaymentRecord>;
  /** The invoices still open (marked), by payment hash. */
  readonly invoices: Map<Bytes32, InvoiceRecord>;
  /** Keys whose record did not decode (logged by the caller, never silently used). */
  readonly unreadable: string[];
}

/** What a page of the history asks for. */
export interface HistoryQuery {
  readonly direction?: 'out' | 'in';
  readonly status?: PaymentRecord['status'];
  /** Matching records to skip, newest first. */
  readonly offset: number;
  /** Most records to return. */
  readonly limit: number;
}

export class PaymentsStore {
  private readonly store: ChannelStore;
  /** The index chunk the next new key joins, and the keys it holds. */
  private chunk = 0;
  private tail: string[] = [];
  /** Keys of the first index, in order (read only when a listing reaches them). */
  private v1Count = 0;
  /** Keys already in the index from this process (or active at start): not appended again. */
  private readonly indexed = new Set<string>();
  /** Keys with an active mark on disk. */
  private readonly marked = new Set<string>();
  /** Payment hashes of invoices with an open mark on disk. */
  private readonly open = new Set<Bytes32>();

  constructor(store: ChannelStore) {
    this.store = store;
  }

  async load(): Promise<LoadedPayments> {
    const active = new Map<string, PaymentRecord>();
    const invoices = new Map<Bytes32, InvoiceRecord>();
    const unreadable: string[] = [];
    const raw = await this.store.getMeta(V1_COUNT_KEY);
    this.v1Count = raw === undefined ? 0 : Number(decoder.decode(raw));
    if (!Number.isSafeInteger(this.v1Count) || this.v1Count < 0) throw new Error('payment index count is corrupt');
    await this.findTail();
    if ((await this.store.getMeta(OPEN_READY_KEY)) !== undefined) {
      for (const [mark] of await this.store.scanMeta(OPEN_PREFIX)) {
        const hash = mark.slice(OPEN_PREFIX.length) as Bytes32;
        const r = await this.getInvoice(hash);
        if (r === 'unreadable') unreadable.push(invoiceKey(hash));
        if (typeof r === 'object' && r.status === 'open') {
          invoices.set(hash, r);
          this.open.add(hash);
        } else this.store.deleteMeta(mark); // paid (a crash before the mark went), or unreadable
      }
    } else {
      // Written before the marks existed: read every invoice once, and mark the open ones.
      for (const [key, bytes] of await this.store.scanMeta('inv/')) {
        const r = decodeInvoiceRecord(bytes, paymentHashOf);
        if (!r.ok) unreadable.push(key);
        else if (r.value.status === 'open') {
          invoices.set(r.value.paymentHash, r.value);
          this.markOpen(r.value.paymentHash);
        }
      }
      this.store.putMeta(OPEN_READY_KEY, new Uint8Array(0));
    }
    const read = async (key: string): Promise<void> => {
      const bytes = await this.store.getMeta(key);
      if (bytes === undefined) return;
      const r = decodePaymentRecord(bytes);
      if (!r.ok) unreadable.push(key);
      else if (isActive(r.value)) active.set(key, r.value);
    };
    if ((await this.store.getMeta(ACTIVE_READY_KEY)) !== undefined) {
      for (const [mark] of await this.store.scanMeta(ACTIVE_PREFIX)) {
        const key = mark.slice(ACTIVE_PREFIX.length);
        await read(key);
        if (active.has(key)) this.marked.add(key);
        else this.store.deleteMeta(mark); // a crash after the final record, before the mark went
      }
    } else {
      // Written before the marks existed: read every record once, and mark the active ones.
      for await (const key of this.keysNewestFirst()) if (key.startsWith('pay/')) await read(key);
      for (const key of active.keys()) this.mark(key);
      this.store.putMeta(ACTIVE_READY_KEY, new Uint8Array(0));
    }
    for (const key of active.keys()) this.indexed.add(key);
    for (const hash of invoices.keys()) this.indexed.add(invoiceKey(hash));
    return { active, invoices, unreadable };
  }

  /** Reads one payment record from disk (undefined if absent or unreadable). */
  async getPayment(key: string): Promise<PaymentRecord | undefined> {
    const bytes = await this.store.getMeta(key);
    if (bytes === undefined) return undefined;
    const r = decodePaymentRecord(bytes);
    return r.ok ? r.value : undefined;
  }

  putPayment(record: PaymentRecord): void {
    const key = paymentKey(record.direction, record.paymentHash);
    const activeNow = isActive(record);
    if (activeNow && !this.marked.has(key)) this.mark(key); // before the record: see the file comment
    this.put(key, encodePaymentRecord(record));
    if (!activeNow && this.marked.delete(key)) this.store.deleteMeta(activeKey(key)); // after it
  }

  putInvoice(record: InvoiceRecord): void {
    const hash = record.paymentHash;
    const openNow = record.status === 'open';
    if (openNow && !this.open.has(hash)) this.markOpen(hash); // before the record, as for payments
    this.put(invoiceKey(hash), encodeInvoiceRecord(record));
    if (!openNow) this.unmarkOpen(hash); // after it
  }

  /** Reads one invoice record from disk. */
  async getInvoice(hash: Bytes32): Promise<InvoiceRecord | undefined | 'unreadable'> {
    const bytes = await this.store.getMeta(invoiceKey(hash));
    if (bytes === undefined) return undefined;
    const r = decodeInvoiceRecord(bytes, paymentHashOf);
    return r.ok ? r.value : 'unreadable';
  }

  /**
   * An open invoice the service no longer keeps (expired long ago: it can never be paid): the
   * next start does not read it. Its record stays in the history.
   */
  unmarkOpen(hash: Bytes32): void {
    if (this.open.delete(hash)) this.store.deleteMeta(OPEN_PREFIX + hash);
  }

  /**
   * A page of our invoices, newest first: the index's `inv/` keys from its newest end, each from
   * `memory` or the disk. Unreadable records are left out (the start logged them).
   */
  invoiceHistory(
    q: { readonly offset: number; readonly limit: number },
    memory: ReadonlyMap<Bytes32, InvoiceRecord>,
  ): Promise<InvoiceRecord[]> {
    return this.page({
      ...q,
      prefix: 'inv/',
      read: async (key) => {
        const hash = key.slice('inv/'.length) as Bytes32;
        const r = memory.get(hash) ?? (await this.getInvoice(hash));
        return r === 'unreadable' ? undefined : r;
      },
    });
  }

  /** The service no longer holds this record in memory: a later write of it may index it again. */
  forget(key: string): void {
    this.indexed.delete(key);
  }

  flush(): Promise<void> {
    return this.store.flush();
  }

  /**
   * A page of the history, newest first: first the records the service holds that were
   * never written, then the index from its newest end. `memory` answers for the records the
   * service holds, the disk for the rest; a key indexed twice (a failed invoice paid again) is
   * listed once, at its newest place.
   */
  history(q: HistoryQuery, memory: ReadonlyMap<string, PaymentRecord>): Promise<PaymentRecord[]> {
    return this.page({
      offset: q.offset,
      limit: q.limit,
      prefix: 'pay/',
      first: [...memory].filter(([k]) => !this.indexed.has(k)).sort(([, a], [, b]) => b.createdAt - a.createdAt),
      read: async (key) => memory.get(key) ?? (await this.getPayment(key)),
      keep: (r) => (q.direction === undefined || r.direction === q.direction) && (q.status === undefined || r.status === q.status),
    });
  }

  /**
   * `limit` records from `offset`, newest first: `first` (records never indexed), then the
   * index's keys under `prefix` from its newest end, each key once, at its newest place. `read`
   * gives a key's record (undefined: left out); `keep` filters before the offset counts.
   */
  private async page<R>(o: {
    readonly offset: number;
    readonly limit: number;
    readonly prefix: string;
    readonly first?: readonly (readonly [string, R])[];
    read(key: string): Promise<R | undefined>;
    keep?(r: R): boolean;
  }): Promise<R[]> {
    const out: R[] = [];
    let skip = o.offset;
    const seen = new Set<string>();
    const take = (r: R): boolean => {
      if (o.keep !== undefined && !o.keep(r)) return false;
      if (skip > 0) skip--;
      else out.push(r);
      return out.length >= o.limit;
    };
    for (const [key, r] of o.first ?? []) {
      seen.add(key);
      if (take(r)) return out;
    }
    for await (const key of this.keysNewestFirst()) {
      if (seen.has(key) || !key.startsWith(o.prefix)) continue;
      seen.add(key);
      const r = await o.read(key);
      if (r !== undefined && take(r)) return out;
    }
    return out;
  }

  /** Every indexed key, newest first: the tail, the older chunks, then the first index. */
  private async *keysNewestFirst(): AsyncGenerator<string> {
    yield* [...this.tail].reverse();
    for (let n = this.chunk - 1; n >= 0; n--) {
      const bytes = await this.store.getMeta(chunkKey(n));
      if (bytes !== undefined) yield* chunkKeys(bytes, chunkKey(n)).reverse();
    }
    for (let n = Math.ceil(this.v1Count / V1_CHUNK) - 1; n >= 0; n--) {
      const bytes = await this.store.getMeta(`pidx/${n}`);
      if (bytes !== undefined) yield* chunkKeys(bytes, `pidx/${n}`).reverse();
    }
  }

  /** Where new keys go: `pix-tail`, or (a store written before it) the first missing chunk. */
  private async findTail(): Promise<void> {
    const raw = await this.store.getMeta(TAIL_KEY);
    const named = raw === undefined ? undefined : Number(decoder.decode(raw));
    if (named !== undefined && (!Number.isSafeInteger(named) || named < 0)) throw new Error('payment index tail is corrupt');
    let chunk = named ?? 0;
    let tail: string[] = [];
    for (;;) {
      const bytes = await this.store.getMeta(chunkKey(chunk));
      if (bytes === undefined) break;
      tail = chunkKeys(bytes, chunkKey(chunk));
      if (tail.length < CHUNK) break;
      chunk++;
      tail = [];
    }
    this.chunk = chunk;
    this.tail = tail;
    if (named !== chunk) this.store.putMeta(TAIL_KEY, encoder.encode(String(chunk)));
  }

  private markOpen(hash: Bytes32): void {
    this.open.add(hash);
    this.store.putMeta(OPEN_PREFIX + hash, new Uint8Array(0));
  }

  private mark(key: string): void {
    this.marked.add(key);
    this.store.putMeta(activeKey(key), new Uint8Array(0));
  }

  private put(key: string, value: Uint8Array): void {
    // The value before the index entry: the index never names a key that was not written.
    this.store.putMeta(key, value);
    if (this.indexed.has(key)) return;
    this.indexed.add(key);
    this.tail.push(key);
    this.store.putMeta(chunkKey(this.chunk), encoder.encode(JSON.stringify(this.tail)));
    if (this.tail.length >= CHUNK) {
      this.chunk++;
      this.tail = [];
      this.store.putMeta(TAIL_KEY, encoder.encode(String(this.chunk)));
    }
  }
}

function chunkKeys(bytes: Uint8Array, where: string): string[] {
  let keys: unknown;
  try {
    keys = JSON.parse(decoder.decode(bytes));
  } catch {
    keys = undefined;
  }
  if (!Array.isArray(keys)) throw new Error(`payment index chunk ${where} is corrupt`);
  return keys.filter((k): k is string => typeof k === 'string');
}
