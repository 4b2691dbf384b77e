/**
 * The chain port: what nodes and the coordinator need from the adjudicator, and its viem
 * implementation, which works against any EVM JSON-RPC endpoint (HTTP URL or an in-process
 * EIP-1193 provider).
 */
import {
  type Chain,
  type EIP1193Provider,
  type PublicClient,
  type Transport,
  type WalletClient,
  createPublicClient,
  createWalletClient,
  custom,
  decodeFunctionData,
  defineChain,
  getAbiItem,
  erc20Abi,
  http,
} from 'viem';
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import { type Address, type Bytes32, type Hex, concatBytes, hexToBytes } from '../core/bytes.ts';
import { channelId } from '../core/params.ts';
import type { SignedState } from '../core/validate.ts';
import { LanesError } from '../core/errors.ts';
import type { ChannelParams } from '../core/params.ts';
import { LanesAdjudicatorAbi, LanesAdjudicatorBytecode } from './artifacts/LanesAdjudicator.ts';
import { type ChallengeItem, type CloseItem, type ConcludeItem, contractParams } from './encode.ts';
import { type BatchOperation, type ChainEvent, type ItemReason, decodeEvents } from './events.ts';

export interface TxReceipt {
  readonly hash: Bytes32;
  readonly blockNumber: bigint;
  readonly gasUsed: bigint;
}

export type ItemResult =
  { readonly channelId: Bytes32; readonly ok: true } | { readonly channelId: Bytes32; readonly ok: false; readonly reason: ItemReason };

export interface BatchReceipt extends TxReceipt {
  /** One result per item, in item order. */
  readonly items: readonly ItemResult[];
  readonly events: readonly ChainEvent[];
}

/** `transfer`: push each netted payout to its recipient; `credit`: add it to the recipient's withdrawable balance. */
export type PayoutMode = 'transfer' | 'credit';
const PAYOUT: Record<PayoutMode, number> = { transfer: 0, credit: 1 };

export interface ChainService {
  readonly chainId: bigint;
  readonly adjudicator: Address;
  /** The account that signs and pays for transactions. */
  readonly account: Address;
  /** Deposits for `participant` (0 or 1); approves an ERC-20 first when needed. */
  deposit(params: ChannelParams, assetIndex: number, participant: 0 | 1, amount: bigint): Promise<TxReceipt>;
  /** Pays out final states; `payout` pushes funds now (default) or credits {@link ChainService.withdrawable}. */
  closeBatch(items: readonly CloseItem[], payout?: PayoutMode): Promise<BatchReceipt>;
  challengeBatch(items: readonly ChallengeItem[]): Promise<BatchReceipt>;
  concludeBatch(items: readonly ConcludeItem[], payout?: PayoutMode): Promise<BatchReceipt>;
  /** Deposits into many channels in one transaction (all or nothing); approves tokens first when needed. */
  depositBatch(items: readonly DepositRequest[]): Promise<TxReceipt>;
  /** Funds a channel from this account's withdrawable balance. */
  depositFromWithdrawable(params: ChannelParams, assetIndex: number, participant: 0 | 1, amount: bigint): Promise<TxReceipt>;
  revealSecrets(secrets: readonly Bytes32[]): Promise<TxReceipt>;
  withdraw(asset: Address, to: Address): Promise<TxReceipt>;
  holdings(channelId: Bytes32, asset: Address): Promise<{ amount: bigint; closed: boolean }>;
  /** The registered state, or undefined when the channel is not challenged. */
  dispute(channelId: Bytes32): Promise<{ version: bigint; finalizesAt: bigint; stateHash: Bytes32 } | undefined>;
  revealedAt(hashlock: Bytes32): Promise<bigint>;
  withdrawable(account: Address, asset: Address): Promise<bigint>;
  blockNumber(): Promise<bigint>;
  /** The latest block's timestamp: the clock challenge deadlines are measured on. */
  timestamp(): Promise<bigint>;
  /** Events in `[fromBlock, toBlock ?? latest]`, and the block to resume from. Replays are safe: events carry their position. */
  events(fromBlock: bigint, toBlock?: bigint): Promise<{ events: ChainEvent[]; nextBlock: bigint }>;
  /** Every `Deposited` event of one channel. */
  depositsOf(channelId: Bytes32): Promise<{ events: ChainEvent[] }>;
  /**
   * The state a `challengeBatch` transaction registered for the channel with `params`, with both
   * signatures, read from its calldata; undefined when the transaction is not a plain
   * `challengeBatch` call carrying the channel.
   */
  registeredState(transactionHash: Bytes32, params: ChannelParams): Promise<SignedState | undefined>;
  /** The final state a `closeBatch` transaction paid out for the channel with `params`, with both signatures (like {@link registeredState}). */
  closedState(transactionHash: Bytes32, params: ChannelParams): Promise<SignedState | undefined>;
  /** Polls for events from `fromBlock` on; returns a function that stops the polling. */
  watch(options: {
    fromBlock: bigint;
    pollMs?: number;
    onEvents(events: ChainEvent[], nextBlock: bigint): void | Promise<void>;
    onError?(e: unknown): void;
  }): () => void;
}

