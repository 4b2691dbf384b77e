/**
 * EIP-712 typed-data hashing of channel states, byte for byte what `LanesAdjudicator` computes.
 *
 * Domain: `EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)`
 * with name "Lanes", version "1", the channel's chain id and the adjudicator address.
 *
 * The encoding follows https://eips.ethereum.org/EIPS/eip-712: `uint256[]` is hashed as the
 * keccak of its concatenated 32-byte words. The state commits to its locks by `locksRoot`, the
 * root of the lock tree (src/core/locks.ts, docs/adr/0010): `0x00…00` without locks, so a state
 * without locks costs nothing extra on-chain or off, and one with hundreds costs the same
 * signature.
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
import { locksRootBytes } from './locks.ts';
import type { ChannelState } from './state.ts';

export const DOMAIN_NAME = 'Lanes';
export const DOMAIN_VERSION = '1';

export const DOMAIN_TYPE = 'EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)';
export const STATE_TYPE = 'State(bytes32 channelId,uint64 version,uint256[] balances,bytes32 locksRoot,bool isFinal)';

export const DOMAIN_TYPEHASH = keccak256(utf8(DOMAIN_TYPE));
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

/** keccak256 of the flattened balances `[a0p0, a0p1, a1p0, a1p1, ...]`. */
export function hashBalances(state: ChannelState): Uint8Array {
  const buf = new Uint8Array(64 * state.balances.length);
  state.balances.forEach(([p0, p1], i) => {
    writeWord(buf, 64 * i, p0);
    writeWord(buf, 64 * i + 32, p1);
  });
  return keccak256(buf);
}

/** EIP-712 `hashStruct(state)`. */
export function hashState(state: ChannelState): Uint8Array {
  const buf = new Uint8Array(32 * 6);
  buf.set(STATE_TYPEHASH, 0);
  buf.set(hexToBytes(state.channelId), 32);
  writeWord(buf, 64, state.version);
  buf.set(hashBalances(state), 96);
  buf.set(locksRootBytes(state.locks), 128);
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
  };
  readonly primaryType: 'State';
  readonly message: {
    channelId: Bytes32;
    version: bigint;
    balances: bigint[];
    locksRoot: Hex;
    isFinal: boolean;
  };
}

export const STATE_TYPES: StateTypedData['types'] = {
  State: [
    { name: 'channelId', type: 'bytes32' },
    { name: 'version', type: 'uint64' },
    { name: 'balances', type: 'uint256[]' },
    { name: 'locksRoot', type: 'bytes32' },
    { name: 'isFinal', type: 'bool' },
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
      locksRoot: bytesToHex(locksRootBytes(state.locks)),
      isFinal: state.isFinal,
    },
  };
}

export function digestHex(digest: Uint8Array): Bytes32 {
  return bytesToHex(digest) as Bytes32;
}
