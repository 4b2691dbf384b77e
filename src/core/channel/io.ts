/**
 * What goes into the channel machine and what comes out (docs/adr/0009).
 *
 * Inputs are everything that can happen to a channel: a message from the counterparty, a local
 * request, a chain fact, the passing of time, and the completion of an effect the machine asked
 * for (a signature, a verification, a flush, a submission). Effects are everything the machine
 * wants done; the node executes them in order and feeds their completions back as inputs,
 * tagged with the token the effect carried.
 */
import type { Bytes32 } from '../bytes.ts';
import type { Message } from '../codec/messages.ts';
import type { DepositFact, Op } from '../ops.ts';
import type { RejectReason } from '../result.ts';
import type { ChannelState, SignedCommitment } from '../state.ts';
import type { SignedState } from '../validate.ts';
import type { ChannelRecord, ChannelStatus, LossRecord } from './record.ts';

/** Names a local caller waiting for an operation's result (allocated by the node). */
export type CallerId = number;

/** The time a step runs at: the node's clock, and the chain's when the node knows it. */
export interface Now {
  /** Unix milliseconds, the node's clock (timeouts). */
  readonly ms: number;
  /** The latest block's timestamp, unix seconds (challenge deadlines), when known. */
  readonly chainTime?: bigint;
}

/** The counterparty as the transport authenticated it. */
export interface PeerKey {
  readonly peerId: string;
  /** Its secp256k1 public key (uncompressed or compressed), for verifying its signatures. */
  readonly publicKey: Uint8Array;
}

/** A fact read from the adjudicator's events (or from its state at start). */
export type ChainFact =
  | { readonly kind: 'deposited'; readonly deposit: DepositFact }
  /** The channel's deposits were read again from the chain (after a `check-funding`). */
  | { readonly kind: 'deposits-refreshed' }
  | {
      readonly kind: 'challenged';
      readonly version: bigint;
      readonly finalizesAt: bigint;
      readonly transactionHash: Bytes32;
      /**
       * The registered state with both signatures, from the transaction's calldata, when it could
       * be read: its locks only by root (the machine rebuilds them from what it signed).
       */
      readonly registered?: SignedCommitment;
    }
  /** A lock of the state the channel concluded with was paid out (`Unlocked`). */
  | { readonly kind: 'unlocked'; readonly index: number }
  /** A hashlock's secret was registered on-chain at chain time `at` (`SecretRevealed`). */
  | { readonly kind: 'secret-revealed'; readonly hashlock: Bytes32; readonly secret: Bytes32; readonly at: bigint }
  | {
      readonly kind: 'settled';
      readonly how: 'closed' | 'concluded';
      readonly version: bigint;
      readonly transactionHash: Bytes32;
      /** A cooperative close's final state with both signatures, from its calldata, when it could be read. */
      readonly signed?: SignedState;
    };

/** Outcome of a submission, as the node (or the coordinator for it) saw it. */
export interface SubmissionResult {
  readonly ok: boolean;
  /** The adjudicator's reason for refusing the item, or `error` when the submission itself failed. */
  readonly reason?: string;
  readonly transactionHash?: Bytes32;
}

export type Input =
  | { readonly kind: 'message'; readonly message: Message }
  /** Our own operations, in one input per tick so they share a request or a proposal. */
  | { readonly kind: 'ops'; readonly ops: readonly { readonly op: Op; readonly caller: CallerId }[] }
  /** `direct`: submit to the adjudicator ourselves, not through the coordinator. */
  | { readonly kind: 'close'; readonly caller: CallerId; readonly direct?: boolean }
  | { readonly kind: 'force-close'; readonly caller: CallerId; readonly direct?: boolean }
  | { readonly kind: 'connected'; readonly peer: PeerKey }
  /** Where the counterparty listens now (learned through identify), to redial it later. */
  | { readonly kind: 'peer-addresses'; readonly multiaddrs: readonly string[] }
  | { readonly kind: 'disconnected' }
  /**
   * Learned secrets (record.learned) the node no longer needs: the lock each paid us for upstream
   * is settled or gone, or (a payer) the payment record holds it. Flushed.
   */
  | { readonly kind: 'forget-learned'; readonly hashlocks: readonly string[] }
  | { readonly kind: 'chain'; readonly fact: ChainFact }
  /** Time passed: retries, conclusions, reconciliation and timeouts are due. */
  | { readonly kind: 'tick'; readonly operationTimeoutMs: number }
  | { readonly kind: 'signed'; readonly token: number; readonly signature: Uint8Array }
  | { readonly kind: 'verified'; readonly token: number; readonly ok: boolean }
  | { readonly kind: 'flushed'; readonly token: number }
  /** `failed`: the policy itself failed (threw), rather than deciding. */
  | {
      readonly kind: 'decided';
      readonly token: number;
      readonly refused: readonly { readonly id: bigint; readonly reason: string; readonly failed?: boolean }[];
    }
  | { readonly kind: 'submitted'; readonly token: number; readonly result: SubmissionResult };

