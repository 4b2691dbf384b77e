import test from 'ava';
import { encodeAbiParameters, hashTypedData, keccak256 as viemKeccak } from 'viem';
import { bytesToHex, channelId, encodeParams, stateDigest, stateTypedData } from '../../src/core/index.ts';
import { makeParams, makeState, makeSwapParams, TOKEN_A } from '../helpers/factories.ts';

test('channel id equals keccak256(abi.encode(...)) as viem encodes it', (t) => {
  for (const params of [makeParams(), makeSwapParams({ nonce: (1n << 255n) + 7n, challengeDuration: 1n })]) {
    const encoded = encodeAbiParameters(
      [
        { type: 'uint256' },
        { type: 'address' },
        { type: 'address' },
        { type: 'address' },
        { type: 'address[]' },
        { type: 'uint64' },
        { type: 'uint256' },
      ],
      [
        params.chainId,
        params.adjudicator,
        params.participants[0],
        params.participants[1],
        [...params.assets],
        params.challengeDuration,
        params.nonce,
      ],
    );
    t.is(bytesToHex(encodeParams(params)), encoded);
    t.is(channelId(params), viemKeccak(encoded));
  }
});

test('state digest equals viem hashTypedData, with and without locks', (t) => {
  const params = makeSwapParams();
  const plain = makeState(params, { version: 42n, isFinal: true });
  const locked = makeState(params, {
    version: (1n << 64n) - 1n,
    balances: [
      [(1n << 256n) - 1n, 0n],
      [5n, 6n],
      [0n, 0n],
    ],
    locks: [
      { id: 1n, asset: 1, amount: 10n, sender: 0, receiver: 1, hashlock: `0x${'ab'.repeat(32)}`, expiry: 1_800_000_000n },
      { id: 2n, asset: 2, amount: 3n, sender: 1, receiver: 0, hashlock: `0x${'cd'.repeat(32)}`, expiry: (1n << 64n) - 1n },
    ],
  });
  for (const state of [plain, locked]) {
    const typed = stateTypedData(params, state);
    const expected = hashTypedData({ ...typed, types: { ...typed.types } } as Parameters<typeof hashTypedData>[0]);
    t.is(bytesToHex(stateDigest(params, state)), expected);
  }
});

test('the digest binds chain id, contract and channel', (t) => {
  const params = makeParams();
  const state = makeState(params);
  const base = bytesToHex(stateDigest(params, state));
  t.not(bytesToHex(stateDigest({ ...params, chainId: 1n }, state)), base);
  t.not(bytesToHex(stateDigest({ ...params, adjudicator: TOKEN_A }, state)), base);
  t.not(channelId(makeParams({ nonce: 2n })), channelId(params));
});
