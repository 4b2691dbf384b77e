/**
 * The node's channel graph (ADR 0017): gossip in, checked, into the pure graph
 * (src/core/routing); our public channels and their policies out; channels closed on-chain out.
 *
 * Every message a peer sends is hostile until checked, cheapest check first:
 *   1. the relaying peer's budget (token bucket per peer: `perPeer`), else ignored;
 *   2. decoding, with size limits (codec.ts);
 *   3. against the graph: duplicates, replays, rate limits per direction, caps (graph.ts);
 *   4. signatures (verify.ts, the node's signature backend);
 *   5. for a channel announcement, the adjudicator: every asset's holdings read (`holdings`), the
 *      channel not closed and not disputed, something deposited. Results are cached (positive
 *      10 min, negative 1 min), reads in flight are capped (`maxChainReads`), and one read
 *      serves every copy of an announcement that arrives meanwhile.
 * Only then does gossipsub relay the message (asyncValidation: graph-gossip.ts). An update that
 * arrives before its channel's announcement waits (bounded) and is replayed once the channel is in.
 *
 * The graph follows the chain: a poller reads the adjudicator's events from the block it started
 * at; `closed`, `concluded` and `challenged` remove a channel, `deposited` updates its capacity.
 * Channels whose owners stopped refreshing them are pruned after 14 days.
 */
import type { ChainService } from '../chain/chain-service.ts';
import { DEFAULT_TIMING } from '../core/forwarding/forward.ts';
import { type QuoteAnswer, decodeQuoteAnswer, encodeQuoteRequest, verifyQuoteSignature } from '../core/forwarding/quote.ts';
import type { Address, Bytes32 } from '../core/bytes.ts';
import { type SignatureBackend, publicKeyToAddress } from '../core/crypto.ts';
import { type ChannelParams, channelId } from '../core/params.ts';
import { packr } from '../core/codec/primitives.ts';
import { encodeGraphMessage, decodeGraphMessage } from '../core/routing/codec.ts';
import { channelAnnouncementDigest, channelUpdateDigest, nodeAnnouncementDigest } from '../core/routing/digest.ts';
import { ChannelGraph, acceptChannelUpdate, acceptNodeAnnouncement } from '../core/routing/graph.ts';
import { Pathfinder } from '../core/routing/pathfind.ts';
import { RateLimiter, type RateLimitParams } from '../core/routing/rate-limit.ts';
import { ProbabilisticScorer } from '../core/routing/scorer.ts';
import {
  type AssetPolicy,
  type ChannelAnnouncement,
  type ChannelUpdate,
  GRAPH_LIMITS,
  GRAPH_RULES,
  type GraphCapacity,
  type GraphMessage,
  type GraphRejectReason,
  type GraphResult,
  type NodeAnnouncement,
  type SwapOffer,
  graphOk,
  graphReject,
} from '../core/routing/types.ts';
import { verifyChannelAnnouncement } from '../core/routing/verify.ts';
import type { Logger } from '../log/logger.ts';
import type { GossipMessage, GossipVerdict, GraphGossip } from '../p2p/graph-gossip.ts';

export interface GraphOptions {
  /** Multiaddrs to dial at start to find the network (any peer that runs graph gossip will do). */
  readonly bootstrap?: readonly string[];
  readonly capacity?: Partial<GraphCapacity>;
  /** Messages a peer may make us check (default 50/s, bursts of 2,000: a sync arrives as a burst). */
  readonly perPeer?: RateLimitParams;
  /** Chain reads in flight at most (default 16). */
  readonly maxChainReads?: number;
  /** How often the adjudicator's events are read for closes and deposits (default 2 s). */
  readonly chainPollMs?: number;
  /** Whether this node co-signs announcements of its channels when the counterparty asks (default true). */
  readonly acceptPublic?: boolean;
  /**
   * The policy this node publishes, per asset, for its direction of each of its channels once it
   * is announced (the opener's and the co-signer's alike), unless one was set already. Without
   * it, nothing is published until `setPolicy`, and no route leaves us through the channel.
   */
  readonly defaultPolicy?: AssetPolicy;
  /** How often the graph is asked again of each gossip peer, to repair lost messages (ms, default 2 minutes). */
  readonly syncIntervalMs?: number;
  /**
   * Our node announcement, published once our first public channel is in the graph and again
   * every day: where we listen (payers dial us for swap quotes), an alias, and the pairs we
   * convert for routed swaps (ADR 0012).
   */
  readonly node?: { readonly alias?: string; readonly swaps?: readonly SwapOffer[] };
  /** What our swap quotes add to the amount in, per million (the free option's price: ADR 0012; default 0). */
  readonly swapPremiumPpm?: bigint;
  /** What our swap quotes ask to be paid upfront, unconditionally, per million of the amount in (ADR 0012, 3; default 0). */
  readonly swapUpfrontPpm?: bigint;
  /** How often the graph is saved when it changed (ms, default 30 s; with `persist`). */
  readonly persistEveryMs?: number;
  /**
   * How long our payments seal their onion layers to one hop with the same ephemeral key (ms,
   * default 10 s; 0: a fresh key per layer). ADR 0021: an ECDH per hop and window instead of per
   * payment, at the cost that the hop can tell the payments under one key come from one payer.
   */
  readonly onionKeyReuseMs?: number;
}

