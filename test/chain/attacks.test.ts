/**
 * The on-chain attacks of the adversarial review, each reproduced against the compiled
 * adjudicator on EDR: an attacker who holds both keys of a self-made channel, hostile tokens,
 * and crafted calldata. Each test failed before its fix (see docs/adr/0008).
 */
import test from 'ava';
import { encodeFunctionData, hexToBytes, bytesToHex as viemHex } from 'viem';
import {
  type Address,
  type Lock,
  MAX_CHALLENGE_DURATION,
  MAX_HOLDINGS,
  NATIVE_ASSET,
  bytesToHex,
  channelId,
  hexToBytes as coreHex,
  keccak256,
  readWord,
} from '../../src/core/index.ts';
import { LanesAdjudicatorAbi } from '../../src/chain/artifacts/LanesAdjudicator.ts';
import { LyingTokenAbi, LyingTokenBytecode } from '../../src/chain/artifacts/mocks/LyingToken.ts';
import { itemResults } from '../../src/chain/chain-service.ts';
import { challengeItem, closeItem, concludeItem, contractLock, unlockItem } from '../../src/chain/encode.ts';
import { decodeEvents } from '../../src/chain/events.ts';
import { actor } from '../helpers/actors.ts';
import { ETHER, type TestChain, alice, b32, bob, fund, mallory, setupChain, sign, stateOf } from '../helpers/chain.ts';

const mallory2 = actor('mallory-2');
let tc: TestChain;

test.before(async () => {
  tc = await setupChain();
});

/** An honest channel holding `amount` ETH for alice, so the contract has something to steal. */
async function honestChannel(amount = 5n * ETHER) {
  const params = tc.params(alice, bob);
  await fund(tc, params, [amount, 0n]);
  return params;
}

const reasons = (items: readonly { ok: boolean; reason?: string }[]) => items.map((i) => (i.ok ? 'ok' : i.reason));

test.serial('1. duplicate assets: a self-made [ETH, ETH] channel cannot be funded, closed or concluded', async (t) => {
  const honest = await honestChannel();
  const dup = tc.params(mallory, mallory2, { assets: [NATIVE_ASSET, NATIVE_ASSET] });
  await t.throwsAsync(tc.svc.mallory.deposit(dup, 0, 0, 5n * ETHER), { message: /InvalidParams/ });
  const contractBefore = await tc.ethBalance(tc.adjudicator);
  const final = sign(dup, stateOf(dup, 1n, [5n * ETHER, 0n, 5n * ETHER, 0n], { isFinal: true }), [mallory, mallory2]);
  const r = await tc.svc.mallory.closeBatch([closeItem(dup, final)]);
  t.deepEqual(reasons(r.items), ['malformed']);
  const eight = tc.params(mallory, mallory2, { assets: Array.from({ length: 8 }, () => NATIVE_ASSET) });
  await t.throwsAsync(tc.svc.mallory.deposit(eight, 0, 0, ETHER), { message: /InvalidParams/ });
  const s = sign(
    eight,
    stateOf(
      eight,
      1n,
      Array.from({ length: 16 }, (_, i) => (i % 2 ? 0n : ETHER)),
    ),
    [mallory, mallory2],
  );
  t.deepEqual(reasons((await tc.svc.mallory.challengeBatch([challengeItem(eight, s)])).items), ['malformed']);
  t.deepEqual(reasons((await tc.svc.mallory.concludeBatch([concludeItem(eight, s.state)])).items), ['malformed']);
  t.is(await tc.ethBalance(tc.adjudicator), contractBefore, 'nothing left the contract');
  // The honest channel still pays its participant in full.
  const close = sign(honest, stateOf(honest, 2n, [5n * ETHER, 0n], { isFinal: true }), [alice, bob]);
  t.deepEqual(reasons((await tc.svc.irene.closeBatch([closeItem(honest, close)])).items), ['ok']);
});

