/**
 * Route onions (docs/adr/0011): what a payer tells each hop of a route, readable by that hop
 * only. Each layer is sealed to one hop's node key: an ephemeral secp256k1 key of the payer's,
 * ECDH with the hop's public key, HKDF-SHA256 into a ChaCha20-Poly1305 key and nonce. Peeling a
 * layer gives the hop its instruction (forward so much on this channel, or: you are the payee)
 * and the onion for the next hop, which it cannot read.
 *
 * Pure: the ephemeral keys are the caller's (the shell draws them at random); nothing here
 * reads a clock or the network. Every onion is untrusted input: {@link peelOnion} never throws.
 *
 * Known limit: layers are not padded to one size (as Sphinx does), so a hop can tell roughly how
 * many hops follow it from the onion's length. The payee's identity and the amounts beyond the
 * next hop stay hidden.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import * as secp from '@noble/secp256k1';
import { type Bytes32, MAX_UINT256, bytesToHex, concatBytes, hexToBytes, utf8 } from '../bytes.ts';
import { Malformed, arr, bytes, fail, packr, u, uint } from '../codec/primitives.ts';
import { type SwapQuote, decodeQuote, encodeQuote } from './quote.ts';

/** The most hops a route may have (as in BOLT 4). */
export const MAX_HOPS = 20;
/** The largest onion accepted from a peer. */
export const MAX_ONION_BYTES = 8_192;
/** The largest memo a payee's layer may carry (a keysend message). */
export const MAX_MEMO_BYTES = 256;

/** Version 1: keys from the ECDH and the ephemeral key alone (one fresh ephemeral key per layer). */
const V1 = 1;
/**
 * Version 2 adds a 16-byte salt to each layer's key derivation, so that a payer may seal many
 * layers to one hop with the same ephemeral key (ADR 0021): each layer's key and nonce stay
 * unique, and the ECDH on both sides is computed once per key, not once per payment.
 */
const V2 = 2;
/** Bytes of a version-2 layer's salt. */
export const ONION_SALT_BYTES = 16;
const INFO = utf8('lanes-onion-v1');
const REPLY_INFO = utf8('lanes-onion-reply-v1');
const INFO_V2 = utf8('lanes-onion-v2');
/** The most bytes of a failure's detail text. */
export const MAX_FAILURE_DETAIL = 200;
/** Marks the failing hop's own report inside the wraps. */
const REPORT = 0xfa;

/** What one hop is told. */
export type HopPayload =
  | {
      /** Forward: lock `amount` of the same asset, with the same hashlock and expiry, on `channelId`. */
      readonly kind: 'forward';
      readonly channelId: Bytes32;
      readonly amount: bigint;
    }
  | {
      /**
       * Convert and forward (a routed swap, ADR 0012): lock `amount` of the quote's `to` asset on
       * `channelId`, with the same hashlock and expiry, for an incoming lock of its `from` asset
       * holding what the quote asks. The quote is the hub's own, as it signed it.
       */
      readonly kind: 'swap';
      readonly channelId: Bytes32;
      readonly amount: bigint;
      readonly quote: SwapQuote;
    }
  | {
      /** You are the payee: the incoming lock must hold at least `amount`. */
      readonly kind: 'final';
      readonly amount: bigint;
      /** The invoice's payment secret, proving the payer saw the invoice (absent for keysend). */
      readonly paymentSecret?: Bytes32;
      /** Keysend: the preimage of the hashlock, chosen by the payer. */
      readonly preimage?: Bytes32;
      readonly memo?: string;
      /** A keysend to a hub that prepays a swap quote's `upfront` premium: the quote's nonce (ADR 0012). */
      readonly prepay?: Bytes32;
    };

export interface OnionHop {
  /** The hop's node key, compressed (33 bytes) or not (65). */
  readonly publicKey: Uint8Array;
  readonly payload: HopPayload;
}

export type OnionError =
  | 'malformed' // not an onion, or a layer that does not parse
  | 'not-for-us'; // sealed to another key, or tampered with (the AEAD tag fails)

export type OnionResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: OnionError; readonly detail: string };

