/**
 * The real {@link Transport}: libp2p 3 over TCP, Noise and yamux, protocol `/lanes/channel/1.0.0`.
 *
 * Link model. Each node WRITES only on the one stream it opened to a peer (its outbound stream)
 * and READS from the streams the peer opened to it (inbound). So simultaneous dials, which leave
 * two connections, are harmless: each side still writes on exactly one stream, which keeps the
 * per-direction order, whichever connection carries it.
 *
 * Events, exactly:
 * - `connected(peer)` fires once our outbound stream to the peer is negotiated AND at least one
 *   inbound stream from it was accepted. At that point both nodes can send: the peer's inbound
 *   stream exists only because the peer opened its outbound. Frames that arrive before that are
 *   held and delivered right after `connected`, so `message` events for a peer only ever fall
 *   between its `connected` and `disconnected`, and a handler can always answer what it gets.
 * - `disconnected(peer)` fires once per `connected`, when the link goes: the last connection to
 *   the peer closed, or the link broke (our stream closed, the peer's stream closed, our send
 *   queue overflowed, the peer was banned), in which case we also hang up every connection to
 *   the peer. Nothing is delivered afterwards, so "in order, or not at all after a disconnect"
 *   holds, and the engine resyncs when the peer reconnects. On `stop()` it fires for every peer.
 *
 * Delivery: frames are decoded and delivered from one inbox (all peers, arrival order) within
 * the event-loop turn's budget (src/runtime/turns.ts), so answers leave while a large burst is
 * still being handled. Frames read before a link drops are delivered before `disconnected`; frames read
 * before a garbled one on the same stream come before its `malformed` report.
 *
 * Backpressure: writes made in one tick are coalesced into one `send()`; while the muxer needs
 * to drain, frames queue per peer. Past `maxQueueBytes` the link is dropped rather than kept
 * with a gap, and the protocol resyncs on reconnect (sync messages), which is cheaper and
 * simpler than unbounded memory or blocking the engine.
 *
 * Faults: an oversize frame, a garbled length or an undecodable body is reported as
 * `message(from, malformed)`, aborts that stream (the peer sees its stream reset and drops the
 * link) and penalises the peer. `penalize()` adds to a score that counts the last minute's faults;
 * at the threshold the peer is hung up on and refused (connection gater) for `banMs`.
 *
 * libp2p pitfalls handled here (measured, see the p2p research notes): the handler is
 * `(stream, connection)`; listeners are attached synchronously; `stream.onDrain()` is broken, so
 * we wait for the 'drain' event; `close()` may reject with a non-Error; the per-host inbound
 * connection rate limit (5/s) is raised because local testnets run many nodes on one host.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { Libp2p } from 'libp2p';
import type { CodecLimits, Message } from '../core/codec/messages.ts';
import { DEFAULT_LIMITS, decodeMessage } from '../core/codec/wire.ts';
import { type Result, reject } from '../core/result.ts';
import { withinTurnBudget } from '../runtime/turns.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import { FrameReader, encodeFrame } from './framing.ts';
import { createLibp2pNode } from './libp2p-node.ts';
import { PenaltyBook, TransportEventHub, peerIdOfMultiaddr, peerRefFromPeerId, peerRefFromString } from './peer.ts';
import type { PeerRef, Transport, TransportEvents } from './transport.ts';

/** The channel protocol. */
export const LANES_PROTOCOL = '/lanes/channel/1.0.0';

