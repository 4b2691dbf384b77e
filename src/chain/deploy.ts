/**
 * Deploying the adjudicator on any EVM JSON-RPC endpoint, and reading back what a chain holds
 * (docs/adr/0013). `lanes deploy`, `lanes chain info` and `lanes testnet --chain-rpc` go through
 * here.
 *
 * A deployment counts once `confirmations` blocks are on top of the block that holds it (the
 * depth the chain follower uses for events, src/chain/chain-follower.ts: 0 means as soon as it
 * is mined), and only if that block is still on the chain then: a reorg that moves or drops the
 * transaction sends the wait back to its receipt, and one that drops it from the chain and the
 * pool has the same signed transaction sent again. The code at the address is then checked
 * against this build: the runtime code of `LanesAdjudicatorBytecode` with its two immutables
 * (the chain id and the EIP-712 domain separator, which names the address) filled in.
 *
 * ```ts
 * const d = await deployAdjudicatorOnChain({ rpc: 'http://127.0.0.1:8545', privateKey, confirmations: 2 });
 * const info = await readChainInfo({ rpc: 'http://127.0.0.1:8545', adjudicator: d.adjudicator });
 * info.adjudicator?.matchesBuild; // true
 * ```
 */
import {
  type Chain,
  type EIP1193Provider,
  type PublicClient,
  type Transport,
  createPublicClient,
  custom,
  encodeDeployData,
  http,
} from 'viem';
import { type Address, type Bytes32, type Hex, bytesToHex, hexToBytes, keccak256Hex } from '../core/bytes.ts';
import { domainSeparator } from '../core/eip712.ts';
import { LanesError } from '../core/errors.ts';
import { LanesAdjudicatorAbi, LanesAdjudicatorBytecode } from './artifacts/LanesAdjudicator.ts';
import { checkConfirmations, defaultConfirmations } from './chain-follower.ts';
import { createClients } from './chain-service.ts';

export interface DeployOptions {
  /** An HTTP JSON-RPC URL or an EIP-1193 provider. */
  readonly rpc: string | EIP1193Provider;
  /** The key that signs and pays for the deployment (0x hex). */
  readonly privateKey: Hex;
  /** Blocks on top of the deployment's block before it counts (default: the chain's, {@link defaultConfirmations}). */
  readonly confirmations?: number;
  /** How often the receipt and the head are read (default 250 ms). */
  readonly pollingIntervalMs?: number;
  /** Give up waiting after this long (default 10 minutes); the transaction may still be mined. */
  readonly timeoutMs?: number;
  /** Progress messages (sent, mined, confirmed). */
  readonly onStep?: (message: string) => void;
}

export interface Deployment {
  readonly chainId: bigint;
  readonly adjudicator: Address;
  readonly deployer: Address;
  readonly transactionHash: Bytes32;
  readonly blockNumber: bigint;
  readonly blockHash: Bytes32;
  /** The depth waited for. */
  readonly confirmations: number;
  readonly gasUsed: bigint;
  /** keccak256 of the code at the address. */
  readonly codeHash: Bytes32;
}

export interface AdjudicatorInfo {
  readonly address: Address;
  /** False when the address holds no code (not deployed on this chain, or a wrong address). */
  readonly deployed: boolean;
  /** keccak256 of the code at the address (of the empty code when none). */
  readonly codeHash: Bytes32;
  /** The code is this build's adjudicator, deployed for this chain at this address. */
  readonly matchesBuild: boolean;
}

export interface ChainInfo {
  readonly chainId: bigint;
  readonly head: bigint;
  /** The head's timestamp (unix seconds). */
  readonly headTimestamp: bigint;
  /** The depth a Lanes process uses on this chain: the one configured, or the chain's default. */
  readonly confirmations: number;
  readonly confirmationsSource: 'configured' | 'default';
  /** The adjudicator asked about, if one was. */
  readonly adjudicator?: AdjudicatorInfo;
}