export interface GraphServiceDeps {
  readonly gossip: GraphGossip;
  readonly chain: ChainService;
  readonly domain: { readonly chainId: bigint; readonly adjudicator: Address };
  readonly backend: SignatureBackend;
  readonly sign: (digest: Uint8Array) => Promise<Uint8Array>;
  readonly self: Address;
  /** Our libp2p peer id and listen multiaddrs (each ending in /p2p/<peer id>), for our node announcement. */
  readonly selfPeer?: () => { readonly peerId: string; readonly multiaddrs: readonly string[] };
  /** Unix seconds. */
  readonly now: () => bigint;
  /** Milliseconds, for rate limits and caches. */
  readonly clockMs: () => number;
  readonly log: Logger;
  /**
   * Where the graph survives a restart (the node's store): what we held, saved every
   * `persistEveryMs` when it changed and at stop, and checked again like a peer's sync at start
   * (signatures, and the adjudicator for every channel: one closed meanwhile does not come back).
   */
  readonly persist?: { load(): Promise<Uint8Array | undefined>; save(data: Uint8Array): void };
  /** Our own channel's params and status, when we have that channel (to co-sign its announcement). */
  readonly ownChannel: (id: Bytes32) => { readonly params: ChannelParams; readonly status: string; readonly peerId: string } | undefined;
}

/** What the service did with a message: for tests and logs. */
export interface GraphVerdict {
  readonly kind: GraphMessage['kind'] | 'undecodable' | 'over-budget';
  readonly result: GraphResult<unknown>;
  readonly from: string;
}

/** Reasons that mean the relaying peer sent something no honest relay would (it must have checked). */
const PENALISED: ReadonlySet<GraphRejectReason> = new Set([
  'malformed',
  'wrong-domain',
  'invalid-signature',
  'wrong-signer',
  'policy-mismatch',
  'not-funded',
]);

/** The least time a lock must have left for us to forward it, as our updates announce it (s). */
export const DEFAULT_MIN_EXPIRY_SECONDS = Number(DEFAULT_TIMING.registrationMargin + DEFAULT_TIMING.minRouteWindow);

/** The saved graph's format: `[format, [graph message, …]]` (msgpack), in the store's meta. */
const GRAPH_FILE_FORMAT = 1;

const POSITIVE_CACHE_MS = 600_000;
const NEGATIVE_CACHE_MS = 60_000;
const MAX_CACHE = 50_000;
const MAX_PENDING_UPDATES = 2_048;

export class GraphService {
  readonly graph: ChannelGraph;
  readonly pathfinder: Pathfinder;
  readonly scorer = new ProbabilisticScorer();
  readonly #d: GraphServiceDeps;
  readonly #o: GraphOptions;
  readonly #limiter: RateLimiter;
  readonly #checked = new Map<Bytes32, { result: GraphResult<bigint[]>; at: number }>();
  readonly #reading = new Map<Bytes32, Promise<GraphResult<bigint[]>>>();
  /** Announcements being checked (on-chain), by channel id: an update for one waits for it. */
  readonly #adding = new Map<Bytes32, Promise<GraphResult<Bytes32>>>();
  /** Updates whose channel we have not seen yet, by channel id (bounded). */
  readonly #pending = new Map<Bytes32, { update: ChannelUpdate; m: GossipMessage }[]>();
  readonly #listeners = new Set<(v: GraphVerdict) => void>();
  #timer: NodeJS.Timeout | undefined;
  #saver: NodeJS.Timeout | undefined;
  #savedVersion = -1;
  #cursor: bigint | undefined;
  #polling = false;
  #stopped = false;
  #lastPrune = 0;

