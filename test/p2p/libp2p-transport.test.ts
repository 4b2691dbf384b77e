import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Stream } from '@libp2p/interface';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import test, { type ExecutionContext } from 'ava';
import { createLibp2p } from 'libp2p';
import { bytesToHex, encodeMessage, privateKeyToAddress } from '../../src/core/index.ts';
import { frameBytes } from '../../src/p2p/framing.ts';
import { LANES_PROTOCOL, type Libp2pTransport, createLibp2pTransport } from '../../src/p2p/libp2p-transport.ts';
import { peerRefFromPeerId } from '../../src/p2p/peer.ts';
import { alice, bob, irene, mallory } from '../helpers/actors.ts';
import { EventLog, type MakePair, runTransportCompliance, sync } from './compliance.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/echo-node.ts', import.meta.url));

async function started(t: ExecutionContext, privateKey: Uint8Array, options: { maxMessageBytes?: number } = {}): Promise<Libp2pTransport> {
  const transport = await createLibp2pTransport({ privateKey, ...options });
  t.teardown(() => transport.stop());
  await transport.start();
  return transport;
}

/** Opens a stream from `from`'s node to `to` that bypasses the framing: what a hostile peer can do. */
async function rawStream(from: Libp2pTransport, to: Libp2pTransport): Promise<Stream> {
  return from.libp2p.dialProtocol(peerIdFromString(to.self.peerId), LANES_PROTOCOL);
}

async function writeRaw(stream: Stream, bytes: Uint8Array): Promise<void> {
  stream.send(bytes);
  await stream.close().catch(() => {});
}

const makePair: MakePair = async (options) => {
  const a = await createLibp2pTransport({ privateKey: alice.privateKey, ...options });
  const b = await createLibp2pTransport({ privateKey: bob.privateKey, ...options });
  await a.start();
  await b.start();
  return {
    a,
    b,
    injectRaw: async (bytes) => writeRaw(await rawStream(b, a), bytes),
    close: async () => {
      await a.stop();
      await b.stop();
    },
  };
};

runTransportCompliance('libp2p', makePair);

// --- libp2p specifics ----------------------------------------------------------------------------

interface Child {
  readonly process: ChildProcess;
  readonly address: string;
}

/** Starts the echo fixture in its own process; teardown kills it by PID if it still runs. */
async function spawnEchoNode(t: ExecutionContext, privateKey: Uint8Array): Promise<Child> {
  const child = spawn(process.execPath, [FIXTURE, bytesToHex(privateKey)], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines = createInterface({ input: child.stdout! });
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('echo node did not start in time')), 20_000);
    lines.on('line', (line) => {
      if (!line.startsWith('ADDR ')) return;
      clearTimeout(timer);
      resolve(line.slice(5));
    });
    child.once('exit', (code) => reject(new Error(`echo node exited early (${code})`)));
  });
  return { process: child, address };
}

test.serial('libp2p: talks to a peer in another OS process and notices its SIGKILL within a second', async (t) => {
  const child = await spawnEchoNode(t, irene.privateKey);
  const local = await started(t, alice.privateKey);
  const log = new EventLog(local);
  const peer = await local.connect(child.address);
  t.is(peer.address, irene.address, 'the peer id authenticates the Ethereum address');
  await log.until(() => log.connected.length === 1, 'connected');
  for (let i = 0; i < 500; i++) t.true(local.send(peer.peerId, sync(i)));
  await log.until(() => log.messages.length === 500, '500 echoes');
  t.deepEqual(
    log.values(),
    Array.from({ length: 500 }, (_, i) => sync(i)),
  );
  const killedAt = Date.now();
  const exited = once(child.process, 'exit');
  t.true(child.process.kill('SIGKILL'));
  await exited;
  await log.until(() => log.disconnected.length === 1, 'disconnected after SIGKILL', 5_000);
  t.log(`disconnected ${Date.now() - killedAt} ms after SIGKILL`);
  t.true(Date.now() - killedAt < 1_000);
  t.is(log.disconnected[0]!.peerId, peer.peerId);
  t.false(local.isConnected(peer.peerId));
  t.false(local.send(peer.peerId, sync(1)));
});

