/**
 * Operations: the changes an update applies to a state.
 *
 * An update is a list of operations applied in order, then the version is bumped by exactly
 * one. Each operation names `by`, the participant who asked for it; the transition rules
 * check that `by` may ask for it (a payment is paid by `by`, a lock is sent by `by`, ...).
 * `id` is chosen by `by` (unique among its own operations) so each operation gets its own
 * result even when many share one update.
 */
import { type Bytes32, equalBytes } from './bytes.ts';
import type { ParticipantIndex } from './params.ts';
import type { Balances, Lock } from './state.ts';

/** The most operations one update may carry (bounds message size and validation work). */
export const MAX_OPS = 2048;

interface OpBase {
  /** Chosen by `by`; unique among `by`'s operations on this channel (uint64). */
  readonly id: bigint;
  /** The participant who asked for the operation. */
  readonly by: ParticipantIndex;
}

/** `by` pays `amount` of `asset` to the other participant. */
export interface PayOp extends OpBase {
  readonly kind: 'pay';
  readonly asset: number;
  readonly amount: bigint;
}

/**
 * An atomic exchange: `by` gives `giveAmount` of `giveAsset` and receives `takeAmount` of
 * `takeAsset` from the other participant, in the same version, or neither happens.
 */
export interface SwapOp extends OpBase {
  readonly kind: 'swap';
  readonly giveAsset: number;
  readonly giveAmount: bigint;
  readonly takeAsset: number;
  readonly takeAmount: bigint;
  /** Unix seconds after which the swap may no longer be applied. */
  readonly expiry: bigint;
}

/** `by` (the lock's sender) moves `lock.amount` from its balance into a new hash-locked transfer. */
export interface LockOp extends OpBase {
  readonly kind: 'lock';
  readonly lock: Lock;
  /**
   * A routed lock's onion (src/core/forwarding/onion.ts): opaque to the channel, for the lock's
   * receiver to read with its node key. Not part of the state: it rides the operation only.
   */
  readonly onion?: Uint8Array;
}

/** The largest onion a lock operation carries. */
export const MAX_OP_ONION_BYTES = 8_192;
/** The largest failure report a cancel carries. */
export const MAX_OP_FAILURE_BYTES = 1_024;

/** Pays a lock to its receiver, proven by the 32-byte `secret` whose keccak256 is the hashlock. */
export interface SettleOp extends OpBase {
  readonly kind: 'settle';
  readonly lockId: bigint;
  readonly secret: Bytes32;
}

/** Returns a lock to its sender: by the receiver at any time, by the sender after the expiry. */
export interface CancelOp extends OpBase {
  readonly kind: 'cancel';
  readonly lockId: bigint;
  /** A routed lock failed downstream: the failing hop's sealed report, passed back towards the payer. */
  readonly failure?: Uint8Array;
}

/**
 * Credits a deposit's surplus (what it brought beyond its participant's version-0 share) to the
 * participant the deposit was made for, whoever proposes it. Surpluses are credited in chain
 * order, one after another (src/core/deposits.ts).
 */
export interface DepositOp extends OpBase {
  readonly kind: 'deposit';
  readonly asset: number;
  readonly amount: bigint;
  /** Identifies the deposit: the channel's on-chain holdings of the asset right after it. */
  readonly holdingsAfter: bigint;
}

/** Marks the state final, for a cooperative close. Requires no pending locks. */
export interface FinalizeOp extends OpBase {
  readonly kind: 'finalize';
}

export type Op = PayOp | SwapOp | LockOp | SettleOp | CancelOp | DepositOp | FinalizeOp;
export type OpKind = Op['kind'];

/** A deposit observed on-chain (a `Deposited` event), passed to the core as a fact. */
export interface DepositFact {
  readonly asset: number;
  readonly participant: ParticipantIndex;
  readonly amount: bigint;
  readonly holdingsAfter: bigint;
}

/** Facts from outside the core that a transition may depend on. */
export interface TransitionContext {
  /** Current time, unix seconds (the node's clock; compared with lock and swap expiries). */
  readonly now: bigint;
  /** On-chain deposits to the channel, for crediting top-ups. */
  readonly deposits?: readonly DepositFact[];
  /** Version 0's balances: each participant's committed share, which its first deposits fill. */
  readonly shares?: Balances;
  /**
   * When a hashlock's secret was registered on-chain (chain seconds), as this node saw it. A lock
   * whose secret was registered before its expiry pays its receiver on-chain whatever the clock
   * says now, so off-chain it may still be settled, and no longer cancelled (docs/adr/0011).
   */
  readonly revealedAt?: (hashlock: Bytes32) => bigint | undefined;
  /**
   * Seconds before a lock's expiry from which it is settled only through the registry, not
   * off-chain: the time a node needs to register a secret it learns late (docs/adr/0011). 0 if absent.
   */
  readonly settleMargin?: bigint;
}

/** Structural equality of two operations (used to match a proposal against a request). */
export function sameOp(a: Op, b: Op): boolean {
  if (a.kind !== b.kind || a.id !== b.id || a.by !== b.by) return false;
  switch (a.kind) {
    case 'pay': {
      const o = b as PayOp;
      return a.asset === o.asset && a.amount === o.amount;
    }
    case 'swap': {
      const o = b as SwapOp;
      return (
        a.giveAsset === o.giveAsset &&
        a.giveAmount === o.giveAmount &&
        a.takeAsset === o.takeAsset &&
        a.takeAmount === o.takeAmount &&
        a.expiry === o.expiry
      );
    }
    case 'lock': {
      const x = a.lock;
      const y = (b as LockOp).lock;
      return (
        x.id === y.id &&
        x.asset === y.asset &&
        x.amount === y.amount &&
        x.sender === y.sender &&
        x.receiver === y.receiver &&
        x.hashlock === y.hashlock &&
        x.expiry === y.expiry &&
        sameBytes(a.onion, (b as LockOp).onion)
      );
    }
    case 'settle': {
      const o = b as SettleOp;
      return a.lockId === o.lockId && a.secret === o.secret;
    }
    case 'cancel':
      return a.lockId === (b as CancelOp).lockId && sameBytes(a.failure, (b as CancelOp).failure);
    case 'deposit': {
      const o = b as DepositOp;
      return a.asset === o.asset && a.amount === o.amount && a.holdingsAfter === o.holdingsAfter;
    }
    case 'finalize':
      return true;
  }
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === undefined || b === undefined ? a === b : equalBytes(a, b);
}
