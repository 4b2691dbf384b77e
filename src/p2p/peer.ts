/**
 * Peer identity and per-peer bookkeeping shared by both transports.
 *
 * A node's libp2p identity is its channel signing key (secp256k1), so the key that Noise
 * authenticates on a connection is the key that must sign the peer's channel states. These
 * helpers turn that identity into a {@link PeerRef} (peer id, uncompressed public key, Ethereum
 * address). {@link PenaltyBook} and {@link TransportEventHub} hold the behaviour that must be
 * identical in the libp2p and in-memory transports, so the compliance suite tests one thing.
 */
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { isValidPrivateKey, publicKeyToAddress, uncompressPublicKey } from '../core/crypto.ts';
import type { PeerRef, TransportEvents } from './transport.ts';

/**
 * The {@link PeerRef} of a libp2p peer id, or undefined when the id does not carry a secp256k1
 * key: such a peer cannot sign channel states, so the transports refuse it.
 */
export function peerRefFromPeerId(peerId: PeerId): PeerRef | undefined {
  if (peerId.type !== 'secp256k1') return undefined;
  // Uncompressed once here (a copy, so the ref does not alias libp2p's multihash buffer).
  const publicKey = uncompressPublicKey(Uint8Array.from(peerId.publicKey.raw));
  return { peerId: peerId.toString(), publicKey, address: publicKeyToAddress(publicKey) };
}

/** The {@link PeerRef} of a peer id string (`16Uiu2...`), or undefined when it is not a valid secp256k1 peer id. */
export function peerRefFromString(peerId: string): PeerRef | undefined {
  let parsed: PeerId;
  try {
    parsed = peerIdFromString(peerId);
  } catch {
    return undefined;
  }
  return peerRefFromPeerId(parsed);
}

/**
 * The libp2p private key for a raw 32-byte secp256k1 key. Throws a RangeError on an invalid key:
 * a node's key is configuration, and a wrong one must stop the node before it listens.
 */
export function libp2pPrivateKey(privateKey: Uint8Array): PrivateKey {
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32 || !isValidPrivateKey(privateKey)) {
    throw new RangeError('a node key must be a valid 32-byte secp256k1 private key');
  }
  // A copy: libp2p keeps the buffer it is given, and callers zero their key buffers after use.
  return privateKeyFromRaw(new Uint8Array(privateKey));
}

/** The {@link PeerRef} of a raw 32-byte secp256k1 private key (throws like {@link libp2pPrivateKey}). */
export function peerRefFromPrivateKey(privateKey: Uint8Array): PeerRef {
  const ref = peerRefFromPeerId(peerIdFromPrivateKey(libp2pPrivateKey(privateKey)));
  // Unreachable: privateKeyFromRaw of 32 bytes always yields a secp256k1 key.
  if (ref === undefined) throw new RangeError('private key is not secp256k1');
  return ref;
}

/** The peer id at the end of a multiaddr (`.../p2p/<peerId>`), or undefined. */
export function peerIdOfMultiaddr(multiaddr: string): string | undefined {
  const match = /\/p2p\/([^/]+)\/?$/.exec(multiaddr);
  return match?.[1];
}

// ---------------------------------------------------------------------------------------------

/** How misbehaviour turns into a ban. */
export interface PenaltyOptions {
  /** Score at which a peer is banned (default 20). */
  readonly threshold?: number;
  /** How long a ban lasts (default 60 s). */
  readonly banMs?: number;
  /** A fault counts for this long (default 60 s), so only recent, repeated faults lead to a ban. */
  readonly windowMs?: number;
  /** Clock, injectable for tests. */
  readonly now?: () => number;
}

export const DEFAULT_PENALTY_THRESHOLD = 20;
export const DEFAULT_BAN_MS = 60_000;

interface Fault {
  readonly at: number;
  readonly weight: number;
}

interface PenaltyEntry {
  faults: Fault[];
  bannedUntil: number;
}

/** Entries kept before stale, unbanned ones are pruned: bounds memory if ids are made up. */
const PRUNE_ABOVE = 1024;
/**
 * Entries kept at most, however fast fresh identities misbehave: past it the oldest go, bans
 * included (a throwaway identity's ban is worth less than the memory; issue 16).
 */
export const MAX_PENALTY_ENTRIES = 4096;

