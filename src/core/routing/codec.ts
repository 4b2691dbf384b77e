/**
 * The msgpack codec of graph messages (the gossip topic's payloads, the graph sync and the
 * store), with the channel codec's conventions (src/core/codec): a msgpack array whose first
 * element is a tag; integers up to 2^53-1 as msgpack integers, larger ones as minimal
 * big-endian bytes; addresses and ids as raw bytes.
 *
 *   [1, params, timestamp, signature0, signature1]                                  channel announcement
 *   [2, channelId, direction, timestamp, enabled, maxLocks, minExpirySeconds,
 *       [[feeBase, feePpm, minAmount, maxAmount], …], signature]                    channel update
 *   [3, address, peerId, [multiaddr, …], alias, [[from, to, rateNum, rateDen, maxAmount], …],
 *       timestamp, signature]                                                       node announcement
 *
 * A signature covers the message's array without its signatures, as this encoder writes it
 * (digest.ts), so a sender's choice among equivalent msgpack encodings changes nothing.
 * {@link decodeGraphMessage} is the only way bytes become a message: it checks the size first,
 * then every field and limit, and returns a `malformed` rejection, never throws.
 */
import { MAX_UINT256, MAX_UINT64 } from '../bytes.ts';
import type { CodecLimits } from '../codec/messages.ts';
import {
  type Wire,
  addr,
  address,
  arr,
  b32,
  decodeWith,
  describe,
  encodeParams,
  fail,
  packr,
  params as readParams,
  party,
  sig,
  small,
  text,
  u,
  uint,
} from '../codec/primitives.ts';
import { MAX_ASSETS, validateParams } from '../params.ts';
import {
  type AssetPolicy,
  type ChannelAnnouncement,
  type ChannelUpdate,
  GRAPH_LIMITS,
  type GraphMessage,
  type GraphResult,
  type NodeAnnouncement,
  type SwapOffer,
  graphOk,
  graphReject,
} from './types.ts';

/** Message tags. Part of the protocol: never renumber. */
export const GRAPH_TAG = { 'channel-announcement': 1, 'channel-update': 2, 'node-announcement': 3 } as const;

const LIMITS: CodecLimits = {
  maxMessageBytes: GRAPH_LIMITS.maxMessageBytes,
  maxOps: 0,
  maxLocks: 0,
  maxAssets: MAX_ASSETS,
  maxDetailLength: 0,
};

// ---------------------------------------------------------------------------------------------
// Encoding

function policyWire(p: AssetPolicy): Wire[] {
  return [u(p.feeBase), p.feePpm, u(p.minAmount), u(p.maxAmount)];
}

function swapWire(s: SwapOffer): Wire[] {
  return [addr(s.from), addr(s.to), u(s.rateNum), u(s.rateDen), u(s.maxAmount)];
}

/** The signed part of a channel announcement (everything but the signatures). */
export function channelAnnouncementBody(a: Omit<ChannelAnnouncement, 'signatures'>): Wire[] {
  return [GRAPH_TAG['channel-announcement'], encodeParams(a.params), u(a.timestamp)];
}

/** The signed part of a channel update. */
export function channelUpdateBody(x: Omit<ChannelUpdate, 'signature'>): Wire[] {
  return [
    GRAPH_TAG['channel-update'],
    addr(x.channelId),
    x.direction,
    u(x.timestamp),
    x.enabled,
    x.maxLocks,
    x.minExpirySeconds,
    x.policies.map(policyWire),
  ];
}

/** The signed part of a node announcement. */
export function nodeAnnouncementBody(n: Omit<NodeAnnouncement, 'signature'>): Wire[] {
  return [GRAPH_TAG['node-announcement'], addr(n.address), n.peerId, [...n.multiaddrs], n.alias, n.swaps.map(swapWire), u(n.timestamp)];
}

function toWire(m: GraphMessage): Wire[] {
  switch (m.kind) {
    case 'channel-announcement':
      return [...channelAnnouncementBody(m.announcement), m.announcement.signatures[0], m.announcement.signatures[1]];
    case 'channel-update':
      return [...channelUpdateBody(m.update), m.update.signature];
    case 'node-announcement':
      return [...nodeAnnouncementBody(m.announcement), m.announcement.signature];
  }
}

/** Encodes a graph message. Messages built by the node are valid by construction. */
export function encodeGraphMessage(m: GraphMessage): Uint8Array {
  return packr.pack(toWire(m));
}

/** The msgpack bytes of a signed body (what digest.ts hashes). */
export function packBody(body: Wire[]): Uint8Array {
  return packr.pack(body);
}

// ---------------------------------------------------------------------------------------------
// Decoding

function timestamp(x: unknown): bigint {
  return uint(x, 'timestamp', MAX_UINT64);
}

