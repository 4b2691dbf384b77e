/**
 * Deposits by EIP-2612 permit (LanesAdjudicator.depositWithPermit, src/chain/permit.ts) and by a
 * separate gas key, against the compiled contracts on EDR, as an attacker would try them: a
 * permit used by someone else, replayed, front-run, expired; a token without permit; a token
 * whose permit domain is not its own.
 */
import test from 'ava';
import { BaseError, type Hex, parseSignature } from 'viem';
import { LanesAdjudicatorAbi } from '../../src/chain/artifacts/LanesAdjudicator.ts';
import { PermitTokenAbi, PermitTokenBytecode } from '../../src/chain/artifacts/mocks/PermitToken.ts';
import { TestTokenAbi } from '../../src/chain/artifacts/mocks/TestToken.ts';
import { chainServiceFromClients } from '../../src/chain/chain-service.ts';
import { contractParams } from '../../src/chain/encode.ts';
import { permitDigest, permitDomain, separatorOf } from '../../src/chain/permit.ts';
import { type Address, channelId } from '../../src/core/index.ts';
import { type TestChain, alice, bob, deployTestToken, irene, mallory, setupChain } from '../helpers/chain.ts';
import type { Actor } from '../helpers/actors.ts';

let tc: TestChain;
test.before(async () => {
  tc = await setupChain();
});

const allowance = (token: Address, owner: Address) =>
  tc.deployer.publicClient.readContract({
    address: token,
    abi: TestTokenAbi,
    functionName: 'allowance',
    args: [owner, tc.adjudicator],
  }) as Promise<bigint>;

const txCount = (who: Address) => tc.deployer.publicClient.getTransactionCount({ address: who });

/** `who`'s signed permit for the adjudicator over `value` of `token`. */
async function permitOf(token: Address, who: Actor, value: bigint, deadline: bigint) {
  const separator = await permitDomain(tc.deployer.publicClient, token, 31337n, who.address);
  if (separator === undefined) throw new Error('no permit domain');
  const nonce = (await tc.deployer.publicClient.readContract({
    address: token,
    abi: PermitTokenAbi,
    functionName: 'nonces',
    args: [who.address],
  })) as bigint;
  const key = who === alice ? 'alice' : who === bob ? 'bob' : who === irene ? 'irene' : 'mallory';
  const account = tc.clients[key].account;
  const hash = permitDigest(separator, { owner: who.address, spender: tc.adjudicator, value, nonce, deadline });
  const sig = parseSignature(await account.sign({ hash }));
  return { deadline, v: Number(sig.v), r: sig.r, s: sig.s };
}

async function later() {
  return (await tc.deployer.publicClient.getBlock()).timestamp + 3600n;
}

/** Sends depositWithPermit from `sender` with `permit`; resolves to the receipt status, or the revert's message. */
async function sendWithPermit(
  sender: 'alice' | 'bob' | 'irene' | 'mallory',
  _token: Address,
  params: ReturnType<TestChain['params']>,
  amount: bigint,
  permit: { deadline: bigint; v: number; r: Hex; s: Hex },
): Promise<string> {
  try {
    const hash = await tc.clients[sender].walletClient.writeContract({
      address: tc.adjudicator,
      abi: LanesAdjudicatorAbi,
      functionName: 'depositWithPermit',
      args: [contractParams(params), 0n, 0n, amount, permit.deadline, permit.v, permit.r, permit.s],
    });
    return (await tc.deployer.publicClient.waitForTransactionReceipt({ hash })).status;
  } catch (e) {
    return String((e as Error).message);
  }
}

test.serial('a token deposit with a permit is one transaction, credits the participant and leaves no allowance', async (t) => {
  const token = await tc.deploy(PermitTokenAbi, PermitTokenBytecode, ['Permit USD', 'pUSD']);
  await tc.mint(token, alice.address, 1000n);
  const params = tc.params(alice, bob, { assets: [token] });
  const before = await txCount(alice.address);
  const r = await tc.svc.alice.deposit(params, 0, 0, 600n);
  t.is(await txCount(alice.address), before + 1, 'no approve transaction');
  t.is((await tc.svc.irene.holdings(channelId(params), token)).amount, 600n);
  t.is(await tc.tokenBalance(token, alice.address), 400n);
  t.is(await allowance(token, alice.address), 0n, 'the permit was for exactly the amount');
  t.truthy(r.hash);
  const { events } = await tc.svc.irene.depositsOf(channelId(params));
  t.deepEqual(
    events.map((e) => (e.type === 'deposited' ? [e.participant, e.amount] : [])),
    [[alice.address, 600n]],
  );
});

