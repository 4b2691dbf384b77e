/**
 * An in-process {@link Transport} network for unit tests, with fault injection.
 *
 * It keeps the libp2p transport's contract (test/p2p/compliance.ts runs against both), so the
 * engine can be tested against network faults without sockets:
 * - every message is encoded to a frame, carried as bytes, and read back with the same
 *   {@link FrameReader} and `decodeMessage` as on the wire, so tests exercise the codec;
 * - delivery is asynchronous (a later macrotask, never in the sender's stack) and keeps the
 *   per-direction order, also across {@link MemoryNetwork.delay} changes;
 * - `connected` fires on both nodes before anything is delivered, `disconnected` once per
 *   `connected` (asynchronously, after what was already delivered), and nothing is delivered
 *   after it;
 * - bad bytes are reported as `message(from, malformed)`, abort the "stream" they came on
 *   (the link's stream drops the link, as a reset stream does over libp2p) and penalise the
 *   sender; bans refuse connections both ways for `banMs`.
 *
 * What it does not model: backpressure (queues are unbounded), connection setup costs, and the
 * two-connection case of simultaneous dials (a second connect just finds the link).
 */
import type { CodecLimits, Message } from '../core/codec/messages.ts';
import { DEFAULT_LIMITS, decodeMessage } from '../core/codec/wire.ts';
import { reject } from '../core/result.ts';
import { FrameReader, encodeFrame } from './framing.ts';
import { PenaltyBook, TransportEventHub, peerIdOfMultiaddr, peerRefFromPrivateKey } from './peer.ts';
import type { PeerRef, Transport, TransportEvents } from './transport.ts';

/** Decides, per message sent, whether the network loses it. */
export type DropPredicate = (message: Message, from: PeerRef, to: PeerRef) => boolean;

export interface MemoryTransportOptions {
  /** Largest message body sent or accepted (default `DEFAULT_LIMITS.maxMessageBytes`). */
  readonly maxMessageBytes?: number;
  /** Penalty score that bans a peer (default 20). */
  readonly penaltyThreshold?: number;
  /** How long a banned peer is refused (default 60 s). */
  readonly banMs?: number;
}

/** A simulated network: create transports on it, then break it in controlled ways. */
export interface MemoryNetwork {
  /** A new, unstarted transport for this key. A key may have one transport at a time unless the old one is stopped. */
  transport(privateKey: Uint8Array, options?: MemoryTransportOptions): Transport;
  /** Loses every message the predicate accepts, from now on (replaces the previous predicate; undefined clears). */
  drop(predicate: DropPredicate | undefined): void;
  /** Delays messages sent from now on by `ms` (order is kept). */
  delay(ms: number): void;
  /** Disconnects two peers and refuses links between them until {@link heal}. */
  partition(peerA: string, peerB: string): void;
  /** Lifts every partition. */
  heal(): void;
  /** Drops the link between two peers, if any (both see `disconnected`). */
  disconnect(peerA: string, peerB: string): void;
  /**
   * Delivers raw bytes (length prefixes included, see `frameBytes`) to `to` as if `from` wrote
   * them on a fresh stream of their link, after what `from` already sent. False when there is
   * no link. Bad bytes abort only that stream, as for a second libp2p stream.
   */
  injectRaw(from: string, to: string, bytes: Uint8Array): boolean;
}

/** Creates an empty simulated network. */
export function createMemoryNetwork(): MemoryNetwork {
  return new Network();
}

const FRAMING_PENALTY = 5;
const UNDECODABLE_PENALTY = 1;