/**
 * Misbehaviour scores that decay, and bans. A peer's score is the weight of its faults in the
 * last `windowMs` (one `penalize()` is 1 point); when it reaches the threshold the peer is banned
 * for `banMs` and then starts again from zero. A sliding window rather than a smooth decay so
 * that "20 faults within a minute" means exactly that. Decay means an honest peer that sometimes
 * sends something odd (a version skew, a race) is never banned, while one that keeps at it is.
 */
export class PenaltyBook {
  readonly threshold: number;
  readonly banMs: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly entries = new Map<string, PenaltyEntry>();
  /** When to prune next: at most once a second, so a barrage does not scan the table per fault. */
  private pruneAfter = 0;

  constructor(options: PenaltyOptions = {}) {
    this.threshold = options.threshold ?? DEFAULT_PENALTY_THRESHOLD;
    this.banMs = options.banMs ?? DEFAULT_BAN_MS;
    this.windowMs = options.windowMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Adds a fault. Returns true when this fault starts a ban (the caller then hangs up). */
  add(peerId: string, weight = 1): boolean {
    if (this.isBanned(peerId)) return false;
    const now = this.now();
    if (this.entries.size > PRUNE_ABOVE && now >= this.pruneAfter) {
      this.pruneAfter = now + 1000;
      this.prune(now);
    }
    let entry = this.entries.get(peerId);
    if (entry === undefined) {
      for (const oldest of this.entries.keys()) {
        if (this.entries.size < MAX_PENALTY_ENTRIES) break;
        this.entries.delete(oldest);
      }
      entry = { faults: [], bannedUntil: 0 };
      this.entries.set(peerId, entry);
    }
    entry.faults = this.recent(entry, now);
    entry.faults.push({ at: now, weight });
    if (this.sum(entry.faults) < this.threshold) return false;
    entry.faults = [];
    entry.bannedUntil = now + this.banMs;
    return true;
  }

  isBanned(peerId: string): boolean {
    const entry = this.entries.get(peerId);
    if (entry === undefined || entry.bannedUntil === 0) return false;
    if (this.now() < entry.bannedUntil) return true;
    // The ban is over: the peer starts again with a clean score.
    this.entries.delete(peerId);
    return false;
  }

  /** Peers with an entry (a recent fault or a ban). */
  get size(): number {
    return this.entries.size;
  }

  /** The current score, for logs and tests. */
  score(peerId: string): number {
    const entry = this.entries.get(peerId);
    return entry === undefined ? 0 : this.sum(this.recent(entry, this.now()));
  }

  private recent(entry: PenaltyEntry, now: number): Fault[] {
    return entry.faults.filter((fault) => now - fault.at < this.windowMs);
  }

  private sum(faults: readonly Fault[]): number {
    return faults.reduce((total, fault) => total + fault.weight, 0);
  }

  private prune(now: number): void {
    for (const [id, entry] of this.entries) {
      if (entry.bannedUntil <= now && this.recent(entry, now).length === 0) this.entries.delete(id);
    }
  }
}

// ---------------------------------------------------------------------------------------------

type Listeners = { [E in keyof TransportEvents]: TransportEvents[E][] };

/**
 * The `on()` half of a transport. Each handler runs in its own try/catch: transports emit from
 * inside libp2p event listeners and timers, where an exception would become an uncaught
 * exception instead of reaching anyone who can handle it; `onHandlerError` decides what happens.
 */
export class TransportEventHub {
  private readonly listeners: Listeners = { message: [], connected: [], disconnected: [] };
  private readonly onHandlerError: (event: keyof TransportEvents, error: unknown) => void;

  constructor(onHandlerError: (event: keyof TransportEvents, error: unknown) => void) {
    this.onHandlerError = onHandlerError;
  }

  on<E extends keyof TransportEvents>(event: E, handler: TransportEvents[E]): void {
    (this.listeners[event] as TransportEvents[E][]).push(handler);
  }

  emit<E extends keyof TransportEvents>(event: E, ...args: Parameters<TransportEvents[E]>): void {
    for (const handler of this.listeners[event] as ((...a: Parameters<TransportEvents[E]>) => void)[]) {
      try {
        handler(...args);
      } catch (error) {
        this.onHandlerError(event, error);
      }
    }
  }
}
