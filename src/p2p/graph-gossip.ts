/**
 * The channel graph's gossip over libp2p (ADR 0017): graph messages (src/core/routing/codec.ts)
 * on one gossipsub topic per deployment, and `/lanes/graph-sync/1.0.0`, which hands a peer that
 * just connected everything we hold (gossipsub carries only what is published while a peer
 * listens).
 *
 * Gossipsub runs with `asyncValidation`: a message is relayed only after the engine's
 * {@link GraphGossip.report} says `accept`, so nothing reaches a third node before its
 * signatures and the adjudicator's holdings were checked. `reject` costs the peer gossipsub's
 * invalid-message score (P4), which grafts it out of our mesh and, past the graylist threshold,
 * drops its traffic; `ignore` (duplicates, replays, rate limits, a chain we could not read) does
 * not. The envelope is unsigned (`StrictNoSign`): every graph message carries its signers' own
 * signatures, and the message id is the hash of its bytes.
 *
 * This module knows libp2p; the engine sees only the {@link GraphGossip} shape (create-node.ts
 * wires them).
 */
import { type GossipSub, TopicValidatorResult, gossipsub } from '@libp2p/gossipsub';
import type { PeerId, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { Libp2p } from 'libp2p';
import type { Address } from '../core/bytes.ts';
import { MAX_QUOTE_BYTES } from '../core/forwarding/quote.ts';
import { GRAPH_LIMITS } from '../core/routing/types.ts';
import { FrameReader, frameBytes } from './framing.ts';
import { peerRefFromPeerId } from './peer.ts';

export const GRAPH_SYNC_PROTOCOL = '/lanes/graph-sync/1.0.0';
/** One request, one answer: a channel announcement to co-sign, and the signature (or nothing). */
export const GRAPH_SIGN_PROTOCOL = '/lanes/graph-sign/1.0.0';
/** One request, one answer: a routed swap's quote (src/core/forwarding/quote.ts). */
export const SWAP_QUOTE_PROTOCOL = '/lanes/swap-quote/1.0.0';

/** The topic of one deployment's graph: messages of other chains or contracts are never even received. */
export function graphTopic(chainId: bigint, adjudicator: Address): string {
  return `/lanes/graph/1/${chainId}/${adjudicator}`;
}

/** The libp2p service key the gossipsub instance is registered under (libp2p-node.ts). */
export const GOSSIP_SERVICE = 'pubsub';

/** The gossipsub service, configured for graph messages: what libp2p-node.ts adds to a node's services. */
export function graphGossipsub(): ReturnType<typeof gossipsub> {
  return gossipsub({
    globalSignaturePolicy: 'StrictNoSign',
    asyncValidation: true,
    // A lone node, or the first of a network, still announces (to the peers that come later via sync).
    allowPublishToZeroTopicPeers: true,
    ignoreDuplicatePublishError: true,
    emitSelf: false,
    fallbackToFloodsub: false,
    // One RPC frame carries at most this much: many graph messages, never a flood of megabytes.
    maxInboundDataLength: 1 << 20,
    // One RPC decodes into at most this much (gossipsub's defaults allow 5,000 subscriptions and messages).
    decodeRpcLimits: {
      maxSubscriptions: 16,
      maxMessages: 512,
      maxIhaveMessageIDs: 5_000,
      maxIwantMessageIDs: 5_000,
      maxIdontwantMessageIDs: 512,
      maxControlMessages: 512,
      maxPeerInfos: 16,
    },
  });
}

/** The class's method for `asyncValidation` verdicts, which the exported `GossipSub` interface omits. */
interface AsyncValidation {
  // (getMeshPeers, used below, is missing from the interface too.)
  reportMessageValidationResult(msgId: string, propagationSource: string, acceptance: TopicValidatorResult): void;
}

/** A message from a peer, waiting for the engine's verdict. */
export interface GossipMessage {
  readonly data: Uint8Array;
  /** The peer that relayed it to us (not necessarily its author). */
  readonly from: string;
  /** Gossipsub's message id; undefined for messages that came by sync (nothing to report). */
  readonly id: string | undefined;
}

export type GossipVerdict = 'accept' | 'reject' | 'ignore';

/** The engine's view of graph gossip (src/node/graph-service.ts). */
export interface GraphGossip {
  /** Our peer id. */
  readonly self: string;
  /** Messages from peers (gossip and sync); every gossip one must get a {@link report}. */
  onMessage(handler: (m: GossipMessage) => void): void;
  report(m: GossipMessage, verdict: GossipVerdict): void;
  /** Publishes one of our own messages (already in our graph). */
  publish(data: Uint8Array): Promise<void>;
  /** What we hand a peer that asks for our graph (graph-sync). */
  serveSync(provider: () => Iterable<Uint8Array>): void;
  /**
   * Asks a peer (the counterparty of one of our channels) to co-sign a channel announcement
   * (an encoded one with our signature in our slot): its 65-byte signature, or undefined.
   */
  requestSignature(peerId: string, data: Uint8Array): Promise<Uint8Array | undefined>;
  /** Answers such requests: `from` is the address of the asking peer's key. */
  serveSignatures(handler: (from: Address | undefined, data: Uint8Array) => Promise<Uint8Array | undefined>): void;
  /**
   * Asks a hub for a swap quote (an encoded request): its encoded answer, or undefined. Dials
   * `addresses` (its node announcement's) when we know no other way to reach it.
   */
  requestQuote(peerId: string, data: Uint8Array, addresses?: readonly string[]): Promise<Uint8Array | undefined>;
  /** Answers quote requests. */
  serveQuotes(handler: (from: Address | undefined, data: Uint8Array) => Promise<Uint8Array | undefined>): void;
  /** Dials a peer (a bootstrap address, or any known one) so that gossip and sync reach us. */
  dial(address: string): Promise<void>;
  /** Peers subscribed to the graph topic, as far as we know. */
  peers(): string[];
  /** Peers in our gossipsub mesh for the topic (those we relay to). */
  meshPeers(): string[];
  stop(): void;
}

export interface GraphGossipOptions {
  readonly libp2p: Libp2p;
  readonly topic: string;
  /** Messages one sync hands over at most (either way). */
  readonly maxSyncMessages: number;
  /**
   * How often we ask each peer we gossip with for its graph again (ms, default 2 minutes): the
   * repair of messages gossip lost (an update held because it came before its announcement is
   * not relayed). A peer may ask us twice as often at most.
   */
  readonly syncIntervalMs?: number;
  readonly dialTimeoutMs?: number;
  readonly onError?: (what: string, error: unknown) => void;
}

/** The gossipsub instance of a node built with `gossip: true` (libp2p-node.ts), or undefined. */
export function gossipsubOf(libp2p: Libp2p): GossipSub | undefined {
  return (libp2p.services as Record<string, unknown>)[GOSSIP_SERVICE] as GossipSub | undefined;
}

export function createGraphGossip(o: GraphGossipOptions): GraphGossip {
  const pubsub = gossipsubOf(o.libp2p);
  if (pubsub === undefined) throw new Error('this libp2p node has no gossipsub service (createLibp2pNode({ gossip: true }))');
  const syncIntervalMs = o.syncIntervalMs ?? 120_000;
  const onError = o.onError ?? (() => undefined);
  let handler: (m: GossipMessage) => void = () => undefined;
  let provider: () => Iterable<Uint8Array> = () => [];
  let signer: (from: Address | undefined, data: Uint8Array) => Promise<Uint8Array | undefined> = () => Promise.resolve(undefined);
  let quoter: (from: Address | undefined, data: Uint8Array) => Promise<Uint8Array | undefined> = () => Promise.resolve(undefined);
  let stopped = false;
  /** When each peer last asked us for a sync, and when we last asked it (bounded by the connection cap). */
  const served = new Map<string, number>();
  const asked = new Map<string, number>();

  const onGossip = (evt: CustomEvent<{ propagationSource: PeerId; msgId: string; msg: { topic: string; data: Uint8Array } }>) => {
    const { propagationSource, msgId, msg } = evt.detail;
    const m: GossipMessage = { data: msg.data, from: propagationSource.toString(), id: msgId };
    if (msg.topic !== o.topic) return report(m, 'ignore');
    handler(m);
  };
  pubsub.addEventListener('gossipsub:message', onGossip as never);
  pubsub.subscribe(o.topic);

  function report(m: GossipMessage, verdict: GossipVerdict): void {
    if (m.id === undefined || stopped) return;
    const acceptance =
      verdict === 'accept' ? TopicValidatorResult.Accept : verdict === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore;
    try {
      (pubsub as unknown as AsyncValidation).reportMessageValidationResult(m.id, m.from, acceptance);
    } catch (e) {
      onError('gossip verdict', e);
    }
  }

  // Serving: write every frame, then close our side. The reader stops at its own limit.
  void o.libp2p
    .handle(
      GRAPH_SYNC_PROTOCOL,
      (stream: Stream, connection: { remotePeer: PeerId }) => {
        const peer = connection.remotePeer.toString();
        const now = Date.now();
        const last = served.get(peer);
        if (last !== undefined && now - last < syncIntervalMs / 2) {
          stream.abort(new Error('graph sync asked too often'));
          return;
        }
        remember(served, peer, now);
        void serve(stream).catch((e) => {
          onError('graph sync (serving)', e);
          try {
            stream.abort(e instanceof Error ? e : new Error(String(e)));
          } catch {
            // already closed
          }
        });
      },
      { maxInboundStreams: 2, maxOutboundStreams: 2 },
    )
    .catch((e: unknown) => onError('graph sync handler', e));

  async function serve(stream: Stream): Promise<void> {
    let n = 0;
    for (const data of provider()) {
      if (stopped || ++n > o.maxSyncMessages) break;
      if (!stream.send(frameBytes(data))) await drained(stream);
    }
    await stream.close();
  }

  /** The send buffer emptied, or the stream closed (then the next send throws). Not stream.onDrain(): see libp2p-transport.ts. */
  function drained(stream: Stream): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        stream.removeEventListener('drain', done);
        stream.removeEventListener('close', done);
        resolve();
      };
      stream.addEventListener('drain', done);
      stream.addEventListener('close', done);
    });
  }

  /** Forgets peers not heard of for an interval, so the maps stay as small as the set of recent peers. */
  function remember(m: Map<string, number>, peer: string, now: number): void {
    if (m.size >= 4_096) for (const [k, t] of m) if (now - t >= syncIntervalMs) m.delete(k);
    if (m.size >= 4_096) m.delete(m.keys().next().value!);
    m.delete(peer);
    m.set(peer, now);
  }

  // Co-signing and swap quotes: one frame in, one frame out (an empty one for no), then close.
  serveOnce(GRAPH_SIGN_PROTOCOL, GRAPH_LIMITS.maxMessageBytes, (from, data) => signer(from, data), 4);
  serveOnce(SWAP_QUOTE_PROTOCOL, MAX_QUOTE_BYTES, (from, data) => quoter(from, data), 8);

  function serveOnce(
    protocol: string,
    maxFrameBytes: number,
    answer: (from: Address | undefined, data: Uint8Array) => Promise<Uint8Array | undefined>,
    maxStreams: number,
  ): void {
    void o.libp2p
      .handle(
        protocol,
        (stream: Stream, connection: { remotePeer: PeerId }) => {
          const from = peerRefFromPeerId(connection.remotePeer)?.address;
          let answered = false;
          const reader = new FrameReader({
            maxFrameBytes,
            onFrame: (body) => {
              if (answered) return false;
              answered = true;
              const data = body.slice();
              void answer(from, data)
                .catch(() => undefined)
                .then((reply) => {
                  stream.send(frameBytes(reply ?? new Uint8Array(0)));
                  return stream.close();
                })
                .catch(() => undefined);
              return false;
            },
          });
          stream.addEventListener('message', (evt) => {
            if (reader.push(evt.data as Iterable<Uint8Array>) !== undefined) stream.abort(new Error(`${protocol}: bad frame`));
          });
        },
        { maxInboundStreams: maxStreams, maxOutboundStreams: maxStreams },
      )
      .catch((e: unknown) => onError(`${protocol} handler`, e));
  }

  /** One frame to `peer` (by id, or at one of `addresses`), one frame back: undefined for no answer. */
  async function requestOnce(
    protocol: string,
    peer: PeerId,
    data: Uint8Array,
    maxAnswerBytes: number,
    addresses: readonly string[] = [],
  ): Promise<Uint8Array | undefined> {
    const signal = AbortSignal.timeout(o.dialTimeoutMs ?? 10_000);
    let stream: Stream;
    try {
      stream = await o.libp2p.dialProtocol(peer, protocol, { signal });
    } catch (e) {
      // Not connected and no address in the peer store: the addresses it announced.
      const known = addresses.map((a) => multiaddr(a));
      if (known.length === 0) throw e;
      stream = await o.libp2p.dialProtocol(known, protocol, { signal });
    }
    return new Promise<Uint8Array | undefined>((resolve) => {
      const timer = setTimeout(() => finish(undefined), o.dialTimeoutMs ?? 10_000);
      const finish = (v: Uint8Array | undefined) => {
        clearTimeout(timer);
        resolve(v);
        void stream.close().catch(() => undefined);
      };
      const reader = new FrameReader({
        maxFrameBytes: maxAnswerBytes,
        onFrame: (body) => {
          finish(body.length === 0 ? undefined : body.slice());
          return false;
        },
      });
      stream.addEventListener('message', (evt) => {
        if (reader.push(evt.data as Iterable<Uint8Array>) !== undefined) finish(undefined);
      });
      stream.addEventListener('close', () => finish(undefined));
      stream.send(frameBytes(data));
    });
  }

  // Asking: once a peer says (identify) it serves graph sync, read its graph.
  const onIdentify = (evt: CustomEvent<{ peerId: PeerId; protocols: string[] }>) => {
    const { peerId, protocols } = evt.detail;
    if (stopped || !protocols.includes(GRAPH_SYNC_PROTOCOL)) return;
    const peer = peerId.toString();
    const now = Date.now();
    const last = asked.get(peer);
    if (last !== undefined && now - last < syncIntervalMs) return;
    remember(asked, peer, now);
    void requestSync(peerId).catch((e) => onError('graph sync (asking)', e));
  };
  o.libp2p.addEventListener('peer:identify', onIdentify as never);

  // Repair: ask every peer on the topic for its graph again, now and then.
  const resync = setInterval(() => {
    if (stopped) return;
    const now = Date.now();
    for (const peerId of pubsub.getSubscribers(o.topic)) {
      const peer = peerId.toString();
      const last = asked.get(peer);
      if (last !== undefined && now - last < syncIntervalMs) continue;
      remember(asked, peer, now);
      void requestSync(peerId).catch((e) => onError('graph sync (asking again)', e));
    }
  }, syncIntervalMs / 4);
  resync.unref();

  async function requestSync(peerId: PeerId): Promise<void> {
    const stream = await o.libp2p.dialProtocol(peerId, GRAPH_SYNC_PROTOCOL, { signal: AbortSignal.timeout(o.dialTimeoutMs ?? 10_000) });
    const from = peerId.toString();
    let n = 0;
    const reader = new FrameReader({
      maxFrameBytes: GRAPH_LIMITS.maxMessageBytes,
      onFrame: (body) => {
        if (++n > o.maxSyncMessages) return false;
        handler({ data: body.slice(), from, id: undefined });
        return true;
      },
    });
    stream.addEventListener('message', (evt) => {
      const error = reader.push(evt.data as Iterable<Uint8Array>);
      if (error !== undefined || n > o.maxSyncMessages) {
        try {
          stream.abort(new Error(error?.detail ?? 'graph sync: too many messages'));
        } catch {
          // already closed
        }
      }
    });
    // We send nothing: close our side at once, so that the server's close completes and the
    // stream ends (a stream left half-open counts against the server's inbound streams: two
    // such, and it refused every later sync, so lost gossip was never repaired). A sync that
    // does not end within a minute is dropped.
    void stream.close().catch(() => undefined);
    const timer = setTimeout(() => {
      try {
        stream.abort(new Error('graph sync took over a minute'));
      } catch {
        // already closed
      }
    }, 60_000);
    timer.unref();
    stream.addEventListener('close', () => clearTimeout(timer));
  }

  return {
    self: o.libp2p.peerId.toString(),
    onMessage(h) {
      handler = h;
    },
    report,
    async publish(data) {
      if (stopped) return;
      await pubsub.publish(o.topic, data);
    },
    serveSync(p) {
      provider = p;
    },
    serveSignatures(h) {
      signer = h;
    },
    async requestSignature(peerId, data) {
      const peer = parsePeerId(peerId);
      if (peer === undefined) return undefined;
      const answer = await requestOnce(GRAPH_SIGN_PROTOCOL, peer, data, 128);
      return answer?.length === 65 ? answer : undefined;
    },
    serveQuotes(h) {
      quoter = h;
    },
    async requestQuote(peerId, data, addresses) {
      const peer = parsePeerId(peerId);
      if (peer === undefined) return undefined;
      return requestOnce(SWAP_QUOTE_PROTOCOL, peer, data, MAX_QUOTE_BYTES, addresses);
    },
    async dial(address) {
      const ma = multiaddr(address);
      await o.libp2p.dial(ma, { signal: AbortSignal.timeout(o.dialTimeoutMs ?? 10_000) });
    },
    peers() {
      return pubsub.getSubscribers(o.topic).map((p) => p.toString());
    },
    meshPeers() {
      return (pubsub as unknown as { getMeshPeers(topic: string): string[] }).getMeshPeers(o.topic);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(resync);
      pubsub.removeEventListener('gossipsub:message', onGossip as never);
      o.libp2p.removeEventListener('peer:identify', onIdentify as never);
      try {
        pubsub.unsubscribe(o.topic);
      } catch {
        // libp2p already stopping
      }
      void o.libp2p.unhandle(GRAPH_SYNC_PROTOCOL).catch(() => undefined);
      void o.libp2p.unhandle(GRAPH_SIGN_PROTOCOL).catch(() => undefined);
      void o.libp2p.unhandle(SWAP_QUOTE_PROTOCOL).catch(() => undefined);
    },
  };
}

/** Parses a peer id string, or undefined (for addresses given by users). */
export function parsePeerId(id: string): PeerId | undefined {
  try {
    return peerIdFromString(id);
  } catch {
    return undefined;
  }
}
