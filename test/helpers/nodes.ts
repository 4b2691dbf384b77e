/**
 * A small multi-node harness: an EDR chain with the adjudicator (and optional tokens), and
 * nodes with real lmdb stores in temp dirs and real libp2p transports on 127.0.0.1. Tests read
 * like a story: `const { alice, bob } = await network(['alice', 'bob'])`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { EIP1193Provider } from 'viem';
import { type Address, NATIVE_ASSET, bytesToHex } from '../../src/core/index.ts';
import { type ChainService, createChainService, createClients, deployAdjudicator } from '../../src/chain/chain-service.ts';
import { type InProcessChain, createInProcessChain } from '../../src/chain/in-process-chain.ts';
import { DEV_KEYS } from '../../src/chain/local-chain.ts';
import { TestTokenAbi, TestTokenBytecode } from '../../src/chain/artifacts/mocks/TestToken.ts';
import type { NodeConfig } from '../../src/node/config.ts';
import { createNode } from '../../src/node/create-node.ts';
import type { LanesNode } from '../../src/node/node.ts';
import type { GraphOptions } from '../../src/node/graph-service.ts';
import { type Actor, actor } from './actors.ts';

export const ETHER = 10n ** 18n;

export interface TestNode {
  readonly actor: Actor;
  readonly node: LanesNode;
  readonly dataDir: string;
  readonly multiaddr: string;
  /** Restarts the node on the same data directory (a clean stop first). */
  restart(): Promise<TestNode>;
}

export interface Network {
  readonly chain: InProcessChain;
  readonly provider: EIP1193Provider;
  readonly adjudicator: Address;
  readonly token: Address;
  readonly nodes: Record<string, TestNode>;
  ethBalance(who: Address): Promise<bigint>;
  tokenBalance(who: Address): Promise<bigint>;
  mint(to: Address, amount: bigint): Promise<void>;
  stop(): Promise<void>;
}

/** A node's config in a test network; `wrapChain` wraps its chain service (to inject failures). */
export type TestNodeConfig = Partial<NodeConfig> & {
  readonly wrapChain?: (s: ChainService) => ChainService;
  readonly graph?: GraphOptions;
};

export async function network(names: readonly string[], configFor: (name: string) => TestNodeConfig = () => ({})): Promise<Network> {
  const chain = await createInProcessChain();
  const deployer = await createClients({ rpc: chain.provider, privateKey: DEV_KEYS[0], pollingIntervalMs: 10 });
  const adjudicator = await deployAdjudicator(deployer);
  const tokenHash = await deployer.walletClient.deployContract({ abi: TestTokenAbi, bytecode: TestTokenBytecode, args: ['Test', 'TST'] });
  const token = (await deployer.publicClient.waitForTransactionReceipt({ hash: tokenHash })).contractAddress!.toLowerCase() as Address;
  const dirs: string[] = [];
  const nodes: Record<string, TestNode> = {};
  const start = async (name: string, dataDir: string): Promise<TestNode> => {
    const who = actor(name);
    const { wrapChain, ...config } = configFor(name);
    const chainService = wrapChain
      ? wrapChain(
          await createChainService({ rpc: chain.provider, privateKey: bytesToHex(who.privateKey), adjudicator, pollingIntervalMs: 10 }),
        )
      : undefined;
    const node = await createNode({
      privateKey: who.privateKey,
      dataDir,
      ...(chainService ? { chainService } : { chain: { rpc: chain.provider, adjudicator } }),
      logger: pino({ level: process.env.LANES_TEST_LOG ?? 'silent' }),
      chainPollMs: 50,
      timeouts: { operationMs: 20_000, openMs: 10_000, chainMs: 20_000 },
      ...config,
    });
    const info = await node.info();
    const t: TestNode = {
      actor: who,
      node,
      dataDir,
      multiaddr: info.multiaddrs[0]!,
      restart: async () => {
        await node.stop();
        const again = await start(name, dataDir);
        nodes[name] = again;
        return again;
      },
    };
    return t;
  };
  for (const name of names) {
    const who = actor(name);
    await chain.setBalance(who.address, 1000n * ETHER);
    const dir = mkdtempSync(join(tmpdir(), `lanes-${name}-`));
    dirs.push(dir);
    nodes[name] = await start(name, dir);
    const hash = await deployer.walletClient.writeContract({
      address: token,
      abi: TestTokenAbi,
      functionName: 'mint',
      args: [who.address, 1_000_000n * ETHER],
    });
    await deployer.publicClient.waitForTransactionReceipt({ hash });
  }
  return {
    chain,
    provider: chain.provider,
    adjudicator,
    token,
    nodes,
    ethBalance: (who) => deployer.publicClient.getBalance({ address: who }),
    tokenBalance: (who) =>
      deployer.publicClient.readContract({ address: token, abi: TestTokenAbi, functionName: 'balanceOf', args: [who] }) as Promise<bigint>,
    async mint(to, amount) {
      const hash = await deployer.walletClient.writeContract({
        address: token,
        abi: TestTokenAbi,
        functionName: 'mint',
        args: [to, amount],
      });
      await deployer.publicClient.waitForTransactionReceipt({ hash });
    },
    async stop() {
      await Promise.all(Object.values(nodes).map((n) => n.node.stop().catch(() => undefined)));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** Waits until every node reports the same version of the channel (the leader completes a beat after the follower). */
export async function converged(channelId: `0x${string}`, ...nodes: TestNode[]): Promise<bigint> {
  for (let i = 0; i < 400; i++) {
    const versions = await Promise.all(nodes.map((n) => n.node.channel(channelId).then((c) => c.version)));
    if (versions.every((v) => v === versions[0])) return versions[0]!;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`channel ${channelId} did not converge`);
}

/** Polls `read` until `accept` holds (another node learns chain events on its next poll). */
export async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${String(value)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export { NATIVE_ASSET, bytesToHex };
