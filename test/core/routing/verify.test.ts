/** Signatures, signers, domains and clocks of graph messages (verify.ts), and peer ids (peer-id.ts). */
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import test from 'ava';
import { libp2pPrivateKey } from '../../../src/p2p/peer.ts';
import { GRAPH_RULES, peerIdOfPublicKey, verifyChannelAnnouncement, verifyChannelUpdate, verifyNodeAnnouncement } from './fixtures.ts';
import { alice, bob, irene, mallory } from '../../helpers/actors.ts';
import { DOMAIN, NOW, announce, channelParams, nodeAnnouncement, update } from '../../helpers/graph.ts';

const o = { domain: DOMAIN, now: NOW };
const params = channelParams(alice, bob);

test('the core computes the same peer id as @libp2p/peer-id', (t) => {
  for (const who of [alice, bob, irene, mallory]) {
    t.is(peerIdOfPublicKey(who.publicKey), peerIdFromPrivateKey(libp2pPrivateKey(who.privateKey)).toString());
  }
});

test('an announcement signed by both participants verifies, and gives their keys', (t) => {
  const r = verifyChannelAnnouncement(announce(params, [alice, bob]), o);
  t.true(r.ok);
  if (r.ok) t.is(peerIdOfPublicKey(r.value[1]), peerIdOfPublicKey(bob.publicKey));
});

test('an announcement signed by a stranger, or by one participant twice, is refused', (t) => {
  t.like(verifyChannelAnnouncement(announce(params, [alice, mallory]), o), { ok: false, reason: 'wrong-signer' });
  t.like(verifyChannelAnnouncement(announce(params, [alice, alice]), o), { ok: false, reason: 'wrong-signer' });
  t.like(verifyChannelAnnouncement(announce(params, [bob, alice]), o), { ok: false, reason: 'wrong-signer' });
});

test('a signature over other content, a garbled or a high-S signature is refused', (t) => {
  const a = announce(params, [alice, bob]);
  t.like(verifyChannelAnnouncement({ ...a, timestamp: a.timestamp + 1n }, o), { ok: false });
  const garbled = Uint8Array.from(a.signatures[1]);
  garbled[64] = 29;
  t.like(verifyChannelAnnouncement({ ...a, signatures: [a.signatures[0], garbled] }, o), { ok: false, reason: 'invalid-signature' });
});

test('another chain or adjudicator is the wrong domain', (t) => {
  const other = channelParams(alice, bob, { chainId: 1n });
  t.like(verifyChannelAnnouncement(announce(other, [alice, bob]), o), { ok: false, reason: 'wrong-domain' });
  const u = update(params, 0, alice, {}, { chainId: 1n, adjudicator: DOMAIN.adjudicator });
  t.like(verifyChannelUpdate(u, alice.address, o), { ok: false, reason: 'wrong-signer' });
});

test('timestamps: not too far ahead of our clock; updates not older than 14 days', (t) => {
  const ahead = NOW + GRAPH_RULES.maxClockSkew + 1n;
  t.like(verifyChannelAnnouncement(announce(params, [alice, bob], ahead), o), { ok: false, reason: 'future-timestamp' });
  t.true(verifyChannelAnnouncement(announce(params, [alice, bob], NOW - GRAPH_RULES.staleAfter * 10n), o).ok);
  t.like(verifyChannelUpdate(update(params, 0, alice, { timestamp: NOW - GRAPH_RULES.staleAfter - 1n }), alice.address, o), {
    ok: false,
    reason: 'too-old',
  });
});

test('an update must be signed by the forwarder of its direction', (t) => {
  t.true(verifyChannelUpdate(update(params, 1, bob), bob.address, o).ok);
  t.like(verifyChannelUpdate(update(params, 1, alice), bob.address, o), { ok: false, reason: 'wrong-signer' });
});

test("a node announcement's peer id and multiaddrs must be the signer's", (t) => {
  t.true(verifyNodeAnnouncement(nodeAnnouncement(alice), o).ok);
  const bobs = peerIdOfPublicKey(bob.publicKey);
  t.like(verifyNodeAnnouncement(nodeAnnouncement(alice, { peerId: bobs }), o), { ok: false, reason: 'wrong-signer' });
  t.like(verifyNodeAnnouncement(nodeAnnouncement(alice, { multiaddrs: [`/ip4/1.2.3.4/tcp/1/p2p/${bobs}`] }), o), {
    ok: false,
    reason: 'malformed',
  });
  const forged = { ...nodeAnnouncement(mallory), address: alice.address };
  t.like(verifyNodeAnnouncement(forged, o), { ok: false, reason: 'wrong-signer' });
});
