/** Deposits after opening, the answer to a stale state, and signature work on worker threads. */
import test from 'ava';
import { bytesToHex } from '../../src/core/index.ts';
import { createChainService } from '../../src/chain/chain-service.ts';
import { challengeItem } from '../../src/chain/encode.ts';
import { ETHER, type Network, converged, eventually, network } from '../helpers/nodes.ts';
import { readSignedState } from '../../src/sdk/json.ts';

let net: Network;
test.before(async () => {
  net = await network(['alice', 'bob', 'wanda', 'walt'], (name) => ({
    policies: { open: () => true },
    // wanda and walt sign and verify on two worker threads each.
    ...(name.startsWith('w') ? { signer: { workers: 2 } } : {}),
  }));
});
test.after.always(async () => {
  await net?.stop();
});

test.serial('a top-up is deposited on-chain and credited in a co-signed state', async (t) => {
  const { alice, bob } = net.nodes;
  const ch = await alice!.node.openChannel({ peer: bob!.multiaddr, deposit: [ETHER], counterpartyDeposit: [ETHER] });
  const afterBob = await bob!.node.deposit(ch.id, { amount: ETHER / 2n });
  t.is(afterBob.balances[0]!.mine, ETHER + ETHER / 2n);
  const afterAlice = await alice!.node.deposit(ch.id, { amount: 2n * ETHER });
  t.is(afterAlice.balances[0]!.mine, 3n * ETHER);
  await converged(ch.id, alice!, bob!);
  const view = await bob!.node.channel(ch.id);
  t.deepEqual([view.balances[0]!.mine, view.balances[0]!.theirs], [ETHER + ETHER / 2n, 3n * ETHER]);
  // Everything deposited is allocated: a cooperative close pays it all out.
  const closed = await alice!.node.close(ch.id);
  t.is(closed.status, 'closed');
});

test.serial('a stale state registered against an online node is answered with its newer one', async (t) => {
  const { alice, bob } = net.nodes;
  const answered: unknown[] = [];
  bob!.node.on('stale-state-answered', (e) => answered.push(e));
  const ch = await alice!.node.openChannel({ peer: bob!.multiaddr, deposit: [4n * ETHER], challengeDuration: 300n });
  await alice!.node.pay(ch.id, { amount: ETHER });
  await converged(ch.id, alice!, bob!);
  const old = readSignedState(await alice!.node.signedState(ch.id)); // alice: 3, bob: 1
  await alice!.node.pay(ch.id, { amount: 2n * ETHER }); // alice: 1, bob: 3
  await converged(ch.id, alice!, bob!);
  const params = (await alice!.node.signedState(ch.id)).params;
  // alice stops her node and registers the old state, which favours her, straight on-chain.
  await alice!.node.stop();
  const raw = await createChainService({
    rpc: net.provider,
    privateKey: bytesToHex(alice!.actor.privateKey),
    adjudicator: net.adjudicator,
    pollingIntervalMs: 10,
  });
  const coreParams = {
    chainId: BigInt(params.chainId),
    adjudicator: params.adjudicator,
    participants: params.participants,
    assets: params.assets,
    challengeDuration: BigInt(params.challengeDuration),
    nonce: BigInt(params.nonce),
  };
  t.true((await raw.challengeBatch([challengeItem(coreParams, old)])).items[0]!.ok);
  await eventually(
    async () => answered.length,
    (n) => n === 1,
  );
  const registered = await raw.dispute(ch.id);
  t.is(registered?.version, (await bob!.node.channel(ch.id)).version, 'bob registered his newer state');
  const before = await net.ethBalance(bob!.actor.address);
  await net.chain.increaseTime(301);
  // bob did not start the dispute, so he concludes after a grace period; wait for it.
  await eventually(
    () => bob!.node.channel(ch.id).then((c) => c.status),
    (s) => s === 'closed',
    30_000,
  );
  const gained = (await net.ethBalance(bob!.actor.address)) - before;
  t.true(gained > 3n * ETHER - ETHER / 100n && gained <= 3n * ETHER, `bob gained ${gained}`);
  await net.nodes.alice!.restart();
});

test.serial('nodes signing on worker threads pay and countersign like inline ones', async (t) => {
  const { wanda, walt } = net.nodes;
  t.regex((await wanda!.node.info()).signer, /worker/);
  const ch = await wanda!.node.openChannel({ peer: walt!.multiaddr, deposit: [1000n], counterpartyDeposit: [1000n] });
  const results = await Promise.all([
    ...Array.from({ length: 200 }, () => wanda!.node.pay(ch.id, { amount: 1n })),
    ...Array.from({ length: 100 }, () => walt!.node.pay(ch.id, { amount: 3n })),
  ]);
  t.is(results.length, 300);
  await converged(ch.id, wanda!, walt!);
  t.is((await wanda!.node.channel(ch.id)).balances[0]!.mine, 1000n - 200n + 300n);
  t.is((await walt!.node.channel(ch.id)).balances[0]!.mine, 1000n - 300n + 200n);
});
