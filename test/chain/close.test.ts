import test from 'ava';
import { CURVE_N, NATIVE_ASSET, readWord, writeWord } from '../../src/core/index.ts';
import type { SignedState } from '../../src/core/index.ts';
import { closeItem } from '../../src/chain/encode.ts';
import { ETHER, type TestChain, alice, bob, deployTestToken, fund, irene, mallory, setupChain, sign, stateOf } from '../helpers/chain.ts';
import { FeeOnTransferTokenAbi, FeeOnTransferTokenBytecode } from '../../src/chain/artifacts/mocks/FeeOnTransferToken.ts';

let tc: TestChain;
test.before(async () => {
  tc = await setupChain();
});

const finalOf = (params: Parameters<typeof stateOf>[0], flat: bigint[], version = 7n) => stateOf(params, version, flat, { isFinal: true });

function highS(signed: SignedState, which: 0 | 1): SignedState {
  const sig = new Uint8Array(signed.signatures[which]);
  writeWord(sig, 32, CURVE_N - readWord(sig, 32));
  sig[64] = sig[64] === 27 ? 28 : 27;
  const sigs = [...signed.signatures] as [Uint8Array, Uint8Array];
  sigs[which] = sig;
  return { ...signed, signatures: sigs };
}

test.serial('a cooperative close pays each participant its final balance, whoever submits it', async (t) => {
  const params = tc.params(alice, bob);
  await fund(tc, params, [10n * ETHER, 5n * ETHER]);
  const signed = sign(params, finalOf(params, [12n * ETHER, 3n * ETHER]), [alice, bob]);
  const before = [await tc.ethBalance(alice.address), await tc.ethBalance(bob.address)];
  const r = await tc.svc.irene.closeBatch([closeItem(params, signed)]);
  t.deepEqual(r.items, [{ channelId: signed.state.channelId, ok: true }]);
  t.is((await tc.ethBalance(alice.address)) - before[0]!, 12n * ETHER);
  t.is((await tc.ethBalance(bob.address)) - before[1]!, 3n * ETHER);
  t.deepEqual(await tc.svc.irene.holdings(signed.state.channelId, NATIVE_ASSET), { amount: 0n, closed: true });
  t.true(r.events.some((e) => e.type === 'closed' && e.version === 7n));
});

