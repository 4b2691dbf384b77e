/**
 * A node's libp2p peer id and Ethereum address from its secp256k1 public key, computed here so
 * that an invoice needs to carry neither: the payee's key is recovered from the invoice's
 * signature, and a route hint carries its hop's 33-byte compressed key.
 *
 * The peer id of a secp256k1 key is (libp2p peer-ids spec) the identity multihash of the key's
 * protobuf encoding `PublicKey { Type: Secp256k1 (2), Data: <33-byte compressed key> }`, in
 * base58btc: `16Uiu2…`. test/core/payments/invoice.test.ts checks it against the transport's peer ids.
 */
import * as secp from '@noble/secp256k1';
import { base58 } from '@scure/base';
import { type Address, bytesToHex, concatBytes, type Hex } from '../bytes.ts';
import { publicKeyToAddress } from '../crypto.ts';

/** protobuf field 1 (Type, varint) = 2 (Secp256k1), field 2 (Data, bytes) of 33 bytes. */
const PROTOBUF_HEADER = Uint8Array.of(0x08, 0x02, 0x12, 0x21);
/** Multihash: code 0x00 (identity), length 37 (the protobuf above). */
const MULTIHASH_HEADER = Uint8Array.of(0x00, 0x25);

/** A node as an invoice names it: the key, and the address and peer id it determines. */
export interface NodeIdentity {
  /** The secp256k1 public key, compressed (33 bytes), as 0x hex. */
  readonly publicKey: Hex;
  readonly address: Address;
  readonly peerId: string;
}

/**
 * The 33-byte compressed form of a public key (33 or 65 bytes), or undefined when it is not a
 * point on the curve.
 */
export function compressPublicKey(publicKey: Uint8Array): Uint8Array | undefined {
  if (!(publicKey instanceof Uint8Array) || (publicKey.length !== 33 && publicKey.length !== 65)) return undefined;
  try {
    return secp.Point.fromBytes(publicKey).toBytes(true);
  } catch {
    return undefined;
  }
}

/** The libp2p peer id of a secp256k1 public key (33 or 65 bytes, already known to be valid). */
export function peerIdOf(publicKey: Uint8Array): string {
  const compressed = publicKey.length === 33 ? publicKey : secp.Point.fromBytes(publicKey).toBytes(true);
  return base58.encode(concatBytes(MULTIHASH_HEADER, PROTOBUF_HEADER, compressed));
}

/** Address and peer id of a public key, or undefined when it is not a point on the curve. */
export function identityOf(publicKey: Uint8Array): NodeIdentity | undefined {
  const compressed = compressPublicKey(publicKey);
  if (compressed === undefined) return undefined;
  return { publicKey: bytesToHex(compressed), address: publicKeyToAddress(compressed), peerId: peerIdOf(compressed) };
}

/**
 * The compressed secp256k1 key a peer id names, or undefined when the id is not that of a
 * secp256k1 key (a route's onion is sealed to each hop's key, known from its peer id).
 */
export function publicKeyOfPeerId(peerId: string): Uint8Array | undefined {
  let bytes: Uint8Array;
  try {
    bytes = base58.decode(peerId);
  } catch {
    return undefined;
  }
  const head = MULTIHASH_HEADER.length + PROTOBUF_HEADER.length;
  if (bytes.length !== head + 33) return undefined;
  for (let i = 0; i < MULTIHASH_HEADER.length; i++) if (bytes[i] !== MULTIHASH_HEADER[i]) return undefined;
  for (let i = 0; i < PROTOBUF_HEADER.length; i++) if (bytes[MULTIHASH_HEADER.length + i] !== PROTOBUF_HEADER[i]) return undefined;
  return compressPublicKey(bytes.subarray(head));
}
