/** A local chain process with the adjudicator and a test token deployed, and funded test accounts. */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Address, bytesToHex } from '../../src/core/index.ts';
import { createClients, deployAdjudicator } from '../../src/chain/chain-service.ts';
import { DEV_KEYS, type LocalChain, startLocalChain } from '../../src/chain/local-chain.ts';
import { RejectingReceiverAbi, RejectingReceiverBytecode } from '../../src/chain/artifacts/mocks/RejectingReceiver.ts';
import { TestTokenAbi, TestTokenBytecode } from '../../src/chain/artifacts/mocks/TestToken.ts';
import type { Actor } from './actors.ts';

export interface LocalNet {
  readonly chain: LocalChain;
  readonly adjudicator: Address;
  readonly token: Address;
  fund(who: Actor, ether?: bigint, tokens?: bigint): Promise<void>;
  ethBalance(who: Address): Promise<bigint>;
  tokenBalance(who: Address): Promise<bigint>;
  increaseTime(seconds: number): Promise<void>;
  /**
   * Makes `who` refuse ETH (or accept it again): its code becomes a 7702 delegation to a contract
   * whose receive() reverts, as a smart-wallet EOA's might, and it can still send transactions.
   */
  refuseEth(who: Address, refuse: boolean): Promise<void>;
  tempDir(name: string): string;
  stop(): Promise<void>;
}

export async function localNet(): Promise<LocalNet> {
  const chain = await startLocalChain();
  const deployer = await createClients({ rpc: chain.rpcUrl, privateKey: DEV_KEYS[0], pollingIntervalMs: 20 });
  const adjudicator = await deployAdjudicator(deployer);
  const hash = await deployer.walletClient.deployContract({ abi: TestTokenAbi, bytecode: TestTokenBytecode, args: ['Test', 'TST'] });
  const token = (await deployer.publicClient.waitForTransactionReceipt({ hash })).contractAddress!.toLowerCase() as Address;
  const rpc = (method: string, params: unknown[]) => deployer.publicClient.request({ method: method as never, params: params as never });
  const dirs: string[] = [];
  let rejecting: Address | undefined;
  return {
    chain,
    adjudicator,
    token,
    async fund(who, ether = 1000n, tokens = 0n) {
      await rpc('hardhat_setBalance', [who.address, `0x${(ether * 10n ** 18n).toString(16)}`]);
      if (tokens > 0n) {
        const h = await deployer.walletClient.writeContract({
          address: token,
          abi: TestTokenAbi,
          functionName: 'mint',
          args: [who.address, tokens],
        });
        await deployer.publicClient.waitForTransactionReceipt({ hash: h });
      }
    },
    ethBalance: (who) => deployer.publicClient.getBalance({ address: who }),
    tokenBalance: (who) =>
      deployer.publicClient.readContract({ address: token, abi: TestTokenAbi, functionName: 'balanceOf', args: [who] }) as Promise<bigint>,
    async increaseTime(seconds) {
      await rpc('evm_increaseTime', [seconds]);
      await rpc('evm_mine', []);
    },
    async refuseEth(who, refuse) {
      if (refuse && !rejecting) {
        const h = await deployer.walletClient.deployContract({ abi: RejectingReceiverAbi, bytecode: RejectingReceiverBytecode });
        rejecting = (await deployer.publicClient.waitForTransactionReceipt({ hash: h })).contractAddress!.toLowerCase() as Address;
      }
      await rpc('hardhat_setCode', [who, refuse ? `0xef0100${rejecting!.slice(2)}` : '0x']);
    },
    tempDir(name) {
      const d = mkdtempSync(join(tmpdir(), `lanes-${name}-`));
      dirs.push(d);
      return d;
    },
    async stop() {
      await chain.stop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

export const keyHex = (a: Actor) => bytesToHex(a.privateKey);

/** Where {@link freePort} picks: below Linux's ephemeral range (32768–60999), which outgoing connections draw from. */
const PORT_RANGE = { from: 20_000, to: 32_000 };

/**
 * A TCP port free on 127.0.0.1 right now (a node keeps its port across restarts, as a daemon
 * does). Picked at random below the ephemeral range, not by binding port 0: a port the kernel
 * hands out for `listen(0)` is an ephemeral one, and between its release here and the node's
 * bind, any outgoing connection of the many test processes (an RPC call, a dial) may take it.
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; ; tries++) {
    const port = PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from));
    const free = await new Promise<boolean>((resolve, reject) => {
      const server = createServer();
      server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' || e.code === 'EACCES' ? resolve(false) : reject(e)));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
    if (tries > 100) throw new Error('no free port found');
  }
}
