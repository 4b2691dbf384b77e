/**
 * An EDR chain inside this process (no HTTP): the fastest real EVM for contract tests and the
 * gas report. Same engine as the local node; about 1-2 ms per transaction.
 */
import { fileURLToPath } from 'node:url';
import type { EIP1193Provider } from 'viem';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface InProcessChain {
  readonly provider: EIP1193Provider;
  /** Moves the chain's clock forward by `seconds` and mines a block. */
  increaseTime(seconds: number | bigint): Promise<void>;
  /** Installs `code` at `address` (e.g. to make an account refuse ETH). */
  setCode(address: `0x${string}`, code: `0x${string}`): Promise<void>;
  setBalance(address: `0x${string}`, wei: bigint): Promise<void>;
}

/**
 * @param overrides Extra EDR network settings (e.g. `throwOnTransactionFailures: false`, so a
 * reverted transaction is mined and returns its hash like on a real chain).
 */
export async function createInProcessChain(overrides: Readonly<Record<string, unknown>> = {}): Promise<InProcessChain> {
  const { createHardhatRuntimeEnvironment } = await import('hardhat/hre');
  const hre = await createHardhatRuntimeEnvironment({}, {}, PROJECT_ROOT);
  // Same settings as hardhat.config.ts's `node` network (see there for why).
  const { provider } = await hre.network.create({
    override: { transactionGasCap: false, gasEstimationMode: 'topLevelSuccess', ...overrides } as never,
  });
  const p = provider as unknown as EIP1193Provider;
  const rpc = (method: string, params: unknown[]) => p.request({ method: method as never, params: params as never });
  return {
    provider: p,
    async increaseTime(seconds) {
      await rpc('evm_increaseTime', [Number(seconds)]);
      await rpc('evm_mine', []);
    },
    async setCode(address, code) {
      await rpc('hardhat_setCode', [address, code]);
    },
    async setBalance(address, wei) {
      await rpc('hardhat_setBalance', [address, `0x${wei.toString(16)}`]);
    },
  };
}