test.serial('a batch with invalid items settles the valid ones and names each failure', async (t) => {
  const mk = async (flat: bigint[], fundIt = true) => {
    const params = tc.params(alice, bob);
    if (fundIt) await fund(tc, params, [5n * ETHER, 5n * ETHER]);
    return { params, signed: sign(params, finalOf(params, flat), [alice, bob]) };
  };
  const good1 = await mk([6n * ETHER, 4n * ETHER]);
  const badSig = await mk([5n * ETHER, 5n * ETHER]);
  const high = await mk([5n * ETHER, 5n * ETHER]);
  const wrongSigner = await mk([10n * ETHER, 0n]);
  const unknown = await mk([1n, 1n], false);
  const tooMuch = await mk([6n * ETHER, 5n * ETHER]);
  const good2 = await mk([0n, 10n * ETHER]);
  const nonFinal = await mk([5n * ETHER, 5n * ETHER]);
  const otherChain = await mk([9n * ETHER, 1n * ETHER]);
  const otherContract = await mk([9n * ETHER, 1n * ETHER]);

  const garbage = new Uint8Array(badSig.signed.signatures[1]);
  garbage.fill(0xff, 0, 32); // r above the curve order: no key recovers from it
  const items = [
    closeItem(good1.params, good1.signed),
    closeItem(badSig.params, { ...badSig.signed, signatures: [badSig.signed.signatures[0], garbage] }),
    closeItem(high.params, highS(high.signed, 0)),
    closeItem(wrongSigner.params, sign(wrongSigner.params, wrongSigner.signed.state, [alice, mallory])),
    closeItem(unknown.params, unknown.signed),
    closeItem(tooMuch.params, tooMuch.signed),
    { ...closeItem(good1.params, good1.signed) }, // the same channel again in the same batch
    closeItem(good2.params, good2.signed),
    // A non-final state with both signatures: the contract hashes isFinal = true, so they do not match.
    {
      ...closeItem(nonFinal.params, nonFinal.signed),
      sigs: closeItem(nonFinal.params, {
        ...sign(nonFinal.params, { ...nonFinal.signed.state, isFinal: false }, [alice, bob]),
        state: nonFinal.signed.state,
      }).sigs,
    },
    // Signed for chain 1 and for another contract: the domain differs, so the signers do not recover.
    closeItem(otherChain.params, sign({ ...otherChain.params, chainId: 1n }, otherChain.signed.state, [alice, bob])),
    closeItem(
      otherContract.params,
      sign({ ...otherContract.params, adjudicator: irene.address }, otherContract.signed.state, [alice, bob]),
    ),
    { ...closeItem(good2.params, good2.signed), balances: [1n] }, // balances not two per asset
  ];
  const before = [await tc.ethBalance(alice.address), await tc.ethBalance(bob.address)];
  const r = await tc.svc.irene.closeBatch(items);
  t.deepEqual(
    r.items.map((i) => (i.ok ? 'ok' : i.reason)),
    [
      'ok',
      'invalid-signature', // r above the curve order recovers nobody
      'invalid-signature',
      'wrong-signer',
      'unknown-channel',
      'exceeds-holdings',
      'channel-closed',
      'ok',
      'wrong-signer',
      'wrong-signer',
      'wrong-signer',
      'malformed',
    ],
  );
  t.is(r.items[1]!.channelId, badSig.signed.state.channelId, 'a failed item names its channel');
  t.is((await tc.ethBalance(alice.address)) - before[0]!, 6n * ETHER);
  t.is((await tc.ethBalance(bob.address)) - before[1]!, 14n * ETHER);
  for (const failed of [badSig, high, wrongSigner, tooMuch, nonFinal, otherChain, otherContract]) {
    t.deepEqual(await tc.svc.irene.holdings(failed.signed.state.channelId, NATIVE_ASSET), { amount: 10n * ETHER, closed: false });
  }
});

test.serial('a closed channel cannot be closed again or funded again', async (t) => {
  const params = tc.params(alice, bob);
  await fund(tc, params, [ETHER, ETHER]);
  const item = closeItem(params, sign(params, finalOf(params, [ETHER, ETHER]), [alice, bob]));
  t.true((await tc.svc.irene.closeBatch([item])).items[0]!.ok);
  const again = await tc.svc.irene.closeBatch([item]);
  t.like(again.items[0], { ok: false, reason: 'channel-closed' });
  const err = await t.throwsAsync(tc.svc.alice.deposit(params, 0, 0, ETHER));
  t.regex(String(err?.message), /ChannelIsClosed/);
  await t.throwsAsync(tc.svc.alice.depositFromWithdrawable(params, 0, 0, 1n), { message: /InsufficientWithdrawable/ });
});

test.serial('a state that leaves part of the holdings unallocated closes and keeps the rest recorded', async (t) => {
  const params = tc.params(alice, bob);
  await fund(tc, params, [3n * ETHER, ETHER]);
  const r = await tc.svc.irene.closeBatch([closeItem(params, sign(params, finalOf(params, [2n * ETHER, ETHER]), [alice, bob]))]);
  t.true(r.items[0]!.ok);
  t.deepEqual(await tc.svc.irene.holdings(r.items[0]!.channelId, NATIVE_ASSET), { amount: ETHER, closed: true });
});

