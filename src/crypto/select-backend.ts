/**
 * Picks a {@link SignatureBackend}. Every backend gives byte-identical results (RFC 6979, low-S),
 * so the choice is purely about speed and about what loads on this platform.
 */
import { type SignatureBackend, nobleBackend } from '../core/crypto.ts';
import { InvalidArgumentError, LanesError } from '../core/errors.ts';
import { nativeBackend } from './native-backend.ts';

/** A backend name as accepted by configuration and by worker signers. */
export type BackendName = 'native' | 'noble';

/**
 * The fastest backend available: libsecp256k1 when its prebuilt addon loads, else noble, which
 * is pure JavaScript and so always available.
 */
export function bestBackend(): SignatureBackend {
  return nativeBackend() ?? nobleBackend;
}

/**
 * The backend with this name. Throws rather than falling back when `native` is asked for and
 * cannot load: an explicit choice (a benchmark, a config file) that silently ran 40x slower
 * would be misleading.
 */
export function backendByName(name: BackendName): SignatureBackend {
  if (name === 'noble') return nobleBackend;
  if (name === 'native') {
    const native = nativeBackend();
    if (native !== undefined) return native;
    throw new LanesError('The native secp256k1 backend is not available on this platform', {
      details: "the addon of the 'secp256k1' package failed to load; use the 'noble' backend instead",
      code: 'NATIVE_BACKEND_UNAVAILABLE',
    });
  }
  // Unreachable for typed callers; names also arrive from config files and the command line.
  throw new InvalidArgumentError(`Unknown signature backend: ${String(name)}`, { details: "expected 'native' or 'noble'" });
}
