import test from 'ava';
import { type Bytes32, DEFAULT_LIMITS, encodeMessage, privateKeyToAddress, uncompressPublicKey } from '../../src/core/index.ts';
import { FrameReader, encodeFrame, frameBytes } from '../../src/p2p/framing.ts';
import { createMemoryNetwork } from '../../src/p2p/memory-transport.ts';
import { PenaltyBook, peerIdOfMultiaddr, peerRefFromPrivateKey, peerRefFromString } from '../../src/p2p/peer.ts';
import { alice, bob, irene } from '../helpers/actors.ts';
import { EventLog, type MakePair, bigRequest, runTransportCompliance, sync } from './compliance.ts';

const makePair: MakePair = async (options) => {
  const network = createMemoryNetwork();
  const a = network.transport(alice.privateKey, options);
  const b = network.transport(bob.privateKey, options);
  await a.start();
  await b.start();
  return {
    a,
    b,
    injectRaw: async (bytes) => {
      if (!network.injectRaw(b.self.peerId, a.self.peerId, bytes)) throw new Error('no link to inject on');
    },
    close: async () => {
      await a.stop();
      await b.stop();
    },
  };
};

runTransportCompliance('memory', makePair);

// --- memory specifics: fault injection ---------------------------------------------------------

async function linked() {
  const network = createMemoryNetwork();
  const a = network.transport(alice.privateKey);
  const b = network.transport(bob.privateKey);
  const la = new EventLog(a);
  const lb = new EventLog(b);
  await a.start();
  await b.start();
  await b.connect(a.multiaddrs()[0]!);
  return { network, a, b, la, lb };
}

test('memory: delivery is asynchronous, never in the sender’s stack', async (t) => {
  const { a, b, la } = await linked();
  t.true(b.send(a.self.peerId, sync(1)));
  t.is(la.messages.length, 0);
  await la.until(() => la.messages.length === 1, 'delivery');
  t.deepEqual(la.values(), [sync(1)]);
});

test('memory: delay() slows delivery but keeps the order, even when it shrinks', async (t) => {
  const { network, a, b, la } = await linked();
  network.delay(80);
  const sentAt = Date.now();
  b.send(a.self.peerId, sync(1));
  network.delay(0);
  b.send(a.self.peerId, sync(2));
  await la.until(() => la.messages.length === 2, 'delayed delivery');
  t.true(Date.now() - sentAt >= 75);
  t.deepEqual(la.values(), [sync(1), sync(2)]);
});

test('memory: drop() loses the messages it matches', async (t) => {
  const { network, a, b, la } = await linked();
  network.drop((m, from) => m.type === 'sync' && m.version % 2n === 1n && from.peerId === b.self.peerId);
  for (let i = 0; i < 6; i++) t.true(b.send(a.self.peerId, sync(i)), 'a lost message still counts as sent');
  await la.until(() => la.messages.length === 3, 'even versions');
  network.drop(undefined);
  b.send(a.self.peerId, sync(7));
  await la.until(() => la.messages.length === 4, 'after clearing the predicate');
  t.deepEqual(la.values(), [sync(0), sync(2), sync(4), sync(7)]);
});

test('memory: partition() disconnects and refuses links until heal()', async (t) => {
  const { network, a, b, la, lb } = await linked();
  network.partition(a.self.peerId, b.self.peerId);
  t.false(b.send(a.self.peerId, sync(1)), 'the link is gone at once');
  await la.until(() => la.disconnected.length === 1, 'a: disconnected');
  await lb.until(() => lb.disconnected.length === 1, 'b: disconnected');
  await t.throwsAsync(b.connect(a.multiaddrs()[0]!), { message: /partition/ });
  network.heal();
  await b.connect(a.multiaddrs()[0]!);
  t.true(b.send(a.self.peerId, sync(2)));
  await la.until(() => la.messages.length === 1, 'after heal');
  t.deepEqual(la.values(), [sync(2)]);
  t.is(la.connected.length, 2);
});

test('memory: disconnect() drops in-flight messages and fires disconnected once on both sides', async (t) => {
  const { network, a, b, la, lb } = await linked();
  network.delay(50);
  b.send(a.self.peerId, sync(1));
  network.disconnect(a.self.peerId, b.self.peerId);
  await la.until(() => la.disconnected.length === 1, 'a: disconnected');
  await lb.until(() => lb.disconnected.length === 1, 'b: disconnected');
  await new Promise((resolve) => setTimeout(resolve, 80));
  t.is(la.messages.length, 0, 'nothing is delivered after the link went');
  t.false(a.isConnected(b.self.peerId));
});

test('memory: an oversize length on an injected stream aborts only that stream', async (t) => {
  const { network, a, b, la, lb } = await linked();
  t.true(network.injectRaw(b.self.peerId, a.self.peerId, Uint8Array.of(0xff, 0xff, 0xff, 0x7f)));
  await la.until(() => la.messages.length === 1, 'oversize report');
  t.like(la.messages[0]!.result, { ok: false, reason: 'malformed' });
  t.true(a.isConnected(b.self.peerId));
  t.is(lb.disconnected.length, 0);
  t.false(network.injectRaw(b.self.peerId, irene.address, Uint8Array.of(0)), 'no link, nothing injected');
});

