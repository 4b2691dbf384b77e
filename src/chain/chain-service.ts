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
  BaseError,
  HttpRequestError,
  TimeoutError,
  BlockNotFoundError,
  ContractFunctionRevertedError,
  TransactionReceiptNotFoundError,
  formatLog,
  numberToHex,
  erc20Abi,
  http,
} from 'viem';
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import { type Address, type Bytes32, type Hex, NATIVE_ASSET, concatBytes, hexToBytes } from '../core/bytes.ts';
import { channelId } from '../core/params.ts';
import type { SignedCommitment } from '../core/state.ts';
import type { SignedState } from '../core/validate.ts';
import { LanesError, type LanesErrorOptions, innermostMessage, unreachableReason } from '../core/errors.ts';
import type { ChannelParams } from '../core/params.ts';
import { LanesAdjudicatorAbi, LanesAdjudicatorBytecode } from './artifacts/LanesAdjudicator.ts';
import { type ChallengeItem, type CloseItem, type ConcludeItem, type UnlockItem, contractParams } from './encode.ts';
import { type BatchOperation, type ChainEvent, type ItemReason, decodeEvents } from './events.ts';
import { defaultConfirmations } from './chain-follower.ts';
import { type GetLogs, type LogFilter, LogReader, type LogReaderOptions } from './log-reader.ts';
import { permitDomain, signPermit } from './permit.ts';
import { type TokenMetadata, readTokenMetadata } from './token-metadata.ts';

export type { TokenMetadata };

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
  /**
   * Deposits for `participant` (0 or 1). A token deposit beyond the allowance already given is
   * one `depositWithPermit` transaction when the token has an EIP-2612 permit (src/chain/permit.ts),
   * else an `approve` first. ETH deposits made while another transaction of this service is in
   * flight wait for it and then leave together, as one `depositBatch` (the receipt is the batch's).
   */
  deposit(params: ChannelParams, assetIndex: number, participant: 0 | 1, amount: bigint): Promise<TxReceipt>;
  /** Pays out final states; `payout` pushes funds now (default) or credits {@link ChainService.withdrawable}. */
  closeBatch(items: readonly CloseItem[], payout?: PayoutMode): Promise<BatchReceipt>;
  challengeBatch(items: readonly ChallengeItem[]): Promise<BatchReceipt>;
  concludeBatch(items: readonly ConcludeItem[], payout?: PayoutMode): Promise<BatchReceipt>;
  /** Pays out locks of concluded channels, each with its proof (docs/adr/0010). */
  unlockBatch(items: readonly UnlockItem[], payout?: PayoutMode): Promise<BatchReceipt>;
  /** Deposits into many channels in one transaction (all or nothing); approves tokens first when needed. */
  depositBatch(items: readonly DepositRequest[]): Promise<TxReceipt>;
  /** Funds a channel from this account's withdrawable balance. */
  depositFromWithdrawable(params: ChannelParams, assetIndex: number, participant: 0 | 1, amount: bigint): Promise<TxReceipt>;
  revealSecrets(secrets: readonly Bytes32[]): Promise<TxReceipt>;
  withdraw(asset: Address, to: Address): Promise<TxReceipt>;
  holdings(channelId: Bytes32, asset: Address): Promise<{ amount: bigint; closed: boolean }>;
  /** The registered state (at block `at`, default the latest), or undefined when the channel is not challenged. */
  dispute(channelId: Bytes32, at?: bigint): Promise<{ version: bigint; finalizesAt: bigint; stateHash: Bytes32 } | undefined>;
  revealedAt(hashlock: Bytes32): Promise<bigint>;
  withdrawable(account: Address, asset: Address): Promise<bigint>;
  /** What the sending account (`account`) holds of an asset in its wallet: ETH, or the token's balanceOf. */
  walletBalance(asset: Address): Promise<bigint>;
  blockNumber(): Promise<bigint>;
  /**
   * An ERC-20's `symbol()` and `decimals()` as the token answered them, decoded without trusting
   * it (src/chain/token-metadata.ts): a field it does not answer sensibly is absent; a failure to
   * reach the chain throws.
   */
  tokenMetadata(token: Address): Promise<TokenMetadata>;
  /** The latest block's timestamp: the clock challenge deadlines are measured on. */
  timestamp(): Promise<bigint>;
  /** The timestamp of block `block`. */
  blockTimestamp(block: bigint): Promise<bigint>;
  /**
   * Events in `[fromBlock, toBlock ?? latest]`, and the block to resume from, read in bounded
   * ranges ({@link readLogs}). Replays are safe: events carry their position.
   */
  events(fromBlock: bigint, toBlock?: bigint): Promise<{ events: ChainEvent[]; nextBlock: bigint }>;
  /**
   * Every `Deposited` event of one channel from `fromBlock` (default 0) up to `toBlock` (default:
   * the confirmed head, `confirmations` below the latest block), read in bounded ranges.
   */
  depositsOf(channelId: Bytes32, fromBlock?: bigint, toBlock?: bigint): Promise<{ events: ChainEvent[] }>;
  /**
   * One bounded read of the filter's events from `from` towards `upTo` (log-reader.ts: the
   * range adapts to what the provider serves); `to` is the last block covered.
   */
  readLogs(from: bigint, upTo: bigint, filter: LogFilter): Promise<{ readonly events: ChainEvent[]; readonly to: bigint }>;
  /** The hash of block `block`, or undefined when the chain has no such block. */
  blockHash(block: bigint): Promise<Bytes32 | undefined>;
  /** The block a transaction was mined in, or undefined when it is not (or no longer) on the chain. */
  transactionBlock(hash: Bytes32): Promise<bigint | undefined>;
  /**
   * The state a `challengeBatch` transaction registered for the channel with `params`, with both
   * signatures, read from its calldata (its locks only by root: the node rebuilds them from what
   * it signed); undefined when the transaction is not a plain `challengeBatch` call carrying the
   * channel.
   */
  registeredState(transactionHash: Bytes32, params: ChannelParams, version?: bigint): Promise<SignedCommitment | undefined>;
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
  /** Blocks per `eth_getLogs` to start with (log-reader.ts; default 2,000). */
  readonly logRange?: number;
  /** Blocks on top of a deposit before {@link ChainService.depositsOf} reports it (default: per chain, `defaultConfirmations`; docs/adr/0014). */
  readonly confirmations?: number;
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
  let chainId: number;
  try {
    chainId = await probe.getChainId();
  } catch (e) {
    if (typeof conn.rpc !== 'string') throw e;
    throw new ChainUnreachableError(maskUrl(conn.rpc), chainFailureReason(e), { cause: e });
  }
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

