/**
 * The transport port: how a node exchanges channel messages with its peers. Implementations:
 * `Libp2pTransport` (libp2p 3: TCP + Noise + yamux, the real one) and `MemoryTransport` (unit
 * tests, with injectable faults). Both pass test/p2p/compliance.ts.
 *
 * Peers are identified by their libp2p peer id, derived from their secp256k1 key: the same key
 * that signs their channel states, so the transport also tells the engine the peer's public
 * key and Ethereum address, authenticated by the Noise handshake.
 */
import type { Address } from '../core/bytes.ts';
import type { Message } from '../core/codec/messages.ts';
import type { Result } from '../core/result.ts';

/** An authenticated peer. */
export interface PeerRef {
  /** libp2p peer id (base58btc, `16Uiu2...`). */
  readonly peerId: string;
  /**
   * The peer's secp256k1 public key, 65 bytes uncompressed: every countersignature is verified
   * against it, and parsing a compressed key costs a square root (~8 µs of a ~55 µs verify).
   */
  readonly publicKey: Uint8Array;
  /** The Ethereum address of that key. */
  readonly address: Address;
}

export interface TransportEvents {
  /**
   * A frame arrived from `from`. `message` is the decoded message, or a `malformed` rejection
   * when the frame did not decode (the engine answers it and penalises the peer).
   */
  message(from: PeerRef, message: Result<Message>): void;
  /** A usable link to the peer now exists (after a dial or an accepted connection). */
  connected(peer: PeerRef): void;
  /** The last link to the peer is gone. */
  disconnected(peer: PeerRef): void;
}

export interface Transport {
  /** This node. */
  readonly self: PeerRef;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Addresses others can dial, each ending in `/p2p/<peerId>`. */
  multiaddrs(): string[];
  /** Dials a multiaddr ending in `/p2p/<peerId>`; resolves when messages can flow both ways. */
  connect(multiaddr: string, options?: { signal?: AbortSignal }): Promise<PeerRef>;
  /** True while a link to the peer exists. */
  isConnected(peerId: string): boolean;
  /** Where the peer listens, as it announced (each ending in /p2p/<peerId>); empty if unknown. */
  peerAddresses(peerId: string): string[];
  /**
   * Queues a message for the peer. Messages queued in one tick go out together; messages to one
   * peer arrive in the order sent, or not at all (after a disconnect). Returns false, dropping the
   * message, when there is no link. Never throws.
   */
  send(peerId: string, message: Message): boolean;
  /** Records misbehaviour; past a threshold the peer is disconnected and refused for a while. */
  penalize(peerId: string, reason: string): void;
  on<E extends keyof TransportEvents>(event: E, handler: TransportEvents[E]): void;
}