test('memory: stopped keys can start again on the same network', async (t) => {
  const network = createMemoryNetwork();
  const a = network.transport(alice.privateKey);
  t.throws(() => network.transport(alice.privateKey), { message: /already exists/ });
  await a.start();
  await a.stop();
  const again = network.transport(alice.privateKey);
  await again.start();
  const c = network.transport(irene.privateKey);
  await c.start();
  t.is((await c.connect(again.multiaddrs()[0]!)).address, alice.address);
});

// --- pure helpers shared by both transports (no sockets) ----------------------------------------

test('framing: frames split at every byte boundary decode the same', (t) => {
  const frames = [sync(1), bigRequest(5), sync(2n ** 60n)].map((m) => {
    const r = encodeFrame(m);
    if (!r.ok) throw new Error(r.detail);
    return r.value;
  });
  const stream = Uint8Array.from(frames.flatMap((f) => [...f]));
  const expected = [sync(1), bigRequest(5), sync(2n ** 60n)].map((m) => Uint8Array.from(encodeMessage(m)));
  for (const step of [1, 2, 3, 7, 64, stream.length]) {
    const bodies: Uint8Array[] = [];
    const reader = new FrameReader({ onFrame: (body) => void bodies.push(Uint8Array.from(body)) });
    for (let i = 0; i < stream.length; i += step) t.is(reader.push(stream.subarray(i, i + step)), undefined);
    t.deepEqual(bodies, expected, `chunks of ${step}`);
    t.false(reader.midFrame);
  }
});

test('framing: an iterable of chunks (a Uint8ArrayList) is read chunk by chunk, whatever its size', (t) => {
  const frame = frameBytes(encodeMessage(sync(3)));
  const many = Array.from({ length: 50_000 }, () => frame);
  let n = 0;
  const reader = new FrameReader({ onFrame: () => void n++ });
  t.is(reader.push(many), undefined);
  t.is(n, 50_000);
});

test('framing: oversize lengths and over-long prefixes are errors, reported once and sticky', (t) => {
  const oversize = new FrameReader({ maxFrameBytes: 100, onFrame: () => t.fail() });
  t.like(oversize.push(frameBytes(new Uint8Array(101))), { kind: 'oversize' });
  t.like(oversize.push(frameBytes(new Uint8Array(1))), { kind: 'oversize' }, 'sticky');
  const garbled = new FrameReader({ maxFrameBytes: 100, onFrame: () => t.fail() });
  t.like(garbled.push(Uint8Array.of(0x80, 0x80)), { kind: 'bad-length' });
  const exact = new FrameReader({ maxFrameBytes: 100, onFrame: (body) => t.is(body.length, 100) });
  t.is(exact.push(frameBytes(new Uint8Array(100))), undefined);
  t.plan(5);
});

test('framing: onFrame returning false stops the reader', (t) => {
  const frame = frameBytes(encodeMessage(sync(1)));
  let n = 0;
  const reader = new FrameReader({ onFrame: () => (n++, false) });
  t.is(reader.push(Uint8Array.from([...frame, ...frame])), undefined);
  t.is(n, 1);
});

test('framing: encodeFrame refuses a message over the limit instead of throwing', (t) => {
  const body = encodeMessage(bigRequest(10));
  t.true(encodeFrame(bigRequest(10), body.length).ok);
  t.like(encodeFrame(bigRequest(10), body.length - 1), { ok: false, reason: 'malformed' });
  t.like(encodeFrame({ type: 'sync', channelId: 'not hex' as Bytes32, version: 1n }), { ok: false, reason: 'malformed' });
  t.is(DEFAULT_LIMITS.maxMessageBytes, 1 << 20);
});

test('peer: refs carry the compressed key and the Ethereum address of the key', (t) => {
  const ref = peerRefFromPrivateKey(alice.privateKey);
  t.is(ref.address, alice.address);
  t.deepEqual(ref.publicKey, uncompressPublicKey(alice.publicKey));
  t.true(ref.peerId.startsWith('16Uiu2'));
  t.deepEqual(peerRefFromString(ref.peerId), ref);
  const one = new Uint8Array(32);
  one[31] = 1;
  t.is(peerRefFromPrivateKey(one).address, '0x7e5f4552091a69125d5dfcb7b8c2659029395bdf');
  t.is(peerRefFromPrivateKey(one).address, privateKeyToAddress(one));
  t.is(peerRefFromString('not a peer id'), undefined);
  t.throws(() => peerRefFromPrivateKey(new Uint8Array(32)), { instanceOf: RangeError });
  t.is(peerIdOfMultiaddr(`/ip4/1.2.3.4/tcp/5/p2p/${ref.peerId}`), ref.peerId);
  t.is(peerIdOfMultiaddr('/ip4/1.2.3.4/tcp/5'), undefined);
});

test('peer: penalty scores count recent faults, ban at the threshold, and the ban expires', (t) => {
  let now = 0;
  const book = new PenaltyBook({ threshold: 4, banMs: 1_000, windowMs: 1_000, now: () => now });
  t.false(book.add('p', 2));
  now += 600;
  t.false(book.add('p', 1));
  t.is(book.score('p'), 3);
  now += 600;
  t.is(book.score('p'), 1, 'the first fault is out of the window');
  t.false(book.add('p', 2));
  t.false(book.isBanned('p'));
  t.true(book.add('p', 1), 'reaching the threshold starts a ban');
  t.true(book.isBanned('p'));
  t.false(book.add('p', 10), 'already banned');
  now += 1_000;
  t.false(book.isBanned('p'));
  t.is(book.score('p'), 0, 'a clean slate after the ban');
});
