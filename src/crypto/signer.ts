/**
 * The signer port: the node's signature work, asynchronous so it can run on worker threads.
 * Implementations: inline (on the calling thread) and a worker pool that batches many requests
 * into few hand-offs. Both produce byte-identical results with any conforming backend
 * (docs/adr/0001: RFC 6979 deterministic, low-S, r ‖ s ‖ v).
 */
export interface Signer {
  /** Signs a 32-byte digest with the node's key: 65 bytes r ‖ s ‖ v. */
  sign(digest: Uint8Array): Promise<Uint8Array>;
  /** Verifies a 65-byte signature over a digest against a 33- or 65-byte public key. */
  verify(signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): Promise<boolean>;
  /** Name of the backend and where it runs, for logs and benchmarks. */
  readonly description: string;
  close(): Promise<void>;
}
