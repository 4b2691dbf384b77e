/**
 * EIP-712 typed-data hashing of channel states, byte for byte what `LanesAdjudicator` computes.
 *
 * Domain: `EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)`
 * with name "Lanes", version "1", the channel's chain id and the adjudicator address.
 *
 * The encoding follows https://eips.ethereum.org/EIPS/eip-712: `uint256[]` is hashed as the
 * keccak of its concatenated 32-byte words, `Lock[]` as the keccak of the concatenated
 * `hashStruct` of each lock. A state without locks therefore costs one constant hash
 * ({@link EMPTY_ARRAY_HASH}) on-chain and off.
 *
 * These functions are hand-written over bytes because they run for every update; the test
 * suite checks them against viem's independent `hashTypedData` and against the contract.
 */
import {
  type Address,
  type Bytes32,
  type Hex,
  bytesToHex,
  concatBytes,
  hexToBytes,
  keccak256,
  utf8,
  writeAddressWord,
  writeWord,
} from './bytes.ts';
import type { ChannelParams } from './params.ts';
import type { ChannelState, Lock } from './state.ts';

export const DOMAIN_NAME = 'Lanes';
export const DOMAIN_VERSION = '1';

export const DOMAIN_TYPE = 'EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)';
export const LOCK_TYPE = 'Lock(uint64 id,uint8 asset,uint256 amount,uint8 sender,uint8 receiver,bytes32 hashlock,uint64 expiry)';
export const STATE_TYPE = `State(bytes32 channelId,uint64 version,uint256[] balances,Lock[] locks,bool isFinal)${LOCK_TYPE}`;

export const DOMAIN_TYPEHASH = keccak256(utf8(DOMAIN_TYPE));
export const LOCK_TYPEHASH = keccak256(utf8(LOCK_TYPE));
export const STATE_TYPEHASH = keccak256(utf8(STATE_TYPE));
/** keccak256 of the empty byte string: the hash of an empty EIP-712 array. */
export const EMPTY_ARRAY_HASH = keccak256(new Uint8Array(0));

const NAME_HASH = keccak256(utf8(DOMAIN_NAME));
const VERSION_HASH = keccak256(utf8(DOMAIN_VERSION));

/** The domain separator for one chain and adjudicator deployment. */
export function domainSeparator(chainId: bigint, adjudicator: Address): Uint8Array {
  const buf = new Uint8Array(32 * 5);
  buf.set(DOMAIN_TYPEHASH, 0);
  buf.set(NAME_HASH, 32);
  buf.set(VERSION_HASH, 64);
  writeWord(buf, 96, chainId);
  writeAddressWord(buf, 128, adjudicator);
  return keccak256(buf);
}

const domainCache = new Map<string, Uint8Array>();

/** Per params object: a channel's params object lives as long as the channel. */
const byParams = new WeakMap<object, Uint8Array>();

/** {@link domainSeparator}, memoised: a node talks to one or a few deployments. */
export function domainSeparatorOf(params: Pick<ChannelParams, 'chainId' | 'adjudicator'>): Uint8Array {
  const cached = byParams.get(params);
  if (cached !== undefined) return cached;
  const key = `${params.chainId}:${params.adjudicator}`;
  let sep = domainCache.get(key);
  if (sep === undefined) {
    sep = domainSeparator(params.chainId, params.adjudicator);
    if (domainCache.size > 1024) domainCache.clear(); // bound memory; recomputing is cheap
    domainCache.set(key, sep);
  }
  byParams.set(params, sep);
  return sep;
}

export function hashLock(lock: Lock): Uint8Array {
  const buf = new Uint8Array(32 * 8);
  buf.set(LOCK_TYPEHASH, 0);
  writeWord(buf, 32, lock.id);
  writeWord(buf, 64, BigInt(lock.asset));
  writeWord(buf, 96, lock.amount);
  writeWord(buf, 128, BigInt(lock.sender));
  writeWord(buf, 160, BigInt(lock.receiver));
  buf.set(hexToBytes(lock.hashlock), 192);
  writeWord(buf, 224, lock.expiry);
  return keccak256(buf);
}