test.serial('2. a challenge duration past the bound fails its own item, not the honest disputes in its batch', async (t) => {
  const huge = tc.params(mallory, mallory2, { challengeDuration: 2n ** 64n - 1n });
  await t.throwsAsync(tc.svc.mallory.deposit(huge, 0, 0, ETHER), { message: /InvalidParams/ });
  const honest = await honestChannel();
  const badItem = challengeItem(huge, sign(huge, stateOf(huge, 1n, [ETHER, 0n]), [mallory, mallory2]));
  const goodItem = challengeItem(honest, sign(honest, stateOf(honest, 1n, [5n * ETHER, 0n]), [alice, bob]));
  const r = await tc.svc.irene.challengeBatch([badItem, goodItem]);
  t.deepEqual(reasons(r.items), ['malformed', 'ok']);
  // The bound itself is accepted.
  const max = MAX_CHALLENGE_DURATION;
  const atMax = tc.params(mallory, mallory2, { challengeDuration: max });
  await tc.svc.mallory.deposit(atMax, 0, 0, 1n);
  const atMaxItem = challengeItem(atMax, sign(atMax, stateOf(atMax, 1n, [1n, 0n]), [mallory, mallory2]));
  t.deepEqual(reasons((await tc.svc.irene.challengeBatch([atMaxItem])).items), ['ok']);
});

test.serial('3. a lying token cannot make a credit overflow and revert later batches', async (t) => {
  const lying = await tc.deploy(LyingTokenAbi as never, LyingTokenBytecode);
  const setLie = async (amount: bigint) => {
    const hash = await tc.clients.mallory.walletClient.writeContract({
      address: lying,
      abi: LyingTokenAbi,
      functionName: 'setPendingLie',
      args: [amount],
    });
    await tc.clients.mallory.publicClient.waitForTransactionReceipt({ hash });
  };
  const mint = async (to: Address, amount: bigint) => {
    const hash = await tc.clients.mallory.walletClient.writeContract({
      address: lying,
      abi: LyingTokenAbi,
      functionName: 'mint',
      args: [to, amount],
    });
    await tc.clients.mallory.publicClient.waitForTransactionReceipt({ hash });
  };
  await mint(mallory.address, 10n);
  // A deposit the token claims brought in 2^255 - 1 is refused: holdings are bounded.
  const ch1 = tc.params(mallory, mallory2, { assets: [lying] });
  await setLie(2n ** 255n - 2n);
  await t.throwsAsync(tc.svc.mallory.deposit(ch1, 0, 0, 1n), { message: /HoldingsOverflow/ });
  // The most it can claim: two such channels, both credited to mallory, then an honest close.
  const max = MAX_HOLDINGS;
  const channels = [];
  for (let i = 0; i < 2; i++) {
    const ch = tc.params(mallory, mallory2, { assets: [lying] });
    await setLie(max - 1n);
    await tc.svc.mallory.deposit(ch, 0, 0, 1n);
    t.is((await tc.svc.irene.holdings(channelId(ch), lying)).amount, max);
    channels.push(ch);
  }
  const items = channels.map((ch) => closeItem(ch, sign(ch, stateOf(ch, 1n, [max, 0n], { isFinal: true }), [mallory, mallory2])));
  t.deepEqual(reasons((await tc.svc.irene.closeBatch([items[0]!], 'credit')).items), ['ok']);
  const honest = await honestChannel();
  const honestClose = closeItem(honest, sign(honest, stateOf(honest, 1n, [5n * ETHER, 0n], { isFinal: true }), [alice, bob]));
  const r = await tc.svc.irene.closeBatch([items[1]!, honestClose], 'credit');
  t.deepEqual(reasons(r.items), ['ok', 'ok']);
  t.is(await tc.svc.irene.withdrawable(mallory.address, lying), 2n * max);
});