/** Resolves in a later macrotask: what "not in the caller's stack" means here. */
function nextTask(ms: number): Promise<void> {
  return new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

// ---------------------------------------------------------------------------------------------

interface Chunk {
  readonly bytes: Uint8Array;
  readonly at: number;
}

/**
 * One direction of a link, or an injected stream: bytes in order, each due at its time, read on
 * arrival by the receiver's frame reader.
 */
class Pipe {
  readonly link: Link;
  readonly from: Node;
  readonly to: Node;
  /** The link's own stream: aborting it drops the link. Injected streams are not. */
  readonly main: boolean;
  private readonly reader: FrameReader;
  private chunks: Chunk[] = [];
  private head = 0;
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private drained: (() => void)[] = [];
  aborted = false;

  constructor(link: Link, from: Node, to: Node, main: boolean) {
    this.link = link;
    this.from = from;
    this.to = to;
    this.main = main;
    this.reader = to.readerFor(this);
  }

  push(bytes: Uint8Array, delayMs: number): void {
    if (this.aborted) return;
    // Never before an earlier chunk: a shorter delay must not reorder.
    this.lastAt = Math.max(Date.now() + delayMs, this.lastAt);
    this.chunks.push({ bytes, at: this.lastAt });
    this.schedule();
  }

  /** Resolves once everything pushed so far was delivered (or the pipe was aborted). */
  whenDrained(): Promise<void> {
    if (this.head === this.chunks.length || this.aborted) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.clear();
    if (this.main) this.link.network.dropLink(this.link, 'stream aborted');
  }

  /** Forgets undelivered bytes: they were in flight when the link went. */
  clear(): void {
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.chunks = [];
    this.head = 0;
    for (const resolve of this.drained.splice(0)) resolve();
  }

  private schedule(): void {
    const next = this.chunks[this.head];
    if (this.timer !== undefined || this.immediate !== undefined || next === undefined) return;
    const wait = next.at - Date.now();
    if (wait > 0) this.timer = setTimeout(this.pump, wait);
    else this.immediate = setImmediate(this.pump);
  }

  private readonly pump = (): void => {
    this.timer = undefined;
    this.immediate = undefined;
    const now = Date.now();
    for (let next = this.chunks[this.head]; next !== undefined && next.at <= now; next = this.chunks[this.head]) {
      this.head++;
      if (this.link.dead || this.aborted) return;
      const error = this.reader.push(next.bytes);
      if (error !== undefined) this.to.rejectStream(this, error.detail, FRAMING_PENALTY);
    }
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
      for (const resolve of this.drained.splice(0)) resolve();
    }
    this.schedule();
  };
}

/** A live link between two nodes: a pipe each way. */
class Link {
  readonly network: Network;
  readonly a: Node;
  readonly b: Node;
  readonly pipes = new Map<string, Pipe>();
  readonly injected = new Set<Pipe>();
  dead = false;

  constructor(network: Network, a: Node, b: Node) {
    this.network = network;
    this.a = a;
    this.b = b;
    this.pipes.set(a.self.peerId, new Pipe(this, a, b, true));
    this.pipes.set(b.self.peerId, new Pipe(this, b, a, true));
  }

  other(node: Node): Node {
    return node === this.a ? this.b : this.a;
  }

  pipeFrom(node: Node): Pipe {
    return this.pipes.get(node.self.peerId)!;
  }
}

class Network implements MemoryNetwork {
  private readonly nodes = new Map<string, Node>();
  private readonly links = new Map<string, Link>();
  private readonly partitions = new Set<string>();
  private dropPredicate: DropPredicate | undefined;
  private delayMs = 0;
  private nextAddress = 1;

  transport(privateKey: Uint8Array, options: MemoryTransportOptions = {}): Transport {
    const self = peerRefFromPrivateKey(privateKey);
    const existing = this.nodes.get(self.peerId);
    if (existing !== undefined && existing.state !== 'stopped') throw new Error(`a transport for ${self.peerId} already exists`);
    const node = new Node(this, self, `/memory/${this.nextAddress++}/p2p/${self.peerId}`, options);
    this.nodes.set(self.peerId, node);
    return node;
  }

  drop(predicate: DropPredicate | undefined): void {
    this.dropPredicate = predicate;
  }

  delay(ms: number): void {
    this.delayMs = Math.max(0, ms);
  }

