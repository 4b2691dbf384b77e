/**
 * What graph messages are signed over: an EIP-191 version-0 digest ("data with intended
 * validator", https://eips.ethereum.org/EIPS/eip-191), the validator being the adjudicator:
 *
 *   keccak256(0x19 ‖ 0x00 ‖ adjudicator (20) ‖ chainId (32) ‖ keccak256("Lanes graph 1") ‖ tag (1) ‖ keccak256(body))
 *
 * where `body` is the message's msgpack array without its signatures (codec.ts). A channel
 * state's digest is EIP-712's `keccak256(0x19 ‖ 0x01 ‖ …)`: the second byte differs, so no
 * signature over a graph message is a signature over any state, and the reverse (ADR 0017). The
 * chain id and adjudicator bind a message to one deployment; the tag to one kind of message.
 */
import { concatBytes, hexToBytes, keccak256, utf8, writeWord } from '../bytes.ts';
import { channelAnnouncementBody, channelUpdateBody, nodeAnnouncementBody, packBody } from './codec.ts';
import type { ChannelAnnouncement, ChannelUpdate, GraphDomain, NodeAnnouncement } from './types.ts';

const PURPOSE = keccak256(utf8('Lanes graph 1'));

/** The digest of a signed body of kind `tag` (1..3 graph messages, 4 swap quotes: src/core/forwarding/quote.ts). */
export function graphDigest(domain: GraphDomain, tag: number, body: Uint8Array): Uint8Array {
  const head = new Uint8Array(2 + 20 + 32 + 32 + 1);
  head[0] = 0x19;
  head[1] = 0x00;
  head.set(hexToBytes(domain.adjudicator), 2);
  writeWord(head, 22, domain.chainId);
  head.set(PURPOSE, 54);
  head[86] = tag;
  return keccak256(concatBytes(head, keccak256(body)));
}

/** The digest both participants sign to announce a channel (its own params give the domain). */
export function channelAnnouncementDigest(a: Omit<ChannelAnnouncement, 'signatures'>): Uint8Array {
  return graphDigest(a.params, 1, packBody(channelAnnouncementBody(a)));
}

/** The digest the forwarding participant signs for one direction's policy. */
export function channelUpdateDigest(domain: GraphDomain, u: Omit<ChannelUpdate, 'signature'>): Uint8Array {
  return graphDigest(domain, 2, packBody(channelUpdateBody(u)));
}

/** The digest a node signs to announce itself. */
export function nodeAnnouncementDigest(domain: GraphDomain, n: Omit<NodeAnnouncement, 'signature'>): Uint8Array {
  return graphDigest(domain, 3, packBody(nodeAnnouncementBody(n)));
}
