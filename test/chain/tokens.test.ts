import test from 'ava';
import { encodeFunctionData, toFunctionSelector } from 'viem';
import { NATIVE_ASSET } from '../../src/core/index.ts';
import { LanesAdjudicatorAbi } from '../../src/chain/artifacts/LanesAdjudicator.ts';
import { FalseReturningTokenAbi, FalseReturningTokenBytecode } from '../../src/chain/artifacts/mocks/FalseReturningToken.ts';
import { FeeOnTransferTokenAbi, FeeOnTransferTokenBytecode } from '../../src/chain/artifacts/mocks/FeeOnTransferToken.ts';
import { NoReturnTokenAbi, NoReturnTokenBytecode } from '../../src/chain/artifacts/mocks/NoReturnToken.ts';
import { ReentrantTokenAbi, ReentrantTokenBytecode } from '../../src/chain/artifacts/mocks/ReentrantToken.ts';
import { RejectingReceiverAbi, RejectingReceiverBytecode } from '../../src/chain/artifacts/mocks/RejectingReceiver.ts';
import { closeItem } from '../../src/chain/encode.ts';
import { ETHER, type TestChain, alice, bob, deployTestToken, fund, irene, setupChain, sign, stateOf } from '../helpers/chain.ts';

let tc: TestChain;
test.before(async () => {
  tc = await setupChain();
});

const write = async (address: `0x${string}`, abi: readonly unknown[], functionName: string, args: readonly unknown[]) => {
  const hash = await tc.deployer.walletClient.writeContract({
    address,
    abi: abi as never,
    functionName: functionName as never,
    args: args as never,
  });
  await tc.deployer.publicClient.waitForTransactionReceipt({ hash });
};
const final = (params: Parameters<typeof stateOf>[0], flat: bigint[]) =>
  sign(params, stateOf(params, 2n, flat, { isFinal: true }), [alice, bob]);

test.serial('a swap channel of ETH and a token closes both assets in one item', async (t) => {
  const token = await deployTestToken(tc);
  const params = tc.params(alice, bob, { assets: [NATIVE_ASSET, token] });
  await fund(tc, params, [ETHER, 0n, 0n, 500n]);
  // Alice swapped 0.5 ETH for 200 tokens.
  const r = await tc.svc.irene.closeBatch([closeItem(params, final(params, [ETHER / 2n, ETHER / 2n, 200n, 300n]))]);
  t.true(r.items[0]!.ok);
  t.is(await tc.tokenBalance(token, alice.address), 200n);
  t.is(await tc.tokenBalance(token, bob.address), 300n);
  t.is(await tc.tokenBalance(token, tc.adjudicator), 0n);
});

test.serial('a fee-on-transfer token credits only what arrived, so payouts never exceed it', async (t) => {
  const fee = await tc.deploy(FeeOnTransferTokenAbi, FeeOnTransferTokenBytecode);
  const params = tc.params(alice, bob, { assets: [fee] });
  await fund(tc, params, [1000n, 0n]);
  const held = await tc.svc.irene.holdings(final(params, [0n, 0n]).state.channelId, fee);
  t.is(held.amount, 990n, '1% was burned on the way in');
  t.is(await tc.tokenBalance(fee, tc.adjudicator), 990n);
  t.like((await tc.svc.irene.closeBatch([closeItem(params, final(params, [0n, 1000n]))])).items[0], {
    ok: false,
    reason: 'exceeds-holdings',
  });
  t.true((await tc.svc.irene.closeBatch([closeItem(params, final(params, [90n, 900n]))])).items[0]!.ok);
  t.is(await tc.tokenBalance(fee, tc.adjudicator), 0n);
});

