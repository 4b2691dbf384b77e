/**
 * A memoizing {@link OnionCurve} (ADR 0021). A payer that reuses an ephemeral key for a hop (onion
 * version 2, a salt per layer) and a hop that peels many layers sealed with one ephemeral key ask
 * for the same ECDH again and again; each costs ~40–60 µs in libsecp256k1, more than the rest of
 * a layer. This wrapper computes it once per (private key, public key) pair.
 *
 * - Private keys are told apart by identity (a WeakMap on the array), never copied or turned into
 *   strings: a payer's session key and the node key are long-lived arrays, and a fresh key per
 *   payment is simply never found again.
 * - Each private key's table keeps at most `max` public keys (the oldest go first), so a peer
 *   sending onions under endless fresh ephemeral keys costs an ECDH each, as without the cache,
 *   and a bounded amount of memory.
 * - Results are shared arrays: the onion code only reads them (HKDF input).
 */
import { bytesToHex } from '../core/bytes.ts';
import type { OnionCurve } from '../core/forwarding/onion.ts';

export function cachingOnionCurve(curve: OnionCurve, max = 4096): OnionCurve {
  const shared = new WeakMap<Uint8Array, Map<string, Uint8Array>>();
  const publics = new WeakMap<Uint8Array, Uint8Array>();
  const points = new Map<string, boolean>();
  return {
    sharedX(privateKey, publicKey) {
      let table = shared.get(privateKey);
      if (!table) shared.set(privateKey, (table = new Map()));
      const k = bytesToHex(publicKey);
      const hit = table.get(k);
      if (hit !== undefined) return hit;
      const x = curve.sharedX(privateKey, publicKey);
      if (table.size >= max) table.delete(table.keys().next().value!);
      table.set(k, x);
      return x;
    },
    publicKey(privateKey) {
      const hit = publics.get(privateKey);
      if (hit !== undefined) return hit;
      const p = curve.publicKey(privateKey);
      publics.set(privateKey, p);
      return p;
    },
    isPoint(publicKey) {
      const k = bytesToHex(publicKey);
      const hit = points.get(k);
      if (hit !== undefined) return hit;
      const ok = curve.isPoint(publicKey);
      if (points.size >= max) points.delete(points.keys().next().value!);
      points.set(k, ok);
      return ok;
    },
  };
}
