/**
 * The coordinator's durable state, on the same durable lmdb as the nodes' stores. Everything the
 * coordinator promises (an `accepted` item, a transaction it may have broadcast) is written and
 * flushed before the promise is made, so a coordinator killed at any moment resumes exactly.
 *
 * Watched states are bounded per peer (`maxWatchesPerPeer`: a new channel over its owner's cap is
 * refused, nothing evicted: evicting would silently stop defending a channel someone relies on),
 * and only an index of them is kept in memory (version, owner, hashlocks: a few hundred bytes a
 * channel); the states themselves, up to 64 locks and two signatures each, stay on disk and are
 * read when a challenge needs one. Every watched channel is a funded channel on-chain
 * (admission.ts), so even across many peer ids their number is bounded by what deposits cost.
 *
 * Keys: `i/<id>` item, `b/<id>` batch, `w/<channelId>` watched state, `m/<name>` counters.
 * Values: JSON with bigints as {"$n": "…"} and bytes as {"$x": "…"}.
 */
import type { FollowPosition } from '../chain/chain-follower.ts';
import type { Bytes32 } from '../core/bytes.ts';
import { type Result, ok, reject } from '../core/result.ts';
import { type DurableLmdb, openDurableLmdb } from '../store/durable-lmdb.ts';
import type { BatchRecord, ItemRecord, WatchRecord } from './records.ts';

/** What is kept in memory of a watched channel: enough to decide, not the state itself. */
export interface WatchEntry {
  readonly version: bigint;
  /** The peer whose cap the record counts against (the first to watch the channel). */
  readonly owner: string;
  /** The watched state's hashlocks and expiries: the secrets worth revealing. */
  readonly locks: readonly { readonly hashlock: Bytes32; readonly expiry: bigint }[];
}

