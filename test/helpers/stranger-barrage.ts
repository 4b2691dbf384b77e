/**
 * A barrage of strangers, as its own process: `node test/helpers/stranger-barrage.ts MULTIADDR
 * COUNT [CONCURRENCY]`. Each stranger is a throwaway libp2p identity (a fresh secp256k1 key) on
 * the stack our nodes run (TCP, Noise, yamux, identify), announcing a handful of made-up listen
 * addresses; it dials the node, opens a `/lanes/channel/1.0.0` stream, sends junk frames and
 * goes away. Prints one JSON line at the end: `{ done, failed, ms }`.
 */
import { randomBytes } from 'node:crypto';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import { identify } from '@libp2p/identify';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { isValidPrivateKey } from '../../src/core/crypto.ts';
import { frameBytes } from '../../src/p2p/framing.ts';
import { LANES_PROTOCOL } from '../../src/p2p/libp2p-transport.ts';

const [target, countArg, concurrencyArg] = process.argv.slice(2);
if (target === undefined) throw new Error('usage: stranger-barrage.ts MULTIADDR COUNT [CONCURRENCY]');
const count = Number(countArg ?? '100');
const concurrency = Number(concurrencyArg ?? '8');

function freshKey(): Uint8Array {
  for (;;) {
    const k = randomBytes(32);
    if (isValidPrivateKey(k)) return new Uint8Array(k);
  }
}

async function stranger(i: number): Promise<void> {
  const node = await createLibp2p({
    privateKey: privateKeyFromRaw(freshKey()),
    // Announced through identify: what an address book keeps for each stranger.
    addresses: {
      listen: [],
      announce: Array.from({ length: 6 }, (_, j) => `/ip4/10.${(i >> 8) & 255}.${i & 255}.${j + 1}/tcp/${4000 + j}`),
    },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    connectionMonitor: { enabled: false },
  });
  try {
    const connection = await node.dial(multiaddr(target!), { signal: AbortSignal.timeout(10_000) });
    const stream = await connection.newStream(LANES_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
    // The node aborts the stream at the first bad frame: what follows may find it gone.
    const send = (bytes: Uint8Array): void => {
      try {
        stream.send(bytes);
      } catch {
        // reset by the node
      }
    };
    // Decodable-length frames with undecodable bodies, then a garbled length.
    for (let f = 0; f < 3; f++) send(frameBytes(randomBytes(300 + f * 100)));
    // Long enough for identify to run both ways and the node to open its stream back.
    await new Promise((r) => setTimeout(r, 150));
    send(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f));
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    await node.stop();
  }
}

const started = Date.now();
let next = 0;
let done = 0;
let failed = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      try {
        await stranger(i);
        done++;
      } catch (e) {
        if (failed++ === 0) process.stderr.write(`first failure: ${String(e)}\n`);
      }
    }
  }),
);
process.stdout.write(`${JSON.stringify({ done, failed, ms: Date.now() - started })}\n`);