  partition(peerA: string, peerB: string): void {
    this.partitions.add(pairKey(peerA, peerB));
    this.disconnect(peerA, peerB);
  }

  heal(): void {
    this.partitions.clear();
  }

  disconnect(peerA: string, peerB: string): void {
    const link = this.links.get(pairKey(peerA, peerB));
    if (link !== undefined) this.dropLink(link, 'disconnected by the test');
  }

  injectRaw(from: string, to: string, bytes: Uint8Array): boolean {
    const link = this.links.get(pairKey(from, to));
    const sender = this.nodes.get(from);
    if (link === undefined || sender === undefined) return false;
    const pipe = new Pipe(link, sender, link.other(sender), false);
    link.injected.add(pipe);
    // After what the sender already sent: the stream was opened later.
    pipe.push(bytes, Math.max(0, this.delayMs));
    return true;
  }

  // --- used by nodes -------------------------------------------------------------------------

  get delayFor(): number {
    return this.delayMs;
  }

  /** Whether the network loses this message. */
  loses(message: Message, from: PeerRef, to: PeerRef): boolean {
    return this.dropPredicate?.(message, from, to) === true;
  }

  linkBetween(a: string, b: string): Link | undefined {
    return this.links.get(pairKey(a, b));
  }

  /** Builds the link `dialer` asked for, or throws why not. Emits `connected` on both. */
  open(dialer: Node, target: string): PeerRef {
    const node = this.nodes.get(target);
    if (node === undefined || node.state !== 'started') throw new Error(`no node listens for ${target}`);
    if (this.partitions.has(pairKey(dialer.self.peerId, target))) throw new Error(`${target} is unreachable (partition)`);
    if (node.refuses(dialer.self.peerId)) throw new Error(`${target} refused the connection`);
    const existing = this.links.get(pairKey(dialer.self.peerId, target));
    if (existing !== undefined) return node.self;
    const link = new Link(this, dialer, node);
    this.links.set(pairKey(dialer.self.peerId, target), link);
    node.linkUp(link);
    dialer.linkUp(link);
    return node.self;
  }

  /** Ends a link: nothing more is delivered; both nodes see `disconnected` in a later task. */
  dropLink(link: Link, _reason: string): void {
    if (link.dead) return;
    link.dead = true;
    this.links.delete(pairKey(link.a.self.peerId, link.b.self.peerId));
    for (const pipe of [...link.pipes.values(), ...link.injected]) pipe.clear();
    setImmediate(() => {
      link.a.linkDown(link);
      link.b.linkDown(link);
    });
  }
}

// ---------------------------------------------------------------------------------------------

class Node implements Transport {
  readonly self: PeerRef;
  state: 'new' | 'started' | 'stopping' | 'stopped' = 'new';
  private readonly network: Network;
  private readonly address: string;
  private readonly maxMessageBytes: number;
  private readonly limits: CodecLimits;
  private readonly penalties: PenaltyBook;
  private readonly events: TransportEventHub;
  private readonly links = new Map<string, Link>();

  constructor(network: Network, self: PeerRef, address: string, options: MemoryTransportOptions) {
    this.network = network;
    this.self = self;
    this.address = address;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes;
    this.limits = { ...DEFAULT_LIMITS, maxMessageBytes: this.maxMessageBytes };
    this.penalties = new PenaltyBook({
      ...(options.penaltyThreshold === undefined ? {} : { threshold: options.penaltyThreshold }),
      ...(options.banMs === undefined ? {} : { banMs: options.banMs }),
    });
    // A throwing handler is a bug in the test or the engine: surface it as an uncaught error.
    this.events = new TransportEventHub((_event, error) =>
      queueMicrotask(() => {
        throw error;
      }),
    );
  }

