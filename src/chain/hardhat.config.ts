/**
 * Hardhat configuration for the local EDR chain that tests and the testnet start
 * (src/chain/local-chain.ts). Lanes compiles its contracts with solc directly
 * (scripts/compile-contracts.ts), so no solidity section is needed here.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'hardhat/config';

export default defineConfig({
  // `hardhat node` watches an artifacts folder; keep it out of the source tree.
  paths: { artifacts: join(tmpdir(), 'lanes-hardhat-artifacts') },
  networks: {
    node: {
      type: 'edr-simulated',
      chainId: 31337,
      loggingEnabled: false, // the node would otherwise print every RPC call
      transactionGasCap: false, // large settlement batches may exceed osaka's 16.7M per-transaction cap
      // Estimate like geth: only the top-level call must succeed. A hostile token exhausting the
      // gas the adjudicator gives it is an expected internal failure, not a failed transaction.
      gasEstimationMode: 'topLevelSuccess',
    },
  },
});