const ok = <T>(value: T): OnionResult<T> => ({ ok: true, value });
const reject = (reason: OnionError, detail: string): { ok: false; reason: OnionError; detail: string } => ({ ok: false, reason, detail });

/**
 * A layer's keys. Version 1: two HKDFs salted with the ephemeral key (INFO: key and nonce;
 * REPLY_INFO: the reply key). Version 2: one HKDF of 88 bytes salted with the ephemeral key and
 * the layer's salt, under INFO_V2: key (32), nonce (12), reply key (44).
 */
function keys(sharedX: Uint8Array, ephemeral: Uint8Array, salt?: Uint8Array): { key: Uint8Array; nonce: Uint8Array; reply: Uint8Array } {
  if (salt === undefined) {
    const okm = hkdf(sha256, sharedX, ephemeral, INFO, 44);
    return { key: okm.subarray(0, 32), nonce: okm.subarray(32, 44), reply: hkdf(sha256, sharedX, ephemeral, REPLY_INFO, 44) };
  }
  const okm = hkdf(sha256, sharedX, concatBytes(ephemeral, salt), INFO_V2, 88);
  return { key: okm.subarray(0, 32), nonce: okm.subarray(32, 44), reply: okm.slice(44, 88) };
}

const replyCipher = (reply: Uint8Array) => chacha20poly1305(reply.subarray(0, 32), reply.subarray(32, 44));

function encodePayload(p: HopPayload): unknown[] {
  if (p.kind === 'forward') return [0, hexToBytes(p.channelId), u(p.amount)];
  if (p.kind === 'swap') return [2, hexToBytes(p.channelId), u(p.amount), encodeQuote(p.quote)];
  return [
    1,
    u(p.amount),
    p.paymentSecret === undefined ? null : hexToBytes(p.paymentSecret),
    p.preimage === undefined ? null : hexToBytes(p.preimage),
    p.memo ?? null,
    ...(p.prepay === undefined ? [] : [hexToBytes(p.prepay)]),
  ];
}

function readPayload(x: unknown): HopPayload {
  const f = arr(x, 'hop payload', 3, 6);
  if (f[0] === 0) {
    if (f.length !== 3) fail('a forward payload has 3 fields');
    return { kind: 'forward', channelId: bytesToHex(bytes(f[1], 'channel id', 32)) as Bytes32, amount: uint(f[2], 'amount', MAX_UINT256) };
  }
  if (f[0] === 2) {
    if (f.length !== 4 || !(f[3] instanceof Uint8Array)) fail('a swap payload has 4 fields, the last a quote');
    const q = decodeQuote(f[3]);
    if (!q.ok) fail(`quote: ${q.detail}`);
    return {
      kind: 'swap',
      channelId: bytesToHex(bytes(f[1], 'channel id', 32)) as Bytes32,
      amount: uint(f[2], 'amount', MAX_UINT256),
      quote: q.value,
    };
  }
  if (f[0] !== 1 || f.length < 5) fail('unknown hop payload');
  const amount = uint(f[1], 'amount', MAX_UINT256);
  const secret = f[2] === null ? undefined : (bytesToHex(bytes(f[2], 'payment secret', 32)) as Bytes32);
  const preimage = f[3] === null ? undefined : (bytesToHex(bytes(f[3], 'preimage', 32)) as Bytes32);
  let memo: string | undefined;
  if (f[4] !== null) {
    if (typeof f[4] !== 'string' || utf8(f[4]).length > MAX_MEMO_BYTES) fail(`memo must be a string of at most ${MAX_MEMO_BYTES} bytes`);
    memo = f[4];
  }
  const prepay = f.length === 6 ? (bytesToHex(bytes(f[5], 'prepaid quote nonce', 32)) as Bytes32) : undefined;
  if (prepay !== undefined && preimage === undefined) fail('a prepayment is a keysend: it carries its preimage');
  return {
    kind: 'final',
    amount,
    ...(secret === undefined ? {} : { paymentSecret: secret }),
    ...(preimage === undefined ? {} : { preimage }),
    ...(memo === undefined ? {} : { memo }),
    ...(prepay === undefined ? {} : { prepay }),
  };
}

