import test from 'ava';
import { toFunctionSelector } from 'viem';
import { LanesAdjudicatorAbi } from '../../src/chain/artifacts/LanesAdjudicator.ts';
import { NATIVE_ASSET, channelId } from '../../src/core/index.ts';
import { MAX_COALESCED_DEPOSITS } from '../../src/chain/chain-service.ts';
import { type TestChain, alice, bob, irene, setupChain } from '../helpers/chain.ts';

let tc: TestChain;
const depositSelector = toFunctionSelector(LanesAdjudicatorAbi.find((x) => x.type === 'function' && x.name === 'deposit')!);
test.before(async () => {
  tc = await setupChain();
});

test.serial('ETH deposits that wait for the transaction slot leave together as one depositBatch', async (t) => {
  // One alone is a plain deposit.
  const single = tc.params(alice, bob);
  const r = await tc.svc.alice.deposit(single, 0, 0, 10n);
  t.is((await tc.deployer.publicClient.getTransaction({ hash: r.hash })).input.slice(0, 10), depositSelector);
  const channels = Array.from({ length: 6 }, (_, i) => tc.params(alice, i % 2 === 0 ? bob : irene));
  const receipts = await Promise.all(channels.map((p, i) => tc.svc.alice.deposit(p, 0, 0, BigInt(i + 1))));
  // Made in one turn, they all wait for the slot and share one transaction.
  t.is(new Set(receipts.map((r) => r.hash)).size, 1);
  for (const [i, p] of channels.entries())
    t.deepEqual(await tc.svc.irene.holdings(channelId(p), NATIVE_ASSET), { amount: BigInt(i + 1), closed: false });
  const tx = await tc.deployer.publicClient.getTransaction({ hash: receipts[0]!.hash });
  t.is(tx.value, 1n + 2n + 3n + 4n + 5n + 6n);
});

test.serial('one deposit that would revert fails alone: the others are sent one by one', async (t) => {
  const good = [tc.params(alice, bob), tc.params(alice, bob), tc.params(alice, irene)];
  const results = await Promise.allSettled([
    tc.svc.alice.deposit(good[0]!, 0, 0, 7n),
    tc.svc.alice.deposit(good[1]!, 0, 0, 8n),
    tc.svc.alice.deposit(good[1]!, 0, 2 as 0, 1n), // no participant 2: InvalidParticipant
    tc.svc.alice.deposit(good[2]!, 0, 1, 9n),
  ]);
  t.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
  );
  t.regex(String((results[2] as PromiseRejectedResult).reason), /InvalidParticipant/);
  t.deepEqual(await tc.svc.irene.holdings(channelId(good[0]!), NATIVE_ASSET), { amount: 7n, closed: false });
  t.deepEqual(await tc.svc.irene.holdings(channelId(good[1]!), NATIVE_ASSET), { amount: 8n, closed: false });
  t.deepEqual(await tc.svc.irene.holdings(channelId(good[2]!), NATIVE_ASSET), { amount: 9n, closed: false });
});

test.serial(`at most ${MAX_COALESCED_DEPOSITS} deposits share a transaction`, async (t) => {
  const n = MAX_COALESCED_DEPOSITS + 6;
  const channels = Array.from({ length: n }, () => tc.params(alice, bob));
  const receipts = await Promise.all(channels.map((p) => tc.svc.alice.deposit(p, 0, 0, 1n)));
  const sizes = new Map<string, number>();
  for (const r of receipts) sizes.set(r.hash, (sizes.get(r.hash) ?? 0) + 1);
  t.deepEqual([...sizes.values()], [MAX_COALESCED_DEPOSITS, 6]);
});