/**
 * The chain's JSON-RPC endpoint at `url` did not answer `eth_chainId`: `reason` says how
 * (`connection refused`, `HTTP 404`, ...). Thrown before anything is written or sent.
 */
export class ChainUnreachableError extends LanesError {
  override name = 'ChainUnreachableError';
  readonly url: string;
  readonly reason: string;
  constructor(url: string, reason: string, options: LanesErrorOptions = {}) {
    super(`cannot reach the chain at ${url}: ${reason}`, { code: 'CHAIN_UNREACHABLE', ...options });
    this.url = url;
    this.reason = reason;
  }
}

/** What went wrong with a JSON-RPC call, in a few words rather than viem's whole report. */
function chainFailureReason(e: unknown): string {
  const known = unreachableReason(e);
  if (known !== undefined) return known;
  if (e instanceof BaseError) {
    const http = e.walk((x) => x instanceof HttpRequestError);
    if (http instanceof HttpRequestError && http.status !== undefined) return `HTTP ${http.status}`;
    if (e.walk((x) => x instanceof TimeoutError) !== null) return 'no answer in time';
    if (http instanceof HttpRequestError) return innermostMessage(http);
    return e.shortMessage;
  }
  return e instanceof Error ? e.message : String(e);
}

/** A URL with its user and password masked, for messages (an RPC URL may carry credentials). */
function maskUrl(url: string): string {
  if (!URL.canParse(url)) return url;
  const u = new URL(url);
  if (u.username === '' && u.password === '') return url;
  u.username = '***';
  u.password = '';
  return u.href;
}

