/**
 * Store throughput: why the engine batches. Measures durable writes per second on the lmdb
 * store with one flush per write (every update waits for its own fsync) against group commit
 * (1,000 channels written in one tick, then one flush), plus the record codec alone, whose
 * encode-and-verify cost bounds group commit.
 *
 * Usage: node scripts/bench-store.ts [--json] [--dir <path>]
 * Prints a table, or with `--json` one JSON object. Runs in well under 20 s.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Bytes32, type ChannelParams, type SignedState, channelId } from '../src/core/index.ts';
import { openLmdbStore } from '../src/store/lmdb-store.ts';
import { decodeSignedState, encodeSignedState } from '../src/store/record-codec.ts';
import type { ChannelStore } from '../src/store/store.ts';
import { paramsFor, recordFor, signedFor } from '../test/store/fixtures/channels.ts';

const SINGLE_WRITES = 2_000;
const GROUP_CHANNELS = 1_000;
const GROUP_ROUNDS = 50;
const CODEC_ITERATIONS = 20_000;

interface Measurement {
  readonly writes: number;
  readonly flushes: number;
  readonly seconds: number;
  readonly opsPerSecond: number;
  readonly msPerFlush: number;
}

interface Channel {
  readonly params: ChannelParams;
  readonly id: Bytes32;
  /** Built once: building states (a keccak per channel id) is not what is being measured. */
  readonly signed: SignedState;
}

function at(c: Channel, version: bigint): SignedState {
  return { state: { ...c.signed.state, version }, signatures: c.signed.signatures };
}

function measurement(writes: number, flushes: number, seconds: number): Measurement {
  return { writes, flushes, seconds, opsPerSecond: writes / seconds, msPerFlush: (seconds * 1000) / flushes };
}

async function singleFlush(store: ChannelStore, channels: readonly Channel[]): Promise<Measurement> {
  const start = performance.now();
  for (let i = 0; i < SINGLE_WRITES; i++) {
    const c = channels[i % channels.length]!;
    store.putState(c.id, at(c, BigInt(i + 1)));
    await store.flush();
  }
  return measurement(SINGLE_WRITES, SINGLE_WRITES, (performance.now() - start) / 1000);
}

async function groupCommit(store: ChannelStore, channels: readonly Channel[]): Promise<Measurement> {
  const start = performance.now();
  for (let round = 0; round < GROUP_ROUNDS; round++) {
    const version = BigInt(SINGLE_WRITES + round + 1);
    for (const c of channels) store.putState(c.id, at(c, version));
    await store.flush();
  }
  return measurement(GROUP_ROUNDS * channels.length, GROUP_ROUNDS, (performance.now() - start) / 1000);
}

function codec(channel: Channel): { encodesPerSecond: number; decodesPerSecond: number; bytes: number } {
  const signed = at(channel, 123_456n);
  let bytes = encodeSignedState(signed);
  for (let i = 0; i < CODEC_ITERATIONS / 4; i++) decodeSignedState(encodeSignedState(signed)); // warm up the JIT
  let start = performance.now();
  for (let i = 0; i < CODEC_ITERATIONS; i++) bytes = encodeSignedState(signed);
  const encodeSeconds = (performance.now() - start) / 1000;
  start = performance.now();
  for (let i = 0; i < CODEC_ITERATIONS; i++) decodeSignedState(bytes);
  const decodeSeconds = (performance.now() - start) / 1000;
  return { encodesPerSecond: CODEC_ITERATIONS / encodeSeconds, decodesPerSecond: CODEC_ITERATIONS / decodeSeconds, bytes: bytes.length };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, dir: { type: 'string' } } });
  const dir = values.dir ?? (await mkdtemp(join(tmpdir(), 'lanes-bench-store-')));
  const channels = Array.from({ length: GROUP_CHANNELS }, (_, i) => {
    const params = paramsFor(i + 1);
    return { params, id: channelId(params), signed: signedFor(params, 0n) };
  });
  const store = await openLmdbStore({ path: dir });
  try {
    for (const c of channels) store.putRecord(recordFor(c.params));
    await store.flush();
    const codecResult = codec(channels[0]!);
    const single = await singleFlush(store, channels);
    const group = await groupCommit(store, channels);
    const result = { dir, node: process.version, codec: codecResult, singleFlush: single, groupCommit: group };
    if (values.json) console.log(JSON.stringify(result));
    else print(result.codec, single, group);
  } finally {
    await store.close();
    if (values.dir === undefined) await rm(dir, { recursive: true, force: true });
  }
}

function print(c: ReturnType<typeof codec>, single: Measurement, group: Measurement): void {
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  console.log(`codec (signed state, ${c.bytes} B): encode+verify ${n(c.encodesPerSecond)}/s, decode ${n(c.decodesPerSecond)}/s`);
  console.log(
    `one flush per write:  ${n(single.opsPerSecond)} writes/s, ${single.msPerFlush.toFixed(3)} ms per flush (${single.writes} writes)`,
  );
  console.log(
    `group commit (${GROUP_CHANNELS}/tick): ${n(group.opsPerSecond)} writes/s, ${group.msPerFlush.toFixed(3)} ms per flush (${group.writes} writes)`,
  );
}

await main();
