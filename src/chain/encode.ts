/**
 * Conversions from core types to the adjudicator's ABI structs. The contract recomputes the
 * channel id and the EIP-712 digest from these, so they carry exactly what the core signed.
 */
import { type Address, type Bytes32, bytesToHex } from '../core/bytes.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import type { ChannelParams } from '../core/params.ts';
import { lockProof, locksRoot } from '../core/locks.ts';
import type { ChannelState, Lock } from '../core/state.ts';
import type { SignedState } from '../core/validate.ts';

export interface ContractParams {
  readonly participants: readonly [Address, Address];
  readonly assets: readonly Address[];
  readonly challengeDuration: bigint;
  readonly nonce: bigint;
}

export interface ContractSignature {
  readonly r: Bytes32;
  readonly s: Bytes32;
  readonly v: number;
}

export interface ContractLock {
  readonly id: bigint;
  readonly asset: number;
  readonly amount: bigint;
  readonly sender: number;
  readonly receiver: number;
  readonly hashlock: Bytes32;
  readonly expiry: bigint;
}

export interface CloseItem {
  readonly params: ContractParams;
  readonly version: bigint;
  readonly balances: readonly bigint[];
  readonly sigs: readonly [ContractSignature, ContractSignature];
}

export interface ChallengeItem {
  readonly params: ContractParams;
  readonly version: bigint;
  readonly balances: readonly bigint[];
  readonly locksRoot: Bytes32;
  readonly isFinal: boolean;
  readonly sigs: readonly [ContractSignature, ContractSignature];
}

export interface ConcludeItem {
  readonly params: ContractParams;
  readonly balances: readonly bigint[];
  readonly locksRoot: Bytes32;
  readonly isFinal: boolean;
}

/** A lock of a concluded state, at its slot of the lock tree, with its proof (docs/adr/0010). */
export interface UnlockItem {
  readonly params: ContractParams;
  readonly lock: ContractLock;
  readonly index: bigint;
  readonly proof: readonly Bytes32[];
}

export function contractParams(p: ChannelParams): ContractParams {
  return {
    participants: [p.participants[0], p.participants[1]],
    assets: [...p.assets],
    challengeDuration: p.challengeDuration,
    nonce: p.nonce,
  };
}

export function contractSignature(sig: Uint8Array): ContractSignature {
  if (sig.length !== 65) throw new InvalidArgumentError(`signature expected 65 bytes, got ${sig.length}`);
  return { r: bytesToHex(sig.subarray(0, 32)) as Bytes32, s: bytesToHex(sig.subarray(32, 64)) as Bytes32, v: sig[64]! };
}

export function flatBalances(state: ChannelState): bigint[] {
  return state.balances.flatMap(([a, b]) => [a, b]);
}

export function contractLock(l: Lock): ContractLock {
  return { id: l.id, asset: l.asset, amount: l.amount, sender: l.sender, receiver: l.receiver, hashlock: l.hashlock, expiry: l.expiry };
}

/** A final, lock-free, co-signed state as a cooperative-close item. */
export function closeItem(params: ChannelParams, signed: SignedState): CloseItem {
  if (!signed.state.isFinal || signed.state.locks.length > 0) {
    throw new InvalidArgumentError('a cooperative close needs a final state without locks');
  }
  return {
    params: contractParams(params),
    version: signed.state.version,
    balances: flatBalances(signed.state),
    sigs: [contractSignature(signed.signatures[0]), contractSignature(signed.signatures[1])],
  };
}

/** A co-signed state as a challenge (or response) item. */
export function challengeItem(params: ChannelParams, signed: SignedState): ChallengeItem {
  return {
    params: contractParams(params),
    version: signed.state.version,
    balances: flatBalances(signed.state),
    locksRoot: locksRoot(signed.state.locks),
    isFinal: signed.state.isFinal,
    sigs: [contractSignature(signed.signatures[0]), contractSignature(signed.signatures[1])],
  };
}

/** The registered state's contents as a conclude item. */
export function concludeItem(params: ChannelParams, state: ChannelState): ConcludeItem {
  return { params: contractParams(params), balances: flatBalances(state), locksRoot: locksRoot(state.locks), isFinal: state.isFinal };
}

/** The lock at slot `index` of `state` (the state a channel concluded with) as an unlock item. */
export function unlockItem(params: ChannelParams, state: ChannelState, index: number): UnlockItem {
  const lock = state.locks[index];
  if (!lock) throw new InvalidArgumentError(`the state has no lock at slot ${index}`);
  return { params: contractParams(params), lock: contractLock(lock), index: BigInt(index), proof: lockProof(state.locks, index) };
}