export const DEFAULT_MAX_WATCHES_PER_PEER = 10_000;

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
  readonly #watches = new Map<Bytes32, WatchEntry>();
  readonly #perOwner = new Map<string, number>();
  /** hashlock → channel → expiry, over the watched states. */
  readonly #hashlocks = new Map<Bytes32, Map<Bytes32, bigint>>();
  readonly maxWatchesPerPeer: number;
  nextItemId = 1n;
  nextBatchId = 1n;
  nextGroupId = 1n;
  /** The next nonce this coordinator will use (never goes down). */
  nextNonce = 0n;
  /** The chain block to read events from next (before confirmations: read once, then {@link follow}). */
  cursor: bigint | undefined;
  /** Where the watchtower follows the chain (src/chain/chain-follower.ts, docs/adr/0014). */
  follow: FollowPosition | undefined;

  private constructor(kv: DurableLmdb, maxWatchesPerPeer: number) {
    this.#kv = kv;
    this.maxWatchesPerPeer = maxWatchesPerPeer;
  }

  static async open(path: string, o: { readonly maxWatchesPerPeer?: number } = {}): Promise<CoordinatorQueue> {
    const cap = o.maxWatchesPerPeer ?? DEFAULT_MAX_WATCHES_PER_PEER;
    if (!Number.isSafeInteger(cap) || cap < 1) throw new RangeError(`maxWatchesPerPeer must be a positive integer, got ${cap}`);
    const q = new CoordinatorQueue(await openDurableLmdb(path), cap);
    await q.#load();
    return q;
  }

  async #load(): Promise<void> {
    for (const [prefix, into] of [
      ['i/', this.items],
      ['b/', this.batches],
    ] as const) {
      await this.#kv.scan(prefix, (entries) => {
        for (const [, value] of entries) {
          const rec = decode<{ id: bigint }>(value);
          (into as Map<unknown, unknown>).set(rec.id, rec);
        }
      });
    }
    // Watched states: only their index stays in memory (a restart over the cap keeps them all).
    await this.#kv.scan('w/', (entries) => {
      for (const [, value] of entries) this.#index(decode<WatchRecord>(value));
    });
    const meta = async (name: string) => {
      const v = await this.#kv.get(`m/${name}`);
      return v === undefined ? undefined : decode<bigint>(v);
    };
    this.nextItemId = (await meta('nextItemId')) ?? 1n;
    this.nextBatchId = (await meta('nextBatchId')) ?? 1n;
    this.nextGroupId = (await meta('nextGroupId')) ?? 1n;
    this.nextNonce = (await meta('nextNonce')) ?? 0n;
    this.cursor = await meta('cursor');
    const follow = await this.#kv.get('m/follow');
    this.follow = follow === undefined ? undefined : decode<FollowPosition>(follow);
  }

  putItem(item: ItemRecord): void {
    this.items.set(item.id, item);
    this.#kv.write({ key: `i/${pad(item.id)}`, value: encode(item) });
  }

  putBatch(batch: BatchRecord): void {
    this.batches.set(batch.id, batch);
    this.#kv.write({ key: `b/${pad(batch.id)}`, value: encode(batch) });
  }

  /** Forgets a batch that never reached the chain (its record could not be stored). */
  dropBatch(id: bigint): void {
    if (!this.batches.delete(id)) return;
    this.#kv.write({ key: `b/${pad(id)}`, value: undefined });
  }

  /** How many channels are watched. */
  get watchCount(): number {
    return this.#watches.size;
  }

  /** The in-memory index entry of a watched channel. */
  watch(channelId: Bytes32): WatchEntry | undefined {
    return this.#watches.get(channelId);
  }

  /** How many watched channels count against `peer`'s cap. */
  watchesOf(peer: string): number {
    return this.#perOwner.get(peer) ?? 0;
  }

  /** The watched state of a channel, read from disk. */
  async loadWatch(channelId: Bytes32): Promise<WatchRecord | undefined> {
    if (!this.#watches.has(channelId)) return undefined;
    const v = await this.#kv.get(`w/${channelId}`);
    return v === undefined ? undefined : decode<WatchRecord>(v);
  }

  /**
   * Stores a channel's watched state (the caller checks it is newer). A channel not yet watched
   * counts against its sender's cap and is refused, with nothing changed, once that is reached;
   * an update of a watched channel keeps its owner and is never refused.
   */
  putWatch(w: WatchRecord): Result<WatchEntry> {
    const known = this.#watches.get(w.channelId);
    const owner = known?.owner ?? w.from;
    if (!known && this.watchesOf(owner) >= this.maxWatchesPerPeer) {
      return reject(
        'policy',
        `watch limit reached: this peer already has ${this.watchesOf(owner)} channels watched (the most is ${this.maxWatchesPerPeer})`,
      );
    }
    const rec: WatchRecord = { ...w, owner };
    this.#kv.write({ key: `w/${w.channelId}`, value: encode(rec) });
    return ok(this.#index(rec));
  }

  deleteWatch(channelId: Bytes32): void {
    if (!this.#unindex(channelId)) return;
    this.#kv.write({ key: `w/${channelId}`, value: undefined });
  }

  /** The latest expiry of a lock with this hashlock in any watched state. */
  lockExpiry(hashlock: Bytes32): bigint | undefined {
    const byChannel = this.#hashlocks.get(hashlock);
    if (!byChannel) return undefined;
    let latest: bigint | undefined;
    for (const e of byChannel.values()) if (latest === undefined || e > latest) latest = e;
    return latest;
  }

  #index(w: WatchRecord): WatchEntry {
    this.#unindex(w.channelId);
    const owner = w.owner ?? w.from;
    const entry: WatchEntry = {
      version: w.signed.state.version,
      owner,
      locks: w.signed.state.locks.map((l) => ({ hashlock: l.hashlock, expiry: l.expiry })),
    };
    this.#watches.set(w.channelId, entry);
    this.#perOwner.set(owner, this.watchesOf(owner) + 1);
    for (const l of entry.locks) {
      let byChannel = this.#hashlocks.get(l.hashlock);
      if (!byChannel) this.#hashlocks.set(l.hashlock, (byChannel = new Map()));
      const prev = byChannel.get(w.channelId);
      byChannel.set(w.channelId, prev !== undefined && prev > l.expiry ? prev : l.expiry);
    }
    return entry;
  }

  #unindex(channelId: Bytes32): boolean {
    const entry = this.#watches.get(channelId);
    if (!entry) return false;
    this.#watches.delete(channelId);
    const n = this.watchesOf(entry.owner) - 1;
    if (n > 0) this.#perOwner.set(entry.owner, n);
    else this.#perOwner.delete(entry.owner);
    for (const l of entry.locks) {
      const byChannel = this.#hashlocks.get(l.hashlock);
      byChannel?.delete(channelId);
      if (byChannel?.size === 0) this.#hashlocks.delete(l.hashlock);
    }
    return true;
  }

  allocItemId(): bigint {
    const id = this.nextItemId++;
    this.#kv.write({ key: 'm/nextItemId', value: encode(this.nextItemId) });
    return id;
  }

  allocGroupId(): bigint {
    const id = this.nextGroupId++;
    this.#kv.write({ key: 'm/nextGroupId', value: encode(this.nextGroupId) });
    return id;
  }

  allocBatch(): { id: bigint; nonce: bigint } {
    const id = this.nextBatchId++;
    const nonce = this.nextNonce++;
    this.#kv.write({ key: 'm/nextBatchId', value: encode(this.nextBatchId) });
    this.#kv.write({ key: 'm/nextNonce', value: encode(this.nextNonce) });
    return { id, nonce };
  }

  /** Gives back the batch id and nonce just allocated, when nothing was sent with them. */
  releaseBatch(id: bigint, nonce: bigint): void {
    if (this.nextBatchId === id + 1n) {
      this.nextBatchId = id;
      this.#kv.write({ key: 'm/nextBatchId', value: encode(this.nextBatchId) });
    }
    if (this.nextNonce === nonce + 1n) {
      this.nextNonce = nonce;
      this.#kv.write({ key: 'm/nextNonce', value: encode(this.nextNonce) });
    }
  }

  /** Moves the nonce forward to what the chain reports (never back). */
  raiseNonce(nonce: bigint): void {
    if (nonce <= this.nextNonce) return;
    this.nextNonce = nonce;
    this.#kv.write({ key: 'm/nextNonce', value: encode(this.nextNonce) });
  }

  setFollow(position: FollowPosition): void {
    this.follow = position;
    this.#kv.write({ key: 'm/follow', value: encode(position) });
  }

  /** The channels whose states are watched. */
  watchedIds(): IterableIterator<Bytes32> {
    return this.#watches.keys();
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