export interface DepositRequest {
  readonly params: ChannelParams;
  readonly assetIndex: number;
  readonly participant: 0 | 1;
  readonly amount: bigint;
}

export interface ChainConnection {
  /** An HTTP JSON-RPC URL or an EIP-1193 provider (in-process EDR). */
  readonly rpc: string | EIP1193Provider;
  /** The key that signs transactions (0x-prefixed hex). */
  readonly privateKey: Hex;
  readonly pollingIntervalMs?: number;
}

export interface Clients {
  readonly chain: Chain;
  readonly publicClient: PublicClient<Transport, Chain>;
  readonly walletClient: WalletClient<Transport, Chain, PrivateKeyAccount>;
  readonly account: PrivateKeyAccount;
}

/** viem clients for an endpoint; the chain id is read from the endpoint. */
export async function createClients(conn: ChainConnection): Promise<Clients> {
  const transport: Transport = typeof conn.rpc === 'string' ? http(conn.rpc, { batch: false, retryCount: 2 }) : custom(conn.rpc);
  const probe = createPublicClient({ transport });
  const chainId = await probe.getChainId();
  const chain = defineChain({
    id: chainId,
    name: `chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: typeof conn.rpc === 'string' ? [conn.rpc] : [] } },
  });
  const pollingInterval = conn.pollingIntervalMs ?? 100;
  const account = privateKeyToAccount(conn.privateKey);
  const publicClient = createPublicClient({ chain, transport, pollingInterval, cacheTime: 0 }) as PublicClient<Transport, Chain>;
  const walletClient = createWalletClient({ account, chain, transport, pollingInterval });
  return { chain, publicClient, walletClient, account };
}

/** Deploys a LanesAdjudicator; returns its address. */
export async function deployAdjudicator(clients: Clients): Promise<Address> {
  const hash = await clients.walletClient.deployContract({ abi: LanesAdjudicatorAbi, bytecode: LanesAdjudicatorBytecode });
  const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== 'success' || !receipt.contractAddress) throw new LanesError('adjudicator deployment failed', { details: hash });
  return receipt.contractAddress.toLowerCase() as Address;
}

const DEPOSITED_EVENT = getAbiItem({ abi: LanesAdjudicatorAbi, name: 'Deposited' });
const lower = (a: string) => a.toLowerCase() as Address;

/** The id of a channel named by a batch item's ABI params, on `on`'s chain and adjudicator. */
function channelIdOfItem(
  on: ChannelParams,
  p: { participants: readonly [string, string]; assets: readonly string[]; challengeDuration: bigint; nonce: bigint },
): Bytes32 {
  return channelId({
    chainId: on.chainId,
    adjudicator: on.adjudicator,
    participants: [lower(p.participants[0]), lower(p.participants[1])],
    assets: p.assets.map(lower),
    challengeDuration: p.challengeDuration,
    nonce: p.nonce,
  });
}

/** Flat ABI balances as [participant 0, participant 1] rows. */
function pairs(flat: readonly bigint[]): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

function sigBytes(s: { r: `0x${string}`; s: `0x${string}`; v: number }): Uint8Array {
  return concatBytes(hexToBytes(s.r), hexToBytes(s.s), Uint8Array.of(s.v));
}

const ITEM_EVENT: Record<BatchOperation, ChainEvent['type']> = { close: 'closed', challenge: 'challenged', conclude: 'concluded' };

/** Matches a batch receipt's events to its items: each item emits exactly one item-level event, in order. */
export function itemResults(operation: BatchOperation, events: readonly ChainEvent[], count: number): ItemResult[] {
  const results: ItemResult[] = [];
  for (const e of events) {
    if (e.type === ITEM_EVENT[operation]) results.push({ channelId: (e as { channelId: Bytes32 }).channelId, ok: true });
    else if (e.type === 'item-failed' && e.operation === operation) results.push({ channelId: e.channelId, ok: false, reason: e.reason });
  }
  if (results.length !== count) throw new LanesError(`expected ${count} item results, found ${results.length}`);
  return results;
}

/** A {@link ChainService} over viem. Transactions from one service are sent one at a time. */
export async function createChainService(conn: ChainConnection & { readonly adjudicator: Address }): Promise<ChainService> {
  const clients = await createClients(conn);
  return chainServiceFromClients(clients, conn.adjudicator);
}

export function chainServiceFromClients(clients: Clients, adjudicator: Address): ChainService {
  const { publicClient, walletClient, account } = clients;
  const contract = { address: adjudicator, abi: LanesAdjudicatorAbi } as const;
  // One transaction in flight per service: nonces stay sequential and EDR's automine never
  // sees a gap. (The coordinator, which needs throughput, manages nonces itself.)
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };

  async function confirm(hash: Hex): Promise<TxReceipt & { events: ChainEvent[] }> {
    const r = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    if (r.status !== 'success') throw new LanesError('transaction reverted', { details: hash, code: 'TX_REVERTED' });
    return {
      hash: r.transactionHash,
      blockNumber: r.blockNumber,
      gasUsed: r.gasUsed,
      events: decodeEvents(r.logs.filter((l) => l.address.toLowerCase() === adjudicator)),
    };
  }

  const isNative = (asset: Address) => /^0x0{40}$/.test(asset);

  async function ensureAllowance(token: Address, amount: bigint): Promise<void> {
    const allowance = await publicClient.readContract({
      address: token,
      abi: erc20Abi,
      functionName: 'allowance',
      args: [account.address, adjudicator],
    });
    if (allowance >= amount) return;
    await confirm(
      await walletClient.writeContract({ address: token, abi: erc20Abi, functionName: 'approve', args: [adjudicator, 2n ** 256n - 1n] }),
    );
  }

  async function batch(operation: BatchOperation, count: number, send: () => Promise<Hex>): Promise<BatchReceipt> {
    const r = await serial(async () => confirm(await send()));
    return { ...r, items: itemResults(operation, r.events, count) };
  }

  const service: ChainService = {
    chainId: BigInt(clients.chain.id),
    adjudicator,
    account: account.address.toLowerCase() as Address,

    deposit(params, assetIndex, participant, amount) {
      return serial(async () => {
        const asset = params.assets[assetIndex];
        if (asset === undefined) throw new LanesError(`asset index ${assetIndex} out of range`, { code: 'INVALID_ARGUMENT' });
        const native = isNative(asset);
        if (!native) await ensureAllowance(asset, amount);
        const hash = await walletClient.writeContract({
          ...contract,
          functionName: 'deposit',
          args: [contractParams(params), BigInt(assetIndex), BigInt(participant), amount],
          value: native ? amount : 0n,
        });
        const { events: _events, ...receipt } = await confirm(hash);
        return receipt;
      });
    },

    depositBatch(items) {
      return serial(async () => {
        const perToken = new Map<Address, bigint>();
        let value = 0n;
        for (const it of items) {
          const asset = it.params.assets[it.assetIndex];
          if (asset === undefined) throw new LanesError(`asset index ${it.assetIndex} out of range`, { code: 'INVALID_ARGUMENT' });
          if (isNative(asset)) value += it.amount;
          else perToken.set(asset, (perToken.get(asset) ?? 0n) + it.amount);
        }
        for (const [token, sum] of perToken) await ensureAllowance(token, sum);
        const hash = await walletClient.writeContract({
          ...contract,
          functionName: 'depositBatch',
          args: [
            items.map((it) => ({
              params: contractParams(it.params),
              assetIndex: BigInt(it.assetIndex),
              participant: BigInt(it.participant),
              amount: it.amount,
            })),
          ],
          value,
        });
        const { events: _events, ...receipt } = await confirm(hash);
        return receipt;
      });
    },

    closeBatch(items, payout = 'transfer') {
      return batch('close', items.length, () =>
        walletClient.writeContract({ ...contract, functionName: 'closeBatch', args: [items, PAYOUT[payout]] }),
      );
    },
    challengeBatch(items) {
      return batch('challenge', items.length, () =>
        walletClient.writeContract({ ...contract, functionName: 'challengeBatch', args: [items] }),
      );
    },
    concludeBatch(items, payout = 'transfer') {
      return batch('conclude', items.length, () =>
        walletClient.writeContract({ ...contract, functionName: 'concludeBatch', args: [items, PAYOUT[payout]] }),
      );
    },
    depositFromWithdrawable(params, assetIndex, participant, amount) {
      return serial(async () => {
        const hash = await walletClient.writeContract({
          ...contract,
          functionName: 'depositFromWithdrawable',
          args: [contractParams(params), BigInt(assetIndex), BigInt(participant), amount],
        });
        const { events: _e, ...r } = await confirm(hash);
        return r;
      });
    },
    revealSecrets(secrets) {
      return serial(async () => {
        const { events: _e, ...r } = await confirm(
          await walletClient.writeContract({ ...contract, functionName: 'revealSecrets', args: [secrets] }),
        );
        return r;
      });
    },
    withdraw(asset, to) {
      return serial(async () => {
        const { events: _e, ...r } = await confirm(
          await walletClient.writeContract({ ...contract, functionName: 'withdraw', args: [asset, to] }),
        );
        return r;
      });
    },

    async holdings(channelId, asset) {
      const [amount, closed] = await publicClient.readContract({ ...contract, functionName: 'holdings', args: [channelId, asset] });
      return { amount, closed };
    },
    async dispute(channelId) {
      const [version, finalizesAt, stateHash] = await publicClient.readContract({
        ...contract,
        functionName: 'dispute',
        args: [channelId],
      });
      return finalizesAt === 0n ? undefined : { version, finalizesAt, stateHash };
    },
    revealedAt: (hashlock) => publicClient.readContract({ ...contract, functionName: 'revealedAt', args: [hashlock] }),
    withdrawable: (who, asset) => publicClient.readContract({ ...contract, functionName: 'withdrawable', args: [who, asset] }),
    blockNumber: () => publicClient.getBlockNumber({ cacheTime: 0 }),
    async timestamp() {
      return (await publicClient.getBlock({ blockTag: 'latest' })).timestamp;
    },

    async events(fromBlock, toBlock) {
      const latest = toBlock ?? (await publicClient.getBlockNumber({ cacheTime: 0 }));
      if (latest < fromBlock) return { events: [], nextBlock: fromBlock };
      const logs = await publicClient.getLogs({ address: adjudicator, fromBlock, toBlock: latest });
      return { events: decodeEvents(logs), nextBlock: latest + 1n };
    },

    async depositsOf(channelId) {
      const logs = await publicClient.getLogs({
        address: adjudicator,
        event: DEPOSITED_EVENT,
        args: { channelId },
        fromBlock: 0n,
        toBlock: 'latest',
      });
      return { events: decodeEvents(logs) };
    },

    async registeredState(hash, params) {
      const tx = await publicClient.getTransaction({ hash });
      if (!tx.to || tx.to.toLowerCase() !== adjudicator) return undefined;
      let call;
      try {
        call = decodeFunctionData({ abi: LanesAdjudicatorAbi, data: tx.input });
      } catch {
        return undefined;
      }
      if (call.functionName !== 'challengeBatch') return undefined;
      const id = channelId(params);
      for (const it of call.args[0]) {
        if (channelIdOfItem(params, it.params) !== id) continue;
        const balances = pairs(it.balances);
        const sig = sigBytes;
        return {
          state: {
            channelId: id,
            version: it.version,
            balances,
            locks: it.locks.map((l) => ({
              id: l.id,
              asset: l.asset,
              amount: l.amount,
              sender: l.sender as 0 | 1,
              receiver: l.receiver as 0 | 1,
              hashlock: l.hashlock,
              expiry: l.expiry,
            })),
            isFinal: it.isFinal,
          },
          signatures: [sig(it.sigs[0]), sig(it.sigs[1])],
        };
      }
      return undefined;
    },

    async closedState(hash, params) {
      const tx = await publicClient.getTransaction({ hash });
      if (!tx.to || tx.to.toLowerCase() !== adjudicator) return undefined;
      let call;
      try {
        call = decodeFunctionData({ abi: LanesAdjudicatorAbi, data: tx.input });
      } catch {
        return undefined;
      }
      if (call.functionName !== 'closeBatch') return undefined;
      const id = channelId(params);
      for (const it of call.args[0]) {
        if (channelIdOfItem(params, it.params) !== id) continue;
        return {
          state: { channelId: id, version: it.version, balances: pairs(it.balances), locks: [], isFinal: true },
          signatures: [sigBytes(it.sigs[0]), sigBytes(it.sigs[1])],
        };
      }
      return undefined;
    },

    watch({ fromBlock, pollMs = 200, onEvents, onError }) {
      let next = fromBlock;
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      const tick = async () => {
        try {
          const { events, nextBlock } = await service.events(next);
          if (stopped) return;
          if (nextBlock !== next) {
            await onEvents(events, nextBlock);
            next = nextBlock;
          }
        } catch (e) {
          onError?.(e);
        }
        if (!stopped) timer = setTimeout(tick, pollMs);
      };
      timer = setTimeout(tick, 0);
      return () => {
        stopped = true;
        if (timer) clearTimeout(timer);
      };
    },
  };
  return service;
}
