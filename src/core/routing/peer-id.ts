/**
 * The libp2p peer id of a secp256k1 key, computed in the core: a graph message's signature gives
 * its signer's public key, and with it the peer id to dial. Byte for byte what `@libp2p/peer-id`
 * prints (test/core/routing/peer-id.test.ts compares them): base58btc of the identity multihash
 * of the key's protobuf form, `0x00 0x25 ‖ 0x08 0x02 0x12 0x21 ‖ compressed key (33 bytes)`.
 */
import { uncompressPublicKey } from '../crypto.ts';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** Base58 (Bitcoin alphabet) of `bytes`, leading zero bytes as '1's. */
export function base58(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  const digits: number[] = [];
  for (let i = zeros; i < bytes.length; i++) {
    let carry = bytes[i]!;
    for (let j = 0; j < digits.length; j++) {
      carry += digits[j]! << 8;
      digits[j] = carry % 58;
      carry = (carry / 58) | 0;
    }
    while (carry > 0) {
      digits.push(carry % 58);
      carry = (carry / 58) | 0;
    }
  }
  let out = '1'.repeat(zeros);
  for (let i = digits.length - 1; i >= 0; i--) out += ALPHABET[digits[i]!];
  return out;
}

/** The 33-byte compressed form of a secp256k1 public key (compressed or 65-byte uncompressed). */
export function compressPublicKey(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length === 33) return publicKey;
  const full = uncompressPublicKey(publicKey);
  const out = new Uint8Array(33);
  out[0] = 0x02 | (full[64]! & 1);
  out.set(full.subarray(1, 33), 1);
  return out;
}

const PREFIX = Uint8Array.of(0x00, 0x25, 0x08, 0x02, 0x12, 0x21);

/** The peer id (`16Uiu2…`) of a secp256k1 public key. */
export function peerIdOfPublicKey(publicKey: Uint8Array): string {
  const mh = new Uint8Array(PREFIX.length + 33);
  mh.set(PREFIX, 0);
  mh.set(compressPublicKey(publicKey), PREFIX.length);
  return base58(mh);
}
