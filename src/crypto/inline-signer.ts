/**
 * A {@link Signer} that does its work on the calling thread. The right choice when signature
 * work is light (tests, tools, a node with few channels) or when there is a single core: it has
 * no hand-off cost. Also the reference the worker signer is checked against.
 */
import { type SignatureBackend, SIGNATURE_LENGTH, isValidPrivateKey } from '../core/crypto.ts';
import { InvalidArgumentError, LanesError } from '../core/errors.ts';
import type { Signer } from './signer.ts';

const DIGEST_LENGTH = 32;

/**
 * Throws unless `privateKey` is a valid secp256k1 key. The message never shows the key, not even
 * its length-checked bytes: errors end up in logs.
 */
export function assertPrivateKey(privateKey: Uint8Array): void {
  if (!isValidPrivateKey(privateKey)) {
    throw new InvalidArgumentError('Invalid private key', { details: 'expected 32 bytes encoding an integer in [1, n-1]' });
  }
}

/**
 * Throws unless `digest` is 32 bytes. Backends would accept other lengths (RFC 6979 truncation),
 * but a signer only ever signs keccak digests, so anything else is a caller bug.
 */
export function assertDigest(digest: Uint8Array): void {
  if (!(digest instanceof Uint8Array) || digest.length !== DIGEST_LENGTH) {
    const got = digest instanceof Uint8Array ? `${digest.length} bytes` : typeof digest;
    throw new InvalidArgumentError('Invalid digest', { details: `expected 32 bytes, got ${got}` });
  }
}

/**
 * True when a verify request has the shapes the {@link Signer} port promises (65-byte signature,
 * 32-byte digest, 33- or 65-byte key). Requests failing this are answered `false` without
 * touching a backend, identically by every signer.
 */
export function isWellFormedVerify(signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): boolean {
  return (
    signature instanceof Uint8Array &&
    signature.length === SIGNATURE_LENGTH &&
    digest instanceof Uint8Array &&
    digest.length === DIGEST_LENGTH &&
    publicKey instanceof Uint8Array &&
    (publicKey.length === 33 || publicKey.length === 65)
  );
}

/** The rejection every signer gives once closed. */
export function signerClosedError(): LanesError {
  return new LanesError('Signer is closed', { code: 'SIGNER_CLOSED' });
}

/**
 * A signer running `backend` on the calling thread. Promises are already settled when returned;
 * failures are rejections, never synchronous throws, so callers handle both signers alike.
 * The key is copied (a caller reusing its buffer cannot change it) and zeroed on close.
 * @throws InvalidArgumentError when `privateKey` is not a valid secp256k1 key.
 */
export function createInlineSigner(privateKey: Uint8Array, backend: SignatureBackend): Signer {
  assertPrivateKey(privateKey);
  const key = new Uint8Array(privateKey);
  let closed = false;
  return {
    description: `inline (${backend.name})`,
    sign(digest) {
      if (closed) return Promise.reject(signerClosedError());
      try {
        assertDigest(digest);
        return Promise.resolve(backend.sign(digest, key));
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    },
    verify(signature, digest, publicKey) {
      if (closed) return Promise.reject(signerClosedError());
      return Promise.resolve(isWellFormedVerify(signature, digest, publicKey) && backend.verify(signature, digest, publicKey));
    },
    close() {
      closed = true;
      key.fill(0);
      return Promise.resolve();
    },
  };
}