/** Deploys the adjudicator and waits until the deployment is `confirmations` deep. */
export async function deployAdjudicatorOnChain(o: DeployOptions): Promise<Deployment> {
  const step = o.onStep ?? (() => undefined);
  const pollingIntervalMs = o.pollingIntervalMs ?? 250;
  const clients = await createClients({ rpc: o.rpc, privateKey: o.privateKey, pollingIntervalMs });
  const { publicClient, walletClient, account } = clients;
  const chainId = BigInt(clients.chain.id);
  const confirmations = o.confirmations === undefined ? defaultConfirmations(chainId) : checkConfirmations(o.confirmations);
  // Signed here and kept: if a reorg drops the mined transaction, the same one is sent again.
  const request = await walletClient.prepareTransactionRequest({
    data: encodeDeployData({ abi: LanesAdjudicatorAbi, bytecode: LanesAdjudicatorBytecode }),
  });
  const raw = await walletClient.signTransaction(request as never);
  const hash = (await walletClient.sendRawTransaction({ serializedTransaction: raw })) as Bytes32;
  step(`sent ${hash} from ${account.address.toLowerCase()} on chain ${chainId}`);
  const deadline = Date.now() + (o.timeoutMs ?? 600_000);
  const resend = async () => {
    // Errors (already known, nonce used by a replacement) leave the wait to find out.
    await walletClient.sendRawTransaction({ serializedTransaction: raw }).catch(() => undefined);
  };
  const receipt = await waitDeep(publicClient, hash, confirmations, pollingIntervalMs, deadline, step, resend);
  const adjudicator = receipt.contractAddress;
  const info = await inspectAdjudicator(publicClient, chainId, adjudicator);
  if (!info.matchesBuild)
    throw new LanesError('the code at the deployed address is not the adjudicator of this build', {
      code: 'DEPLOY_MISMATCH',
      details: `${adjudicator} (code hash ${info.codeHash})`,
    });
  return {
    chainId,
    adjudicator,
    deployer: account.address.toLowerCase() as Address,
    transactionHash: hash,
    blockNumber: receipt.blockNumber,
    blockHash: receipt.blockHash,
    confirmations,
    gasUsed: receipt.gasUsed,
    codeHash: info.codeHash,
  };
}

interface DeepReceipt {
  readonly contractAddress: Address;
  readonly blockNumber: bigint;
  readonly blockHash: Bytes32;
  readonly gasUsed: bigint;
}