/** keccak256 of the flattened balances `[a0p0, a0p1, a1p0, a1p1, ...]`. */
export function hashBalances(state: ChannelState): Uint8Array {
  const buf = new Uint8Array(64 * state.balances.length);
  state.balances.forEach(([p0, p1], i) => {
    writeWord(buf, 64 * i, p0);
    writeWord(buf, 64 * i + 32, p1);
  });
  return keccak256(buf);
}

export function hashLocks(locks: readonly Lock[]): Uint8Array {
  if (locks.length === 0) return EMPTY_ARRAY_HASH;
  const buf = new Uint8Array(32 * locks.length);
  locks.forEach((lock, i) => buf.set(hashLock(lock), 32 * i));
  return keccak256(buf);
}

/** EIP-712 `hashStruct(state)`. */
export function hashState(state: ChannelState): Uint8Array {
  const buf = new Uint8Array(32 * 6);
  buf.set(STATE_TYPEHASH, 0);
  buf.set(hexToBytes(state.channelId), 32);
  writeWord(buf, 64, state.version);
  buf.set(hashBalances(state), 96);
  buf.set(hashLocks(state.locks), 128);
  writeWord(buf, 160, state.isFinal ? 1n : 0n);
  return keccak256(buf);
}

const PREFIX_1901 = Uint8Array.of(0x19, 0x01);

/** The 32-byte digest that both participants sign: `keccak256(0x1901 ‖ domain ‖ hashStruct)`. */
export function stateDigest(params: Pick<ChannelParams, 'chainId' | 'adjudicator'>, state: ChannelState): Uint8Array {
  return keccak256(concatBytes(PREFIX_1901, domainSeparatorOf(params), hashState(state)));
}

/** JSON-friendly typed data (viem's `signTypedData` / wallets' `eth_signTypedData_v4` shape). */
export interface StateTypedData {
  readonly domain: { name: string; version: string; chainId: bigint; verifyingContract: Address };
  readonly types: {
    readonly State: readonly { name: string; type: string }[];
    readonly Lock: readonly { name: string; type: string }[];
  };
  readonly primaryType: 'State';
  readonly message: {
    channelId: Bytes32;
    version: bigint;
    balances: bigint[];
    locks: { id: bigint; asset: number; amount: bigint; sender: number; receiver: number; hashlock: Hex; expiry: bigint }[];
    isFinal: boolean;
  };
}

export const STATE_TYPES: StateTypedData['types'] = {
  State: [
    { name: 'channelId', type: 'bytes32' },
    { name: 'version', type: 'uint64' },
    { name: 'balances', type: 'uint256[]' },
    { name: 'locks', type: 'Lock[]' },
    { name: 'isFinal', type: 'bool' },
  ],
  Lock: [
    { name: 'id', type: 'uint64' },
    { name: 'asset', type: 'uint8' },
    { name: 'amount', type: 'uint256' },
    { name: 'sender', type: 'uint8' },
    { name: 'receiver', type: 'uint8' },
    { name: 'hashlock', type: 'bytes32' },
    { name: 'expiry', type: 'uint64' },
  ],
};

/** The state as EIP-712 typed data, for wallets and for independent re-hashing. */
export function stateTypedData(params: Pick<ChannelParams, 'chainId' | 'adjudicator'>, state: ChannelState): StateTypedData {
  return {
    domain: { name: DOMAIN_NAME, version: DOMAIN_VERSION, chainId: params.chainId, verifyingContract: params.adjudicator },
    types: STATE_TYPES,
    primaryType: 'State',
    message: {
      channelId: state.channelId,
      version: state.version,
      balances: state.balances.flatMap(([a, b]) => [a, b]),
      locks: state.locks.map((l) => ({ ...l })),
      isFinal: state.isFinal,
    },
  };
}

export function digestHex(digest: Uint8Array): Bytes32 {
  return bytesToHex(digest) as Bytes32;
}