test.serial("a permit is its signer's alone: someone else sending it moves their own tokens, never the signer's", async (t) => {
  const token = await tc.deploy(PermitTokenAbi, PermitTokenBytecode, ['Permit USD', 'pUSD']);
  await tc.mint(token, alice.address, 1000n);
  // Mallory opens a channel naming alice as participant 0, so that alice's tokens would land there.
  const params = tc.params(alice, mallory, { assets: [token] });
  const permit = await permitOf(token, alice, 500n, await later());
  const outcome = await sendWithPermit('mallory', token, params, 500n, permit);
  t.regex(outcome, /TransferFailed/, 'the permit was asked of mallory (it fails), and mallory has no allowance');
  t.is(await tc.tokenBalance(token, alice.address), 1000n);
  t.is(await allowance(token, alice.address), 0n, 'the permit was never applied as alice');
  t.is((await tc.svc.irene.holdings(channelId(params), token)).amount, 0n);
});

test.serial('a permit cannot be replayed, and a front-run permit does not stop the deposit', async (t) => {
  const token = await tc.deploy(PermitTokenAbi, PermitTokenBytecode, ['Permit USD', 'pUSD']);
  await tc.mint(token, alice.address, 1000n);
  const params = tc.params(alice, bob, { assets: [token] });
  const permit = await permitOf(token, alice, 300n, await later());
  // Mallory sees the transaction and submits the permit to the token first.
  const front = await tc.clients.mallory.walletClient.writeContract({
    address: token,
    abi: PermitTokenAbi,
    functionName: 'permit',
    args: [alice.address, tc.adjudicator, 300n, permit.deadline, permit.v, permit.r, permit.s],
  });
  await tc.deployer.publicClient.waitForTransactionReceipt({ hash: front });
  t.is(await sendWithPermit('alice', token, params, 300n, permit), 'success', 'the deposit goes ahead on the allowance the permit gave');
  t.is((await tc.svc.irene.holdings(channelId(params), token)).amount, 300n);
  // The same permit again: its nonce is used, and no allowance is left.
  t.regex(await sendWithPermit('alice', token, params, 300n, permit), /TransferFailed/);
  t.is(await tc.tokenBalance(token, alice.address), 700n);
});

test.serial('an expired permit gives no allowance', async (t) => {
  const token = await tc.deploy(PermitTokenAbi, PermitTokenBytecode, ['Permit USD', 'pUSD']);
  await tc.mint(token, alice.address, 1000n);
  const params = tc.params(alice, bob, { assets: [token] });
  const now = (await tc.deployer.publicClient.getBlock()).timestamp;
  const permit = await permitOf(token, alice, 100n, now - 1n);
  t.regex(await sendWithPermit('alice', token, params, 100n, permit), /TransferFailed/);
  t.is(await tc.tokenBalance(token, alice.address), 1000n);
});

test.serial('a token without permit is approved first, then deposited', async (t) => {
  const token = await deployTestToken(tc, 'Plain', 'PLN');
  await tc.mint(token, alice.address, 1000n);
  t.is(await permitDomain(tc.deployer.publicClient, token, 31337n, alice.address), undefined);
  const params = tc.params(alice, bob, { assets: [token] });
  const before = await txCount(alice.address);
  await tc.svc.alice.deposit(params, 0, 0, 250n);
  t.is(await txCount(alice.address), before + 2, 'approve, then deposit');
  t.is((await tc.svc.irene.holdings(channelId(params), token)).amount, 250n);
});

