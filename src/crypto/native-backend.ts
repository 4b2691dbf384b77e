/**
 * A {@link SignatureBackend} on libsecp256k1, through the N-API binding of the `secp256k1` npm
 * package: about 6x faster than noble for signing and 40x for verify and recover (measured in
 * scripts/bench-crypto.ts).
 *
 * It must be a drop-in replacement for {@link nobleBackend}: the same bytes out of `sign`, and
 * the same accept/reject decision (never an exception) out of `verify` and `recover`, for every
 * input. libsecp256k1 and noble differ in three places, each bridged here:
 * - libsecp256k1 accepts "hybrid" 65-byte public keys (prefix 0x06/0x07); noble does not.
 * - libsecp256k1 feeds the unreduced digest into RFC 6979, noble (following the RFC's
 *   bits2octets) the digest mod n. A digest >= n therefore gets a different nonce unless it is
 *   reduced first.
 * - noble takes digests of any length up to 8 KiB (RFC 6979 bits2int: the leftmost 256 bits,
 *   shorter ones read as a big-endian number); the binding wants exactly 32 bytes.
 */
import { createRequire } from 'node:module';
import type * as Secp256k1 from 'secp256k1';
import { CURVE_N, SIGNATURE_LENGTH, type SignatureBackend, checkSignatureEncoding } from '../core/crypto.ts';
import { readWord, writeWord } from '../core/bytes.ts';
import type { OnionCurve } from '../core/forwarding/onion.ts';

type Binding = typeof Secp256k1;

/** noble's guard against huge "digests" (it throws above this); mirrored so both refuse alike. */
const MAX_DIGEST_BYTES = 8192;
const DIGEST_LENGTH = 32;

let binding: Binding | null | undefined;

/**
 * Loads `secp256k1/bindings.js` rather than the package root: the root silently falls back to a
 * pure-JS elliptic implementation (slower than noble) when the addon fails to load, and we would
 * rather know. The result, including a failure, is cached: a missing addon will not appear later.
 */
function loadBinding(): Binding | undefined {
  if (binding === undefined) {
    try {
      binding = createRequire(import.meta.url)('secp256k1/bindings.js') as Binding;
    } catch {
      binding = null;
    }
  }
  return binding ?? undefined;
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

/**
 * The 32-byte big-endian form of RFC 6979's bits2int(digest) mod n, or undefined where noble
 * would throw (not bytes, or longer than 8 KiB). Returns `digest` itself in the common case.
 */
function digest32(digest: Uint8Array): Uint8Array | undefined {
  if (!isBytes(digest) || digest.length > MAX_DIGEST_BYTES) return undefined;
  let out = digest;
  if (digest.length > DIGEST_LENGTH) {
    out = digest.subarray(0, DIGEST_LENGTH);
  } else if (digest.length < DIGEST_LENGTH) {
    out = new Uint8Array(DIGEST_LENGTH);
    out.set(digest, DIGEST_LENGTH - digest.length);
  }
  // n = 0xffff…fffe baae…: a value >= n starts with 0xff, so the BigInt path is almost never taken.
  if (out[0] === 0xff) {
    const value = readWord(out, 0);
    if (value >= CURVE_N) {
      out = new Uint8Array(DIGEST_LENGTH);
      writeWord(out, 0, value - CURVE_N);
    }
  }
  return out;
}

/** True for the encodings noble's Point.fromBytes takes (no hybrid 0x06/0x07 keys). */
function hasNobleKeyShape(publicKey: Uint8Array): boolean {
  if (!isBytes(publicKey)) return false;
  if (publicKey.length === 33) return publicKey[0] === 0x02 || publicKey[0] === 0x03;
  return publicKey.length === 65 && publicKey[0] === 0x04;
}

function makeBackend(lib: Binding): SignatureBackend {
  return {
    name: 'native',
    sign(digest, privateKey) {
      const msg = digest32(digest);
      if (msg === undefined) throw new TypeError('digest must be a Uint8Array of at most 8192 bytes');
      const out = new Uint8Array(SIGNATURE_LENGTH);
      // The binding writes r ‖ s straight into `out`; no data means plain RFC 6979, always low-S.
      const { recid } = lib.ecdsaSign(msg, privateKey, {}, out.subarray(0, 64));
      out[64] = 27 + recid;
      return out;
    },
    verify(signature, digest, publicKey) {
      if (!checkSignatureEncoding(signature).ok || !hasNobleKeyShape(publicKey)) return false;
      const msg = digest32(digest);
      if (msg === undefined) return false;
      try {
        return lib.ecdsaVerify(signature.subarray(0, 64), msg, publicKey);
      } catch {
        // An unparseable public key (not on the curve, x >= p) throws in the binding.
        return false;
      }
    },
    recover(signature, digest) {
      if (!checkSignatureEncoding(signature).ok) return undefined;
      const msg = digest32(digest);
      if (msg === undefined) return undefined;
      try {
        return lib.ecdsaRecover(signature.subarray(0, 64), signature[64]! - 27, msg, false, new Uint8Array(65));
      } catch {
        // No curve point has x = r, or the recovered key is the point at infinity.
        return undefined;
      }
    },
    publicKey(privateKey, compressed) {
      return lib.publicKeyCreate(privateKey, compressed, new Uint8Array(compressed ? 33 : 65));
    },
  };
}

let backend: SignatureBackend | null | undefined;

/**
 * The libsecp256k1 backend, or undefined when the native addon cannot be loaded on this
 * platform (then use {@link nobleBackend}; see select-backend.ts). Byte-identical to noble.
 */
export function nativeBackend(): SignatureBackend | undefined {
  if (backend === undefined) {
    const lib = loadBinding();
    backend = lib === undefined ? null : makeBackend(lib);
  }
  return backend ?? undefined;
}

/**
 * libsecp256k1's ECDH and key derivation for route onions (src/core/forwarding/onion.ts), or
 * undefined when the addon does not load (the onion then uses noble's, 46× slower).
 */
export function nativeOnionCurve(): OnionCurve | undefined {
  const b = loadBinding() as (Binding & NativeEcdh) | undefined;
  if (!b || typeof b.ecdh !== 'function' || typeof b.publicKeyCreate !== 'function') return undefined;
  const xbuf = new Uint8Array(32);
  const ybuf = new Uint8Array(32);
  // hashfn returns x itself: the raw shared x coordinate, as noble's getSharedSecret(…)[1..33].
  const options = { hashfn: (x: Uint8Array) => x, xbuf, ybuf };
  return {
    sharedX: (k, p) => b.ecdh(p, k, options, new Uint8Array(32)),
    publicKey: (k) => b.publicKeyCreate(k, true),
    isPoint: (p) => p.length === 33 && b.publicKeyVerify(p),
  };
}

interface NativeEcdh {
  ecdh(pubkey: Uint8Array, seckey: Uint8Array, options: object, output: Uint8Array): Uint8Array;
  publicKeyCreate(seckey: Uint8Array, compressed: boolean): Uint8Array;
  publicKeyVerify(pubkey: Uint8Array): boolean;
}
