/**
 * Channel parameters and the channel id.
 *
 * The id is `keccak256(abi.encode(chainId, adjudicator, participantA, participantB, assets,
 * challengeDuration, nonce))`, exactly what `LanesAdjudicator.channelId` computes on-chain with
 * `block.chainid` and `address(this)`. Binding the chain and the contract into the id means a
 * state can never be replayed against another chain or deployment, even before the EIP-712
 * domain is checked.
 */
import { type Address, type Bytes32, isAddress, isUint256, keccak256Hex, writeAddressWord, writeWord } from './bytes.ts';
import { type Result, ok, reject } from './result.ts';

/** The most assets one channel may hold. Bounds the cost of every on-chain item. */
export const MAX_ASSETS = 8;

/**
 * The longest challenge period a channel may have (30 days), as the adjudicator enforces it:
 * a registration's deadline (`block.timestamp + challengeDuration`) can never overflow, and no
 * channel can hold its funds hostage for longer than this in a dispute.
 */
export const MAX_CHALLENGE_DURATION = 30n * 24n * 3600n;

/** Index of a participant in {@link ChannelParams.participants}. Participant 0 leads updates. */
export type ParticipantIndex = 0 | 1;

export function other(index: ParticipantIndex): ParticipantIndex {
  return index === 0 ? 1 : 0;
}

/** What fixes a channel forever: its chain, contract, parties, assets and timing. */
export interface ChannelParams {
  /** EIP-155 chain id of the chain that holds the channel's funds. */
  readonly chainId: bigint;
  /** The LanesAdjudicator contract that holds the funds and settles disputes. */
  readonly adjudicator: Address;
  /** The two parties. Index 0 is the leader: it signs every state first (docs/adr/0003). */
  readonly participants: readonly [Address, Address];
  /** Assets held: the zero address is the native asset; others are ERC-20 contracts. */
  readonly assets: readonly Address[];
  /** Seconds a registered state can be answered with a newer one before it is final. */
  readonly challengeDuration: bigint;
  /** Distinguishes channels between the same parties; any uint256, chosen by the opener. */
  readonly nonce: bigint;
}

/** Checks the invariants that the contract and the protocol rely on. */
export function validateParams(params: ChannelParams): Result<ChannelParams> {
  if (!isUint256(params.chainId) || params.chainId === 0n) {
    return reject('malformed', 'chainId must be a non-zero uint256');
  }
  if (!isAddress(params.adjudicator)) {
    return reject('malformed', 'adjudicator must be a lowercase 0x address');
  }
  const [a, b] = params.participants;
  if (!isAddress(a) || !isAddress(b)) {
    return reject('malformed', 'participants must be lowercase 0x addresses');
  }
  if (a === b) return reject('malformed', 'participants must be distinct');
  if (/^0x0{40}$/.test(a) || /^0x0{40}$/.test(b)) {
    return reject('malformed', 'a participant cannot be the zero address');
  }
  if (params.assets.length === 0 || params.assets.length > MAX_ASSETS) {
    return reject('malformed', `assets must hold 1 to ${MAX_ASSETS} entries, got ${params.assets.length}`);
  }
  const seen = new Set<string>();
  for (const asset of params.assets) {
    if (!isAddress(asset)) return reject('malformed', 'assets must be lowercase 0x addresses');
    if (seen.has(asset)) return reject('malformed', `asset ${asset} is listed twice`);
    seen.add(asset);
  }
  if (typeof params.challengeDuration !== 'bigint' || params.challengeDuration <= 0n || params.challengeDuration > MAX_CHALLENGE_DURATION) {
    return reject('malformed', `challengeDuration must be 1 to ${MAX_CHALLENGE_DURATION} seconds, got ${String(params.challengeDuration)}`);
  }
  if (!isUint256(params.nonce)) return reject('malformed', 'nonce must be a uint256');
  return ok(params);
}

/** The ABI encoding hashed into the channel id (7 head words, then the assets array). */
export function encodeParams(params: ChannelParams): Uint8Array {
  const n = params.assets.length;
  const out = new Uint8Array(32 * (7 + 1 + n));
  writeWord(out, 0, params.chainId);
  writeAddressWord(out, 32, params.adjudicator);
  writeAddressWord(out, 64, params.participants[0]);
  writeAddressWord(out, 96, params.participants[1]);
  writeWord(out, 128, 7n * 32n); // offset of the dynamic `assets` array
  writeWord(out, 160, params.challengeDuration);
  writeWord(out, 192, params.nonce);
  writeWord(out, 224, BigInt(n));
  for (let i = 0; i < n; i++) writeAddressWord(out, 256 + 32 * i, params.assets[i]!);
  return out;
}

/** The channel id: the same value `LanesAdjudicator` computes on-chain. */
export function channelId(params: ChannelParams): Bytes32 {
  return keccak256Hex(encodeParams(params));
}

/** Index of `address` among the participants, or undefined. */
export function participantIndex(params: ChannelParams, address: Address): ParticipantIndex | undefined {
  if (params.participants[0] === address) return 0;
  if (params.participants[1] === address) return 1;
  return undefined;
}