/** What the node submits to the chain for the channel (itself, or through the coordinator). */
export type Submission =
  | { readonly kind: 'deposit'; readonly amounts: readonly bigint[] }
  | { readonly kind: 'close'; readonly signed: SignedState; readonly direct?: boolean }
  /** Registers `signed` (a forced close, or the answer to a stale state before `deadline`). */
  | { readonly kind: 'dispute'; readonly signed: SignedState; readonly deadline?: bigint; readonly direct?: boolean }
  | { readonly kind: 'conclude'; readonly state: ChannelState }
  /** Pays out locks of the state the channel concluded with, by slot. */
  | { readonly kind: 'unlock'; readonly state: ChannelState; readonly indexes: readonly number[] };

/** Why an operation failed, for its caller. */
export interface Failure {
  readonly reason: RejectReason | 'timeout' | 'unreachable';
  readonly detail: string;
  /**
   * A state that carries the operation may still be enforced on-chain (the counterparty holds
   * our signature on it): the caller must not assume it did not happen.
   */
  readonly maybeApplied: boolean;
}

export type Effect =
  | { readonly kind: 'persist-record'; readonly record: ChannelRecord }
  | { readonly kind: 'persist-state'; readonly signed: SignedState }
  /** Complete with `flushed` once everything persisted before it is durable. */
  | { readonly kind: 'flush'; readonly token: number }
  | { readonly kind: 'send'; readonly message: Message }
  /** Complete with `signed`: our signature over `digest`. */
  | { readonly kind: 'sign'; readonly token: number; readonly digest: Uint8Array }
  /** Complete with `verified`: whether every signature is valid for its digest and key. */
  | {
      readonly kind: 'verify';
      readonly token: number;
      readonly checks: readonly { readonly signature: Uint8Array; readonly digest: Uint8Array; readonly publicKey: Uint8Array }[];
    }
  /** Complete with `decided`: which of these swaps the counterparty asks for our swap policy refuses. */
  | { readonly kind: 'decide-swaps'; readonly token: number; readonly swaps: readonly Extract<Op, { kind: 'swap' }>[] }
  /** Complete with `submitted`. */
  | { readonly kind: 'submit'; readonly token: number; readonly submission: Submission }
  /** Read the channel's deposits from the chain now (complete with a `deposits-refreshed` fact). */
  | { readonly kind: 'check-funding' }
  | { readonly kind: 'resolve'; readonly caller: CallerId; readonly version: bigint }
  | { readonly kind: 'fail'; readonly caller: CallerId; readonly failure: Failure }
  /** A co-signed state carrying `ops` is durable. */
  | { readonly kind: 'updated'; readonly version: bigint; readonly ops: readonly Op[] }
  | { readonly kind: 'status'; readonly status: ChannelStatus }
  | { readonly kind: 'answered'; readonly registered: bigint; readonly answered: bigint }
  /** The channel settled with an older state than ours, and it paid us less (record.loss). */
  | { readonly kind: 'loss'; readonly loss: LossRecord }
  | { readonly kind: 'penalize'; readonly why: string }
  | {
      readonly kind: 'log';
      readonly level: 'info' | 'warn';
      readonly message: string;
      readonly fields?: Readonly<Record<string, unknown>>;
    };