function policy(x: unknown, i: number): AssetPolicy {
  const f = arr(x, `policies[${i}]`, 4, 4);
  const minAmount = uint(f[2], 'minAmount', MAX_UINT256);
  const maxAmount = uint(f[3], 'maxAmount', MAX_UINT256);
  if (maxAmount < minAmount) fail(`policies[${i}]: maxAmount is below minAmount`);
  return { feeBase: uint(f[0], 'feeBase', MAX_UINT256), feePpm: small(f[1], 'feePpm', GRAPH_LIMITS.maxFeePpm), minAmount, maxAmount };
}

function swap(x: unknown, i: number): SwapOffer {
  const f = arr(x, `swaps[${i}]`, 5, 5);
  const from = address(f[0], 'swap from');
  const to = address(f[1], 'swap to');
  if (from === to) fail(`swaps[${i}] converts an asset into itself`);
  const rateNum = uint(f[2], 'rateNum', MAX_UINT256);
  const rateDen = uint(f[3], 'rateDen', MAX_UINT256);
  if (rateNum === 0n || rateDen === 0n) fail(`swaps[${i}]: the rate must be positive`);
  return { from, to, rateNum, rateDen, maxAmount: uint(f[4], 'swap maxAmount', MAX_UINT256) };
}

// Control characters (C0, DEL, C1) and bidirectional overrides: an alias is shown in terminals.
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function multiaddrText(x: unknown, i: number): string {
  const m = text(x, `multiaddrs[${i}]`, GRAPH_LIMITS.maxMultiaddrLength);
  if (!m.startsWith('/') || UNPRINTABLE.test(m) || m.includes(' ')) fail(`multiaddrs[${i}] is not a multiaddr`);
  return m;
}

function parse(w: unknown): GraphMessage {
  if (!Array.isArray(w) || w.length === 0) fail('graph message must be a non-empty array');
  switch (w[0]) {
    case GRAPH_TAG['channel-announcement']: {
      const f = arr(w, 'channel announcement', 5, 5);
      const params = readParams(f[1], LIMITS);
      const valid = validateParams(params);
      if (!valid.ok) fail(`params: ${valid.detail}`);
      return {
        kind: 'channel-announcement',
        announcement: { params, timestamp: timestamp(f[2]), signatures: [sig(f[3], 'signature 0'), sig(f[4], 'signature 1')] },
      };
    }
    case GRAPH_TAG['channel-update']: {
      const f = arr(w, 'channel update', 9, 9);
      if (typeof f[4] !== 'boolean') fail('enabled must be a boolean');
      return {
        kind: 'channel-update',
        update: {
          channelId: b32(f[1], 'channelId'),
          direction: party(f[2], 'direction'),
          timestamp: timestamp(f[3]),
          enabled: f[4],
          maxLocks: small(f[5], 'maxLocks', GRAPH_LIMITS.maxLocks),
          minExpirySeconds: small(f[6], 'minExpirySeconds', GRAPH_LIMITS.maxMinExpirySeconds),
          policies: arr(f[7], 'policies', 1, MAX_ASSETS).map(policy),
          signature: sig(f[8], 'signature'),
        },
      };
    }
    case GRAPH_TAG['node-announcement']: {
      const f = arr(w, 'node announcement', 8, 8);
      const peerId = text(f[2], 'peerId', GRAPH_LIMITS.maxPeerIdLength);
      if (!/^[1-9A-HJ-NP-Za-km-z]+$/.test(peerId)) fail('peerId must be base58btc');
      const alias = text(f[4], 'alias', GRAPH_LIMITS.maxAliasLength);
      if (UNPRINTABLE.test(alias)) fail('alias must not hold control characters');
      const swaps = arr(f[5], 'swaps', 0, GRAPH_LIMITS.maxSwaps).map(swap);
      const pairs = new Set(swaps.map((s) => `${s.from}>${s.to}`));
      if (pairs.size !== swaps.length) fail('a swap pair is listed twice');
      const multiaddrs = arr(f[3], 'multiaddrs', 0, GRAPH_LIMITS.maxMultiaddrs).map(multiaddrText);
      if (new Set(multiaddrs).size !== multiaddrs.length) fail('a multiaddr is listed twice');
      return {
        kind: 'node-announcement',
        announcement: {
          address: address(f[1], 'address'),
          peerId,
          multiaddrs,
          alias,
          swaps,
          timestamp: timestamp(f[6]),
          signature: sig(f[7], 'signature'),
        },
      };
    }
    default:
      return fail(`unknown graph message tag ${describe(w[0])}`);
  }
}

/**
 * Decodes bytes from a peer into a graph message, or a `malformed` rejection saying what was
 * wrong. Never throws. Signatures are not checked here (verify.ts).
 */
export function decodeGraphMessage(data: Uint8Array): GraphResult<GraphMessage> {
  const r = decodeWith(data, LIMITS, parse);
  return r.ok ? graphOk(r.value) : graphReject('malformed', r.detail);
}
