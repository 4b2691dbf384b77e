/**
 * Reads the adjudicator's logs in bounded block ranges (docs/adr/0014), as public JSON-RPC
 * providers require: they refuse `eth_getLogs` over more than a few thousand blocks, or with
 * more than ~10,000 results, each in its own words (Alchemy: "Log response size exceeded …
 * this block range should work: [0x…, 0x…]", Infura: "query returned more than 10000 results",
 * QuickNode: "eth_getLogs is limited to a 10,000 range").
 *
 * One {@link LogReader.read} reads at most `range` blocks. A refusal halves the range and tries
 * again (down to one block, then the error is thrown); a result of more than `maxResults` logs
 * halves the next range; a provider's hint of a range that works is taken; after a run of
 * successes the range doubles again, but not above the range a refusal fell back to (for 256
 * reads: providers' limits change, so the ceiling is then tried afresh).
 *
 * Logs are filtered at the provider by topics: channel-keyed events (topic 1 is the channel id,
 * contracts/LanesAdjudicator.sol) for the channels given, and `PayoutDeferred`/`Withdrawn` for
 * one account. Providers cap OR-lists of topics (geth and others at 1,000 values per position),
 * so ids go {@link IDS_PER_QUERY} to a query; above {@link ADDRESS_ONLY_ABOVE} ids the reader
 * asks for every channel's events by address and event and filters them here instead.
 */
import { type Log, encodeEventTopics, pad } from 'viem';
import type { Address, Bytes32, Hex } from '../core/bytes.ts';
import { LanesError } from '../core/errors.ts';
import { LanesAdjudicatorAbi } from './artifacts/LanesAdjudicator.ts';
import { type ChainEvent, decodeEvents } from './events.ts';

/** Events whose first indexed argument is the channel id. */
export type ChannelEventName = 'Deposited' | 'Closed' | 'Challenged' | 'Concluded' | 'ItemFailed' | 'Unlocked';

export interface LogFilter {
  /** Channel-keyed events to read. */
  readonly channelEvents: readonly ChannelEventName[];
  /** Only these channels' events; undefined: every channel's. */
  readonly channelIds?: readonly Bytes32[];
  /** Also `PayoutDeferred` and `Withdrawn` for this account, or for every one ('all'). */
  readonly account?: Address | 'all';
  /** Also `SecretRevealed` for these hashlocks (topic 1), or for every one ('all'). */
  readonly hashlocks?: readonly Bytes32[] | 'all';
}

/** Topics as JSON-RPC has them, per position: a value, an OR-list, or null for any. */
export type Topics = readonly (Hex | readonly Hex[] | null)[];

/** One `eth_getLogs` call. */
export type GetLogs = (q: {
  readonly address: Address;
  readonly fromBlock: bigint;
  readonly toBlock: bigint;
  readonly topics: Topics;
}) => Promise<readonly Log[]>;

export interface LogReaderOptions {
  /** Blocks per query to start with (default 2,000: what most providers serve). */
  readonly range?: number;
  /** The largest range ever asked for (default 10,000). */
  readonly maxRange?: number;
  /** A result with more logs than this halves the next range (default 5,000). */
  readonly maxResults?: number;
}

/** Channel ids per query: under the 1,000 values per topic position that geth and providers accept. */
export const IDS_PER_QUERY = 500;
/** Above this many ids, ask for every channel's events and filter here (4 queries per range at most). */
export const ADDRESS_ONLY_ABOVE = 2_000;
/** Successes in a row after which the range doubles (up to the ceiling). */
const GROW_AFTER = 4;
/** Successes after which a range refused earlier is tried again (providers' limits change). */
const FORGET_CEILING_AFTER = 256;

const topic0 = (name: string): Hex => encodeEventTopics({ abi: LanesAdjudicatorAbi, eventName: name as never })[0] as Hex;
const ACCOUNT_TOPICS: readonly Hex[] = [topic0('PayoutDeferred'), topic0('Withdrawn')];
const SECRET_TOPIC = topic0('SecretRevealed');

/** An OR-list of topic-1 values, `IDS_PER_QUERY` to a query; every value (null) when there are too many. */
function keyed(t0: Hex | readonly Hex[], values: readonly Hex[] | 'all' | undefined): Topics[] {
  if (values === undefined || values === 'all' || values.length > ADDRESS_ONLY_ABOVE) return [[t0]];
  const out: Topics[] = [];
  for (let i = 0; i < values.length; i += IDS_PER_QUERY) out.push([t0, values.slice(i, i + IDS_PER_QUERY)]);
  return out;
}

export class LogReader {
  readonly #getLogs: GetLogs;
  readonly #adjudicator: Address;
  readonly #maxRange: bigint;
  readonly #maxResults: number;
  #range: bigint;
  /** The largest range not refused lately. */
  #ceiling: bigint;
  #successes = 0;
  #sinceRefusal = 0;

  constructor(getLogs: GetLogs, adjudicator: Address, o: LogReaderOptions = {}) {
    const range = o.range ?? 2_000;
    const max = o.maxRange ?? 10_000;
    if (!Number.isSafeInteger(range) || range < 1) throw new LanesError(`log range must be a positive integer, got ${range}`);
    this.#getLogs = getLogs;
    this.#adjudicator = adjudicator;
    this.#maxRange = BigInt(Math.max(max, range));
    this.#maxResults = o.maxResults ?? 5_000;
    this.#range = BigInt(range);
    this.#ceiling = this.#maxRange;
  }

