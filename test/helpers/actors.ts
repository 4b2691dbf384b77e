/**
 * Named actors with fixed keys, so test logs and vectors are readable and reproducible.
 * Keys are keccak256 of the name: never use them for real funds.
 */
import { type Address, keccak256, privateKeyToAddress, nobleBackend, utf8 } from '../../src/core/index.ts';

export interface Actor {
  readonly name: string;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly address: Address;
}

export function actor(name: string): Actor {
  const privateKey = keccak256(utf8(name));
  return {
    name,
    privateKey,
    publicKey: nobleBackend.publicKey(privateKey, true),
    address: privateKeyToAddress(privateKey),
  };
}

export const alice = actor('alice');
export const bob = actor('bob');
export const irene = actor('irene');
export const mallory = actor('mallory');