  // --- Transport -------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.state === 'stopping') throw new Error('transport is stopping');
    this.state = 'started';
  }

  async stop(): Promise<void> {
    if (this.state !== 'started') return;
    this.state = 'stopping';
    // Like the libp2p transport: what was sent still arrives, then the links close.
    const links = [...this.links.values()];
    await Promise.all(links.map((link) => link.pipeFrom(this).whenDrained()));
    for (const link of links) this.network.dropLink(link, 'stopped');
    await nextTask(0);
    this.state = 'stopped';
  }

  multiaddrs(): string[] {
    return this.state === 'started' ? [this.address] : [];
  }

  async connect(address: string, options: { signal?: AbortSignal } = {}): Promise<PeerRef> {
    if (this.state !== 'started') throw new Error('transport is not started');
    const target = peerIdOfMultiaddr(address);
    if (target === undefined) throw new Error(`a multiaddr must end in /p2p/<peer id>: ${address}`);
    if (target === this.self.peerId) throw new Error('cannot connect to self');
    if (this.penalties.isBanned(target)) throw new Error(`peer ${target} is banned`);
    await nextTask(this.network.delayFor);
    options.signal?.throwIfAborted();
    if (this.state !== 'started') throw new Error('transport stopped while connecting');
    return this.network.open(this, target);
  }

  isConnected(peerId: string): boolean {
    const link = this.links.get(peerId);
    return link !== undefined && !link.dead;
  }

  peerAddresses(peerId: string): string[] {
    return this.links.has(peerId) ? [`/memory/${peerId}/p2p/${peerId}`] : [];
  }

  send(peerId: string, message: Message): boolean {
    const link = this.state === 'started' ? this.links.get(peerId) : undefined;
    if (link === undefined || link.dead) return false;
    const frame = encodeFrame(message, this.maxMessageBytes);
    if (!frame.ok) return false;
    const to = link.other(this);
    if (!this.network.loses(message, this.self, to.self)) link.pipeFrom(this).push(frame.value, this.network.delayFor);
    return true;
  }

  penalize(peerId: string, reason: string): void {
    this.punish(peerId, reason, 1);
  }

  on<E extends keyof TransportEvents>(event: E, handler: TransportEvents[E]): void {
    this.events.on(event, handler);
  }

  // --- used by the network ---------------------------------------------------------------------

  refuses(peerId: string): boolean {
    return this.penalties.isBanned(peerId);
  }

  linkUp(link: Link): void {
    const peer = link.other(this).self;
    this.links.set(peer.peerId, link);
    this.events.emit('connected', peer);
  }

  linkDown(link: Link): void {
    const peer = link.other(this).self;
    if (this.links.get(peer.peerId) === link) this.links.delete(peer.peerId);
    this.events.emit('disconnected', peer);
  }

  /** The reader for bytes arriving on `pipe`, checked against this node's limits. */
  readerFor(pipe: Pipe): FrameReader {
    return new FrameReader({ maxFrameBytes: this.maxMessageBytes, onFrame: (body) => this.onFrame(pipe, body) });
  }

  /** Reports bad bytes as `malformed`, aborts the stream they came on and penalises the sender. */
  rejectStream(pipe: Pipe, detail: string, weight: number): void {
    if (pipe.link.dead || pipe.aborted) return;
    this.events.emit('message', pipe.from.self, reject('malformed', detail));
    pipe.abort();
    this.punish(pipe.from.self.peerId, `bad frame: ${detail}`, weight);
  }

  private onFrame(pipe: Pipe, body: Uint8Array): boolean {
    if (pipe.link.dead || pipe.aborted) return false;
    const result = decodeMessage(body, this.limits);
    if (!result.ok) {
      this.rejectStream(pipe, result.detail, UNDECODABLE_PENALTY);
      return false;
    }
    this.events.emit('message', pipe.from.self, result);
    return true;
  }

  private punish(peerId: string, _reason: string, weight: number): void {
    if (!this.penalties.add(peerId, weight)) return;
    const link = this.links.get(peerId);
    if (link !== undefined) this.network.dropLink(link, 'banned');
  }
}
