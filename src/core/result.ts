/**
 * Expected protocol outcomes are values, not exceptions (see docs/adr/0002-errors-as-values.md).
 *
 * A transition or validation either succeeds with a value or fails with one reason from the
 * closed set {@link REJECT_REASONS}. The same reasons travel on the wire in a `reject`
 * message, so a peer always learns precisely why its message was refused.
 */

/** Every reason a message, update or state can be rejected for. A closed set: add here first. */
export const REJECT_REASONS = [
  // Structure and identity
  'malformed', // undecodable bytes, wrong field types, or limits exceeded
  'unknown-channel', // no channel with this id is known to the receiver
  'wrong-channel', // the state or signature names a different channel
  'unknown-asset', // asset index is not one of the channel's assets
  // Versions
  'stale-version', // version is not above the latest co-signed one (a replay)
  'version-gap', // version skips too far ahead of the next acceptable one
  // Signatures and authority
  'invalid-signature', // not a valid low-S secp256k1 signature over this state
  'wrong-signer', // a valid signature, but not by the required participant
  'not-authorized', // this participant may not propose this operation
  // Amounts
  'invalid-amount', // zero, negative, or above uint256
  'insufficient-balance', // the payer (or lock sender, swap side) has too little
  'overflow', // a balance would exceed uint256
  'deposit-exceeds-holdings', // a top-up claims more than the chain holds for the channel
  // Locks
  'too-many-locks',
  'duplicate-lock',
  'unknown-lock',
  'lock-expired', // settling a lock at or after its expiry
  'lock-not-expired', // cancelling someone else's lock before its expiry
  'lock-revealed', // cancelling a lock whose secret was registered on-chain before its expiry: it is the receiver's
  'wrong-secret', // the secret does not hash to the lock's hashlock
  'invalid-expiry',
  // Swaps
  'swap-expired',
  'invalid-swap', // same asset on both legs, or a malformed leg
  // Lifecycle
  'channel-final', // no update is possible after the final state
  'pending-locks', // finalising needs every lock settled or cancelled first
  'state-mismatch', // the proposed state is not what the operations produce
  'too-many-ops',
  // Policy and flow (decided by the receiver's configuration, not by the rules)
  'policy', // the receiver's policy declined (an open or a swap it does not want)
  'closed', // the channel is closing or closed
  'internal', // the receiver failed for a reason of its own; nothing was applied
] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];

const REASON_SET: ReadonlySet<string> = new Set(REJECT_REASONS);

export function isRejectReason(value: unknown): value is RejectReason {
  return typeof value === 'string' && REASON_SET.has(value);
}

export interface Ok<T> {
  readonly ok: true;
  readonly value: T;
}

export interface Rejected {
  readonly ok: false;
  readonly reason: RejectReason;
  readonly detail: string;
}

export type Result<T> = Ok<T> | Rejected;

export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

export function reject(reason: RejectReason, detail: string): Rejected {
  return { ok: false, reason, detail };
}
