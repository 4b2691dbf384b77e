/**
 * Transport benchmark across two OS processes: this one and an echo node
 * (test/p2p/fixtures/echo-node.ts) on 127.0.0.1, talking through the `Transport` API.
 *
 * Measures the sequential round trip (one `sync` in flight: p50/p99/mean) and pipelined round
 * trips with 64 and 256 in flight (small `sync`, and a 1 KB `reject` for a larger frame). Numbers
 * are absolute and machine-dependent; compare runs on the same machine.
 *
 * Usage: `node scripts/bench-p2p.ts [--json] [--seconds N]` (N: per pipelined run, default 3).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Bytes32, type Message, bytesToHex, keccak256, utf8 } from '../src/core/index.ts';
import { createLibp2pTransport } from '../src/p2p/libp2p-transport.ts';
import type { Transport } from '../src/p2p/transport.ts';

const FIXTURE = fileURLToPath(new URL('../test/p2p/fixtures/echo-node.ts', import.meta.url));
const CHANNEL = bytesToHex(keccak256(utf8('bench channel'))) as Bytes32;

const { values: args } = parseArgs({ options: { json: { type: 'boolean', default: false }, seconds: { type: 'string', default: '3' } } });
const seconds = Number(args.seconds);

function key(name: string): Uint8Array {
  return keccak256(utf8(`bench ${name}`));
}

/** Round trips are matched by the echoed version (sync, reject), which doubles as a sequence number. */
class Echoes {
  private readonly waiting = new Map<bigint, () => void>();
  private next = 0n;

  constructor(transport: Transport) {
    transport.on('message', (_from, result) => {
      if (!result.ok) return;
      const m = result.value;
      const id = m.type === 'sync' || m.type === 'reject' ? m.version : undefined;
      if (id === undefined) return;
      const resolve = this.waiting.get(id);
      this.waiting.delete(id);
      resolve?.();
    });
  }

  /** Sends a message and resolves when its echo is back. */
  roundTrip(transport: Transport, peerId: string, make: (id: bigint) => Message): Promise<void> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, resolve);
      if (!transport.send(peerId, make(id))) reject(new Error('send failed: link down'));
    });
  }
}

const small = (id: bigint): Message => ({ type: 'sync', channelId: CHANNEL, version: id });
const DETAIL = 'x'.repeat(1_000);
/** 1,050 bytes on the wire. */
const kilobyte = (id: bigint): Message => ({ type: 'reject', channelId: CHANNEL, version: id, reason: 'internal', detail: DETAIL });

async function startEchoNode(): Promise<{ address: string; stop: () => void }> {
  const child = spawn(process.execPath, [FIXTURE, bytesToHex(key('echo'))], { stdio: ['pipe', 'pipe', 'inherit'] });
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', stop);
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('ADDR ')) resolve(line.slice(5));
    });
    child.once('exit', (code) => reject(new Error(`echo node exited (${code})`)));
  });
  return { address, stop };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function sequential(transport: Transport, echoes: Echoes, peerId: string, count: number) {
  const micros: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await echoes.roundTrip(transport, peerId, small);
    micros.push(Number(process.hrtime.bigint() - start) / 1_000);
  }
  micros.sort((x, y) => x - y);
  const mean = micros.reduce((s, x) => s + x, 0) / micros.length;
  return { count, p50Us: Math.round(percentile(micros, 0.5)), p99Us: Math.round(percentile(micros, 0.99)), meanUs: Math.round(mean) };
}

async function pipelined(transport: Transport, echoes: Echoes, peerId: string, inFlight: number, make: (id: bigint) => Message) {
  let done = 0;
  const started = performance.now();
  const end = started + seconds * 1_000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        await echoes.roundTrip(transport, peerId, make);
        done++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1_000;
  return { inFlight, roundTrips: done, perSecond: Math.round(done / elapsed) };
}

async function main(): Promise<void> {
  const echo = await startEchoNode();
  const transport = await createLibp2pTransport({ privateKey: key('client') });
  await transport.start();
  try {
    const peer = await transport.connect(echo.address);
    const echoes = new Echoes(transport);
    for (let i = 0; i < 2_000; i++) await echoes.roundTrip(transport, peer.peerId, small); // warm-up
    const results: Results = {
      sequential: await sequential(transport, echoes, peer.peerId, 5_000),
      pipelined64: await pipelined(transport, echoes, peer.peerId, 64, small),
      pipelined256: await pipelined(transport, echoes, peer.peerId, 256, small),
      pipelined64Kilobyte: await pipelined(transport, echoes, peer.peerId, 64, kilobyte),
    };
    report(results);
  } finally {
    await transport.stop();
    echo.stop();
  }
}

interface Results {
  readonly sequential: Awaited<ReturnType<typeof sequential>>;
  readonly pipelined64: Awaited<ReturnType<typeof pipelined>>;
  readonly pipelined256: Awaited<ReturnType<typeof pipelined>>;
  readonly pipelined64Kilobyte: Awaited<ReturnType<typeof pipelined>>;
}

function report(results: Results): void {
  if (args.json) {
    console.log(JSON.stringify({ node: process.version, seconds, ...results }));
    return;
  }
  const { sequential: seq } = results;
  console.log(`sequential round trip (${seq.count}, 1 in flight): p50 ${seq.p50Us} µs, p99 ${seq.p99Us} µs, mean ${seq.meanUs} µs`);
  for (const [label, r] of [
    ['pipelined, 64 in flight, sync (41 B)', results.pipelined64],
    ['pipelined, 256 in flight, sync (41 B)', results.pipelined256],
    ['pipelined, 64 in flight, reject (1,050 B)', results.pipelined64Kilobyte],
  ] as const) {
    console.log(`${label}: ${r.perSecond.toLocaleString('en-US')} round trips/s (${r.roundTrips.toLocaleString('en-US')} in ${seconds} s)`);
  }
}

await main();
