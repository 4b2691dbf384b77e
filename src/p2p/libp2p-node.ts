/**
 * The libp2p stack every Lanes process runs: TCP, Noise, yamux, identify; connection limits
 * fit for a local testnet of many processes; a gater that refuses non-secp256k1 peers and
 * whatever `refuse` says. Nodes (libp2p-transport.ts) and the coordinator build theirs here.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import type { PeerId } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { type Libp2p, createLibp2p } from 'libp2p';
import { coalesceWrites } from './coalesce-writes.ts';
import { GOSSIP_SERVICE, graphGossipsub } from './graph-gossip.ts';
import { lanesNoiseCrypto } from './noise-crypto.ts';
import { libp2pPrivateKey } from './peer.ts';

/** Streams one connection may have: one each way per protocol plus pings, with room to spare. */
export const MAX_MUXED_STREAMS = 64;

export interface Libp2pNodeOptions {
  readonly privateKey: Uint8Array;
  readonly listen: readonly string[];
  readonly dialTimeoutMs: number;
  readonly maxConnections?: number;
  /** Peers to refuse at the handshake (banned ones). */
  readonly refuse?: (peerId: PeerId) => boolean;
  /** Runs gossipsub for the channel graph (graph-gossip.ts; ADR 0017). */
  readonly gossip?: boolean;
}

export async function createLibp2pNode(o: Libp2pNodeOptions): Promise<Libp2p> {
  const refuse = (peerId: PeerId): boolean => peerId.type !== 'secp256k1' || (o.refuse?.(peerId) ?? false);
  const node = await createLibp2p({
    start: false,
    privateKey: libp2pPrivateKey(o.privateKey),
    addresses: { listen: [...o.listen] },
    transports: [tcp()],
    // Noise with a cached-key cipher for large frames (noise-crypto.ts, ADR 0007).
    connectionEncrypters: [noise({ crypto: lanesNoiseCrypto })],
    // identify tells each side where the other listens, so either can redial after a restart
    // (a follower never dialled its leader, and nodes may come back on other ports).
    services: { identify: identify(), ...(o.gossip === true ? { [GOSSIP_SERVICE]: graphGossipsub() } : {}) },
    // A peer needs one stream each way per protocol plus the connection monitor's pings; the
    // default (1,000 per connection) would let one peer hold that many in negotiation.
    streamMuxers: [yamux({ maxInboundStreams: MAX_MUXED_STREAMS, maxOutboundStreams: MAX_MUXED_STREAMS })],
    connectionGater: {
      denyDialPeer: (peerId) => o.refuse?.(peerId) ?? false,
      denyInboundEncryptedConnection: refuse,
      denyOutboundEncryptedConnection: refuse,
    },
    connectionManager: {
      maxConnections: o.maxConnections ?? 300,
      dialTimeout: o.dialTimeoutMs,
      // Defaults are 5 new connections per second per host and 10 pending upgrades, which
      // refuse nodes of a local testnet that all start at once.
      inboundConnectionThreshold: 1_000,
      maxIncomingPendingConnections: 100,
    },
    // Pings every connection (10 s) and aborts it when the peer stops answering: the only
    // timely way to notice a hung, rather than dead, peer.
    connectionMonitor: { enabled: true },
  });
  // One system call per frame (coalesce-writes.ts, ADR 0007).
  node.addEventListener('connection:open', (event) => coalesceWrites(event.detail));
  return node;
}
