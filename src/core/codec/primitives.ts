/**
 * Shared pieces of the msgpack codecs (channel messages in wire.ts, settlement requests in
 * settle.ts): how integers, addresses, balances, locks, parameters and states are written, and
 * the validating readers that turn untrusted values back into them. Readers throw
 * {@link Malformed}; each codec catches it once and returns a `malformed` rejection.
 */
import { Packr } from 'msgpackr';
import { type Address, type Bytes32, MAX_UINT256, MAX_UINT64, bytesToHex, bytesToUint, hexToBytes, uintToBytes } from '../bytes.ts';
import { SIGNATURE_LENGTH } from '../crypto.ts';
import type { ChannelParams, ParticipantIndex } from '../params.ts';
import { type RejectReason, type Result, isRejectReason, ok, reject } from '../result.ts';
import type { Balances, ChannelState, Lock } from '../state.ts';
import type { CodecLimits } from './messages.ts';

export const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: false, variableMapSize: true });

// ---------------------------------------------------------------------------------------------
// Writing

export type Wire = number | boolean | string | null | Uint8Array | Wire[];

export function u(value: bigint): number | Uint8Array {
  return value <= 9007199254740991n ? Number(value) : uintToBytes(value);
}

export function addr(a: Address | Bytes32): Uint8Array {
  return hexToBytes(a);
}

/**
 * Encoded locks by lock object. A lock lives through many states unchanged (a `Lock` is never
 * mutated), and every stored state encodes all of them: up to hundreds per update on a busy
 * forwarding channel. Packing never mutates the array it is given.
 */
const encodedLocks = new WeakMap<Lock, Wire[]>();

export function encodeLock(l: Lock): Wire[] {
  let w = encodedLocks.get(l);
  if (w === undefined) {
    w = [u(l.id), l.asset, u(l.amount), l.sender, l.receiver, addr(l.hashlock), u(l.expiry)];
    encodedLocks.set(l, w);
  }
  return w;
}

export function encodeBalances(b: Balances): Wire[] {
  return b.map(([x, y]) => [u(x), u(y)]);
}

export function encodeParams(p: ChannelParams): Wire[] {
  return [
    u(p.chainId),
    addr(p.adjudicator),
    addr(p.participants[0]),
    addr(p.participants[1]),
    p.assets.map(addr),
    u(p.challengeDuration),
    u(p.nonce),
  ];
}

export function encodeState(s: ChannelState): Wire[] {
  return [addr(s.channelId), u(s.version), encodeBalances(s.balances), s.locks.map(encodeLock), s.isFinal];
}

// ---------------------------------------------------------------------------------------------
// Reading: validating parsers

export class Malformed extends Error {}

export function fail(what: string): never {
  throw new Malformed(what);
}

/** A received value in an error message: short, whatever was sent (a message is logged and may be sent back). */
export function describe(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x.length > 32 ? `${x.slice(0, 32)}…` : x);
  if (x instanceof Uint8Array) return `${x.length} bytes`;
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint' || x === null || x === undefined) return String(x);
  return `a ${typeof x}`;
}

export function arr(x: unknown, what: string, min: number, max: number): unknown[] {
  if (!Array.isArray(x)) fail(`${what} must be an array`);
  if (x.length < min || x.length > max) fail(`${what} must have ${min === max ? min : `${min}..${max}`} elements, got ${x.length}`);
  return x;
}

export function bytes(x: unknown, what: string, length: number): Uint8Array {
  if (!(x instanceof Uint8Array) || x.length !== length) fail(`${what} must be ${length} bytes`);
  return x;
}

export function uint(x: unknown, what: string, max: bigint): bigint {
  let v: bigint;
  if (typeof x === 'number') {
    if (!Number.isSafeInteger(x) || x < 0) fail(`${what} must be a non-negative integer`);
    v = BigInt(x);
  } else if (x instanceof Uint8Array) {
    if (x.length === 0 || x.length > 32 || x[0] === 0) fail(`${what} must be a minimal big-endian integer of 1..32 bytes`);
    v = bytesToUint(x);
  } else {
    fail(`${what} must be an integer`);
  }
  if (v > max) fail(`${what} is out of range`);
  return v;
}

export function small(x: unknown, what: string, max: number): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > max) fail(`${what} must be an integer in 0..${max}`);
  return x === 0 ? 0 : x; // a float64 -0 is 0 (re-encoded, it would be)
}