test.serial('libp2p: an oversize frame on a raw stream is rejected and the node keeps serving', async (t) => {
  const maxMessageBytes = 64 * 1024;
  const a = await started(t, alice.privateKey, { maxMessageBytes });
  const b = await started(t, bob.privateKey, { maxMessageBytes });
  const c = await started(t, irene.privateKey, { maxMessageBytes });
  const la = new EventLog(a);
  const lb = new EventLog(b);
  await b.connect(a.multiaddrs()[0]!);
  await c.connect(a.multiaddrs()[0]!);
  await la.until(() => la.connected.length === 2, 'a: two peers');
  const raw = await rawStream(b, a);
  const closed = once(raw, 'close') as Promise<[{ error?: Error }]>;
  // A length prefix one past the limit, then a megabyte the reader must never buffer.
  raw.send(Uint8Array.of(0x81, 0x80, 0x04));
  raw.send(new Uint8Array(1 << 20));
  const [event] = await closed;
  t.truthy(event.error, 'the receiver reset the stream');
  await la.until(() => la.messages.length === 1, 'a: malformed report');
  t.like(la.messages[0], { from: { peerId: b.self.peerId }, result: { ok: false, reason: 'malformed' } });
  // Still serving: both peers, both ways.
  t.true(c.send(a.self.peerId, sync(1)));
  t.true(b.send(a.self.peerId, sync(2)));
  t.true(a.send(b.self.peerId, sync(3)));
  await la.until(() => la.messages.length === 3, 'a: messages from b and c');
  await lb.until(() => lb.messages.length === 1, 'b: message from a');
  t.deepEqual(
    la.messages
      .slice(1)
      .map((m) => m.from.peerId)
      .sort(),
    [b.self.peerId, c.self.peerId].sort(),
  );
  t.deepEqual(lb.values(), [sync(3)]);
});

test.serial('libp2p: frames read before a garbled length are delivered, in order, before the malformed report', async (t) => {
  const a = await started(t, alice.privateKey);
  const b = await started(t, bob.privateKey);
  const la = new EventLog(a);
  await b.connect(a.multiaddrs()[0]!);
  await la.until(() => la.connected.length === 1, 'a: connected');
  const raw = await rawStream(b, a);
  // Many good frames, then a length prefix that never ends, all in one write: the good ones are
  // queued for delivery in later turns when the garbled prefix is read in this one.
  const good = Array.from({ length: 500 }, (_, i) => frameBytes(encodeMessage(sync(i))));
  const garbled = new Uint8Array(11).fill(0xff);
  const all = new Uint8Array(good.reduce((n, f) => n + f.length, 0) + garbled.length);
  let at = 0;
  for (const f of [...good, garbled]) {
    all.set(f, at);
    at += f.length;
  }
  raw.send(all);
  await la.until(() => la.messages.length === 501, 'a: 500 messages and a malformed report');
  t.deepEqual(
    la.messages.slice(0, 500).map((m) => (m.result.ok && m.result.value.type === 'sync' ? m.result.value.version : -1n)),
    Array.from({ length: 500 }, (_, i) => BigInt(i)),
  );
  t.like(la.messages[500], { from: { peerId: b.self.peerId }, result: { ok: false, reason: 'malformed' } });
});

test.serial('libp2p: peer ids map to the Ethereum addresses of their keys; other key types are refused', async (t) => {
  for (const actor of [alice, bob, irene, mallory]) {
    const transport = await createLibp2pTransport({ privateKey: actor.privateKey });
    t.is(transport.self.address, actor.address);
    t.is(transport.self.address, privateKeyToAddress(actor.privateKey));
    t.deepEqual(peerRefFromPeerId(transport.libp2p.peerId), transport.self);
  }
  const ed25519 = await generateKeyPair('Ed25519');
  t.is(peerRefFromPeerId(peerIdFromPrivateKey(ed25519)), undefined);

  const a = await started(t, alice.privateKey);
  const la = new EventLog(a);
  const stranger = await createLibp2p({
    privateKey: ed25519,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
  t.teardown(() => stranger.stop());
  // The gater refuses the key after the Noise handshake; whatever the dialer saw, nothing got through.
  const outcome = await stranger
    .dialProtocol(multiaddr(a.multiaddrs()[0]!), LANES_PROTOCOL)
    .then(async (stream) => writeRaw(stream, frameBytes(encodeMessage(sync(1)))).then(() => 'dialled'))
    .catch(() => 'refused');
  t.log(`ed25519 dialler: ${outcome}`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.is(a.libp2p.getConnections(stranger.peerId).length, 0);
  t.is(la.connected.length, 0);
  t.is(la.messages.length, 0);
});

test('libp2p: createLibp2pTransport refuses an invalid key', async (t) => {
  await t.throwsAsync(createLibp2pTransport({ privateKey: new Uint8Array(32) }), { instanceOf: RangeError });
  await t.throwsAsync(createLibp2pTransport({ privateKey: new Uint8Array(31).fill(1) }), { instanceOf: RangeError });
});