test.serial('deposits by participant index name the participant; bad arguments revert', async (t) => {
  const params = tc.params(alice, bob);
  await tc.svc.irene.deposit(params, 0, 1, 2n);
  const { events } = await tc.svc.irene.events(0n);
  const dep = events.filter((e) => e.type === 'deposited').at(-1);
  t.like(dep, { type: 'deposited', participant: bob.address, amount: 2n, holdingsAfter: 2n });
  await t.throwsAsync(tc.svc.irene.deposit(params, 1, 0, 1n));
  await t.throwsAsync(tc.svc.irene.deposit(params, 0, 0, 0n));
});

test.serial('credit mode pays into withdrawable balances, which fund the next channel or are withdrawn', async (t) => {
  const params = tc.params(alice, bob);
  await fund(tc, params, [2n * ETHER, 2n * ETHER]);
  const before = await tc.ethBalance(alice.address);
  const r = await tc.svc.irene.closeBatch([closeItem(params, sign(params, finalOf(params, [3n * ETHER, ETHER]), [alice, bob]))], 'credit');
  t.true(r.items[0]!.ok);
  t.is(await tc.ethBalance(alice.address), before, 'nothing was pushed');
  t.is(await tc.svc.irene.withdrawable(alice.address, NATIVE_ASSET), 3n * ETHER);
  const next = tc.params(alice, bob);
  await tc.svc.alice.depositFromWithdrawable(next, 0, 0, 2n * ETHER);
  t.deepEqual(await tc.svc.irene.holdings(sign(next, finalOf(next, [0n, 0n]), [alice, bob]).state.channelId, NATIVE_ASSET), {
    amount: 2n * ETHER,
    closed: false,
  });
  t.is(await tc.svc.irene.withdrawable(alice.address, NATIVE_ASSET), ETHER);
  await tc.svc.alice.withdraw(NATIVE_ASSET, irene.address);
  t.is(await tc.svc.irene.withdrawable(alice.address, NATIVE_ASSET), 0n);
});

test.serial('a batch deposit funds many channels in one transaction, all or nothing', async (t) => {
  const token = await deployTestToken(tc);
  const c1 = tc.params(alice, bob);
  const c2 = tc.params(alice, irene, { assets: [NATIVE_ASSET, token] });
  await tc.mint(token, alice.address, 100n);
  await tc.svc.alice.depositBatch([
    { params: c1, assetIndex: 0, participant: 0, amount: 3n },
    { params: c2, assetIndex: 0, participant: 0, amount: 4n },
    { params: c2, assetIndex: 1, participant: 0, amount: 60n },
    { params: c1, assetIndex: 0, participant: 1, amount: 5n },
  ]);
  const id = (p: typeof c1) =>
    sign(
      p,
      finalOf(
        p,
        p.assets.flatMap(() => [0n, 0n]),
      ),
      [alice, bob],
    ).state.channelId;
  t.deepEqual(await tc.svc.irene.holdings(id(c1), NATIVE_ASSET), { amount: 8n, closed: false });
  t.deepEqual(await tc.svc.irene.holdings(id(c2), token), { amount: 60n, closed: false });
  t.is(await tc.tokenBalance(token, alice.address), 40n);
  // One bad item refuses the whole batch: nothing moves.
  await t.throwsAsync(
    tc.svc.alice.depositBatch([
      { params: c1, assetIndex: 0, participant: 0, amount: 1n },
      { params: c1, assetIndex: 0, participant: 2 as 0, amount: 1n },
    ]),
    { message: /InvalidParticipant/ },
  );
  t.deepEqual(await tc.svc.irene.holdings(id(c1), NATIVE_ASSET), { amount: 8n, closed: false });
  const fee = await tc.deploy(FeeOnTransferTokenAbi, FeeOnTransferTokenBytecode);
  const c3 = tc.params(alice, bob, { assets: [fee] });
  await tc.mint(fee, alice.address, 1000n);
  await t.throwsAsync(tc.svc.alice.depositBatch([{ params: c3, assetIndex: 0, participant: 0, amount: 1000n }]), {
    message: /TransferFailed/,
  });
});