test.serial(
  '4. a conclusion pays the balances and leaves each lock to its outcome: a secret revealed after the period but before the expiry pays the receiver',
  async (t) => {
    const params = tc.params(alice, bob, { challengeDuration: 600n });
    await fund(tc, params, [5n * ETHER, 5n * ETHER]);
    const now = await tc.svc.irene.timestamp();
    const secret = b32(0x42);
    const lock: Lock = {
      id: 1n,
      asset: 0,
      amount: 2n * ETHER,
      sender: 0,
      receiver: 1,
      hashlock: bytesToHex(keccak256(coreHex(secret))),
      expiry: now + 2000n,
    };
    const s = sign(params, stateOf(params, 3n, [3n * ETHER, 5n * ETHER], { locks: [lock] }), [alice, bob]);
    t.deepEqual(reasons((await tc.svc.alice.challengeBatch([challengeItem(params, s)])).items), ['ok']);
    await tc.chain.increaseTime(601);
    // The challenge period is over and the lock has not expired: anyone may conclude, and the
    // lock's 2 ETH stay in the channel (before the fix, a conclusion here returned them to alice).
    const before = [await tc.ethBalance(alice.address), await tc.ethBalance(bob.address)];
    t.deepEqual(reasons((await tc.svc.irene.concludeBatch([concludeItem(params, s.state)])).items), ['ok']);
    t.is((await tc.ethBalance(alice.address)) - before[0]!, 3n * ETHER);
    t.is((await tc.ethBalance(bob.address)) - before[1]!, 5n * ETHER);
    t.deepEqual(await tc.svc.irene.holdings(s.state.channelId, NATIVE_ASSET), { amount: 2n * ETHER, closed: true });
    // Unrevealed and unexpired: nobody may take it yet.
    t.deepEqual(reasons((await tc.svc.alice.unlockBatch([unlockItem(params, s.state, 0)])).items), ['locks-pending']);
    await tc.svc.bob.revealSecrets([secret]);
    // A forged lock (more than was locked) is not in the tree.
    const forged = { ...unlockItem(params, s.state, 0), lock: { ...contractLock(lock), amount: 5n * ETHER } };
    t.deepEqual(reasons((await tc.svc.irene.unlockBatch([forged])).items), ['unknown-lock']);
    const bobBefore = await tc.ethBalance(bob.address);
    // Anyone may submit the unlock: it pays whom the lock is due to.
    t.deepEqual(reasons((await tc.svc.irene.unlockBatch([unlockItem(params, s.state, 0)])).items), ['ok']);
    t.is((await tc.ethBalance(bob.address)) - bobBefore, 2n * ETHER);
    t.deepEqual(reasons((await tc.svc.alice.unlockBatch([unlockItem(params, s.state, 0)])).items), ['already-unlocked']);
    t.deepEqual(await tc.svc.irene.holdings(s.state.channelId, NATIVE_ASSET), { amount: 0n, closed: true });
  },
);

test.serial('4b. an unrevealed lock returns to its sender once it has expired, and a reveal after expiry changes nothing', async (t) => {
  const params = tc.params(alice, bob, { challengeDuration: 600n });
  await fund(tc, params, [5n * ETHER, 5n * ETHER]);
  const now = await tc.svc.irene.timestamp();
  const secret = b32(0x78);
  const lock: Lock = {
    id: 1n,
    asset: 0,
    amount: ETHER,
    sender: 1,
    receiver: 0,
    hashlock: bytesToHex(keccak256(coreHex(secret))),
    expiry: now + 1000n,
  };
  const s = sign(params, stateOf(params, 3n, [5n * ETHER, 4n * ETHER], { locks: [lock] }), [alice, bob]);
  await tc.svc.alice.challengeBatch([challengeItem(params, s)]);
  await tc.chain.increaseTime(700);
  t.deepEqual(reasons((await tc.svc.alice.concludeBatch([concludeItem(params, s.state)])).items), ['ok']);
  t.deepEqual(reasons((await tc.svc.alice.unlockBatch([unlockItem(params, s.state, 0)])).items), ['locks-pending']);
  await tc.chain.increaseTime(301);
  await tc.svc.alice.revealSecrets([secret]); // too late: the lock has expired
  const before = [await tc.ethBalance(alice.address), await tc.ethBalance(bob.address)];
  t.deepEqual(reasons((await tc.svc.irene.unlockBatch([unlockItem(params, s.state, 0)])).items), ['ok']);
  t.is((await tc.ethBalance(bob.address)) - before[1]!, ETHER);
  t.is((await tc.ethBalance(alice.address)) - before[0]!, 0n);
});

