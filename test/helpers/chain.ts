/**
 * A real EVM for contract tests: in-process EDR running the compiled adjudicator (or anvil, a
 * second EVM, with interval mining: {@link useAnvil}), with the named actors funded, each with
 * its own chain service.
 */
import test from 'ava';
import { type Abi, type EIP1193Provider, createPublicClient, http } from 'viem';
import {
  type Address,
  type Bytes32,
  type ChannelParams,
  type ChannelState,
  NATIVE_ASSET,
  bytesToHex,
  channelId,
  nobleBackend,
  signState,
} from '../../src/core/index.ts';
import type { SignedState } from '../../src/core/index.ts';
import {
  type ChainService,
  type Clients,
  chainServiceFromClients,
  createClients,
  deployAdjudicator,
} from '../../src/chain/chain-service.ts';
import { type InProcessChain, createInProcessChain } from '../../src/chain/in-process-chain.ts';
import { DEV_KEYS } from '../../src/chain/local-chain.ts';
import { type Anvil, startAnvil } from '../../src/chain/anvil.ts';
import { TestTokenAbi, TestTokenBytecode } from '../../src/chain/artifacts/mocks/TestToken.ts';
import { type Actor, alice, bob, irene, mallory } from './actors.ts';

/** The EVM of a {@link TestChain}: in-process EDR, or an anvil process (see {@link useAnvil}). */
export interface TestEvm extends InProcessChain {
  readonly kind: 'edr' | 'anvil';
  /** What viem clients connect to: EDR's provider, or anvil's URL. */
  readonly rpc: string | EIP1193Provider;
  /** Seconds between blocks; undefined under automine. */
  readonly blockTime: number | undefined;
}

export interface TestChain {
  readonly chain: TestEvm;
  readonly deployer: Clients;
  readonly adjudicator: Address;
  readonly svc: Record<'alice' | 'bob' | 'irene' | 'mallory', ChainService>;
  readonly clients: Record<'alice' | 'bob' | 'irene' | 'mallory', Clients>;
  /** Makes params for a channel between two actors on this chain. */
  params(a: Actor, b: Actor, overrides?: Partial<ChannelParams>): ChannelParams;
  /** Deploys a contract from the deployer; returns its address. */
  deploy(abi: Abi, bytecode: `0x${string}`, args?: readonly unknown[]): Promise<Address>;
  ethBalance(who: Address): Promise<bigint>;
  tokenBalance(token: Address, who: Address): Promise<bigint>;
  mint(token: Address, to: Address, amount: bigint): Promise<void>;
}

export const ETHER = 10n ** 18n;
let nonceCounter = 1n;

/**
 * `LANES_TEST_EVM=anvil` runs any suite that uses {@link setupChain} on anvil, mining every
 * `LANES_ANVIL_BLOCK_TIME` seconds (default 1): `LANES_TEST_EVM=anvil ava test/chain/*.test.ts`
 * reruns every chain suite there. `npm test` reruns a few of them on anvil (test/chain/anvil/).
 */
let evm: { readonly kind: 'edr' } | { readonly kind: 'anvil'; readonly blockTime?: number } =
  process.env.LANES_TEST_EVM === 'anvil' ? { kind: 'anvil', blockTime: Number(process.env.LANES_ANVIL_BLOCK_TIME ?? 1) } : { kind: 'edr' };
const anvils: Anvil[] = [];
if (evm.kind === 'anvil') test.after.always(stopTestChains);

/**
 * Makes {@link setupChain} start anvil (a second EVM) instead of in-process EDR, mining every
 * `blockTime` seconds rather than a block per transaction. Called by test/helpers/on-anvil.ts,
 * which the suites of test/chain/anvil/ import before the suite they rerun.
 */
export function useAnvil(options: { readonly blockTime?: number } = {}): void {
  evm = { kind: 'anvil', ...options };
}

/** Stops the anvil processes {@link setupChain} started (by PID). */
export async function stopTestChains(): Promise<void> {
  await Promise.all(anvils.splice(0).map((a) => a.stop()));
}

async function startTestEvm(): Promise<TestEvm> {
  if (evm.kind === 'edr') {
    const edr = await createInProcessChain();
    return { ...edr, kind: 'edr', rpc: edr.provider, blockTime: undefined };
  }
  const anvil = await startAnvil(evm.blockTime === undefined ? {} : { blockTime: evm.blockTime });
  anvils.push(anvil);
  const client = createPublicClient({ transport: http(anvil.rpcUrl, { batch: false }) });
  return {
    kind: 'anvil',
    rpc: anvil.rpcUrl,
    blockTime: anvil.blockTime,
    provider: { request: client.request, on: () => undefined, removeListener: () => undefined } as unknown as EIP1193Provider,
    increaseTime: (seconds) => anvil.increaseTime(seconds),
    setCode: (address, code) => anvil.setCode(address, code),
    setBalance: (address, wei) => anvil.setBalance(address, wei),
  };
}

