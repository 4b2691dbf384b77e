/**
 * Golden vectors: fixed keys, parameters and states with their channel id, domain separator,
 * struct hash, digest and both signatures. `npm run vectors` writes test/vectors/eip712.json;
 * test/core/vectors.test.ts checks the code still reproduces it byte for byte, and the
 * contract tests check the same file on-chain.
 */
import {
  type ChannelParams,
  type ChannelState,
  NATIVE_ASSET,
  bytesToHex,
  channelId,
  domainSeparatorOf,
  hashState,
  locksRoot,
  nobleBackend,
  stateDigest,
} from '../../src/core/index.ts';
import { alice, bob } from '../helpers/actors.ts';

export interface VectorJson {
  readonly name: string;
  readonly signers: readonly [string, string];
  readonly params: {
    chainId: string;
    adjudicator: string;
    participants: [string, string];
    assets: string[];
    challengeDuration: string;
    nonce: string;
  };
  readonly state: {
    channelId: string;
    version: string;
    balances: [string, string][];
    locks: { id: string; asset: number; amount: string; sender: number; receiver: number; hashlock: string; expiry: string }[];
    isFinal: boolean;
  };
  readonly channelId: string;
  /** The root of the state's lock tree (docs/adr/0010): what the state signs instead of its locks. */
  readonly locksRoot: string;
  readonly domainSeparator: string;
  readonly structHash: string;
  readonly digest: string;
  readonly signatures: [string, string];
}

const ADJUDICATOR = '0x5fbdb2315678afecb367f032d93f642f64180aa3';
const TOKEN = '0xe7f1725e7734ce288f8367e1bb143e90bb3f0512';

function vector(name: string, params: ChannelParams, make: (id: `0x${string}`) => Omit<ChannelState, 'channelId'>): VectorJson {
  const id = channelId(params);
  const state: ChannelState = { channelId: id, ...make(id) };
  const digest = stateDigest(params, state);
  const s = (x: bigint) => x.toString();
  return {
    name,
    signers: ['alice', 'bob'],
    params: {
      chainId: s(params.chainId),
      adjudicator: params.adjudicator,
      participants: [params.participants[0], params.participants[1]],
      assets: [...params.assets],
      challengeDuration: s(params.challengeDuration),
      nonce: s(params.nonce),
    },
    state: {
      channelId: id,
      version: s(state.version),
      balances: state.balances.map(([a, b]) => [s(a), s(b)]),
      locks: state.locks.map((l) => ({ ...l, id: s(l.id), amount: s(l.amount), expiry: s(l.expiry) })),
      isFinal: state.isFinal,
    },
    channelId: id,
    locksRoot: locksRoot(state.locks),
    domainSeparator: bytesToHex(domainSeparatorOf(params)),
    structHash: bytesToHex(hashState(state)),
    digest: bytesToHex(digest),
    signatures: [bytesToHex(nobleBackend.sign(digest, alice.privateKey)), bytesToHex(nobleBackend.sign(digest, bob.privateKey))],
  };
}

export function buildVectors(): VectorJson[] {
  const base: ChannelParams = {
    chainId: 31337n,
    adjudicator: ADJUDICATOR,
    participants: [alice.address, bob.address],
    assets: [NATIVE_ASSET],
    challengeDuration: 3600n,
    nonce: 1n,
  };
  return [
    vector('payment channel, version 0', base, () => ({
      version: 0n,
      balances: [[10n ** 18n, 5n * 10n ** 17n]],
      locks: [],
      isFinal: false,
    })),
    vector('payment channel, final', base, () => ({
      version: 17n,
      balances: [[7n * 10n ** 17n, 8n * 10n ** 17n]],
      locks: [],
      isFinal: true,
    })),
    vector('swap channel with locks', { ...base, assets: [NATIVE_ASSET, TOKEN], nonce: (1n << 255n) + 3n, challengeDuration: 60n }, () => ({
      version: 123456789n,
      balances: [
        [1n, 2n],
        [(1n << 256n) - 10n, 3n],
      ],
      locks: [
        { id: 1n, asset: 0, amount: 5n, sender: 0, receiver: 1, hashlock: `0x${'42'.repeat(32)}`, expiry: 1_800_000_000n },
        { id: (1n << 64n) - 1n, asset: 1, amount: 6n, sender: 1, receiver: 0, hashlock: `0x${'07'.repeat(32)}`, expiry: (1n << 64n) - 1n },
      ],
      isFinal: false,
    })),
    vector('other chain id', { ...base, chainId: 1n }, () => ({ version: 1n, balances: [[1n, 1n]], locks: [], isFinal: false })),
  ];
}