/** Deploys a LanesAdjudicator; returns its address. */
export async function deployAdjudicator(clients: Clients): Promise<Address> {
  const hash = await clients.walletClient.deployContract({ abi: LanesAdjudicatorAbi, bytecode: LanesAdjudicatorBytecode });
  const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== 'success' || !receipt.contractAddress) throw new LanesError('adjudicator deployment failed', { details: hash });
  return receipt.contractAddress.toLowerCase() as Address;
}

/** How long a deposit's permit stays valid (seconds of chain time): it is used within one transaction. */
const PERMIT_TTL_S = 3600n;
/** ETH deposits that wait for the same transaction slot leave as one `depositBatch` of at most this many. */
export const MAX_COALESCED_DEPOSITS = 64;

/** The custom error a simulated call reverted with, if it reverted with one of the contract's. */
function revertName(e: unknown): string | undefined {
  if (!(e instanceof BaseError)) return undefined;
  const reverted = e.walk((x) => x instanceof ContractFunctionRevertedError);
  return reverted instanceof ContractFunctionRevertedError ? reverted.data?.errorName : undefined;
}

/** Every event of the adjudicator (what `events` reads). */
const EVERYTHING: LogFilter = {
  channelEvents: ['Deposited', 'Closed', 'Challenged', 'Concluded', 'ItemFailed', 'Unlocked'],
  hashlocks: 'all',
  account: 'all',
};
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

const ITEM_EVENT: Record<BatchOperation, ChainEvent['type']> = {
  close: 'closed',
  challenge: 'challenged',
  conclude: 'concluded',
  unlock: 'unlocked',
};

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
  return chainServiceFromClients(clients, conn.adjudicator, {
    ...(conn.logRange === undefined ? {} : { range: conn.logRange }),
    confirmations: conn.confirmations ?? defaultConfirmations(BigInt(clients.chain.id)),
  });
}

/** `eth_getLogs` through a client, without viem's retries (a refused range is halved at once instead). */
export function getLogsOf(publicClient: PublicClient<Transport, Chain>): GetLogs {
  return async (q) => {
    const raw = await publicClient.request(
      {
        method: 'eth_getLogs',
        params: [
          {
            address: q.address,
            fromBlock: numberToHex(q.fromBlock),
            toBlock: numberToHex(q.toBlock),
            topics: q.topics as (Hex | Hex[] | null)[],
          },
        ],
      },
      { retryCount: 0 },
    );
    return raw.map((l) => formatLog(l));
  };
}