test.serial('a separate gas key sends and funds the deposit; the participant named is credited', async (t) => {
  const token = await tc.deploy(PermitTokenAbi, PermitTokenBytecode, ['Permit USD', 'pUSD']);
  // Alice's node signs states; irene's key pays gas and holds the funds it deposits.
  await tc.mint(token, irene.address, 1000n);
  const gas = chainServiceFromClients(tc.clients.irene, tc.adjudicator);
  const params = tc.params(alice, bob, { assets: [token] });
  const aliceBefore = await txCount(alice.address);
  await gas.deposit(params, 0, 0, 400n);
  t.is(await txCount(alice.address), aliceBefore, 'the node key sent nothing');
  t.is(await tc.tokenBalance(token, irene.address), 600n, 'the tokens came from the gas account');
  const { events } = await tc.svc.irene.depositsOf(channelId(params));
  t.deepEqual(
    events.map((e) => (e.type === 'deposited' ? [e.participant, e.amount] : [])),
    [[alice.address, 400n]],
    'credited to alice, participant 0, not to the sender',
  );
  const eth = tc.params(alice, bob);
  await gas.deposit(eth, 0, 1, 5n);
  const ethEvents = (await tc.svc.irene.depositsOf(channelId(eth))).events;
  t.deepEqual(
    ethEvents.map((e) => (e.type === 'deposited' ? e.participant : '')),
    [bob.address],
  );
});

test('an EIP-5267 domain is believed only for this chain and this token, without extensions', (t) => {
  const token = '0x00000000000000000000000000000000000000aa' as Address;
  const zero = `0x${'00'.repeat(32)}` as Hex;
  const good = ['0x0f', 'T', '1', 31337n, token, zero, []] as const;
  t.truthy(separatorOf(good, 31337n, token));
  t.is(separatorOf(['0x0f', 'T', '1', 1n, token, zero, []], 31337n, token), undefined, 'another chain');
  t.is(separatorOf(['0x0f', 'T', '1', 31337n, '0x00000000000000000000000000000000000000bb', zero, []], 31337n, token), undefined);
  t.is(separatorOf(['0x03', 'T', '1', 31337n, token, zero, []], 31337n, token), undefined, 'no chain id or contract');
  t.is(separatorOf(['0x0f', 'T', '1', 31337n, token, zero, [1n]], 31337n, token), undefined, 'extensions');
  t.is(separatorOf(['0x2f', 'T', '1', 31337n, token, zero, []], 31337n, token), undefined, 'unknown fields');
});

/** A client that answers the permit reads as told (undefined: the call reverts). */
function fakeClient(answers: Record<string, unknown>) {
  return {
    readContract: async ({ functionName }: { functionName: string }) => {
      if (answers[functionName] === undefined) throw new BaseError('execution reverted');
      return answers[functionName];
    },
  } as never;
}

test("a DOMAIN_SEPARATOR alone is believed only when it is the token's own", async (t) => {
  const token = '0x00000000000000000000000000000000000000aa' as Address;
  const zero = `0x${'00'.repeat(32)}` as Hex;
  const own = separatorOf(['0x0f', 'USD Coin', '2', 31337n, token, zero, []], 31337n, token)!;
  const other = separatorOf(['0x0f', 'USD Coin', '2', 31337n, '0x00000000000000000000000000000000000000bb', zero, []], 31337n, token);
  t.is(other, undefined);
  const foreign = separatorOf(['0x0f', 'USD Coin', '2', 31337n, token, zero, []], 31337n, token)!.replace(/.$/, '0') as Hex;
  t.is(await permitDomain(fakeClient({ DOMAIN_SEPARATOR: own, nonces: 0n, name: 'USD Coin' }), token, 31337n, alice.address), own);
  t.is(
    await permitDomain(fakeClient({ DOMAIN_SEPARATOR: foreign, nonces: 0n, name: 'USD Coin' }), token, 31337n, alice.address),
    undefined,
    "another token's separator (we would sign a permit of that token)",
  );
  t.is(await permitDomain(fakeClient({ DOMAIN_SEPARATOR: own, name: 'USD Coin' }), token, 31337n, alice.address), undefined, 'no nonces');
  t.is(await permitDomain(fakeClient({ DOMAIN_SEPARATOR: own, nonces: 0n }), token, 31337n, alice.address), undefined, 'no name');
});
