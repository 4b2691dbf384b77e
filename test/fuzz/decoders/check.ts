/**
 * The properties every decoder fuzz target asserts. A violated property throws a
 * {@link PropertyViolation}; jazzer reports any exception out of a target as a finding, and the
 * corpus replay test (test/fuzz/decoders.test.ts) fails on it.
 */
import { isDeepStrictEqual, inspect } from 'node:util';
import { packr } from '../../../src/core/codec/primitives.ts';
import type { Result } from '../../../src/core/result.ts';
import { STRUCTURED, structuredMsgpack } from './structured.ts';

export class PropertyViolation extends Error {
  override name = 'PropertyViolation';
}

export function violation(what: string, detail?: unknown): never {
  throw new PropertyViolation(detail === undefined ? what : `${what}: ${inspect(detail, { depth: 6, maxStringLength: 300 })}`);
}

/** Deep, strict equality (bigints, Uint8Arrays by content, -0 is not 0), or a violation showing both. */
export function same(what: string, actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) {
    violation(`${what} differ`, { actual, expected });
  }
}

/** An error a decoder threw must be of the documented class, with a short readable message. */
export function typed(e: unknown, expected: abstract new (...args: never[]) => Error, maxMessage = 2000): void {
  if (!(e instanceof expected)) {
    violation(`threw ${e instanceof Error ? e.name : typeof e} instead of ${expected.name}`, e);
  }
  if (typeof e.message !== 'string' || e.message.length === 0 || e.message.length > maxMessage) {
    violation(`${expected.name} message of ${e.message.length} characters (1..${maxMessage} expected)`, e.message.slice(0, 300));
  }
}

/** A rejection detail (sent to peers, logged, used as a penalty reason) is short and readable. */
export function shortDetail(detail: unknown, max = 2000): void {
  if (typeof detail !== 'string' || detail.length === 0 || detail.length > max) {
    violation(`rejection detail must be a string of 1..${max} characters`, typeof detail === 'string' ? detail.slice(0, 300) : detail);
  }
}

/**
 * The msgpack structure of `bytes` with integers in one form: minimal big-endian byte strings of
 * up to 7 bytes whose value is a safe integer become that number, and -0 is 0 (msgpack numbers
 * come back as JS numbers, so 5 and 5.0 are already one). What the wire's integer convention
 * lets a sender write either way then compares equal; any other difference between what was
 * received and what the encoder writes back (a string or boolean read as a number, an element
 * ignored or added) does not.
 */
export function structure(bytes: Uint8Array): unknown {
  return normalize(packr.unpack(bytes));
}

function normalize(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(normalize);
  if (x === 0) return 0;
  if (x instanceof Uint8Array && x.length > 0 && x.length <= 7 && x[0] !== 0) {
    let v = 0;
    for (const b of x) v = v * 256 + b;
    if (Number.isSafeInteger(v)) return v;
  }
  if (x instanceof Uint8Array) return Uint8Array.from(x);
  return x;
}

/**
 * A fuzz target for a msgpack codec whose decoder returns a Result (wire.ts, settle.ts): bytes
 * either decode into a value that re-encodes to an equal value and to the same msgpack structure,
 * or are a `malformed` rejection with a short detail. The decoder never throws, and a decoded
 * value does not change when the input buffer is overwritten afterwards (transports reuse them).
 * Input: msgpack bytes, or `[0xc1][bytes…]` for a structured input (structured.ts) built on the
 * encoded `samples`.
 */
export function resultCodecTarget<T>(
  decode: (bytes: Uint8Array) => Result<T>,
  encode: (value: T) => Uint8Array,
  samples: () => readonly T[],
): (data: Buffer) => void {
  let bases: Uint8Array[] | undefined;
  return (fuzzed) => {
    const data = fuzzed[0] === STRUCTURED ? structuredMsgpack(fuzzed.subarray(1), (bases ??= samples().map(encode))) : fuzzed;
    const input = Uint8Array.from(data);
    const r = decode(input);
    input.fill(0xa5);
    if (!r.ok) {
      if (r.reason !== 'malformed') violation(`rejected as ${r.reason}, not malformed`, r);
      shortDetail(r.detail);
      return;
    }
    const fresh = decode(data);
    if (!fresh.ok) violation('the same bytes decoded once and were rejected once', fresh);
    same('a value decoded from a buffer since overwritten, and the same bytes decoded again', r.value, fresh.value);
    const encoded = encode(r.value);
    const again = decode(encoded);
    if (!again.ok) violation('a decoded value does not decode after re-encoding', { value: r.value, again });
    same('decoded and re-decoded values', again.value, r.value);
    same('received and re-encoded msgpack structures', structure(encoded), structure(data));
  };
}