export function chainServiceFromClients(
  clients: Clients,
  adjudicator: Address,
  { confirmations = 0, ...logs }: LogReaderOptions & { readonly confirmations?: number } = {},
): ChainService {
  const { publicClient, walletClient, account } = clients;
  const contract = { address: adjudicator, abi: LanesAdjudicatorAbi } as const;
  const reader = new LogReader(getLogsOf(publicClient), adjudicator, logs);
  /** Everything of the adjudicator in `[from, to]`, range after range. */
  async function readAll(from: bigint, to: bigint, filter: LogFilter): Promise<ChainEvent[]> {
    const out: ChainEvent[] = [];
    for (let next = from; next <= to;) {
      const r = await reader.read(next, to, filter);
      out.push(...r.events);
      next = r.to + 1n;
    }
    return out;
  }
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

  const readAllowance = (token: Address) =>
    publicClient.readContract({ address: token, abi: erc20Abi, functionName: 'allowance', args: [account.address, adjudicator] });

  async function ensureAllowance(token: Address, amount: bigint): Promise<void> {
    if ((await readAllowance(token)) >= amount) return;
    await confirm(
      await walletClient.writeContract({ address: token, abi: erc20Abi, functionName: 'approve', args: [adjudicator, 2n ** 256n - 1n] }),
    );
  }

  /** The token's permit domain separator, or null when it has no usable permit (read once per token). */
  const permitDomains = new Map<Address, Promise<Hex | null>>();

  /**
   * A token deposit with the sending account's permit in the same transaction, or undefined when
   * the token has no usable permit (then the caller approves instead). The permit is signed by
   * the account that sends the transaction, for exactly `amount`, because the adjudicator asks
   * the token for `permit(msg.sender, …)` and pulls the tokens from msg.sender; `participant` is
   * only whom the deposit credits. The call is simulated first: when it would revert with
   * `TransferFailed` (the permit gave no allowance: not EIP-2612 after all, like DAI's) the token
   * is remembered as having none; any other revert is the deposit's own failure and is thrown
   * as {@link ChainService.deposit} would. Nothing is retried once the transaction is sent, so a
   * deposit is never made twice.
   */
  async function depositWithPermit(params: ChannelParams, assetIndex: number, participant: 0 | 1, amount: bigint) {
    const token = params.assets[assetIndex]!;
    let domain = permitDomains.get(token);
    if (!domain) {
      domain = permitDomain(publicClient, token, BigInt(clients.chain.id), account.address.toLowerCase() as Address).then((d) => d ?? null);
      permitDomains.set(token, domain);
      // A failure to reach the chain is not an answer: ask again next time.
      domain.catch(() => permitDomains.delete(token));
    }
    const separator = await domain;
    if (separator === null) return undefined;
    const now = (await publicClient.getBlock({ blockTag: 'latest' })).timestamp;
    const permit = await signPermit(publicClient, account, {
      token,
      separator,
      spender: adjudicator,
      value: amount,
      deadline: now + PERMIT_TTL_S,
    });
    const call = {
      ...contract,
      account,
      functionName: 'depositWithPermit',
      args: [contractParams(params), BigInt(assetIndex), BigInt(participant), amount, permit.deadline, permit.v, permit.r, permit.s],
    } as const;
    try {
      await publicClient.simulateContract(call);
    } catch (e) {
      if (revertName(e) !== 'TransferFailed') throw e;
      permitDomains.set(token, Promise.resolve(null));
      return undefined;
    }
    const { events: _events, ...receipt } = await confirm(await walletClient.writeContract(call));
    return receipt;
  }

  /**
   * ETH deposits waiting for the transaction slot. Those that queue up while another transaction
   * is in flight (many channels opening at once: each open deposits) leave together as one
   * `depositBatch` of at most {@link MAX_COALESCED_DEPOSITS}; one alone is a plain `deposit`. The
   * batch is simulated first: when it would revert (all or nothing), each deposit is sent on its
   * own instead, so one bad channel fails only its own deposit. Once a transaction is sent nothing
   * is retried, so a deposit is never made twice.
   */
  let waitingDeposits: { readonly item: DepositRequest; resolve(r: TxReceipt): void; reject(e: unknown): void }[] = [];
  let depositSlotQueued = false;

  function coalescedDeposit(item: DepositRequest): Promise<TxReceipt> {
    return new Promise<TxReceipt>((resolve, reject) => {
      waitingDeposits.push({ item, resolve, reject });
      if (!depositSlotQueued) {
        depositSlotQueued = true;
        void serial(sendWaitingDeposits);
      }
    });
  }

  async function sendWaitingDeposits(): Promise<void> {
    const taken = waitingDeposits.slice(0, MAX_COALESCED_DEPOSITS);
    waitingDeposits = waitingDeposits.slice(taken.length);
    depositSlotQueued = waitingDeposits.length > 0;
    if (depositSlotQueued) void serial(sendWaitingDeposits);
    const one = async (it: DepositRequest): Promise<TxReceipt> => {
      const hash = await walletClient.writeContract({
        ...contract,
        functionName: 'deposit',
        args: [contractParams(it.params), BigInt(it.assetIndex), BigInt(it.participant), it.amount],
        value: it.amount,
      });
      const { events: _events, ...receipt } = await confirm(hash);
      return receipt;
    };
    if (taken.length > 1) {
      const call = {
        ...contract,
        account,
        functionName: 'depositBatch',
        args: [
          taken.map(({ item: it }) => ({
            params: contractParams(it.params),
            assetIndex: BigInt(it.assetIndex),
            participant: BigInt(it.participant),
            amount: it.amount,
          })),
        ],
        value: taken.reduce((sum, { item }) => sum + item.amount, 0n),
      } as const;
      let simulated = false;
      try {
        await publicClient.simulateContract(call);
        simulated = true;
      } catch {
        // Some item would revert (or the chain did not answer): each on its own below.
      }
      if (simulated) {
        try {
          const { events: _events, ...receipt } = await confirm(await walletClient.writeContract(call));
          for (const w of taken) w.resolve(receipt);
        } catch (e) {
          for (const w of taken) w.reject(e);
        }
        return;
      }
    }
    for (const w of taken) await one(w.item).then(w.resolve, w.reject);
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
      const asset = params.assets[assetIndex];
      if (asset !== undefined && isNative(asset)) return coalescedDeposit({ params, assetIndex, participant, amount });
      return serial(async () => {
        if (asset === undefined) throw new LanesError(`asset index ${assetIndex} out of range`, { code: 'INVALID_ARGUMENT' });
        const native = isNative(asset);
        if (!native && (await readAllowance(asset)) < amount) {
          const permitted = await depositWithPermit(params, assetIndex, participant, amount);
          if (permitted) return permitted;
          await ensureAllowance(asset, amount);
        }
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
    unlockBatch(items, payout = 'transfer') {
      const args = items.map((it) => ({
        ...it,
        proof: it.proof as unknown as readonly [Bytes32, Bytes32, Bytes32, Bytes32, Bytes32, Bytes32, Bytes32, Bytes32, Bytes32, Bytes32],
      }));
      return batch('unlock', items.length, () =>
        walletClient.writeContract({ ...contract, functionName: 'unlockBatch', args: [args, PAYOUT[payout]] }),
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
    async dispute(channelId, at) {
      const [version, finalizesAt, stateHash] = await publicClient.readContract({
        ...contract,
        functionName: 'dispute',
        args: [channelId],
        ...(at === undefined ? {} : { blockNumber: at }),
      });
      return finalizesAt === 0n ? undefined : { version, finalizesAt, stateHash };
    },
    revealedAt: (hashlock) => publicClient.readContract({ ...contract, functionName: 'revealedAt', args: [hashlock] }),
    withdrawable: (who, asset) => publicClient.readContract({ ...contract, functionName: 'withdrawable', args: [who, asset] }),
    walletBalance: (asset) =>
      asset === NATIVE_ASSET
        ? publicClient.getBalance({ address: account.address })
        : publicClient.readContract({ address: asset, abi: erc20Abi, functionName: 'balanceOf', args: [account.address] }),
    blockNumber: () => publicClient.getBlockNumber({ cacheTime: 0 }),
    tokenMetadata: (token) => readTokenMetadata(publicClient, token),
    async timestamp() {
      return (await publicClient.getBlock({ blockTag: 'latest' })).timestamp;
    },

    async blockTimestamp(block) {
      return (await publicClient.getBlock({ blockNumber: block })).timestamp;
    },

    async events(fromBlock, toBlock) {
      const latest = toBlock ?? (await publicClient.getBlockNumber({ cacheTime: 0 }));
      if (latest < fromBlock) return { events: [], nextBlock: fromBlock };
      return { events: await readAll(fromBlock, latest, EVERYTHING), nextBlock: latest + 1n };
    },

    async depositsOf(channelId, fromBlock = 0n, toBlock) {
      const to = toBlock ?? (await publicClient.getBlockNumber({ cacheTime: 0 })) - BigInt(confirmations);
      return { events: await readAll(fromBlock, to, { channelEvents: ['Deposited'], channelIds: [channelId] }) };
    },

    readLogs: (from, upTo, filter) => reader.read(from, upTo, filter),

    async blockHash(block) {
      try {
        return (await publicClient.getBlock({ blockNumber: block })).hash as Bytes32;
      } catch (e) {
        if (e instanceof BlockNotFoundError) return undefined;
        throw e;
      }
    },

    async transactionBlock(hash) {
      try {
        return (await publicClient.getTransactionReceipt({ hash })).blockNumber;
      } catch (e) {
        if (e instanceof TransactionReceiptNotFoundError) return undefined;
        throw e;
      }
    },

    async registeredState(hash, params, version) {
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
        // One batch may register several versions of a channel: the event names the one it is about.
        if (channelIdOfItem(params, it.params) !== id || (version !== undefined && it.version !== version)) continue;
        return {
          state: { channelId: id, version: it.version, balances: pairs(it.balances), locksRoot: it.locksRoot, isFinal: it.isFinal },
          signatures: [sigBytes(it.sigs[0]), sigBytes(it.sigs[1])],
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
