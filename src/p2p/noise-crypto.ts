/**
 * Noise's ChaCha20-Poly1305, tuned for Lanes' traffic (measured: docs/adr/0007).
 *
 * @chainsafe/libp2p-noise's default uses its WebAssembly cipher below 1,200 bytes and
 * `crypto.createCipheriv` with the raw key above. Node re-validates a raw key on every call,
 * and that check builds and throws an internal error each time: 25 µs per message whatever its
 * size. With the key wrapped once in a `KeyObject` (cached per transport key) the same call
 * costs 7-16 µs, which beats the WebAssembly cipher from about 600 bytes. Proposals of a busy
 * channel are 1-60 KB, so this is most of the encryption work. Everything else (the
 * handshake's X25519, SHA-256, HKDF) stays the library's.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import type { ICryptoInterface } from '@chainsafe/libp2p-noise';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';

/** Below this size the library's WebAssembly cipher is faster than a Node cipher object. */
const NODE_CIPHER_FROM_BYTES = 600;
const TAG = 16;

/** One KeyObject per transport key: noise keeps each key in one Uint8Array for the session. */
const keys = new WeakMap<Uint8Array, KeyObject>();
function keyObject(k: Uint8Array): KeyObject {
  let key = keys.get(k);
  if (key === undefined) {
    key = createSecretKey(k);
    keys.set(k, key);
  }
  return key;
}

export const lanesNoiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
    if (plaintext.byteLength < NODE_CIPHER_FROM_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k);
    const cipher = createCipheriv('chacha20-poly1305', keyObject(k), nonce, { authTagLength: TAG });
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength });
    const body = cipher.update(plaintext instanceof Uint8Array ? plaintext : plaintext.subarray());
    const final = cipher.final();
    const tag = cipher.getAuthTag();
    return Buffer.concat([body, final, tag], body.byteLength + final.byteLength + tag.byteLength);
  },
  chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst) {
    if (ciphertext.byteLength < NODE_CIPHER_FROM_BYTES) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst);
    const bytes = ciphertext instanceof Uint8Array ? ciphertext : ciphertext.subarray();
    const decipher = createDecipheriv('chacha20-poly1305', keyObject(k), nonce, { authTagLength: TAG });
    const text = bytes.subarray(0, bytes.byteLength - TAG);
    decipher.setAAD(ad, { plaintextLength: text.byteLength });
    decipher.setAuthTag(bytes.subarray(bytes.byteLength - TAG));
    const body = decipher.update(text);
    const final = decipher.final(); // throws when the tag does not match
    return final.byteLength > 0 ? Buffer.concat([body, final]) : body;
  },
};
