/**
 * The coordinator's durable state, on the same durable lmdb as the nodes' stores. Everything the
 * coordinator promises (an `accepted` item, a transaction it may have broadcast) is written and
 * flushed before the promise is made, so a coordinator killed at any moment resumes exactly.
 *
 * Keys: `i/<id>` item, `b/<id>` batch, `w/<channelId>` watched state, `m/<name>` counters.
 * Values: JSON with bigints as {"$n": "…"} and bytes as {"$x": "…"}.
 */
import type { Bytes32 } from '../core/bytes.ts';
import { type DurableLmdb, openDurableLmdb } from '../store/durable-lmdb.ts';
import type { BatchRecord, ItemRecord, WatchRecord } from './records.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

function encode(value: unknown): Uint8Array {
  return enc.encode(
    JSON.stringify(value, (_k, v: unknown) =>
      typeof v === 'bigint' ? { $n: v.toString() } : v instanceof Uint8Array ? { $x: Buffer.from(v).toString('hex') } : v,
    ),
  );
}

function decode<T>(bytes: Uint8Array): T {
  return JSON.parse(dec.decode(bytes), (_k, v: unknown) => {
    if (v && typeof v === 'object' && '$n' in v) return BigInt((v as { $n: string }).$n);
    if (v && typeof v === 'object' && '$x' in v) return new Uint8Array(Buffer.from((v as { $x: string }).$x, 'hex'));
    return v;
  }) as T;
}

const pad = (n: bigint) => n.toString().padStart(20, '0'); // keys sort by number

export class CoordinatorQueue {
  readonly #kv: DurableLmdb;
  readonly items = new Map<bigint, ItemRecord>();
  readonly batches = new Map<bigint, BatchRecord>();
  readonly watches = new Map<Bytes32, WatchRecord>();
  nextItemId = 1n;
  nextBatchId = 1n;
  /** The next nonce this coordinator will use (never goes down). */
  nextNonce = 0n;
  /** The chain block to read events from next. */
  cursor: bigint | undefined;

  private constructor(kv: DurableLmdb) {
    this.#kv = kv;
  }

  static async open(path: string): Promise<CoordinatorQueue> {
    const q = new CoordinatorQueue(await openDurableLmdb(path));
    await q.#load();
    return q;
  }

  async #load(): Promise<void> {
    for (const [prefix, into] of [
      ['i/', this.items],
      ['b/', this.batches],
      ['w/', this.watches],
    ] as const) {
      await this.#kv.scan(prefix, (entries) => {
        for (const [, value] of entries) {
          const rec = decode<{ id?: bigint; channelId?: Bytes32 }>(value);
          (into as Map<unknown, unknown>).set(prefix === 'w/' ? rec.channelId : rec.id, rec);
        }
      });
    }
    const meta = async (name: string) => {
      const v = await this.#kv.get(`m/${name}`);
      return v === undefined ? undefined : decode<bigint>(v);
    };
    this.nextItemId = (await meta('nextItemId')) ?? 1n;
    this.nextBatchId = (await meta('nextBatchId')) ?? 1n;
    this.nextNonce = (await meta('nextNonce')) ?? 0n;
    this.cursor = await meta('cursor');
  }

  putItem(item: ItemRecord): void {
    this.items.set(item.id, item);
    this.#kv.write({ key: `i/${pad(item.id)}`, value: encode(item) });
  }

  putBatch(batch: BatchRecord): void {
    this.batches.set(batch.id, batch);
    this.#kv.write({ key: `b/${pad(batch.id)}`, value: encode(batch) });
  }

  putWatch(w: WatchRecord): void {
    this.watches.set(w.channelId, w);
    this.#kv.write({ key: `w/${w.channelId}`, value: encode(w) });
  }

  deleteWatch(channelId: Bytes32): void {
    if (!this.watches.delete(channelId)) return;
    this.#kv.write({ key: `w/${channelId}`, value: undefined });
  }

  allocItemId(): bigint {
    const id = this.nextItemId++;
    this.#kv.write({ key: 'm/nextItemId', value: encode(this.nextItemId) });
    return id;
  }

  allocBatch(): { id: bigint; nonce: bigint } {
    const id = this.nextBatchId++;
    const nonce = this.nextNonce++;
    this.#kv.write({ key: 'm/nextBatchId', value: encode(this.nextBatchId) });
    this.#kv.write({ key: 'm/nextNonce', value: encode(this.nextNonce) });
    return { id, nonce };
  }

  /** Moves the nonce forward to what the chain reports (never back). */
  raiseNonce(nonce: bigint): void {
    if (nonce <= this.nextNonce) return;
    this.nextNonce = nonce;
    this.#kv.write({ key: 'm/nextNonce', value: encode(this.nextNonce) });
  }

  setCursor(block: bigint): void {
    this.cursor = block;
    this.#kv.write({ key: 'm/cursor', value: encode(block) });
  }

  /**
   * Forgets finished items whose results every requester has received, and their mined batches,
   * once older than `ageMs`: the queue holds what is in flight, not a history.
   */
  prune(now: number, ageMs: number): void {
    const gone = new Set<bigint>();
    for (const i of this.items.values()) {
      if (i.result && now - i.result.at > ageMs && i.origins.every((o) => o.delivered)) {
        this.items.delete(i.id);
        gone.add(i.id);
        this.#kv.write({ key: `i/${pad(i.id)}`, value: undefined });
      }
    }
    for (const b of this.batches.values()) {
      if (b.status !== 'pending' && b.itemIds.every((id) => gone.has(id) || !this.items.has(id))) {
        this.batches.delete(b.id);
        this.#kv.write({ key: `b/${pad(b.id)}`, value: undefined });
      }
    }
  }

  flush(): Promise<void> {
    return this.#kv.flush();
  }

  close(): Promise<void> {
    return this.#kv.close();
  }
}
