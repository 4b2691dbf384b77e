/**
 * The channel state: what both parties sign, version by version.
 *
 * Funds of each asset are either in a participant's balance or in a pending hash-locked
 * transfer. Every transition keeps, per asset, `balances[0] + balances[1] + locked` constant
 * (a top-up, backed by a chain fact, is the one transition that raises it).
 */
import { type Bytes32, MAX_UINT256 } from './bytes.ts';
import type { ChannelParams, ParticipantIndex } from './params.ts';
import { channelId } from './params.ts';

/**
 * The most locks one state may carry: the lock tree's capacity (src/core/locks.ts, 2^10). The
 * signed state commits to them by a root, so their number changes neither the signature nor a
 * dispute's cost; it bounds message size and memory.
 */
export const MAX_LOCKS = 1024;

/**
 * The most one channel may hold of one asset (2^128 - 1), as the adjudicator enforces it on every
 * deposit. Far above any real token's supply, and low enough that no sum the contract keeps (a
 * batch's netted payouts, an account's withdrawable balance) can ever overflow, whatever a token
 * claims to have transferred (docs/adr/0008).
 */
export const MAX_HOLDINGS = 2n ** 128n - 1n;

/** A hash-locked transfer: paid to the receiver if the secret is revealed before the expiry. */
export interface Lock {
  /** Unique among the channel's locks, chosen by the sender (uint64). */
  readonly id: bigint;
  /** Index into {@link ChannelParams.assets}. */
  readonly asset: number;
  readonly amount: bigint;
  readonly sender: ParticipantIndex;
  /** Always the other participant; carried explicitly so signed data is self-describing. */
  readonly receiver: ParticipantIndex;
  /** keccak256 of the 32-byte secret. */
  readonly hashlock: Bytes32;
  /** Unix time in seconds (compared with `block.timestamp` on-chain). */
  readonly expiry: bigint;
}

/** One participant pair of balances per asset: `[participant0, participant1]`. */
export type Balances = readonly (readonly [bigint, bigint])[];

export interface ChannelState {
  readonly channelId: Bytes32;
  /** Strictly increasing; the highest co-signed version wins on-chain. */
  readonly version: bigint;
  /** `balances[asset][participant]`, aligned with {@link ChannelParams.assets}. */
  readonly balances: Balances;
  readonly locks: readonly Lock[];
  /** A final state closes the channel cooperatively; nothing follows it. */
  readonly isFinal: boolean;
}

/** Version 0: the deposits each party committed to when opening. */
export function initialState(params: ChannelParams, deposits: Balances): ChannelState {
  return {
    channelId: channelId(params),
    version: 0n,
    balances: deposits.map(([a, b]) => [a, b] as const),
    locks: [],
    isFinal: false,
  };
}

/** Per-asset total held by the state: both balances plus every lock of that asset. */
export function totals(state: ChannelState): bigint[] {
  const out = state.balances.map(([a, b]) => a + b);
  for (const lock of state.locks) out[lock.asset] = (out[lock.asset] ?? 0n) + lock.amount;
  return out;
}

/** True when every per-asset total fits in a uint256 (what the contract can represent). */
export function totalsFit(state: ChannelState): boolean {
  return totals(state).every((t) => t <= MAX_UINT256);
}

export function findLock(state: ChannelState, id: bigint): Lock | undefined {
  return state.locks.find((l) => l.id === id);
}

/**
 * A state as the adjudicator holds it: its locks only by their tree's root (docs/adr/0010). What
 * a challenge transaction's calldata carries; the node rebuilds the lock list from what it signed.
 */
export interface StateCommitment {
  readonly channelId: Bytes32;
  readonly version: bigint;
  readonly balances: Balances;
  readonly locksRoot: Bytes32;
  readonly isFinal: boolean;
}

/** A {@link StateCommitment} with both participants' signatures. */
export interface SignedCommitment {
  readonly state: StateCommitment;
  readonly signatures: readonly [Uint8Array, Uint8Array];
}