/**
 * The curve operations an onion needs. The default is noble's (pure JS, ~3 ms per ECDH); a node
 * passes libsecp256k1's (~60 µs: src/crypto/native-backend.ts), the same values 46× faster, as
 * every payment costs one ECDH per hop for the payer and one for each hop that peels it.
 */
export interface OnionCurve {
  /** The x coordinate (32 bytes) of `privateKey × publicKey`; throws on an invalid key. */
  sharedX(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
  /** The compressed public key (33 bytes) of a private key. */
  publicKey(privateKey: Uint8Array): Uint8Array;
  /** Whether 33 bytes are a compressed point on the curve. */
  isPoint(publicKey: Uint8Array): boolean;
}

export const NOBLE_CURVE: OnionCurve = {
  sharedX: (k, p) => secp.getSharedSecret(k, p, true).subarray(1),
  publicKey: (k) => secp.getPublicKey(k, true),
  isPoint: (p) => secp.utils.isValidPublicKey(p, true),
};

/**
 * One layer: `plaintext` (a layer's msgpack `[payload, inner onion | null]`) sealed to `publicKey`.
 * With a `salt` ({@link ONION_SALT_BYTES} random bytes, never used twice with one ephemeral key)
 * the layer is version 2 and the ephemeral key may be reused; without, version 1.
 */
export function sealLayer(
  publicKey: Uint8Array,
  ephemeralKey: Uint8Array,
  plaintext: Uint8Array,
  curve: OnionCurve = NOBLE_CURVE,
  salt?: Uint8Array,
): { onion: Uint8Array; replyKey: Uint8Array } {
  if (salt !== undefined && salt.length !== ONION_SALT_BYTES) throw new RangeError(`an onion salt is ${ONION_SALT_BYTES} bytes`);
  const ephPub = curve.publicKey(ephemeralKey);
  const shared = curve.sharedX(ephemeralKey, publicKey);
  const { key, nonce, reply } = keys(shared, ephPub, salt);
  const sealed = chacha20poly1305(key, nonce).encrypt(plaintext);
  return { onion: packr.pack(salt === undefined ? [V1, ephPub, sealed] : [V2, ephPub, salt, sealed]), replyKey: reply };
}

/**
 * The onion for `hops` (first hop first; the last is the payee), sealed with one ephemeral
 * private key per hop, and with `salts` (one per hop) as version 2. Throws on arguments no payer
 * should pass (it is the payer's own code).
 */
export function buildOnion(
  hops: readonly OnionHop[],
  ephemeralKeys: readonly Uint8Array[],
  curve: OnionCurve = NOBLE_CURVE,
  salts?: readonly Uint8Array[],
): { readonly onion: Uint8Array; readonly replyKeys: readonly Uint8Array[] } {
  if (hops.length === 0 || hops.length > MAX_HOPS) throw new RangeError(`a route has 1..${MAX_HOPS} hops, got ${hops.length}`);
  if (ephemeralKeys.length !== hops.length) throw new RangeError('one ephemeral key per hop');
  if (salts !== undefined && salts.length !== hops.length) throw new RangeError('one salt per hop');
  if (hops[hops.length - 1]!.payload.kind !== 'final' || hops.slice(0, -1).some((h) => h.payload.kind === 'final'))
    throw new RangeError('every hop forwards but the last, the payee');
  let inner: Uint8Array | null = null;
  const replyKeys: Uint8Array[] = [];
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    const eph = ephemeralKeys[i]!;
    const layer = sealLayer(hop.publicKey, eph, packr.pack([encodePayload(hop.payload), inner]), curve, salts?.[i]);
    replyKeys.unshift(layer.replyKey);
    inner = layer.onion;
  }
  if (inner!.length > MAX_ONION_BYTES) throw new RangeError(`the onion is ${inner!.length} bytes, over ${MAX_ONION_BYTES}`);
  return { onion: inner!, replyKeys };
}

