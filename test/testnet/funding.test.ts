/** What the testnet gives each node: on its own EDR chain plenty, on an existing chain only what it deposits. */
import test from 'ava';
import { fundingFor, fundingOnChain, planChannels } from '../../src/testnet/topology.ts';

test('on an existing chain a node gets the ETH its channels deposit, not 10,000 ETH', (t) => {
  // A ring of 3 with 2 channels per link: every node is in 4 channels.
  const plans = planChannels({ nodes: 3, topology: 'ring', channelsPerLink: 2, swapRatio: 0.5, seed: 1 });
  t.deepEqual(fundingOnChain(plans, 3, 5n), { ether: 20n, tokens: 1_000_000n });
  t.deepEqual(fundingFor(plans, 3, 5n), { ether: 10_000n, tokens: 1_000_000n });
  t.deepEqual(fundingOnChain([], 3, 5n), { ether: 0n, tokens: 1_000_000n });
});
