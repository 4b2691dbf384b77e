/**
 * The two libp2p shims of ADR 0007: Noise's cipher with a cached key (noise-crypto.ts) and
 * socket writes coalesced per event-loop turn (coalesce-writes.ts). Each must be invisible on
 * the wire, and the second must still apply after a libp2p upgrade (it reaches into internals).
 */
import { randomBytes } from 'node:crypto';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';
import { peerIdFromString } from '@libp2p/peer-id';
import test from 'ava';
import { writesCoalesced } from '../../src/p2p/coalesce-writes.ts';
import { createLibp2pTransport } from '../../src/p2p/libp2p-transport.ts';
import { lanesNoiseCrypto } from '../../src/p2p/noise-crypto.ts';
import type { Message } from '../../src/core/index.ts';
import { alice, bob } from '../helpers/actors.ts';

const bytes = (x: Uint8Array | { subarray(): Uint8Array }) => (x instanceof Uint8Array ? x : x.subarray());

test('the cached-key cipher seals and opens exactly like the library default, at every size', (t) => {
  const k = randomBytes(32);
  const ad = randomBytes(32);
  for (const size of [0, 1, 100, 599, 600, 601, 1199, 1200, 4096, 65519]) {
    const nonce = randomBytes(12);
    const plain = randomBytes(size);
    const ours = bytes(lanesNoiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k));
    const theirs = bytes(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k));
    t.deepEqual(Buffer.from(ours), Buffer.from(theirs), `seal, ${size} bytes`);
    t.deepEqual(
      Buffer.from(bytes(lanesNoiseCrypto.chaCha20Poly1305Decrypt(theirs, nonce, ad, k))),
      Buffer.from(plain),
      `open, ${size} bytes`,
    );
  }
});

test('the cached-key cipher refuses a tampered frame, a wrong key and a wrong nonce', (t) => {
  const k = randomBytes(32);
  const nonce = randomBytes(12);
  const ad = new Uint8Array(0);
  const sealed = Buffer.from(bytes(lanesNoiseCrypto.chaCha20Poly1305Encrypt(randomBytes(2000), nonce, ad, k)));
  const flipped = Buffer.from(sealed);
  flipped[10]! ^= 1;
  t.throws(() => lanesNoiseCrypto.chaCha20Poly1305Decrypt(flipped, nonce, ad, k));
  t.throws(() => lanesNoiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, randomBytes(32)));
  t.throws(() => lanesNoiseCrypto.chaCha20Poly1305Decrypt(sealed, randomBytes(12), ad, k));
});

test('connections write coalesced; thousands of messages arrive complete and in order, also right before a close', async (t) => {
  const a = await createLibp2pTransport({ privateKey: alice.privateKey });
  const b = await createLibp2pTransport({ privateKey: bob.privateKey });
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  await a.start();
  await b.start();
  const got: bigint[] = [];
  let all: () => void = () => undefined;
  const done = new Promise<void>((r) => (all = r));
  const N = 5000;
  b.on('message', (_from, r) => {
    if (r.ok && r.value.type === 'sync') got.push(r.value.version);
    if (got.length === N) all();
  });
  const peer = await a.connect(b.multiaddrs()[0]!);
  const connections = a.libp2p.getConnections(peerIdFromString(b.self.peerId));
  t.true(connections.length > 0);
  t.true(
    connections.every((c) => writesCoalesced(c)),
    'the shim applies: if this fails after a libp2p upgrade, coalesce-writes.ts no longer recognises the connection',
  );
  const channelId = `0x${'11'.repeat(32)}` as const;
  const message = (version: bigint): Message => ({ type: 'sync', channelId, version });
  // Bursts across event-loop turns, with a large message among them.
  for (let i = 0; i < N; i++) {
    t.true(a.send(peer.peerId, message(BigInt(i))));
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
  }
  await done;
  t.deepEqual(
    got,
    Array.from({ length: N }, (_, i) => BigInt(i)),
  );
  // A graceful stop writes what is still queued before the socket closes.
  for (let i = N; i < N + 100; i++) a.send(peer.peerId, message(BigInt(i)));
  await a.stop();
  for (let i = 0; i < 100 && got.length < N + 100; i++) await new Promise((r) => setTimeout(r, 20));
  t.is(got.length, N + 100);
  t.is(got.at(-1), BigInt(N + 99));
});