export function party(x: unknown, what: string): ParticipantIndex {
  if (x !== 0 && x !== 1) fail(`${what} must be 0 or 1`);
  return x === 0 ? 0 : 1; // not -0
}

export const address = (x: unknown, what: string): Address => bytesToHex(bytes(x, what, 20)) as Address;
export const b32 = (x: unknown, what: string): Bytes32 => bytesToHex(bytes(x, what, 32)) as Bytes32;
// Copied: msgpackr returns views into the input buffer, which the transport may reuse.
export const sig = (x: unknown, what: string): Uint8Array => new Uint8Array(bytes(x, what, SIGNATURE_LENGTH));

export function balances(x: unknown, limits: CodecLimits): Balances {
  return arr(x, 'balances', 1, limits.maxAssets).map((row, i) => {
    const r = arr(row, `balances[${i}]`, 2, 2);
    return [uint(r[0], 'balance', MAX_UINT256), uint(r[1], 'balance', MAX_UINT256)] as const;
  });
}

export function lock(x: unknown, limits: CodecLimits): Lock {
  const f = arr(x, 'lock', 7, 7);
  return {
    id: uint(f[0], 'lock id', MAX_UINT64),
    asset: small(f[1], 'lock asset', limits.maxAssets - 1),
    amount: uint(f[2], 'lock amount', MAX_UINT256),
    sender: party(f[3], 'lock sender'),
    receiver: party(f[4], 'lock receiver'),
    hashlock: b32(f[5], 'hashlock'),
    expiry: uint(f[6], 'lock expiry', MAX_UINT64),
  };
}

export function reason(x: unknown): RejectReason {
  if (!isRejectReason(x)) fail('reject reason is not one of the known reasons');
  return x;
}

export function text(x: unknown, what: string, max: number): string {
  if (typeof x !== 'string' || x.length > max) fail(`${what} must be a string of at most ${max} characters`);
  return x;
}

export function params(x: unknown, limits: CodecLimits): ChannelParams {
  const f = arr(x, 'params', 7, 7);
  return {
    chainId: uint(f[0], 'chainId', MAX_UINT256),
    adjudicator: address(f[1], 'adjudicator'),
    participants: [address(f[2], 'participant 0'), address(f[3], 'participant 1')],
    assets: arr(f[4], 'assets', 1, limits.maxAssets).map((a, i) => address(a, `assets[${i}]`)),
    challengeDuration: uint(f[5], 'challengeDuration', MAX_UINT64),
    nonce: uint(f[6], 'nonce', MAX_UINT256),
  };
}

export function state(x: unknown, limits: CodecLimits): ChannelState {
  const f = arr(x, 'state', 5, 5);
  if (typeof f[4] !== 'boolean') fail('isFinal must be a boolean');
  return {
    channelId: b32(f[0], 'channelId'),
    version: uint(f[1], 'version', MAX_UINT64),
    balances: balances(f[2], limits),
    locks: arr(f[3], 'locks', 0, limits.maxLocks).map((l) => lock(l, limits)),
    isFinal: f[4],
  };
}

// ---------------------------------------------------------------------------------------------
// Decoding a message

/**
 * Unpacks untrusted bytes and parses them with `parse`: the shared envelope of every codec's
 * decoder. Each failure is a `malformed` rejection saying what was wrong; never throws.
 */
export function decodeWith<T>(data: Uint8Array, limits: CodecLimits, parse: (raw: unknown, limits: CodecLimits) => T): Result<T> {
  if (!(data instanceof Uint8Array)) return reject('malformed', 'message must be bytes');
  if (data.length === 0) return reject('malformed', 'empty message');
  if (data.length > limits.maxMessageBytes) {
    return reject('malformed', `message of ${data.length} bytes exceeds the limit of ${limits.maxMessageBytes}`);
  }
  let raw: unknown;
  try {
    raw = packr.unpack(data);
  } catch (e) {
    return reject('malformed', `not msgpack: ${e instanceof Error ? e.message.slice(0, 200) : 'decode error'}`);
  }
  try {
    return ok(parse(raw, limits));
  } catch (e) {
    return reject('malformed', e instanceof Malformed ? e.message : 'message structure is invalid');
  }
}

export type { Address, Bytes32, ParticipantIndex, RejectReason };
export { MAX_UINT256, MAX_UINT64, bytesToHex, hexToBytes, isRejectReason };
