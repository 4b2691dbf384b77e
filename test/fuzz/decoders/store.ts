/**
 * Fuzz target: the store's value codec (src/store/record-codec.ts): channel records, co-signed
 * states and meta values. A stored value either decodes into one that re-encodes (the encoder
 * accepts it) to an equal value in the current format — with the same msgpack structure when it
 * was in the current format already — or throws StoreCorruptError: anything else thrown is a bug.
 *
 * Input: `[mode][bytes…]`. The low two bits of `mode` pick the decoder (0 and 3: record, 1: state,
 * 2: meta). With bit 2 set, `bytes` is an envelope without its checksum (`[kind][format][payload]`)
 * and the target appends the right CRC-32, so the fuzzer explores the payload parsers instead of
 * stopping at the checksum; without it, `bytes` is decoded as it is (checksum included). With bits
 * 2 and 3 set, the payload is a structured input (structured.ts) built on the sample records and
 * states: `[mode][kind][format][choices…]`.
 */
import { crc32 } from 'node:zlib';
import {
  STORE_FORMAT,
  StoreCorruptError,
  decodeChannelRecord,
  decodeMeta,
  decodeSignedState,
  encodeChannelRecord,
  encodeMeta,
  encodeSignedState,
} from '../../../src/store/record-codec.ts';
import { same, structure, typed, violation } from './check.ts';
import { recordSamples, stateSamples } from './samples.ts';
import { structuredMsgpack } from './structured.ts';

export const MODE = { record: 0, state: 1, meta: 2, seal: 4, structured: 8 } as const;

const HEADER_BYTES = 2;
const CRC_BYTES = 4;

interface Codec {
  decode(bytes: Uint8Array): unknown;
  encode(value: unknown): Uint8Array;
  /** Whether the payload is msgpack (compared structurally after a round trip). */
  readonly msgpack: boolean;
}

const CODECS: readonly Codec[] = [
  { decode: (b) => decodeChannelRecord(b), encode: (v) => encodeChannelRecord(v as never), msgpack: true },
  { decode: (b) => decodeSignedState(b), encode: (v) => encodeSignedState(v as never), msgpack: true },
  { decode: (b) => decodeMeta(b), encode: (v) => encodeMeta(v as never), msgpack: false },
];

/** Appends the envelope's CRC-32 (big-endian) to `[kind][format][payload]`. */
export function sealed(unsealed: Uint8Array): Uint8Array {
  const out = new Uint8Array(unsealed.length + CRC_BYTES);
  out.set(unsealed);
  new DataView(out.buffer).setUint32(unsealed.length, crc32(unsealed));
  return out;
}

const payload = (value: Uint8Array) => value.subarray(HEADER_BYTES, value.length - CRC_BYTES);

/** The msgpack payloads of the sample records and states: the bases of structured inputs. */
let bases: Uint8Array[] | undefined;
function payloads(): Uint8Array[] {
  return (bases ??= [
    ...recordSamples().map(([, r]) => payload(encodeChannelRecord(r))),
    ...stateSamples().map(([, s]) => payload(encodeSignedState(s))),
  ]);
}

export function fuzz(data: Buffer): void {
  if (data.length === 0) return;
  const mode = data[0]!;
  const codec = CODECS[mode & 3] ?? CODECS[0]!;
  const unsealed =
    mode & MODE.structured && data.length >= 3
      ? Uint8Array.of(data[1]!, data[2]!, ...structuredMsgpack(data.subarray(3), payloads()))
      : data.subarray(1);
  const bytes = mode & MODE.seal ? sealed(unsealed) : Uint8Array.from(unsealed);
  const original = Uint8Array.from(bytes);

  let value: unknown;
  try {
    value = codec.decode(bytes);
  } catch (e) {
    typed(e, StoreCorruptError);
    return;
  }
  bytes.fill(0xa5); // stores hand out views of reused buffers: the value must not share them
  let fresh: unknown;
  try {
    fresh = codec.decode(original);
  } catch (e) {
    violation('the same bytes decoded once and failed once', e);
  }
  same('a value decoded from a buffer since overwritten, and the same bytes decoded again', value, fresh);

  let encoded: Uint8Array;
  try {
    encoded = codec.encode(value);
  } catch (e) {
    violation('the encoder refuses a value the decoder accepted', { value, error: e });
  }
  let again: unknown;
  try {
    again = codec.decode(encoded);
  } catch (e) {
    violation('a decoded value does not decode after re-encoding', { value, error: e });
  }
  same('decoded and re-decoded values', again, value);
  same('envelope kind and format', [encoded[0], encoded[1]], [original[0], STORE_FORMAT]);
  // A value in an older format re-encodes in the current one: then only the values compare.
  if (original[1] !== STORE_FORMAT) return;
  if (codec.msgpack) same('stored and re-encoded msgpack structures', structure(payload(encoded)), structure(payload(original)));
  else same('stored and re-encoded meta values', encoded, original);
}
