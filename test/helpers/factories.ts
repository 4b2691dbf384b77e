/** Factories with overrides: `makeParams({ nonce: 7n })`, `makeState(params, { version: 5n })`. */
import {
  type Balances,
  type ChannelParams,
  type ChannelState,
  type SignedState,
  NATIVE_ASSET,
  channelId,
  initialState,
  nobleBackend,
  signState,
} from '../../src/core/index.ts';
import { type Actor, alice, bob } from './actors.ts';

export const ADJUDICATOR = '0x5fbdb2315678afecb367f032d93f642f64180aa3' as const;
export const TOKEN_A = '0x1111111111111111111111111111111111111111' as const;
export const TOKEN_B = '0x2222222222222222222222222222222222222222' as const;

export function makeParams(overrides: Partial<ChannelParams> = {}): ChannelParams {
  return {
    chainId: 31337n,
    adjudicator: ADJUDICATOR,
    participants: [alice.address, bob.address],
    assets: [NATIVE_ASSET],
    challengeDuration: 3600n,
    nonce: 1n,
    ...overrides,
  };
}

/** A swap channel: ETH and two tokens. */
export function makeSwapParams(overrides: Partial<ChannelParams> = {}): ChannelParams {
  return makeParams({ assets: [NATIVE_ASSET, TOKEN_A, TOKEN_B], ...overrides });
}

export function makeState(params: ChannelParams, overrides: Partial<ChannelState> = {}): ChannelState {
  const deposits: Balances = params.assets.map(() => [1000n, 1000n] as const);
  return { ...initialState(params, deposits), ...overrides, channelId: overrides.channelId ?? channelId(params) };
}

export function cosign(params: ChannelParams, state: ChannelState, signers: readonly [Actor, Actor] = [alice, bob]): SignedState {
  return {
    state,
    signatures: [
      signState(nobleBackend, params, state, signers[0].privateKey),
      signState(nobleBackend, params, state, signers[1].privateKey),
    ],
  };
}
