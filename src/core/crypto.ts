/**
 * Signing and verification behind one small interface.
 *
 * Signatures are Ethereum's: secp256k1 ECDSA over a 32-byte keccak digest (no extra prehash),
 * RFC 6979 deterministic nonces, low-S only, encoded as 65 bytes `r ‖ s ‖ v` with
 * `v = 27 + recovery` — what `ecrecover` accepts on-chain. Because nonces are deterministic,
 * every conforming backend produces byte-identical signatures, so a faster backend (see
 * src/crypto/native-backend.ts) can replace {@link nobleBackend} without changing any result.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import * as secp from '@noble/secp256k1';
import { type Address, bytesToHex, keccak256, readWord } from './bytes.ts';
import { type Result, ok, reject } from './result.ts';

// noble-secp256k1 needs sync hash functions for synchronous RFC 6979 signing.
secp.hashes.sha256 = sha256;
secp.hashes.hmacSha256 = (key: Uint8Array, msg: Uint8Array) => hmac(sha256, key, msg);

/** The secp256k1 group order n. */
export const CURVE_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_N = CURVE_N >> 1n;

export const SIGNATURE_LENGTH = 65;

/** A secp256k1 implementation. Every method is synchronous and side-effect free. */
export interface SignatureBackend {
  readonly name: string;
  /** Signs a 32-byte digest: 65 bytes `r ‖ s ‖ v`, low-S, v in {27, 28}. */
  sign(digest: Uint8Array, privateKey: Uint8Array): Uint8Array;
  /**
   * True when `signature` (65 bytes, canonical: see {@link checkSignatureEncoding}) signs
   * `digest` under `publicKey` (33-byte compressed or 65-byte uncompressed).
   */
  verify(signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): boolean;
  /** The 65-byte uncompressed public key that produced `signature`, or undefined. */
  recover(signature: Uint8Array, digest: Uint8Array): Uint8Array | undefined;
  /** The public key of a 32-byte private key (compressed: 33 bytes; else 65 bytes). */
  publicKey(privateKey: Uint8Array, compressed: boolean): Uint8Array;
}

/**
 * Rejects anything `ecrecover` on-chain would treat differently: wrong length, v not 27/28,
 * r or s outside [1, n-1], or a high S (malleable twin of a valid signature).
 */
export function checkSignatureEncoding(signature: Uint8Array): Result<Uint8Array> {
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_LENGTH) {
    return reject('invalid-signature', `signature expected 65 bytes, got ${signature?.length ?? typeof signature}`);
  }
  const v = signature[64]!;
  if (v !== 27 && v !== 28) return reject('invalid-signature', `signature v must be 27 or 28, got ${v}`);
  const r = readWord(signature, 0);
  const s = readWord(signature, 32);
  if (r === 0n || r >= CURVE_N) return reject('invalid-signature', 'signature r out of range');
  if (s === 0n || s >= CURVE_N) return reject('invalid-signature', 'signature s out of range');
  if (s > HALF_N) return reject('invalid-signature', 'signature has a high S value (not canonical)');
  return ok(signature);
}

/** @noble/secp256k1: audited pure JavaScript, the reference backend. */
export const nobleBackend: SignatureBackend = {
  name: 'noble',
  sign(digest, privateKey) {
    const rec = secp.sign(digest, privateKey, { prehash: false, lowS: true, format: 'recovered' });
    // noble's recovered layout is `recovery ‖ r ‖ s`; Ethereum's is `r ‖ s ‖ v`.
    const out = new Uint8Array(SIGNATURE_LENGTH);
    out.set(rec.subarray(1), 0);
    out[64] = 27 + rec[0]!;
    return out;
  },
  verify(signature, digest, publicKey) {
    if (!checkSignatureEncoding(signature).ok) return false;
    try {
      return secp.verify(signature.subarray(0, 64), digest, publicKey, { prehash: false, lowS: true });
    } catch {
      return false;
    }
  },
  recover(signature, digest) {
    if (!checkSignatureEncoding(signature).ok) return undefined;
    const rec = new Uint8Array(SIGNATURE_LENGTH);
    rec[0] = signature[64]! - 27;
    rec.set(signature.subarray(0, 64), 1);
    try {
      return secp.recoverPublicKey(rec, digest, { prehash: false, isCompressed: false });
    } catch {
      return undefined;
    }
  },
  publicKey(privateKey, compressed) {
    return secp.getPublicKey(privateKey, compressed);
  },
};

/** Converts a compressed (33-byte) or uncompressed (65-byte) public key to uncompressed form. */
export function uncompressPublicKey(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length === 65) return publicKey;
  return secp.Point.fromBytes(publicKey).toBytes(false);
}

/** The Ethereum address of a public key: the last 20 bytes of keccak256 of its x ‖ y. */
export function publicKeyToAddress(publicKey: Uint8Array): Address {
  const uncompressed = uncompressPublicKey(publicKey);
  return bytesToHex(keccak256(uncompressed.subarray(1)).subarray(12)) as Address;
}

/** True for a valid secp256k1 private key (32 bytes, 0 < k < n). */
export function isValidPrivateKey(privateKey: Uint8Array): boolean {
  return secp.utils.isValidSecretKey(privateKey);
}

/** The address of a private key. */
export function privateKeyToAddress(privateKey: Uint8Array, backend: SignatureBackend = nobleBackend): Address {
  return publicKeyToAddress(backend.publicKey(privateKey, false));
}

/** Recovers the signer's address, or undefined for an invalid signature. */
export function recoverAddress(signature: Uint8Array, digest: Uint8Array, backend: SignatureBackend = nobleBackend): Address | undefined {
  const pub = backend.recover(signature, digest);
  return pub === undefined ? undefined : publicKeyToAddress(pub);
}