  constructor(deps: GraphServiceDeps, options: GraphOptions = {}) {
    this.#d = deps;
    this.#o = options;
    this.graph = new ChannelGraph(deps.domain, options.capacity ?? {});
    this.pathfinder = new Pathfinder(this.graph);
    this.#limiter = new RateLimiter(options.perPeer ?? { perSecond: 50, burst: 2_000, maxKeys: 4_096 });
  }

  async start(): Promise<void> {
    const { gossip, chain } = this.#d;
    gossip.onMessage((m) => void this.handle(m));
    gossip.serveSync(() => this.#syncMessages());
    gossip.serveSignatures((from, data) => this.coSign(from, data));
    this.#cursor = await chain.blockNumber();
    await this.#restore();
    this.#timer = setInterval(() => void this.#poll(), this.#o.chainPollMs ?? 2_000);
    if (this.#d.persist) this.#saver = setInterval(() => this.#save(), this.#o.persistEveryMs ?? 30_000).unref();
    for (const address of this.#o.bootstrap ?? []) {
      await gossip.dial(address).catch((e: unknown) => this.#d.log.warn({ err: e, address }, 'graph bootstrap peer unreachable'));
    }
  }

  stop(): void {
    if (!this.#stopped) this.#save();
    this.#stopped = true;
    clearInterval(this.#timer);
    clearInterval(this.#saver);
    this.#d.gossip.stop();
  }

  /** Writes the graph to the store if it changed since the last write (the node's next flush makes it durable). */
  #save(): void {
    const persist = this.#d.persist;
    if (!persist || this.#stopped || this.graph.version === this.#savedVersion) return;
    try {
      persist.save(packr.pack([GRAPH_FILE_FORMAT, [...this.#syncMessages()]]));
      this.#savedVersion = this.graph.version;
    } catch (e) {
      this.#d.log.warn({ err: e }, 'the channel graph was not saved');
    }
  }

  /** Loads the saved graph, checking every message as a peer's sync is checked (without the budget). */
  async #restore(): Promise<void> {
    const data = await this.#d.persist?.load().catch((e: unknown) => {
      this.#d.log.warn({ err: e }, 'the saved channel graph could not be read: starting empty');
      return undefined;
    });
    if (data === undefined) return;
    let messages: Uint8Array[];
    try {
      const raw = packr.unpack(data) as unknown;
      if (!Array.isArray(raw) || raw[0] !== GRAPH_FILE_FORMAT || !Array.isArray(raw[1]) || !raw[1].every((m) => m instanceof Uint8Array))
        throw new Error('not a saved graph');
      messages = raw[1] as Uint8Array[];
    } catch (e) {
      this.#d.log.warn({ err: e }, 'the saved channel graph does not decode: starting empty');
      return;
    }
    const t0 = Date.now();
    const results = { accepted: 0, refused: 0 };
    const count = (r: GraphVerdict) => (r.result.ok ? results.accepted++ : results.refused++);
    // Announcements first (their chain reads run side by side, capped by maxChainReads), then the rest.
    const decoded = messages.map((m) => ({ m, kind: decodeGraphMessage(m) }));
    const announcements = decoded.filter((d) => d.kind.ok && d.kind.value.kind === 'channel-announcement');
    await Promise.all(announcements.map((d) => this.#check({ data: d.m, from: 'store', id: undefined }, false).then(count)));
    for (const d of decoded) {
      if (d.kind.ok && d.kind.value.kind === 'channel-announcement') continue;
      count(await this.#check({ data: d.m, from: 'store', id: undefined }, false));
    }
    this.#savedVersion = this.graph.version;
    this.#d.log.info(
      { ...results, channels: this.graph.channelCount, ms: Date.now() - t0 },
      'the saved channel graph is restored (closed channels and stale messages left out)',
    );
  }

  /** Calls `listener` with every verdict (tests, metrics); returns the unsubscribe. */
  onVerdict(listener: (v: GraphVerdict) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Checks one message from a peer, applies it when valid, and tells gossipsub whether to relay it. */
  async handle(m: GossipMessage): Promise<void> {
    const verdict = await this.#check(m).catch((e: unknown): GraphVerdict => {
      // Our own failure (a bug), not the peer's: never relay, never penalise.
      this.#d.log.error({ err: e, peer: m.from }, 'graph message check failed');
      return { kind: 'undecodable', result: graphReject('unverified', 'internal error'), from: m.from };
    });
    this.#d.gossip.report(m, this.#verdictOf(verdict.result));
    for (const l of this.#listeners) l(verdict);
  }

  #verdictOf(r: GraphResult<unknown>): GossipVerdict {
    if (r.ok) return 'accept';
    return PENALISED.has(r.reason) ? 'reject' : 'ignore';
  }

  async #check(m: GossipMessage, budget = true): Promise<GraphVerdict> {
    if (this.#stopped) return { kind: 'over-budget', result: graphReject('unverified', 'stopped'), from: m.from };
    if (budget && !this.#limiter.take(m.from, this.#d.clockMs()))
      return { kind: 'over-budget', result: graphReject('unverified', `peer ${m.from} is over its budget`), from: m.from };
    const decoded = decodeGraphMessage(m.data);
    if (!decoded.ok) return { kind: 'undecodable', result: decoded, from: m.from };
    const msg = decoded.value;
    const now = this.#d.now();
    const o = { now, backend: this.#d.backend };
    switch (msg.kind) {
      case 'channel-announcement': {
        const id = channelId(msg.announcement.params);
        const adding = this.#addAnnouncement(msg.announcement);
        if (!this.#adding.has(id)) this.#adding.set(id, adding);
        try {
          return { kind: msg.kind, result: await adding, from: m.from };
        } finally {
          if (this.#adding.get(id) === adding) this.#adding.delete(id);
        }
      }
      case 'channel-update': {
        let r = acceptChannelUpdate(this.graph, msg.update, o);
        const adding = this.#adding.get(msg.update.channelId);
        if (!r.ok && r.reason === 'unknown-channel' && adding !== undefined) {
          // Its announcement is being checked on-chain: wait for it, so that this update is
          // accepted (and relayed by gossipsub) rather than held and never relayed by us.
          await adding.catch(() => undefined);
          r = acceptChannelUpdate(this.graph, msg.update, { now: this.#d.now(), backend: this.#d.backend });
        }
        if (r.ok) this.scorer.policyChanged(msg.update.channelId);
        else if (r.reason === 'unknown-channel') this.#hold(msg.update, m);
        return { kind: msg.kind, result: r, from: m.from };
      }
      case 'node-announcement':
        return { kind: msg.kind, result: acceptNodeAnnouncement(this.graph, msg.announcement, o), from: m.from };
    }
  }

  /** Graph, then signatures, then the chain; adds the channel when all agree. */
  async #addAnnouncement(a: ChannelAnnouncement): Promise<GraphResult<Bytes32>> {
    const c = this.graph.checkChannelAnnouncement(a);
    if (!c.ok) return c;
    const keys = verifyChannelAnnouncement(a, { domain: this.#d.domain, now: this.#d.now(), backend: this.#d.backend });
    if (!keys.ok) return keys;
    const funded = await this.#onChain(a.params);
    if (!funded.ok) return funded;
    const added = this.graph.addChannel(a, keys.value, funded.value);
    if (!added.ok) return added;
    this.#replayPending(c.value);
    this.#publishDefaultPolicy(c.value, a.params);
    if (a.params.participants.includes(this.#d.self) && this.graph.node(this.#d.self)?.announcement === undefined)
      void this.announceNode().catch((e: unknown) => this.#d.log.warn({ err: e }, 'our node announcement was not published'));
    return graphOk(c.value);
  }

  /**
   * Asks `hub` for a quote to pay out `amount` of `to` for `from` (routed swaps, ADR 0012): the
   * quote, checked to be the hub's and to say what was asked, or why there is none.
   */
  async requestQuote(hub: Address, from: Address, to: Address, amount: bigint): Promise<QuoteAnswer> {
    const node = this.graph.node(hub);
    if (node === undefined) return { ok: false, reason: `${hub} is not in our graph` };
    let data: Uint8Array | undefined;
    try {
      data = await this.#d.gossip.requestQuote(node.peerId, encodeQuoteRequest({ from, to, amount }), node.announcement?.multiaddrs ?? []);
    } catch (e) {
      return { ok: false, reason: `cannot reach ${hub} for a quote: ${e instanceof Error ? e.message : String(e)}` };
    }
    if (data === undefined) return { ok: false, reason: `${hub} gave no quote` };
    const a = decodeQuoteAnswer(data);
    if (!a.ok) return { ok: false, reason: `${hub} answered with no quote: ${a.detail}` };
    const answer = a.value;
    if (!answer.ok) return answer;
    const q = answer.quote;
    if (q.hub !== hub || !verifyQuoteSignature(q, this.#d.domain, this.#d.backend))
      return { ok: false, reason: `the quote is not signed by ${hub}` };
    if (q.from !== from || q.to !== to || q.maxAmount < amount) return { ok: false, reason: `${hub} quoted another swap than asked` };
    return answer;
  }

  /**
   * Signs and publishes our node announcement (`options.node`: alias and swap offers; our
   * listen addresses). Needs a public channel of ours in the graph (others refuse it before).
   */
  async announceNode(): Promise<GraphResult<NodeAnnouncement>> {
    const peer = this.#d.selfPeer?.();
    if (peer === undefined) return graphReject('malformed', 'this node has no peer id to announce');
    const held = this.graph.node(this.#d.self)?.announcement;
    const now = this.#d.now();
    const timestamp =
      held === undefined || now >= held.timestamp + GRAPH_RULES.updateInterval ? now : held.timestamp + GRAPH_RULES.updateInterval;
    const suffix = `/p2p/${peer.peerId}`;
    const body: Omit<NodeAnnouncement, 'signature'> = {
      address: this.#d.self,
      peerId: peer.peerId,
      multiaddrs: peer.multiaddrs
        .map((m) => (m.endsWith(suffix) ? m : `${m}${suffix}`))
        .filter((m) => m.length <= GRAPH_LIMITS.maxMultiaddrLength)
        .slice(0, GRAPH_LIMITS.maxMultiaddrs),
      alias: (this.#o.node?.alias ?? '').slice(0, GRAPH_LIMITS.maxAliasLength),
      swaps: (this.#o.node?.swaps ?? []).slice(0, GRAPH_LIMITS.maxSwaps),
      timestamp,
    };
    const announcement: NodeAnnouncement = { ...body, signature: await this.#d.sign(nodeAnnouncementDigest(this.#d.domain, body)) };
    const r = acceptNodeAnnouncement(this.graph, announcement, { now: timestamp, backend: this.#d.backend });
    if (!r.ok) return r;
    await this.#d.gossip.publish(encodeGraphMessage({ kind: 'node-announcement', announcement }));
    this.#d.log.info({ swaps: body.swaps.length, multiaddrs: body.multiaddrs.length }, 'our node announcement is published');
    return graphOk(announcement);
  }

  /** Publishes our default policy for a channel of ours that just joined the graph without one. */
  #publishDefaultPolicy(id: Bytes32, params: ChannelParams): void {
    const policy = this.#o.defaultPolicy;
    const me = params.participants.indexOf(this.#d.self);
    if (policy === undefined || me < 0 || this.graph.channel(id)?.updates[me as 0 | 1] !== undefined) return;
    void this.setPolicy(id, { policies: params.assets.map(() => policy) }).then(
      (r) => {
        if (!r.ok) this.#d.log.warn({ channel: id, reason: r.detail }, 'our policy for a public channel was not published');
        else this.#d.log.info({ channel: id, direction: me }, 'our policy for a public channel is published');
      },
      (e: unknown) => this.#d.log.warn({ channel: id, err: e }, 'our policy for a public channel was not published'),
    );
  }

  /** The adjudicator's holdings of every asset, if the channel is funded and neither closed nor disputed. */
  #onChain(params: ChannelParams): Promise<GraphResult<bigint[]>> {
    const id = channelId(params);
    const now = this.#d.clockMs();
    const hit = this.#checked.get(id);
    if (hit !== undefined && now - hit.at < (hit.result.ok ? POSITIVE_CACHE_MS : NEGATIVE_CACHE_MS)) return Promise.resolve(hit.result);
    const inFlight = this.#reading.get(id);
    if (inFlight !== undefined) return inFlight;
    if (this.#reading.size >= (this.#o.maxChainReads ?? 16))
      return Promise.resolve(graphReject('unverified', 'too many chain reads in flight: try later'));
    const read = this.#readChain(id, params).then((result) => {
      this.#reading.delete(id);
      // 'unverified' is our failure to ask, not a fact about the channel: not cached.
      if (result.ok || result.reason !== 'unverified') {
        if (this.#checked.size >= MAX_CACHE) this.#checked.delete(this.#checked.keys().next().value!);
        this.#checked.set(id, { result, at: this.#d.clockMs() });
      }
      return result;
    });
    this.#reading.set(id, read);
    return read;
  }

  async #readChain(id: Bytes32, params: ChannelParams): Promise<GraphResult<bigint[]>> {
    try {
      const holdings = await Promise.all(params.assets.map((asset) => this.#d.chain.holdings(id, asset)));
      if (holdings.some((h) => h.closed)) return graphReject('closed', `channel ${id} is closed on-chain`);
      if (holdings.every((h) => h.amount === 0n)) return graphReject('not-funded', `the adjudicator holds nothing for channel ${id}`);
      if ((await this.#d.chain.dispute(id)) !== undefined)
        return graphReject('closed', `channel ${id} has a state registered: it is closing`);
      return graphOk(holdings.map((h) => h.amount));
    } catch (e) {
      return graphReject('unverified', `the chain could not be read: ${e instanceof Error ? e.message.slice(0, 120) : 'error'}`);
    }
  }

  #hold(update: ChannelUpdate, m: GossipMessage): void {
    const list = this.#pending.get(update.channelId);
    if (list !== undefined) {
      if (list.length < 2) list.push({ update, m });
      return;
    }
    if (this.#pending.size >= MAX_PENDING_UPDATES) this.#pending.delete(this.#pending.keys().next().value!);
    this.#pending.set(update.channelId, [{ update, m }]);
  }

  #replayPending(id: Bytes32): void {
    const list = this.#pending.get(id);
    if (list === undefined) return;
    this.#pending.delete(id);
    // Gossipsub already heard 'ignore' for them: applied here, relayed by whoever gets them next.
    for (const { update } of list) acceptChannelUpdate(this.graph, update, { now: this.#d.now(), backend: this.#d.backend });
  }

  /** Everything we hold, announcements before the updates that need them. */
  *#syncMessages(): Iterable<Uint8Array> {
    const channels = [...this.graph.channels()];
    for (const ch of channels) yield encodeGraphMessage({ kind: 'channel-announcement', announcement: ch.announcement });
    for (const ch of channels) {
      for (const u of ch.updates) if (u !== undefined) yield encodeGraphMessage({ kind: 'channel-update', update: u });
    }
    for (const n of [...this.graph.nodes()]) {
      if (n.announcement !== undefined) yield encodeGraphMessage({ kind: 'node-announcement', announcement: n.announcement });
    }
  }

  async #poll(): Promise<void> {
    if (this.#polling || this.#stopped || this.#cursor === undefined) return;
    this.#polling = true;
    try {
      const { events, nextBlock } = await this.#d.chain.events(this.#cursor);
      for (const e of events) {
        if (!('channelId' in e) || this.graph.channel(e.channelId) === undefined) continue;
        if (e.type === 'closed' || e.type === 'concluded' || e.type === 'challenged') {
          this.graph.removeChannel(e.channelId);
          this.#checked.delete(e.channelId);
        } else if (e.type === 'deposited') {
          const ch = this.graph.channel(e.channelId)!;
          const i = ch.params.assets.indexOf(e.asset);
          if (i >= 0)
            this.graph.setCapacity(
              e.channelId,
              ch.capacity.map((c, k) => (k === i ? e.holdingsAfter : c)),
            );
        }
      }
      this.#cursor = nextBlock;
      const ms = this.#d.clockMs();
      if (ms - this.#lastPrune > 600_000) {
        this.#lastPrune = ms;
        this.graph.pruneStale(this.#d.now());
        void this.refresh().catch((e: unknown) => this.#d.log.warn({ err: e }, 'graph: refreshing our messages failed'));
      }
    } catch (e) {
      this.#d.log.warn({ err: e }, 'graph: reading the chain failed; retrying');
    } finally {
      this.#polling = false;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Our own messages

  /**
   * Checks a message as if a peer had sent it (without the budget), applies it, and publishes
   * it when valid: how a node relays what it learnt elsewhere, or publishes its own node
   * announcement.
   */
  async publish(m: GraphMessage): Promise<GraphResult<unknown>> {
    const data = encodeGraphMessage(m);
    const o = { now: this.#d.now(), backend: this.#d.backend };
    const r: GraphResult<unknown> =
      m.kind === 'channel-announcement'
        ? await this.#addAnnouncement(m.announcement)
        : m.kind === 'channel-update'
          ? acceptChannelUpdate(this.graph, m.update, o)
          : acceptNodeAnnouncement(this.graph, m.announcement, o);
    if (r.ok) await this.#d.gossip.publish(data);
    return r;
  }

  /**
   * Announces one of our channels: signs the announcement as our participant, asks the
   * counterparty (over graph gossip's signing exchange) for its signature, adds the channel to
   * our graph (after the same chain check as anyone's) and publishes it.
   */
  async announceChannel(id: Bytes32): Promise<GraphResult<Bytes32>> {
    const own = this.#d.ownChannel(id);
    if (own === undefined) return graphReject('unknown-channel', `no channel ${id} of ours`);
    const me = own.params.participants.indexOf(this.#d.self) as 0 | 1 | -1;
    if (me < 0) return graphReject('wrong-signer', `we are not a participant of ${id}`);
    const timestamp = this.#d.now();
    const digest = channelAnnouncementDigest({ params: own.params, timestamp });
    const mine = await this.#d.sign(digest);
    const blank = new Uint8Array(65);
    const request: ChannelAnnouncement = { params: own.params, timestamp, signatures: me === 0 ? [mine, blank] : [blank, mine] };
    const theirs = await this.#d.gossip
      .requestSignature(own.peerId, encodeGraphMessage({ kind: 'channel-announcement', announcement: request }))
      .catch(() => undefined);
    if (theirs === undefined) return graphReject('unverified', 'the counterparty did not co-sign the announcement');
    const a: ChannelAnnouncement = { ...request, signatures: me === 0 ? [mine, theirs] : [theirs, mine] };
    const added = await this.#addAnnouncement(a);
    if (!added.ok && added.reason !== 'duplicate') return added;
    await this.#d.gossip.publish(encodeGraphMessage({ kind: 'channel-announcement', announcement: a }));
    return graphOk(id);
  }

  /**
   * Announces one of our channels once it is open on both sides (the counterparty co-signs only
   * a channel it sees funded): tries every `everyMs` up to `attempts` times, in the background.
   * Resolves with the last result.
   */
  announceWhenOpen(id: Bytes32, o: { readonly everyMs?: number; readonly attempts?: number } = {}): Promise<GraphResult<Bytes32>> {
    const everyMs = o.everyMs ?? 1_000;
    const attempts = o.attempts ?? 60;
    const run = async (): Promise<GraphResult<Bytes32>> => {
      let last: GraphResult<Bytes32> = graphReject('unverified', 'not tried');
      for (let i = 0; i < attempts && !this.#stopped; i++) {
        if (this.#d.ownChannel(id)?.status === 'open') {
          last = await this.announceChannel(id).catch((e: unknown) => graphReject('unverified', String(e)));
          if (last.ok) return last;
        }
        await new Promise((r) => setTimeout(r, everyMs));
      }
      this.#d.log.warn({ channel: id, reason: last.ok ? undefined : last.detail }, 'public channel not announced');
      return last;
    };
    return run();
  }

  /**
   * The counterparty asks us to co-sign the announcement of a channel we share: we do when it is
   * ours, open, this node accepts public channels, and the request is signed by the other
   * participant over exactly this announcement.
   */
  async coSign(from: Address | undefined, data: Uint8Array): Promise<Uint8Array | undefined> {
    if (this.#o.acceptPublic === false) return undefined;
    const decoded = decodeGraphMessage(data);
    if (!decoded.ok || decoded.value.kind !== 'channel-announcement') return undefined;
    const a = decoded.value.announcement;
    const id = channelId(a.params);
    const own = this.#d.ownChannel(id);
    if (own === undefined || own.status !== 'open') return undefined;
    const me = own.params.participants.indexOf(this.#d.self);
    if (me < 0 || from !== own.params.participants[1 - me]) return undefined;
    const digest = channelAnnouncementDigest(a);
    const key = this.#d.backend.recover(a.signatures[1 - me]!, digest);
    if (key === undefined) return undefined;
    if (publicKeyToAddress(key) !== from) return undefined;
    const t = a.timestamp;
    const now = this.#d.now();
    if (t > now + GRAPH_RULES.maxClockSkew || t + GRAPH_RULES.maxClockSkew < now) return undefined;
    return this.#d.sign(digest);
  }

  /**
   * Signs our channel updates and node announcement again once they are
   * {@link GRAPH_RULES.refreshEvery} old (a day), unchanged but for the timestamp: receivers drop
   * a direction whose newest update is 14 days old, so a node that runs for weeks would otherwise
   * fall out of every route. Runs with the prune, every 10 minutes. Returns how many it re-signed.
   */
  async refresh(): Promise<number> {
    const now = this.#d.now();
    let n = 0;
    for (const ch of this.graph.channels()) {
      const me = ch.params.participants.indexOf(this.#d.self);
      if (me < 0) continue;
      const u = ch.updates[me as 0 | 1];
      if (u === undefined || u.timestamp + GRAPH_RULES.refreshEvery > now) continue;
      const r = await this.setPolicy(ch.id, {
        enabled: u.enabled,
        maxLocks: u.maxLocks,
        minExpirySeconds: u.minExpirySeconds,
        policies: u.policies,
      });
      if (r.ok) n++;
    }
    const mine = this.graph.node(this.#d.self)?.announcement;
    if (mine !== undefined && mine.timestamp + GRAPH_RULES.refreshEvery <= now && (await this.announceNode()).ok) n++;
    return n;
  }

  /** Signs, applies and publishes our policy for the direction we forward on one of our public channels. */
  async setPolicy(
    id: Bytes32,
    p: {
      readonly enabled?: boolean;
      readonly maxLocks?: number;
      readonly minExpirySeconds?: number;
      readonly policies: readonly AssetPolicy[];
    },
  ): Promise<GraphResult<ChannelUpdate>> {
    const ch = this.graph.channel(id);
    if (ch === undefined) return graphReject('unknown-channel', `channel ${id} is not in the graph (announce it first)`);
    const direction = ch.params.participants.indexOf(this.#d.self);
    if (direction < 0) return graphReject('wrong-signer', `we are not a participant of ${id}`);
    const held = ch.updates[direction as 0 | 1];
    const now = this.#d.now();
    const timestamp =
      held === undefined || now >= held.timestamp + GRAPH_RULES.updateInterval ? now : held.timestamp + GRAPH_RULES.updateInterval;
    const body: Omit<ChannelUpdate, 'signature'> = {
      channelId: id,
      direction: direction as 0 | 1,
      timestamp,
      enabled: p.enabled ?? true,
      maxLocks: p.maxLocks ?? 483,
      // What the forwarder enforces (decideForward: the registration margin and the route window of
      // DEFAULT_TIMING), no more: a routed swap's short lock (ADR 0012) must fit every hop's.
      minExpirySeconds: p.minExpirySeconds ?? DEFAULT_MIN_EXPIRY_SECONDS,
      policies: p.policies,
    };
    const update: ChannelUpdate = { ...body, signature: await this.#d.sign(channelUpdateDigest(this.#d.domain, body)) };
    const r = acceptChannelUpdate(this.graph, update, { now: timestamp, backend: this.#d.backend });
    if (!r.ok) return r;
    await this.#d.gossip.publish(encodeGraphMessage({ kind: 'channel-update', update }));
    return graphOk(update);
  }
}