test.serial('a token returning false cannot fake a deposit, and a failed payout is deferred, then withdrawn', async (t) => {
  const tok = await tc.deploy(FalseReturningTokenAbi, FalseReturningTokenBytecode);
  const params = tc.params(alice, bob, { assets: [tok] });
  await fund(tc, params, [100n, 100n]);
  await write(tok, FalseReturningTokenAbi, 'setFailing', [true]);
  await tc.mint(tok, alice.address, 50n);
  const err = await t.throwsAsync(tc.svc.alice.deposit(params, 0, 0, 50n));
  t.regex(String(err?.message), /TransferFailed/);
  const r = await tc.svc.irene.closeBatch([closeItem(params, final(params, [150n, 50n]))]);
  t.true(r.items[0]!.ok, 'the close itself succeeds');
  t.deepEqual(
    r.events.filter((e) => e.type === 'payout-deferred').map((e) => (e.type === 'payout-deferred' ? [e.account, e.amount] : [])),
    [
      [alice.address, 150n],
      [bob.address, 50n],
    ],
  );
  t.is(await tc.svc.irene.withdrawable(alice.address, tok), 150n);
  await write(tok, FalseReturningTokenAbi, 'setFailing', [false]);
  await tc.svc.alice.withdraw(tok, alice.address);
  t.is(await tc.tokenBalance(tok, alice.address), 150n + 50n, 'the payout plus the 50 that never left');
  t.is(await tc.svc.irene.withdrawable(alice.address, tok), 0n);
  await t.throwsAsync(tc.svc.alice.withdraw(tok, alice.address), { message: /NothingToWithdraw/ });
});

test.serial('a token that returns nothing (USDT style) works for deposits and payouts', async (t) => {
  const tok = await tc.deploy(NoReturnTokenAbi, NoReturnTokenBytecode);
  const params = tc.params(alice, bob, { assets: [tok] });
  await fund(tc, params, [70n, 30n]);
  t.true((await tc.svc.irene.closeBatch([closeItem(params, final(params, [10n, 90n]))])).items[0]!.ok);
  t.is(await tc.tokenBalance(tok, bob.address), 90n);
});

test.serial('a token that re-enters the adjudicator during a payout gets nothing extra', async (t) => {
  const tok = await tc.deploy(ReentrantTokenAbi, ReentrantTokenBytecode);
  const params = tc.params(alice, bob, { assets: [tok] });
  await fund(tc, params, [100n, 0n]);
  const item = closeItem(params, final(params, [40n, 60n]));
  // On the payout, the token calls closeBatch([]) again: harmless on its own, so only the guard stops it.
  await write(tok, ReentrantTokenAbi, 'arm', [
    tc.adjudicator,
    encodeFunctionData({ abi: LanesAdjudicatorAbi, functionName: 'closeBatch', args: [[], 0] }),
  ]);
  t.true((await tc.svc.irene.closeBatch([item])).items[0]!.ok);
  const read = (fn: 'attempted' | 'reentered' | 'revertSelector') =>
    tc.deployer.publicClient.readContract({ address: tok, abi: ReentrantTokenAbi, functionName: fn }) as Promise<boolean | string>;
  t.true(await read('attempted'));
  t.false(await read('reentered'));
  t.is(await read('revertSelector'), toFunctionSelector('error Reentrancy()'), 'the nested call reverted with Reentrancy()');
  t.is(await tc.tokenBalance(tok, alice.address), 40n);
  t.is(await tc.tokenBalance(tok, bob.address), 60n);
  t.is(await tc.tokenBalance(tok, tc.adjudicator), 0n);
});

test.serial('an account whose code refuses ETH does not block the batch; it withdraws later', async (t) => {
  const params = tc.params(alice, bob);
  await fund(tc, params, [ETHER, ETHER]);
  const other = tc.params(alice, irene);
  await fund(tc, other, [ETHER, 0n]);
  const refusing = await tc.deploy(RejectingReceiverAbi, RejectingReceiverBytecode);
  const code = await tc.deployer.publicClient.getCode({ address: refusing });
  await tc.chain.setCode(bob.address, code!); // as a delegated EOA whose code rejects ETH would
  const before = await tc.ethBalance(irene.address);
  const r = await tc.svc.irene.closeBatch([
    closeItem(params, final(params, [ETHER / 2n, ETHER + ETHER / 2n])),
    closeItem(other, sign(other, stateOf(other, 2n, [0n, ETHER], { isFinal: true }), [alice, irene])),
  ]);
  t.deepEqual(
    r.items.map((i) => i.ok),
    [true, true],
  );
  t.true(r.events.some((e) => e.type === 'payout-deferred' && e.account === bob.address && e.amount === ETHER + ETHER / 2n));
  t.true((await tc.ethBalance(irene.address)) > before, 'the other channel in the batch was paid');
  await tc.chain.setCode(bob.address, '0x');
  const carol = '0x00000000000000000000000000000000000c4a01';
  await tc.svc.bob.withdraw(NATIVE_ASSET, carol);
  t.is(await tc.ethBalance(carol), ETHER + ETHER / 2n);
});
