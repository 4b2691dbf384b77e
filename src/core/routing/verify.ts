/**
 * Signature and timestamp checks of graph messages: pure, with the signature backend as an
 * argument (the node passes its native one). They run after the cheap checks against the graph
 * (graph.ts: duplicates, replays, rate limits) and before the costly one against the chain.
 */
import type { Address } from '../bytes.ts';
import { type SignatureBackend, checkSignatureEncoding, nobleBackend, publicKeyToAddress } from '../crypto.ts';
import { channelAnnouncementDigest, channelUpdateDigest, nodeAnnouncementDigest } from './digest.ts';
import { peerIdOfPublicKey } from './peer-id.ts';
import {
  type ChannelAnnouncement,
  type ChannelUpdate,
  GRAPH_RULES,
  type GraphDomain,
  type GraphResult,
  type NodeAnnouncement,
  graphOk,
  graphReject,
} from './types.ts';

export interface VerifyOptions {
  readonly domain: GraphDomain;
  /** The receiver's clock, unix seconds. */
  readonly now: bigint;
  readonly backend?: SignatureBackend;
}

/** The signer's public key (65 bytes) when `signature` over `digest` is valid and by `expected`. */
function signer(
  signature: Uint8Array,
  digest: Uint8Array,
  expected: Address,
  backend: SignatureBackend,
  what: string,
): GraphResult<Uint8Array> {
  const enc = checkSignatureEncoding(signature);
  if (!enc.ok) return graphReject('invalid-signature', `${what}: ${enc.detail}`);
  const key = backend.recover(signature, digest);
  if (key === undefined) return graphReject('invalid-signature', `${what}: the signature does not verify`);
  const address = publicKeyToAddress(key);
  if (address !== expected) return graphReject('wrong-signer', `${what} is signed by ${address}, not ${expected}`);
  return graphOk(key);
}

function fresh(timestamp: bigint, now: bigint, expires: boolean): GraphResult<true> {
  if (timestamp > now + GRAPH_RULES.maxClockSkew)
    return graphReject('future-timestamp', `timestamp ${timestamp} is ahead of our clock (${now})`);
  if (expires && timestamp + GRAPH_RULES.staleAfter < now) return graphReject('too-old', `timestamp ${timestamp} is more than 14 days old`);
  return graphOk(true);
}

/**
 * Checks a channel announcement's domain, timestamp and both signatures; returns the two
 * participants' public keys (their peer ids follow from them).
 */
export function verifyChannelAnnouncement(a: ChannelAnnouncement, o: VerifyOptions): GraphResult<readonly [Uint8Array, Uint8Array]> {
  const backend = o.backend ?? nobleBackend;
  if (a.params.chainId !== o.domain.chainId || a.params.adjudicator !== o.domain.adjudicator)
    return graphReject('wrong-domain', `channel of chain ${a.params.chainId} at ${a.params.adjudicator}`);
  const t = fresh(a.timestamp, o.now, false);
  if (!t.ok) return t;
  const digest = channelAnnouncementDigest(a);
  const k0 = signer(a.signatures[0], digest, a.params.participants[0], backend, 'signature 0');
  if (!k0.ok) return k0;
  const k1 = signer(a.signatures[1], digest, a.params.participants[1], backend, 'signature 1');
  if (!k1.ok) return k1;
  return graphOk([k0.value, k1.value] as const);
}

/** Checks a channel update's timestamp and that `forwarder` (participants[direction]) signed it. */
export function verifyChannelUpdate(u: ChannelUpdate, forwarder: Address, o: VerifyOptions): GraphResult<true> {
  const t = fresh(u.timestamp, o.now, true);
  if (!t.ok) return t;
  const s = signer(u.signature, channelUpdateDigest(o.domain, u), forwarder, o.backend ?? nobleBackend, 'update');
  return s.ok ? graphOk(true) : s;
}

/** Checks a node announcement's timestamp, signature, peer id and multiaddrs. */
export function verifyNodeAnnouncement(n: NodeAnnouncement, o: VerifyOptions): GraphResult<true> {
  const t = fresh(n.timestamp, o.now, true);
  if (!t.ok) return t;
  const s = signer(n.signature, nodeAnnouncementDigest(o.domain, n), n.address, o.backend ?? nobleBackend, 'node announcement');
  if (!s.ok) return s;
  const peerId = peerIdOfPublicKey(s.value);
  if (peerId !== n.peerId) return graphReject('wrong-signer', `peer id ${n.peerId} is not the signer's (${peerId})`);
  const suffix = `/p2p/${peerId}`;
  if (!n.multiaddrs.every((m) => m.endsWith(suffix))) return graphReject('malformed', `every multiaddr must end in ${suffix}`);
  return graphOk(true);
}