  /** Blocks the next read asks for at most. */
  get range(): bigint {
    return this.#range;
  }

  /**
   * Reads the filter's events from `from` up to `upTo` or as far as the range allows; returns
   * them in chain order with the last block read (every block up to it is covered).
   */
  async read(from: bigint, upTo: bigint, filter: LogFilter): Promise<{ readonly events: ChainEvent[]; readonly to: bigint }> {
    if (upTo < from) return { events: [], to: from - 1n };
    const queries = this.#queries(filter);
    if (queries.length === 0) return { events: [], to: upTo }; // nothing to ask for: every block is covered
    for (;;) {
      const to = upTo < from + this.#range - 1n ? upTo : from + this.#range - 1n;
      try {
        const logs = await this.#query(from, to, queries);
        this.#succeeded(logs.length);
        const events = decodeEvents(logs).sort((a, b) =>
          a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1,
        );
        return { events: events.filter(wanted(filter)), to };
      } catch (e) {
        if (!refusesRange(e) || to === from) throw e;
        this.#refused(to - from + 1n, hintedRange(e, from));
      }
    }
  }

  #queries(f: LogFilter): Topics[] {
    const queries: Topics[] = [];
    if (f.channelEvents.length > 0) queries.push(...keyed(f.channelEvents.map(topic0), f.channelIds));
    if (f.account === 'all') queries.push([ACCOUNT_TOPICS]);
    else if (f.account) queries.push([ACCOUNT_TOPICS, pad(f.account)]);
    if (f.hashlocks !== undefined && f.hashlocks.length > 0) queries.push(...keyed(SECRET_TOPIC, f.hashlocks));
    return queries;
  }

  async #query(from: bigint, to: bigint, queries: readonly Topics[]): Promise<Log[]> {
    const out: Log[] = [];
    // One after another: a provider that refuses a range refuses it for every query alike.
    for (const topics of queries) out.push(...(await this.#getLogs({ address: this.#adjudicator, fromBlock: from, toBlock: to, topics })));
    return out;
  }

  #succeeded(results: number): void {
    if (results > this.#maxResults && this.#range > 1n) {
      this.#range = this.#range / 2n;
      this.#successes = 0;
      return;
    }
    if (++this.#sinceRefusal >= FORGET_CEILING_AFTER) this.#ceiling = this.#maxRange;
    if (++this.#successes < GROW_AFTER) return;
    this.#successes = 0;
    const grown = this.#range * 2n;
    this.#range = grown < this.#ceiling ? grown : this.#ceiling > this.#range ? this.#ceiling : this.#range;
  }

  #refused(asked: bigint, hint: bigint | undefined): void {
    this.#sinceRefusal = 0;
    this.#successes = 0;
    const half = asked / 2n > 0n ? asked / 2n : 1n;
    this.#range = hint !== undefined && hint >= 1n && hint < asked ? hint : half;
    // Not above what we fall back to: growing back towards the refused range would be refused
    // again at every step (until the provider's limits are tried afresh, FORGET_CEILING_AFTER).
    this.#ceiling = this.#range;
  }
}

/** Keeps what the filter asked for (the provider's filter may have been wider: address only). */
function wanted(f: LogFilter): (e: ChainEvent) => boolean {
  const ids = f.channelIds && f.channelIds.length > ADDRESS_ONLY_ABOVE ? new Set(f.channelIds) : undefined;
  const locks = Array.isArray(f.hashlocks) && f.hashlocks.length > ADDRESS_ONLY_ABOVE ? new Set(f.hashlocks) : undefined;
  return (e) => {
    if (e.type === 'secret-revealed') return locks === undefined || locks.has(e.hashlock);
    if ('channelId' in e) return ids === undefined || ids.has(e.channelId);
    return true;
  };
}

/**
 * A refusal of the query itself (a JSON-RPC error, an HTTP 4xx/5xx, a timeout), which a
 * smaller range may avoid; not a failure to reach the provider at all.
 */
export function refusesRange(e: unknown): boolean {
  for (let c: unknown = e; c && typeof c === 'object'; c = (c as { cause?: unknown }).cause) {
    const x = c as { code?: unknown; status?: unknown; name?: unknown };
    if (typeof x.code === 'number') return true;
    if (typeof x.status === 'number' && x.status >= 400) return true;
    if (x.name === 'TimeoutError') return true;
  }
  return false;
}

/** The range a provider's message says works from `from` (Alchemy: "this block range should work: [0x…, 0x…]"). */
function hintedRange(e: unknown, from: bigint): bigint | undefined {
  const text = e instanceof Error ? `${e.message} ${(e as { details?: string }).details ?? ''}` : String(e);
  const m = /\[\s*(0x[0-9a-f]+)\s*,\s*(0x[0-9a-f]+)\s*\]/i.exec(text);
  if (!m) return undefined;
  const a = BigInt(m[1]!);
  const b = BigInt(m[2]!);
  return a === from && b >= a ? b - a + 1n : undefined;
}
