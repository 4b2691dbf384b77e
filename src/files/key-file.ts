/**
 * The node's key file: the 32-byte secp256k1 key as 0x hex, readable by its owner only. The
 * daemon creates it on first start (mode 0600) and refuses to start with a key file that group
 * or others can read, the way ssh refuses such keys.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { type Hex, bytesToHex, hexToBytes } from '../core/bytes.ts';
import { isValidPrivateKey } from '../core/crypto.ts';
import { LanesError } from '../core/errors.ts';

export class KeyFileError extends LanesError {
  override name = 'KeyFileError';
  constructor(message: string, details?: string) {
    super(message, { code: 'KEY_FILE', ...(details === undefined ? {} : { details }) });
  }
}

/** A new random key (rejection-sampled into the curve order). */
export function generateKey(): Uint8Array {
  for (;;) {
    const k = new Uint8Array(randomBytes(32));
    if (isValidPrivateKey(k)) return k;
  }
}

/** Writes a new key file; refuses to overwrite one. */
export function createKeyFile(path: string, key: Uint8Array = generateKey()): Uint8Array {
  if (existsSync(path)) throw new KeyFileError(`key file ${path} already exists; refusing to overwrite it`);
  writeFileSync(path, `${bytesToHex(key)}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600); // the umask may have cleared bits, never added them, but be explicit
  return key;
}

/** Reads a key file, refusing one that group or others may read or write. */
export function readKeyFile(path: string): Uint8Array {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new KeyFileError(
      `key file ${path} is accessible to other users (mode ${mode.toString(8).padStart(4, '0')})`,
      `run: chmod 600 ${path}`,
    );
  }
  const text = readFileSync(path, 'utf8').trim();
  if (!/^0x[0-9a-fA-F]{64}$/.test(text)) throw new KeyFileError(`key file ${path} does not hold a 0x-prefixed 32-byte hex key`);
  const key = hexToBytes(text as Hex);
  if (!isValidPrivateKey(key)) throw new KeyFileError(`key file ${path} does not hold a valid secp256k1 key`);
  return key;
}

/** Reads the key file, creating it first if it does not exist. */
export function loadOrCreateKey(path: string): { key: Uint8Array; created: boolean } {
  if (!existsSync(path)) return { key: createKeyFile(path), created: true };
  return { key: readKeyFile(path), created: false };
}