test.serial('5. a side that never deposits cannot freeze the other side: an underfunded channel concludes in funding order', async (t) => {
  const params = tc.params(alice, bob, { challengeDuration: 600n });
  await fund(tc, params, [5n * ETHER, 0n]); // alice (participant 0) funds first; bob never does
  const v0 = sign(params, stateOf(params, 0n, [5n * ETHER, 5n * ETHER]), [alice, bob]);
  t.deepEqual(reasons((await tc.svc.alice.challengeBatch([challengeItem(params, v0)])).items), ['ok']);
  await tc.chain.increaseTime(601);
  const before = [await tc.ethBalance(alice.address), await tc.ethBalance(bob.address)];
  t.deepEqual(reasons((await tc.svc.irene.concludeBatch([concludeItem(params, v0.state)])).items), ['ok']);
  t.is((await tc.ethBalance(alice.address)) - before[0]!, 5n * ETHER, 'alice gets her deposit back');
  t.is((await tc.ethBalance(bob.address)) - before[1]!, 0n, 'bob gets what he put in: nothing');
  t.deepEqual(await tc.svc.irene.holdings(v0.state.channelId, NATIVE_ASSET), { amount: 0n, closed: true });
});

test.serial('5b. a partial second deposit is returned to its depositor, the first deposit in full', async (t) => {
  const params = tc.params(alice, bob, { challengeDuration: 600n });
  await fund(tc, params, [5n * ETHER, 2n * ETHER]);
  const v0 = sign(params, stateOf(params, 0n, [5n * ETHER, 5n * ETHER]), [alice, bob]);
  await tc.svc.bob.challengeBatch([challengeItem(params, v0)]);
  await tc.chain.increaseTime(601);
  const before = [await tc.ethBalance(alice.address), await tc.ethBalance(bob.address)];
  t.deepEqual(reasons((await tc.svc.irene.concludeBatch([concludeItem(params, v0.state)])).items), ['ok']);
  t.is((await tc.ethBalance(alice.address)) - before[0]!, 5n * ETHER);
  t.is((await tc.ethBalance(bob.address)) - before[1]!, 2n * ETHER);
});

test.serial('6. a close item claiming 2^200 assets fails alone instead of looping the batch out of gas', async (t) => {
  const items = [];
  for (let i = 0; i < 2; i++) {
    const params = tc.params(alice, bob);
    await fund(tc, params, [ETHER, ETHER]);
    items.push(closeItem(params, sign(params, stateOf(params, 3n, [ETHER, ETHER], { isFinal: true }), [alice, bob])));
  }
  const data = hexToBytes(encodeFunctionData({ abi: LanesAdjudicatorAbi, functionName: 'closeBatch', args: [items, 0] }));
  const word = (at: number) => Number(readWord(data, at));
  const base = 4 + word(4) + 32;
  const item = base + word(base);
  const params = item + word(item);
  const assets = params + word(params + 64);
  data.fill(0, assets, assets + 32);
  data[assets + 6] = 1; // n = 2^200
  const hash = await tc.deployer.walletClient.sendTransaction({ to: tc.adjudicator, data: viemHex(data), gas: 3_000_000n });
  const receipt = await tc.deployer.publicClient.waitForTransactionReceipt({ hash });
  t.is(receipt.status, 'success');
  t.deepEqual(reasons(itemResults('close', decodeEvents(receipt.logs), 2)), ['malformed', 'ok']);
});
