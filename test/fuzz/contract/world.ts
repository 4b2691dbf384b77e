/**
 * The real side of the contract fuzzer: an in-process EDR chain running the compiled
 * adjudicator, hostile tokens and receivers, and the actors. Transactions are sent from
 * impersonated accounts at gas price 0 (so balances move only by what the contracts do), each in
 * its own block at a timestamp the fuzzer chooses (so runs replay exactly from their seed).
 */
import { type Abi, type Hex, type Log, decodeFunctionResult, encodeDeployData, encodeFunctionData } from 'viem';
import { AdjudicatorLensAbi, AdjudicatorLensBytecode } from '../../../src/chain/artifacts/mocks/AdjudicatorLens.ts';
import { LanesAdjudicatorBytecode } from '../../../src/chain/artifacts/LanesAdjudicator.ts';
import { FalseReturningTokenAbi, FalseReturningTokenBytecode } from '../../../src/chain/artifacts/mocks/FalseReturningToken.ts';
import { FeeOnTransferTokenAbi, FeeOnTransferTokenBytecode } from '../../../src/chain/artifacts/mocks/FeeOnTransferToken.ts';
import { GasBurningPermitTokenBytecode } from '../../../src/chain/artifacts/mocks/GasBurningPermitToken.ts';
import { GasBurningReceiverBytecode } from '../../../src/chain/artifacts/mocks/GasBurningReceiver.ts';
import { GasBurningTokenAbi, GasBurningTokenBytecode } from '../../../src/chain/artifacts/mocks/GasBurningToken.ts';
import { LyingTokenAbi, LyingTokenBytecode } from '../../../src/chain/artifacts/mocks/LyingToken.ts';
import { NoReturnTokenAbi, NoReturnTokenBytecode } from '../../../src/chain/artifacts/mocks/NoReturnToken.ts';
import { PermitTokenAbi, PermitTokenBytecode } from '../../../src/chain/artifacts/mocks/PermitToken.ts';
import { ReentrantPermitTokenAbi, ReentrantPermitTokenBytecode } from '../../../src/chain/artifacts/mocks/ReentrantPermitToken.ts';
import { ReentrantTokenAbi, ReentrantTokenBytecode } from '../../../src/chain/artifacts/mocks/ReentrantToken.ts';
import { RejectingReceiverBytecode } from '../../../src/chain/artifacts/mocks/RejectingReceiver.ts';
import { TestTokenAbi, TestTokenBytecode } from '../../../src/chain/artifacts/mocks/TestToken.ts';
import { createInProcessChain } from '../../../src/chain/in-process-chain.ts';
import type { Address, Bytes32 } from '../../../src/core/index.ts';
import { type Actor, actor } from '../../helpers/actors.ts';
import { NATIVE, type TokenKind } from './model.ts';

/** Gas limit of every fuzzer transaction: far above any batch it builds (the block holds 60 M). */
const GAS = 30_000_000n;
const hex = (n: bigint) => `0x${n.toString(16)}`;
const MAX = 2n ** 256n - 1n;

export interface Sent {
  readonly ok: boolean;
  readonly logs: readonly Log[];
  readonly gasCost: bigint;
  readonly hash?: Hex;
}

export interface Snapshot {
  readonly held: readonly bigint[];
  readonly owed: readonly bigint[];
  readonly balances: readonly bigint[];
  /** Three per channel: version, finalizesAt, stateHash. */
  readonly disputes: readonly bigint[];
}

export interface World {
  readonly chainId: bigint;
  readonly adjudicator: Address;
  readonly tokens: Readonly<Record<Exclude<TokenKind, 'eth' | 'unknown'>, Address>>;
  /** Assets that are no token: an account without code, and a contract without `balanceOf`. */
  readonly unknown: readonly Address[];
  readonly kinds: ReadonlyMap<Address, TokenKind>;
  /** Honest pairs: their addresses never send a transaction except to withdraw. */
  readonly honest: readonly (readonly [Actor, Actor])[];
  /** Keys an attacker holds: self-made channels are between any two of them. */
  readonly attackers: readonly Actor[];
  /** Who sends: the funder of honest deposits, the settlement submitter, the attacker's account. */
  readonly funder: Address;
  readonly submitter: Address;
  readonly attacker: Address;
  /** Runtime code that refuses ETH / burns the gas it gets, to install at an attacker's address. */
  readonly code: { readonly rejecting: Hex; readonly burning: Hex };
  /** Every account whose balances the fuzzer tracks, and every asset it tracks them in. */
  readonly accounts: readonly Address[];
  readonly assets: readonly Address[];
  /** Block time of the chain's latest block when the world was made. */
  readonly startTime: bigint;
  /** The EIP-712 `name` of each token with `permit` (its domain is name, version "1", chain, token). */
  readonly permitNames: Readonly<Record<'permit' | 'burnpermit' | 'reenterpermit', string>>;
  /** Sends a transaction mined in its own block at `timestamp` (with `gas`, by default 30 M). */
  send(from: Address, to: Address, data: Hex, value: bigint, timestamp: bigint, gas?: bigint): Promise<Sent>;
  /** The return data of a mined transaction that reverted (its revert reason). */
  revertData(hash: Hex): Promise<Hex>;
  /** An `eth_call` at the latest block. */
  call(to: Address, data: Hex): Promise<Hex>;
  /** Installs `code` (or removes code with `0x`) at `address`. */
  setCode(address: Address, code: Hex): Promise<void>;
  read(q: {
    holdings: readonly (readonly [Bytes32, Address])[];
    owed: readonly (readonly [Address, Address])[];
    balances: readonly (readonly [Address, Address])[];
    disputes: readonly Bytes32[];
  }): Promise<Snapshot>;
  snapshot(): Promise<string>;
  /** Returns the chain to `id` and takes a new snapshot there (EDR consumes a snapshot on revert). */
  revert(id: string): Promise<string>;
}