/** Structured logging, shaped so a pino logger fits. */
export interface TransportLogger {
  debug(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
}

export interface Libp2pTransportOptions {
  /** The node's 32-byte secp256k1 key: its channel signing key and its libp2p identity. */
  readonly privateKey: Uint8Array;
  /** Listen addresses (default loopback only: `/ip4/127.0.0.1/tcp/0`; expose deliberately). */
  readonly listen?: readonly string[];
  /** Largest message body sent or accepted (default `DEFAULT_LIMITS.maxMessageBytes`). */
  readonly maxMessageBytes?: number;
  /** Penalty score that bans a peer (default 20: one `penalize()` is 1 point, counted for a minute). */
  readonly penaltyThreshold?: number;
  /** How long a banned peer is refused (default 60 s). */
  readonly banMs?: number;
  /** Bytes queued for one peer before its link is dropped (default max(16 MiB, 4 × maxMessageBytes)). */
  readonly maxQueueBytes?: number;
  /** Dial timeout, and the time a new connection has to become a link (default 10 s). */
  readonly dialTimeoutMs?: number;
  /** Connections kept at most (default 300). */
  readonly maxConnections?: number;
  readonly logger?: TransportLogger;
  /** Runs gossipsub on the node for the channel graph (graph-gossip.ts). */
  readonly gossip?: boolean;
}

/** The libp2p transport, with its node exposed for diagnostics and tests. */
export interface Libp2pTransport extends Transport {
  /**
   * The underlying node. Streams opened on it bypass the transport's framing and limits: for
   * diagnostics and tests (e.g. writing raw bytes as a hostile peer would), not for the engine.
   */
  readonly libp2p: Libp2p;
  /** How much the transport and its libp2p node hold about peers (for metrics and tests). */
  diagnostics(): Promise<TransportDiagnostics>;
}

/** Sizes of the per-peer tables, each bounded (issue 16: strangers must not grow them for good). */
export interface TransportDiagnostics {
  /** Peers in libp2p's peer store (addresses, protocols, identify data). */
  readonly peerStore: number;
  /** Open connections. */
  readonly connections: number;
  /** Links being set up or up. */
  readonly links: number;
  /** Peers whose announced listen addresses we hold. */
  readonly addressBook: number;
  /** Peers with a recent fault or a ban. */
  readonly penalties: number;
}

const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0'];
const DEFAULT_TIMEOUT_MS = 10_000;
/** How long stop() waits for queued frames to leave before closing anyway. */
const CLOSE_TIMEOUT_MS = 2_000;
/** One real inbound stream per connection, plus slack for a reconnect race and diagnostics. */
const MAX_INBOUND_STREAMS = 4;
const MAX_OUTBOUND_STREAMS = 2;
/** A garbled length prefix means the peer's framing is broken or hostile. */
const FRAMING_PENALTY = 5;
/** An undecodable body may be a version skew; the engine weighs it too. */
const UNDECODABLE_PENALTY = 1;
/**
 * Peers we dialed (the engine's choice: channel peers, the operator's) that stay in libp2p's peer
 * store after they disconnect; the least recently dialed go first. Every other peer is forgotten
 * once its last connection closes (issue 16: each throwaway identity cost ~10 KB kept for good).
 */
const MAX_DIALED_KEPT = 256;
/** Announced listen addresses kept per peer, and the longest one kept. */
const MAX_ADDRESSES_PER_PEER = 8;
const MAX_ADDRESS_CHARS = 256;

const noop = (): void => {};
const silentLogger: TransportLogger = { debug: noop, warn: noop };

/** Aborts a stream or connection that may already be gone: callers (send(), timers, listeners) must not throw. */
function abortQuietly(target: { abort(error: Error): void }, error: Error): void {
  try {
    target.abort(error);
  } catch {
    // Already closed: nothing left to abort.
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Creates (but does not start) a libp2p transport. Throws on an invalid private key. Only TCP,
 * Noise and yamux are configured: no identify, ping, DHT or discovery, so the node talks to
 * exactly the peers the engine dials or that dial it.
 */
export async function createLibp2pTransport(options: Libp2pTransportOptions): Promise<Libp2pTransport> {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes;
  const timeoutMs = options.dialTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const penalties = new PenaltyBook({
    ...(options.penaltyThreshold === undefined ? {} : { threshold: options.penaltyThreshold }),
    ...(options.banMs === undefined ? {} : { banMs: options.banMs }),
  });
  const node = await createLibp2pNode({
    privateKey: options.privateKey,
    listen: options.listen ?? DEFAULT_LISTEN,
    dialTimeoutMs: timeoutMs,
    ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
    ...(options.gossip === true ? { gossip: true } : {}),
    // Refused at the handshake: banned peers (keys that cannot sign states are refused too).
    refuse: (peerId) => penalties.isBanned(peerId.toString()),
  });
  return new Libp2pTransportImpl(node, penalties, {
    maxMessageBytes,
    maxQueueBytes: options.maxQueueBytes ?? Math.max(16 << 20, 4 * maxMessageBytes),
    timeoutMs,
    logger: options.logger ?? silentLogger,
  });
}

interface Settings {
  readonly maxMessageBytes: number;
  readonly maxQueueBytes: number;
  readonly timeoutMs: number;
  readonly logger: TransportLogger;
}

// ---------------------------------------------------------------------------------------------

/**
 * Our outbound stream to one peer: queues frames, coalesces a tick's worth into one `send()`,
 * and holds them while the muxer needs to drain.
 */
class FrameWriter {
  readonly stream: Stream;
  private readonly maxQueueBytes: number;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private scheduled = false;
  private waitingDrain = false;

  constructor(stream: Stream, maxQueueBytes: number) {
    this.stream = stream;
    this.maxQueueBytes = maxQueueBytes;
  }

  /** Queues a frame. False when the peer is this far behind: the caller drops the link. */
  enqueue(frame: Uint8Array): boolean {
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    if (this.queuedBytes + this.stream.writeBufferLength > this.maxQueueBytes) return false;
    if (!this.scheduled && !this.waitingDrain) {
      this.scheduled = true;
      queueMicrotask(this.flush);
    }
    return true;
  }

  /** Sends what is queued and half-closes, bounded by `timeoutMs`. Never rejects. */
  async close(timeoutMs: number): Promise<void> {
    // Past a 'false' from send() the stream still buffers, and close() waits for that buffer.
    this.waitingDrain = false;
    this.flush();
    await this.stream.close({ signal: AbortSignal.timeout(timeoutMs) }).catch(noop);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.waitingDrain || this.queue.length === 0) return;
    const out = this.takeQueue();
    // A stream that is no longer writable is on its way to 'close', which drops the link.
    if (this.stream.writeStatus !== 'writable') return;
    try {
      this.stream.send(out);
    } catch {
      return;
    }
    // send() returns false exactly when it set this flag (for a writable stream); the flag can
    // also be set by the muxer alone. Either way a 'drain' event follows.
    if (this.stream.writableNeedsDrain) this.awaitDrain();
  };

  private takeQueue(): Uint8Array {
    const parts = this.queue;
    const out = parts.length === 1 ? parts[0]! : new Uint8Array(this.queuedBytes);
    if (parts.length > 1) {
      let offset = 0;
      for (const part of parts) {
        out.set(part, offset);
        offset += part.length;
      }
    }
    this.queue = [];
    this.queuedBytes = 0;
    return out;
  }

  // Not stream.onDrain(): in @libp2p/utils 7.4.1 it resolves at once after the first drain.
  private awaitDrain(): void {
    this.waitingDrain = true;
    const onDrain = (): void => {
      if (!this.waitingDrain) return;
      this.waitingDrain = false;
      this.flush();
    };
    this.stream.addEventListener('drain', onDrain, { once: true });
  }
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/** Everything about one peer while a link to it is being set up or is up. */
class Link {
  readonly ref: PeerRef;
  out: FrameWriter | undefined;
  opening = false;
  readonly inbound = new Set<Stream>();
  /** True once `connected` was emitted (stays true after dropping, to emit `disconnected`). */
  connected = false;
  dead = false;
  waiters: Waiter[] = [];
  /** Frames that arrived before `connected`, delivered right after it. */
  held: Result<Message>[] = [];
  heldBytes = 0;
  /** Bytes of this link's frames waiting in the transport's inbox. */
  inboxBytes = 0;
  inboxFrames = 0;
  timer: NodeJS.Timeout | undefined;

  constructor(ref: PeerRef) {
    this.ref = ref;
  }
}

/** A frame waiting to be decoded and delivered, or a fault to report. */
interface InboxEntry {
  readonly link: Link;
  readonly stream: Stream;
  readonly body: Uint8Array;
  /** Set once delivered out of turn (see {@link Libp2pTransportImpl.deliverPending}). */
  done: boolean;
}

interface DropOptions {
  /** Also close every connection to the peer (default true). */
  readonly hangUp?: boolean;
  /** Deliver the frames already read from the peer first (default true). */
  readonly deliverRead?: boolean;
}

class Libp2pTransportImpl implements Libp2pTransport {
  readonly self: PeerRef;
  readonly libp2p: Libp2p;
  private readonly penalties: PenaltyBook;
  private readonly settings: Settings;
  private readonly limits: CodecLimits;
  private readonly log: TransportLogger;
  private readonly events: TransportEventHub;
  private readonly links = new Map<string, Link>();
  /**
   * Listen addresses peers announced through identify, each with its /p2p/ suffix: while a peer
   * is connected, and after that only for peers we dialed ({@link dialed}).
   */
  private readonly knownAddresses = new Map<string, string[]>();
  /** Peers we dialed, least recently dialed first, at most {@link MAX_DIALED_KEPT}. */
  private readonly dialed = new Set<string>();
  private state: 'new' | 'started' | 'stopping' | 'stopped' = 'new';
  /** Frames read but not yet delivered, from every peer, in arrival order (see {@link drain}). */
  private inbox: InboxEntry[] = [];
  private inboxHead = 0;
  private draining = false;

  constructor(node: Libp2p, penalties: PenaltyBook, settings: Settings) {
    this.libp2p = node;
    this.penalties = penalties;
    this.settings = settings;
    this.limits = { ...DEFAULT_LIMITS, maxMessageBytes: settings.maxMessageBytes };
    this.log = settings.logger;
    const self = peerRefFromPeerId(node.peerId);
    if (self === undefined) throw new RangeError('node key is not secp256k1');
    this.self = self;
    this.events = new TransportEventHub((event, error) =>
      this.log.warn({ event, error: describe(error) }, 'transport event handler threw'),
    );
    node.addEventListener('connection:open', (evt) => this.onConnectionOpen(evt.detail));
    node.addEventListener('peer:disconnect', (evt) => this.onPeerDisconnect(evt.detail));
    node.addEventListener('peer:identify', (evt) => {
      const id = evt.detail.peerId.toString();
      const addrs: string[] = [];
      for (const ma of evt.detail.listenAddrs) {
        const text = ma.toString();
        const full = text.includes('/p2p/') ? text : `${text}/p2p/${id}`;
        if (full.length <= MAX_ADDRESS_CHARS) addrs.push(full);
        if (addrs.length === MAX_ADDRESSES_PER_PEER) break;
      }
      // A peer that left while identify ran is not remembered.
      if (addrs.length > 0 && node.getConnections(evt.detail.peerId).length > 0) this.knownAddresses.set(id, addrs);
    });
  }

  // --- Transport -------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.state === 'started') return;
    if (this.state === 'stopping') throw new Error('transport is stopping');
    await this.libp2p.handle(LANES_PROTOCOL, (stream, connection) => this.onInboundStream(stream, connection), {
      maxInboundStreams: MAX_INBOUND_STREAMS,
      maxOutboundStreams: MAX_OUTBOUND_STREAMS,
      force: true,
    });
    await this.libp2p.start();
    this.state = 'started';
  }

  async stop(): Promise<void> {
    if (this.state !== 'started') return;
    this.state = 'stopping';
    await Promise.all([...this.links.values()].map((link) => this.closeLink(link)));
    try {
      await this.libp2p.stop();
    } catch (error) {
      this.log.warn({ error: describe(error) }, 'libp2p stop failed');
    }
    this.state = 'stopped';
  }

  multiaddrs(): string[] {
    return this.libp2p.getMultiaddrs().map((ma) => ma.toString());
  }

  async connect(address: string, options: { signal?: AbortSignal } = {}): Promise<PeerRef> {
    if (this.state !== 'started') throw new Error('transport is not started');
    const ref = this.parseTarget(address);
    const existing = this.links.get(ref.peerId);
    if (existing !== undefined && existing.connected && !existing.dead) return existing.ref;
    const timeout = AbortSignal.timeout(this.settings.timeoutMs);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
    const connection = await this.libp2p.dial(multiaddr(address), { signal });
    this.rememberDialed(connection.remotePeer);
    if (this.state !== 'started') throw new Error('transport stopped while connecting');
    if (connection.status !== 'open') throw new Error(`connection to ${ref.peerId} closed while connecting`);
    const link = this.linkFor(ref);
    this.ensureOutbound(link, connection);
    await this.waitConnected(link, signal);
    return link.ref;
  }

  isConnected(peerId: string): boolean {
    const link = this.links.get(peerId);
    return link !== undefined && link.connected && !link.dead;
  }

  peerAddresses(peerId: string): string[] {
    return [...(this.knownAddresses.get(peerId) ?? [])];
  }

  send(peerId: string, message: Message): boolean {
    const link = this.links.get(peerId);
    if (link === undefined || !link.connected || link.dead || link.out === undefined) return false;
    const frame = encodeFrame(message, this.settings.maxMessageBytes);
    if (!frame.ok) {
      this.log.warn({ peer: peerId, type: message.type, detail: frame.detail }, 'message not sent');
      return false;
    }
    if (link.out.enqueue(frame.value)) return true;
    this.dropLink(link, 'send queue overflow: the peer is not reading');
    return false;
  }

  penalize(peerId: string, reason: string): void {
    this.punish(peerId, reason, 1);
  }

  async diagnostics(): Promise<TransportDiagnostics> {
    let peerStore = 0;
    await this.libp2p.peerStore.forEach(() => peerStore++);
    return {
      peerStore,
      connections: this.libp2p.getConnections().length,
      links: this.links.size,
      addressBook: this.knownAddresses.size,
      penalties: this.penalties.size,
    };
  }

  on<E extends keyof TransportEvents>(event: E, handler: TransportEvents[E]): void {
    this.events.on(event, handler);
  }

  // --- links -------------------------------------------------------------------------------

  /** The peer a multiaddr names; a malformed one is the caller's mistake (InvalidArgumentError), not an unreachable peer. */
  private parseTarget(address: string): PeerRef {
    try {
      multiaddr(address);
    } catch (e) {
      throw new InvalidArgumentError(`not a multiaddr: ${address.slice(0, 200)}`, { cause: e });
    }
    const peerId = peerIdOfMultiaddr(address);
    const ref = peerId === undefined ? undefined : peerRefFromString(peerId);
    if (ref === undefined) throw new InvalidArgumentError(`a multiaddr must end in /p2p/<secp256k1 peer id>: ${address.slice(0, 200)}`);
    if (ref.peerId === this.self.peerId) throw new InvalidArgumentError('cannot connect to self');
    if (this.penalties.isBanned(ref.peerId)) throw new Error(`peer ${ref.peerId} is banned`);
    return ref;
  }

  private linkFor(ref: PeerRef): Link {
    const existing = this.links.get(ref.peerId);
    if (existing !== undefined) return existing;
    const link = new Link(ref);
    this.links.set(ref.peerId, link);
    // A connection that never becomes a link is not a channel peer (or is stuck). The connection
    // itself may serve another protocol on the same libp2p node (the settlement coordinator's),
    // so only the link goes; the connection manager prunes idle connections.
    link.timer = setTimeout(() => {
      if (!link.connected) this.dropLink(link, 'link setup timed out', { hangUp: false });
    }, this.settings.timeoutMs);
    link.timer.unref();
    return link;
  }

  private refOf(peerId: PeerId): PeerRef | undefined {
    const id = peerId.toString();
    if (this.penalties.isBanned(id)) return undefined;
    return this.links.get(id)?.ref ?? peerRefFromPeerId(peerId);
  }

  private onConnectionOpen(connection: Connection): void {
    if (this.state !== 'started') return;
    const ref = this.refOf(connection.remotePeer);
    if (ref === undefined) {
      // The gater refuses these before this point; this covers a ban that began mid-handshake.
      abortQuietly(connection, new Error('peer refused'));
      return;
    }
    this.ensureOutbound(this.linkFor(ref), connection);
  }

  private onPeerDisconnect(peerId: PeerId): void {
    const id = peerId.toString();
    const link = this.links.get(id);
    // First the link: `disconnected` handlers may still read the peer's addresses.
    if (link !== undefined) this.dropLink(link, 'connection closed', { hangUp: false });
    if (!this.dialed.has(id)) this.forget(peerId);
  }

  /**
   * Keeps what we know of a peer we dialed after it disconnects; past {@link MAX_DIALED_KEPT}, the
   * least recently dialed one is forgotten (unless still connected).
   */
  private rememberDialed(peerId: PeerId): void {
    const id = peerId.toString();
    this.dialed.delete(id);
    this.dialed.add(id);
    if (this.dialed.size <= MAX_DIALED_KEPT) return;
    const oldest = this.dialed.values().next().value!;
    this.dialed.delete(oldest);
    let old: PeerId;
    try {
      old = peerIdFromString(oldest);
    } catch {
      return;
    }
    if (this.libp2p.getConnections(old).length === 0) this.forget(old);
  }

  /**
   * Drops what we hold about a peer with no connection left: its announced addresses and its
   * peer store entry (addresses, protocols, identify data), which libp2p would otherwise keep
   * for hours. Penalties and bans stay (PenaltyBook bounds them).
   */
  private forget(peerId: PeerId): void {
    this.knownAddresses.delete(peerId.toString());
    if (this.state !== 'started') return;
    this.libp2p.peerStore
      .delete(peerId)
      .catch((error: unknown) => this.log.debug({ peer: peerId.toString(), error: describe(error) }, 'peer store delete failed'));
  }

  /** Opens our write stream to the peer unless it is open or opening. */
  private ensureOutbound(link: Link, connection: Connection): void {
    if (link.out !== undefined || link.opening || link.dead) return;
    link.opening = true;
    connection.newStream(LANES_PROTOCOL, { signal: AbortSignal.timeout(this.settings.timeoutMs) }).then(
      (stream) => this.onOutboundOpen(link, stream),
      (error: unknown) => {
        link.opening = false;
        // A peer without the channel protocol (a settlement coordinator) keeps its connection.
        const unsupported = (error as { name?: string }).name === 'UnsupportedProtocolError';
        this.dropLink(link, `could not open a stream: ${describe(error)}`, unsupported ? { hangUp: false } : {});
      },
    );
  }

  private onOutboundOpen(link: Link, stream: Stream): void {
    link.opening = false;
    if (link.dead) {
      abortQuietly(stream, new Error('link dropped'));
      return;
    }
    // The peer never writes on our stream; reading keeps stray bytes from filling its buffer.
    stream.addEventListener('message', noop);
    stream.addEventListener('close', () => {
      if (link.out?.stream === stream) this.dropLink(link, 'our stream to the peer closed');
    });
    link.out = new FrameWriter(stream, this.settings.maxQueueBytes);
    this.maybeConnected(link);
  }

  private onInboundStream(stream: Stream, connection: Connection): void {
    const ref = this.state === 'started' ? this.refOf(connection.remotePeer) : undefined;
    if (ref === undefined) {
      abortQuietly(stream, new Error('peer refused'));
      return;
    }
    const link = this.linkFor(ref);
    // Synchronously, before any await: data with no listener is buffered, then aborted at 4 MB.
    this.attachReader(link, stream);
    link.inbound.add(stream);
    this.ensureOutbound(link, connection);
    this.maybeConnected(link);
  }

  private attachReader(link: Link, stream: Stream): void {
    const reader = new FrameReader({
      maxFrameBytes: this.settings.maxMessageBytes,
      onFrame: (body) => this.onFrame(link, stream, body),
    });
    let failed = false;
    stream.addEventListener('message', (evt) => {
      const error = failed ? undefined : reader.push(evt.data);
      if (error === undefined) return;
      failed = true;
      this.deliverPending(link);
      this.rejectStream(link, stream, error.detail, FRAMING_PENALTY);
    });
    // The peer finished writing (it is leaving): close our half too, or the stream lingers.
    stream.addEventListener('remoteCloseWrite', () => void stream.close().catch(noop));
    stream.addEventListener('close', () => {
      link.inbound.delete(stream);
      if (link.connected && link.inbound.size === 0) this.dropLink(link, 'the peer closed its stream');
    });
  }

  private onFrame(link: Link, stream: Stream, body: Uint8Array): boolean {
    if (link.dead) return false;
    if (!link.connected) return this.decodeAndDeliver(link, stream, body);
    link.inboxBytes += body.length;
    link.inboxFrames++;
    if (link.inboxBytes > this.settings.maxQueueBytes) {
      this.dropLink(link, 'the peer sends faster than we can handle', { deliverRead: false });
      return false;
    }
    this.enqueueInbox({ link, stream, body, done: false });
    return true;
  }

  private decodeAndDeliver(link: Link, stream: Stream, body: Uint8Array): boolean {
    const result = decodeMessage(body, this.limits);
    if (!result.ok) {
      this.rejectStream(link, stream, result.detail, UNDECODABLE_PENALTY);
      return false;
    }
    this.deliver(link, result, body.length);
    return true;
  }

  private enqueueInbox(entry: InboxEntry): void {
    this.inbox.push(entry);
    if (!this.draining) {
      this.draining = true;
      setImmediate(this.drain);
    }
  }

  /** Delivers this link's frames still in the inbox now, so a fault reported next comes after them. */
  private deliverPending(link: Link): void {
    if (link.inboxFrames === 0) return;
    for (let i = this.inboxHead; i < this.inbox.length; i++) {
      const entry = this.inbox[i]!;
      if (entry.done || entry.link !== link) continue;
      entry.done = true;
      link.inboxBytes -= entry.body.length;
      link.inboxFrames--;
      if (!link.dead) this.decodeAndDeliver(link, entry.stream, entry.body);
    }
  }

  /**
   * Decodes and delivers inbox frames in arrival order while the turn has budget (at least one
   * per call), then yields to the event loop and continues. A chunk read from the socket may
   * hold hundreds of frames, each worth a verify and a sign: handled in one turn, their answers
   * would all leave at its end while the peer idles (src/runtime/turns.ts). A frame of a link
   * that died meanwhile is dropped: nothing is delivered after `disconnected`.
   */
  private readonly drain = (): void => {
    const inbox = this.inbox;
    while (this.inboxHead < inbox.length) {
      const entry = inbox[this.inboxHead]!;
      inbox[this.inboxHead++] = undefined as unknown as InboxEntry;
      if (entry.done) continue;
      const { link } = entry;
      link.inboxBytes -= entry.body.length;
      link.inboxFrames--;
      if (!link.dead) this.decodeAndDeliver(link, entry.stream, entry.body);
      if (!withinTurnBudget()) break;
    }
    if (this.inboxHead < inbox.length) {
      if (this.inboxHead > 1024) {
        this.inbox = inbox.slice(this.inboxHead);
        this.inboxHead = 0;
      }
      setImmediate(this.drain);
      return;
    }
    this.inbox = [];
    this.inboxHead = 0;
    this.draining = false;
  };

  /** Reports bad bytes as `malformed`, aborts the stream they came on and penalises the sender. */
  private rejectStream(link: Link, stream: Stream, detail: string, weight: number): void {
    this.log.debug({ peer: link.ref.peerId, detail }, 'bad frame: aborting the stream');
    this.deliver(link, reject('malformed', detail), 0);
    abortQuietly(stream, new Error(`bad frame: ${detail}`));
    this.punish(link.ref.peerId, `bad frame: ${detail}`, weight);
  }

  private deliver(link: Link, result: Result<Message>, size: number): void {
    if (link.dead) return;
    if (link.connected) {
      this.events.emit('message', link.ref, result);
      return;
    }
    link.held.push(result);
    link.heldBytes += size;
    if (link.heldBytes > this.settings.maxQueueBytes) this.dropLink(link, 'too much data before the link was up');
  }

  private maybeConnected(link: Link): void {
    if (link.connected || link.dead || link.out === undefined || link.inbound.size === 0) return;
    link.connected = true;
    clearTimeout(link.timer);
    this.log.debug({ peer: link.ref.peerId }, 'connected');
    this.events.emit('connected', link.ref);
    for (const waiter of link.waiters.splice(0)) waiter.resolve();
    const held = link.held;
    link.held = [];
    link.heldBytes = 0;
    for (const result of held) {
      if (link.dead) break;
      this.events.emit('message', link.ref, result);
    }
  }

  private waitConnected(link: Link, signal: AbortSignal): Promise<void> {
    if (link.connected && !link.dead) return Promise.resolve();
    if (link.dead) return Promise.reject(new Error(`link to ${link.ref.peerId} dropped`));
    return new Promise((resolve, rejectWait) => {
      const onAbort = (): void => {
        link.waiters = link.waiters.filter((w) => w !== waiter);
        rejectWait(signal.reason instanceof Error ? signal.reason : new Error('connect aborted'));
      };
      const waiter: Waiter = {
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort);
          rejectWait(error);
        },
      };
      link.waiters.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Ends a link for good: no more sends or deliveries; `disconnected` if it was connected. */
  private dropLink(link: Link, reason: string, options: DropOptions = {}): void {
    if (link.dead) return;
    // What arrived before the link went (a graceful close sends its last frames first) is
    // delivered, as if the inbox had been drained already.
    if (options.deliverRead !== false) this.deliverPending(link);
    if (link.dead) return;
    link.dead = true;
    if (this.links.get(link.ref.peerId) === link) this.links.delete(link.ref.peerId);
    clearTimeout(link.timer);
    this.log.debug({ peer: link.ref.peerId, reason }, 'link dropped');
    const error = new Error(`link to ${link.ref.peerId} dropped: ${reason}`);
    for (const waiter of link.waiters.splice(0)) waiter.reject(error);
    link.held = [];
    const streams = [...(link.out === undefined ? [] : [link.out.stream]), ...link.inbound];
    link.out = undefined;
    link.inbound.clear();
    for (const stream of streams) abortQuietly(stream, error);
    if (options.hangUp !== false) this.hangUp(link.ref.peerId);
    if (link.connected) this.events.emit('disconnected', link.ref);
  }

  /** stop(): lets queued frames leave, then drops the link without waiting for the peer. */
  private async closeLink(link: Link): Promise<void> {
    const out = link.out;
    if (out !== undefined) await out.close(CLOSE_TIMEOUT_MS);
    this.dropLink(link, 'stopping', { hangUp: false });
  }

  private hangUp(peerId: string): void {
    if (this.state !== 'started') return;
    let id: PeerId;
    try {
      id = peerIdFromString(peerId);
    } catch {
      return;
    }
    this.libp2p.hangUp(id).catch((error: unknown) => this.log.debug({ peer: peerId, error: describe(error) }, 'hang up failed'));
  }

  private punish(peerId: string, reason: string, weight: number): void {
    const banned = this.penalties.add(peerId, weight);
    this.log.debug({ peer: peerId, reason, score: this.penalties.score(peerId) }, 'peer penalised');
    if (!banned) return;
    this.log.warn({ peer: peerId, reason, banMs: this.penalties.banMs }, 'peer banned');
    const link = this.links.get(peerId);
    if (link === undefined) this.hangUp(peerId);
    else this.dropLink(link, `banned: ${reason}`);
  }
}
