/**
 * Keysend: a payment the payer starts without an invoice (docs/adr/0018). The payer chooses the
 * secret, so it has to reach the payee. Over a direct channel it travels in no message at all:
 * both sides derive it from what they already share, the ECDH key of their node keys, and from
 * the lock itself:
 *
 *   secret = keccak256("Lanes keysend v1\0" ‖ x(ECDH(payer, payee)) ‖ channelId ‖ lockId)
 *
 * The payee tries it on every incoming lock whose hashlock no invoice of its own explains: one
 * keccak per lock (the ECDH key is computed once per counterparty). Nobody but the two parties
 * can compute it. The payer knows the secret, so a settled keysend proves nothing the co-signed
 * state does not already prove (see the ADR for what a hostile payer can and cannot do with it).
 *
 * Pure: the private key is an argument (the node passes its own).
 */
import * as secp from '@noble/secp256k1';
import { type Bytes32, concatBytes, hexToBytes, keccak256Hex, uintToBytes, utf8 } from '../bytes.ts';

const TAG = utf8('Lanes keysend v1\u0000');

/** The x coordinate of the ECDH point of our key and the counterparty's (33- or 65-byte) public key. */
export function keysendKey(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  // The compressed shared point: a parity byte, then x (32 bytes).
  return secp.getSharedSecret(privateKey, peerPublicKey, true).slice(1);
}

/** The secret of a keysend lock `lockId` in channel `channelId`, from {@link keysendKey}. */
export function keysendSecret(key: Uint8Array, channelId: Bytes32, lockId: bigint): Bytes32 {
  const id = new Uint8Array(8);
  const raw = uintToBytes(lockId);
  id.set(raw, 8 - raw.length);
  return keccak256Hex(concatBytes(TAG, key, hexToBytes(channelId), id));
}
