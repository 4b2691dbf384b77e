/**
 * Imported first by each suite of test/chain/anvil/: the chain suite imported after it then runs
 * on anvil (a second EVM, beside EDR) with interval mining, blocks every
 * {@link ANVIL_BLOCK_TIME} seconds as on a real chain, not a block per transaction. Its anvil
 * process is stopped (by PID) after the file's tests.
 *
 * `npm test` reruns the suites of the money path this way (close, dispute, vectors): each waits a
 * block per transaction, ~40 s a suite. Every other chain suite runs on anvil on demand:
 * `LANES_TEST_EVM=anvil ava test/chain/*.test.ts` (test/helpers/chain.ts).
 */
import test from 'ava';
import { stopTestChains, useAnvil } from './chain.ts';

/** Seconds between blocks for the chain suites on anvil. */
export const ANVIL_BLOCK_TIME = 1;

useAnvil({ blockTime: ANVIL_BLOCK_TIME });
test.after.always(stopTestChains);