export async function setupChain(): Promise<TestChain> {
  const chain = await startTestEvm();
  // Clients poll anvil over HTTP: often enough for 1 s blocks, not so often as to load the machine.
  const pollingIntervalMs = chain.kind === 'edr' ? 10 : 50;
  // DEV_KEYS[0]'s first deployment lands at 0x5fbdb2315678afecb367f032d93f642f64180aa3,
  // the adjudicator address of the golden vectors.
  const deployer = await createClients({ rpc: chain.rpc, privateKey: DEV_KEYS[0], pollingIntervalMs });
  const adjudicator = await deployAdjudicator(deployer);
  const actors = { alice, bob, irene, mallory };
  const clients = {} as Record<keyof typeof actors, Clients>;
  const svc = {} as Record<keyof typeof actors, ChainService>;
  for (const [name, a] of Object.entries(actors) as [keyof typeof actors, Actor][]) {
    await chain.setBalance(a.address, 1000n * ETHER);
    clients[name] = await createClients({ rpc: chain.rpc, privateKey: bytesToHex(a.privateKey), pollingIntervalMs });
    svc[name] = chainServiceFromClients(clients[name], adjudicator);
  }
  const { publicClient, walletClient } = deployer;
  // The deployer's transactions go one at a time (nonces in order), whoever calls.
  let deployerQueue: Promise<unknown> = Promise.resolve();
  const asDeployer = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = deployerQueue.then(fn, fn);
    deployerQueue = next.catch(() => undefined);
    return next;
  };
  return {
    chain,
    deployer,
    adjudicator,
    svc,
    clients,
    params: (a, b, overrides = {}) => ({
      chainId: 31337n,
      adjudicator,
      participants: [a.address, b.address],
      assets: [NATIVE_ASSET],
      challengeDuration: 3600n,
      nonce: nonceCounter++,
      ...overrides,
    }),
    deploy: (abi, bytecode, args = []) =>
      asDeployer(async () => {
        const hash = await walletClient.deployContract({ abi, bytecode, args: args as unknown[] });
        const r = await publicClient.waitForTransactionReceipt({ hash });
        return r.contractAddress!.toLowerCase() as Address;
      }),
    ethBalance: (who) => publicClient.getBalance({ address: who }),
    tokenBalance: (token, who) =>
      publicClient.readContract({ address: token, abi: TestTokenAbi, functionName: 'balanceOf', args: [who] }) as Promise<bigint>,
    mint: (token, to, amount) =>
      asDeployer(async () => {
        const hash = await walletClient.writeContract({ address: token, abi: TestTokenAbi, functionName: 'mint', args: [to, amount] });
        await publicClient.waitForTransactionReceipt({ hash });
      }),
  };
}

export function deployTestToken(tc: TestChain, name = 'Token', symbol = 'TOK'): Promise<Address> {
  return tc.deploy(TestTokenAbi, TestTokenBytecode, [name, symbol]);
}

/** Signs `state` with both actors (or any two signers: the test decides who signs). */
export function sign(params: ChannelParams, state: ChannelState, signers: readonly [Actor, Actor]): SignedState {
  return {
    state,
    signatures: [
      signState(nobleBackend, params, state, signers[0].privateKey),
      signState(nobleBackend, params, state, signers[1].privateKey),
    ],
  };
}

/** A state of `params` with the given flat balances `[a0p0, a0p1, a1p0, ...]`. */
export function stateOf(params: ChannelParams, version: bigint, flat: readonly bigint[], extra: Partial<ChannelState> = {}): ChannelState {
  const balances: [bigint, bigint][] = [];
  for (let i = 0; i < flat.length; i += 2) balances.push([flat[i]!, flat[i + 1]!]);
  return { channelId: channelId(params), version, balances, locks: [], isFinal: false, ...extra };
}

/**
 * Funds a channel: each participant deposits its share of every asset. The deposits of different
 * accounts go out together (each account's own ones in order, its service sends one at a time),
 * so on a chain with a block time they share blocks instead of waiting a block each; the order
 * of deposits does not matter to the contract (holdings are a sum).
 */
export async function fund(tc: TestChain, params: ChannelParams, flat: readonly bigint[]): Promise<void> {
  const byAddress = new Map<Address, ChainService>(Object.values(tc.svc).map((s) => [s.account, s]));
  const deposits: Promise<unknown>[] = [];
  for (let a = 0; a < params.assets.length; a++) {
    for (const p of [0, 1] as const) {
      const amount = flat[2 * a + p]!;
      if (amount === 0n) continue;
      const svc = byAddress.get(params.participants[p])!;
      const minted = params.assets[a] === NATIVE_ASSET ? Promise.resolve() : tc.mint(params.assets[a]!, svc.account, amount);
      deposits.push(minted.then(() => svc.deposit(params, a, p, amount)));
    }
  }
  await settleAll(deposits);
}

/** Like Promise.all, but waits for every promise before rejecting with the first failure (no transaction left in flight). */
async function settleAll(promises: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

export const b32 = (byte: number): Bytes32 => `0x${byte.toString(16).padStart(2, '0').repeat(32)}` as Bytes32;
export { alice, bob, irene, mallory };
