/**
 * src/chain/deploy.ts: the code check that tells this build's adjudicator from anything else,
 * and a deployment that a reorg drops (anvil, a block a second) being sent again and counted
 * only where it ends up.
 */
import test from 'ava';
import { type Anvil, startAnvil } from '../../src/chain/anvil.ts';
import { TestTokenAbi, TestTokenBytecode } from '../../src/chain/artifacts/mocks/TestToken.ts';
import { deployAdjudicatorOnChain, isThisBuild, readChainInfo } from '../../src/chain/deploy.ts';
import { DEV_KEYS } from '../../src/chain/local-chain.ts';
import { hexToBytes } from '../../src/core/bytes.ts';
import { type TestChain, irene, setupChain } from '../helpers/chain.ts';

let tc: TestChain;
const anvils: Anvil[] = [];
test.before(async () => {
  tc = await setupChain();
});
test.after.always(async () => {
  await Promise.all(anvils.map((a) => a.stop()));
});

test('the code check accepts the deployed adjudicator only for its own chain id and address', async (t) => {
  const code = hexToBytes((await tc.deployer.publicClient.getCode({ address: tc.adjudicator }))!);
  t.true(isThisBuild(code, 31337n, tc.adjudicator));
  t.false(isThisBuild(code, 1n, tc.adjudicator), 'another chain id: the immutables differ');
  t.false(isThisBuild(code, 31337n, irene.address), 'another address: the domain separator differs');
  const flipped = new Uint8Array(code);
  flipped[100] = flipped[100]! ^ 1;
  t.false(isThisBuild(flipped, 31337n, tc.adjudicator), 'one byte changed');
  t.false(isThisBuild(code.subarray(0, code.length - 1), 31337n, tc.adjudicator), 'truncated');
  t.false(isThisBuild(new Uint8Array(0), 31337n, tc.adjudicator), 'no code');
  const token = await tc.deploy(TestTokenAbi, TestTokenBytecode, ['Token', 'TOK']);
  const info = await readChainInfo({ rpc: tc.chain.rpc, adjudicator: token });
  t.like(info.adjudicator, { deployed: true, matchesBuild: false });
});

test('a deployment a reorg drops is sent again, and counts only once it is deep in the chain it is in', async (t) => {
  const anvil = await startAnvil({ blockTime: 1 });
  anvils.push(anvil);
  const steps: string[] = [];
  let reorged: Promise<void> | undefined;
  let firstBlock: bigint | undefined;
  const d = await deployAdjudicatorOnChain({
    rpc: anvil.rpcUrl,
    privateKey: DEV_KEYS[1],
    confirmations: 3,
    pollingIntervalMs: 50,
    timeoutMs: 60_000,
    onStep(m) {
      steps.push(m);
      const mined = /^mined in block (\d+)/.exec(m);
      if (mined && reorged === undefined) {
        firstBlock = BigInt(mined[1]!);
        // Replace every block from the one holding the deployment up to the head with empty ones
        // (again if a block came in between reading the head and the reorg).
        const hash = /^sent (0x[0-9a-f]{64})/.exec(steps[0]!)![1]!;
        reorged = (async () => {
          for (let i = 0; i < 5; i++) {
            const head = BigInt(await anvil.rpc<string>('eth_blockNumber'));
            await anvil.reorg(Number(head - firstBlock! + 1n));
            if ((await anvil.rpc<unknown>('eth_getTransactionReceipt', [hash])) === null) return;
          }
        })();
      }
    },
  });
  await reorged;
  t.true(
    steps.some((m) => m.includes('left the chain')),
    steps.join('\n'),
  );
  t.true(d.blockNumber > firstBlock!, 'counted in the block it was mined in again');
  const block = await anvil.rpc<{ hash: string }>('eth_getBlockByNumber', [`0x${d.blockNumber.toString(16)}`, false]);
  t.is(block.hash, d.blockHash);
  t.true(BigInt(await anvil.rpc<string>('eth_blockNumber')) >= d.blockNumber + 3n);
  t.like((await readChainInfo({ rpc: anvil.rpcUrl, adjudicator: d.adjudicator })).adjudicator, {
    codeHash: d.codeHash,
    matchesBuild: true,
  });
});