export async function createWorld(): Promise<World> {
  const chain = await createInProcessChain({ throwOnTransactionFailures: false, throwOnCallFailures: false, initialBaseFeePerGas: 0n });
  const provider = chain.provider as unknown as { request(a: { method: string; params: unknown[] }): Promise<unknown> };
  const rpc = <T>(method: string, params: unknown[] = []) => provider.request({ method, params }) as Promise<T>;
  const chainId = BigInt(await rpc<string>('eth_chainId'));

  const deployer = actor('fuzz-deployer').address;
  const funder = actor('fuzz-funder').address;
  const submitter = actor('fuzz-submitter').address;
  const attackerSender = actor('fuzz-attacker').address;
  const honest = [0, 1, 2].map((i) => [actor(`fuzz-honest-${i}a`), actor(`fuzz-honest-${i}b`)] as const);
  const attackers = [0, 1, 2].map((i) => actor(`fuzz-mallory-${i}`));
  const accounts = [funder, submitter, attackerSender, ...honest.flat().map((a) => a.address), ...attackers.map((a) => a.address)];
  for (const a of [deployer, ...accounts]) {
    await chain.setBalance(a, 2n ** 250n); // ETH deposits of any size an attacker may try
    await rpc('hardhat_impersonateAccount', [a]);
  }

  let time = BigInt((await rpc<{ timestamp: string }>('eth_getBlockByNumber', ['latest', false])).timestamp);
  async function send(from: Address, to: Address | undefined, data: Hex, value: bigint, timestamp?: bigint, gas = GAS): Promise<Sent> {
    time = timestamp ?? time + 1n;
    await rpc('evm_setNextBlockTimestamp', [hex(time)]);
    let hash: Hex;
    try {
      hash = await rpc<Hex>('eth_sendTransaction', [
        { from, ...(to ? { to } : {}), data, value: hex(value), gas: hex(gas), gasPrice: '0x0' },
      ]);
    } catch (e) {
      // A value above the sender's balance: no node would even accept the transaction.
      if (/enough funds/.test(String((e as Error).message))) return { ok: false, logs: [], gasCost: 0n };
      throw e;
    }
    const r = await rpc<{ status: string; logs: Log[]; gasUsed: string; effectiveGasPrice: string; contractAddress: string | null }>(
      'eth_getTransactionReceipt',
      [hash],
    );
    return {
      ok: r.status === '0x1',
      logs: r.logs,
      gasCost: BigInt(r.gasUsed) * BigInt(r.effectiveGasPrice),
      hash,
      ...{ created: r.contractAddress },
    };
  }
  async function deploy(bytecode: Hex, abi?: Abi, args?: readonly unknown[]): Promise<Address> {
    const data = abi && args ? encodeDeployData({ abi, bytecode, args }) : bytecode;
    const r = (await send(deployer, undefined, data, 0n)) as Sent & { created: string | null };
    if (!r.ok || !r.created) throw new Error('deployment failed');
    return r.created.toLowerCase() as Address;
  }
  async function call(from: Address, to: Address, abi: Abi, functionName: string, args: readonly unknown[]): Promise<void> {
    const r = await send(from, to, encodeFunctionData({ abi, functionName, args }), 0n);
    if (!r.ok) throw new Error(`${functionName} failed during setup`);
  }

  const adjudicator = await deploy(LanesAdjudicatorBytecode);
  const lens = await deploy(AdjudicatorLensBytecode);
  const tokens = {
    plain: await deploy(TestTokenBytecode, TestTokenAbi, ['Plain', 'PLN']),
    fee: await deploy(FeeOnTransferTokenBytecode),
    false: await deploy(FalseReturningTokenBytecode),
    noreturn: await deploy(NoReturnTokenBytecode),
    reentrant: await deploy(ReentrantTokenBytecode),
    lying: await deploy(LyingTokenBytecode),
    burning: await deploy(GasBurningTokenBytecode),
    permit: await deploy(PermitTokenBytecode, PermitTokenAbi, ['Permit', 'PRM']),
    burnpermit: await deploy(GasBurningPermitTokenBytecode),
    reenterpermit: await deploy(ReentrantPermitTokenBytecode, ReentrantPermitTokenAbi, [adjudicator]),
  };
  const permitNames = { permit: 'Permit', burnpermit: 'Burn Permit', reenterpermit: 'Reenter Permit' };
  const abis: Record<keyof typeof tokens, Abi> = {
    plain: TestTokenAbi,
    fee: FeeOnTransferTokenAbi,
    false: FalseReturningTokenAbi,
    noreturn: NoReturnTokenAbi,
    reentrant: ReentrantTokenAbi,
    lying: LyingTokenAbi,
    burning: GasBurningTokenAbi,
    permit: PermitTokenAbi,
    burnpermit: TestTokenAbi,
    reenterpermit: ReentrantPermitTokenAbi,
  };
  // Senders hold plenty of every token and have approved the adjudicator for all of it.
  for (const [name, token] of Object.entries(tokens) as [keyof typeof tokens, Address][]) {
    for (const who of [funder, attackerSender]) {
      await call(who, token, abis[name], 'mint', [who, 2n ** 200n]);
      await call(who, token, abis[name], 'approve', [adjudicator, MAX]);
    }
  }
  // The attacker keys deposit by permit (depositWithPermit): they hold tokens of their own and
  // have approved nothing.
  for (const token of [tokens.plain, tokens.permit, tokens.burnpermit, tokens.reenterpermit])
    for (const a of attackers) await call(deployer, token, TestTokenAbi, 'mint', [a.address, 10n ** 24n]);
  const codeOf = async (bytecode: Hex) => rpc<Hex>('eth_getCode', [await deploy(bytecode), 'latest']);
  const code = { rejecting: await codeOf(RejectingReceiverBytecode), burning: await codeOf(GasBurningReceiverBytecode) };
  const kinds = new Map<Address, TokenKind>(Object.entries(tokens).map(([k, a]) => [a, k as TokenKind]));
  const unknown = [actor('fuzz-not-a-token').address, lens];
  for (const u of unknown) kinds.set(u, 'unknown');

  return {
    chainId,
    adjudicator,
    tokens,
    unknown,
    kinds,
    honest,
    attackers,
    funder,
    submitter,
    attacker: attackerSender,
    code,
    accounts: [...accounts, adjudicator],
    assets: [
      NATIVE,
      tokens.plain,
      tokens.fee,
      tokens.false,
      tokens.noreturn,
      tokens.reentrant,
      tokens.burning,
      tokens.permit,
      tokens.burnpermit,
      tokens.reenterpermit,
    ],
    startTime: time,
    permitNames,
    send: (from, to, data, value, timestamp, gas) => send(from, to, data, value, timestamp, gas),
    async revertData(hash) {
      const t = await rpc<{ returnValue: string }>('debug_traceTransaction', [
        hash,
        { disableStorage: true, disableMemory: true, disableStack: true },
      ]);
      const v = t.returnValue.startsWith('0x') ? t.returnValue : `0x${t.returnValue}`;
      return v as Hex;
    },
    call: (to, data) => rpc<Hex>('eth_call', [{ to, data }, 'latest']),
    async setCode(address, c) {
      await rpc('hardhat_setCode', [address, c]);
    },
    async read(q) {
      const data = encodeFunctionData({
        abi: AdjudicatorLensAbi,
        functionName: 'read',
        args: [
          adjudicator,
          q.holdings.map((h) => h[0]),
          q.holdings.map((h) => h[1]),
          q.owed.map((o) => o[0]),
          q.owed.map((o) => o[1]),
          q.balances.map((b) => b[0]),
          q.balances.map((b) => b[1]),
          [...q.disputes],
        ],
      });
      const out = await rpc<Hex>('eth_call', [{ to: lens, data }, 'latest']);
      const [held, owed, balances, disputes] = decodeFunctionResult({ abi: AdjudicatorLensAbi, functionName: 'read', data: out });
      return { held, owed, balances, disputes };
    },
    snapshot: () => rpc<string>('evm_snapshot'),
    async revert(id) {
      await rpc('evm_revert', [id]);
      time = BigInt((await rpc<{ timestamp: string }>('eth_getBlockByNumber', ['latest', false])).timestamp);
      return rpc<string>('evm_snapshot');
    },
  };
}