/** The receipt once `confirmations` blocks are on top of its block and that block is still the chain's. */
async function waitDeep(
  pc: PublicClient<Transport, Chain>,
  hash: Bytes32,
  confirmations: number,
  pollMs: number,
  deadline: number,
  step: (m: string) => void,
  resend: () => Promise<void>,
): Promise<DeepReceipt> {
  let announced: Bytes32 | undefined;
  for (;;) {
    if (Date.now() > deadline)
      throw new LanesError(`the deployment was not ${confirmations} blocks deep in time`, {
        code: 'DEPLOY_TIMEOUT',
        details: `transaction ${hash}; it may still be mined: look it up, or run lanes deploy again`,
      });
    const r = await pc.getTransactionReceipt({ hash }).catch(() => undefined);
    if (!r && announced !== undefined) {
      // It was mined and is not any more: a reorg. Unless it waits in the pool again, send it again.
      const pending = await pc.getTransaction({ hash }).catch(() => undefined);
      if (!pending) {
        step('the deployment left the chain (a reorg): sent it again');
        await resend();
      }
      announced = undefined;
    }
    if (r) {
      if (r.status !== 'success' || !r.contractAddress)
        throw new LanesError('the deployment reverted', { code: 'TX_REVERTED', details: `transaction ${hash}` });
      if (announced !== r.blockHash) {
        step(`mined in block ${r.blockNumber}; waiting for ${confirmations} confirmation${confirmations === 1 ? '' : 's'}`);
        announced = r.blockHash;
      }
      const head = await pc.getBlockNumber({ cacheTime: 0 });
      if (head >= r.blockNumber + BigInt(confirmations)) {
        // Still there? A reorg may have replaced the block since the receipt was read.
        const block = await pc.getBlock({ blockNumber: r.blockNumber }).catch(() => undefined);
        if (block?.hash === r.blockHash)
          return {
            contractAddress: r.contractAddress.toLowerCase() as Address,
            blockNumber: r.blockNumber,
            blockHash: r.blockHash as Bytes32,
            gasUsed: r.gasUsed,
          };
      }
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** What the chain at `rpc` is, and what is at `adjudicator` if one is named. */
export async function readChainInfo(o: {
  readonly rpc: string | EIP1193Provider;
  readonly adjudicator?: Address;
  readonly confirmations?: number;
}): Promise<ChainInfo> {
  const pc = publicClientFor(o.rpc);
  const chainId = BigInt(await pc.getChainId());
  const block = await pc.getBlock({ blockTag: 'latest' });
  const configured = o.confirmations !== undefined;
  return {
    chainId,
    head: block.number,
    headTimestamp: block.timestamp,
    confirmations: configured ? checkConfirmations(o.confirmations!) : defaultConfirmations(chainId),
    confirmationsSource: configured ? 'configured' : 'default',
    ...(o.adjudicator === undefined ? {} : { adjudicator: await inspectAdjudicator(pc, chainId, o.adjudicator) }),
  };
}

/** Checks that `address` holds this build's adjudicator for this chain; throws when it does not. */
export async function verifyAdjudicator(rpc: string | EIP1193Provider, address: Address): Promise<AdjudicatorInfo> {
  const pc = publicClientFor(rpc);
  const info = await inspectAdjudicator(pc, BigInt(await pc.getChainId()), address);
  if (!info.matchesBuild)
    throw new LanesError(info.deployed ? `${address} is not the adjudicator of this build` : `no contract at ${address} on this chain`, {
      code: 'ADJUDICATOR_MISMATCH',
      details: `code hash ${info.codeHash}`,
    });
  return info;
}

function publicClientFor(rpc: string | EIP1193Provider): PublicClient<Transport, Chain> {
  const transport: Transport = typeof rpc === 'string' ? http(rpc, { batch: false, retryCount: 2 }) : custom(rpc);
  return createPublicClient({ transport, cacheTime: 0 }) as unknown as PublicClient<Transport, Chain>;
}

async function inspectAdjudicator(pc: PublicClient<Transport, Chain>, chainId: bigint, address: Address): Promise<AdjudicatorInfo> {
  const code = hexToBytes((await pc.getCode({ address })) ?? '0x');
  return {
    address,
    deployed: code.length > 0,
    codeHash: keccak256Hex(code),
    matchesBuild: code.length > 0 && isThisBuild(code, chainId, address),
  };
}

/**
 * Whether `code` is the runtime code of this build's adjudicator deployed at `address` on
 * `chainId`. The runtime code is the tail of the creation code (no constructor arguments follow
 * it); solc leaves each immutable as a zero word there, which the constructor fills: here the
 * chain id and the domain separator. Every such word of `code` is zeroed, then the rest must be
 * identical byte for byte.
 */
export function isThisBuild(code: Uint8Array, chainId: bigint, address: Address): boolean {
  const creation = hexToBytes(LanesAdjudicatorBytecode);
  if (code.length === 0 || code.length >= creation.length) return false;
  const template = creation.subarray(creation.length - code.length);
  const chainWord = new Uint8Array(32);
  for (let i = 0, v = chainId; i < 32; i++, v >>= 8n) chainWord[31 - i] = Number(v & 0xffn);
  const immutables = [chainWord, domainSeparator(chainId, address)];
  const masked = new Uint8Array(code);
  for (let at = 0; at + 32 <= masked.length; at++) {
    if (!template.subarray(at, at + 32).every((b) => b === 0)) continue;
    const word = masked.subarray(at, at + 32);
    if (immutables.some((v) => v.every((b, i) => b === word[i]))) {
      word.fill(0);
      at += 31;
    }
  }
  return bytesToHex(masked) === bytesToHex(template);
}