/** Opens the outer layer of `onion` with our node key: our instruction, and the next hop's onion. */
export function peelOnion(
  onion: Uint8Array,
  privateKey: Uint8Array,
  curve: OnionCurve = NOBLE_CURVE,
): OnionResult<{ readonly payload: HopPayload; readonly next?: Uint8Array; readonly replyKey: Uint8Array }> {
  if (!(onion instanceof Uint8Array) || onion.length === 0 || onion.length > MAX_ONION_BYTES) return reject('malformed', 'bad onion size');
  let outer: unknown[];
  let ephPub: Uint8Array;
  let salt: Uint8Array | undefined;
  let sealed: Uint8Array;
  try {
    outer = arr(packr.unpack(onion), 'onion', 3, 4);
    if (outer[0] !== V1 && outer[0] !== V2) fail(`unknown onion version ${String(outer[0])}`);
    if (outer.length !== (outer[0] === V1 ? 3 : 4)) fail(`an onion of version ${outer[0]} has ${outer[0] === V1 ? 3 : 4} fields`);
    ephPub = bytes(outer[1], 'ephemeral key', 33);
    if (outer[0] === V2) salt = bytes(outer[2], 'salt', ONION_SALT_BYTES);
    const last = outer[outer.length - 1];
    if (!(last instanceof Uint8Array) || last.length < 16) fail('sealed layer must be bytes');
    sealed = last;
    if (!curve.isPoint(ephPub)) fail('ephemeral key is not a curve point');
  } catch (e) {
    return reject('malformed', e instanceof Malformed ? e.message : 'not an onion');
  }
  let plain: Uint8Array;
  let replyKey: Uint8Array;
  try {
    const shared = curve.sharedX(privateKey, ephPub);
    const { key, nonce, reply } = keys(shared, ephPub, salt);
    replyKey = reply;
    plain = chacha20poly1305(key, nonce).decrypt(sealed);
  } catch {
    return reject('not-for-us', 'the onion does not open with our key');
  }
  try {
    const f = arr(packr.unpack(plain), 'layer', 2, 2);
    const payload = readPayload(f[0]);
    if (payload.kind === 'final') {
      if (f[1] !== null) fail('the payee layer has no inner onion');
      return ok({ payload, replyKey });
    }
    if (!(f[1] instanceof Uint8Array) || f[1].length === 0) fail('a forward layer carries the next onion');
    return ok({ payload, next: new Uint8Array(f[1]), replyKey });
  } catch (e) {
    return reject('malformed', e instanceof Malformed ? e.message : 'layer does not parse');
  }
}

// ---------------------------------------------------------------------------------------------
// Failure reports: sealed by the failing hop, wrapped by each hop on the way back

/** The failing hop's report, sealed with the reply key its onion layer gave it. */
export function sealFailure(replyKey: Uint8Array, reason: string, detail = ''): Uint8Array {
  const text = detail.length > MAX_FAILURE_DETAIL ? detail.slice(0, MAX_FAILURE_DETAIL) : detail;
  return replyCipher(replyKey).encrypt(packr.pack([REPORT, reason.slice(0, 64), text]));
}

/** A hop passing a failure from downstream back upstream adds its own layer. */
export function wrapFailure(replyKey: Uint8Array, failure: Uint8Array): Uint8Array {
  return replyCipher(replyKey).encrypt(failure);
}

export type OpenedFailure =
  | { readonly ok: true; readonly hop: number; readonly reason: string; readonly detail: string }
  /** Hop `hop` did not wrap it as its key says (or a hop before it tampered): blame falls there. */
  | { readonly ok: false; readonly hop: number };

/** The payer opens a failure with the reply keys of its route (first hop first): who failed, and why. */
export function openFailure(failure: Uint8Array, replyKeys: readonly Uint8Array[]): OpenedFailure {
  let x = failure;
  for (let i = 0; i < replyKeys.length; i++) {
    try {
      x = replyCipher(replyKeys[i]!).decrypt(x);
    } catch {
      return { ok: false, hop: i };
    }
    try {
      const r = packr.unpack(x) as unknown;
      if (Array.isArray(r) && r.length === 3 && r[0] === REPORT && typeof r[1] === 'string' && typeof r[2] === 'string')
        return { ok: true, hop: i, reason: r[1], detail: r[2] };
    } catch {
      // not the report: another wrap
    }
  }
  return { ok: false, hop: replyKeys.length - 1 };
}
