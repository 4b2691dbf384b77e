/**
 * Two nodes over real libp2p, real lmdb and an EVM (in-process EDR) running the adjudicator:
 * open, pay both ways, pay concurrently from both sides, swap, close cooperatively or by force.
 */
import test from 'ava';
import { NATIVE_ASSET } from '../../src/core/index.ts';
import { ETHER, type Network, converged, eventually, network } from '../helpers/nodes.ts';

let net: Network;
test.before(async () => {
  net = await network(['alice', 'bob', 'carol'], (name) => ({
    policies: {
      open: () => true,
      // bob sells tokens for ETH at no less than 1 ETH per 1,000 tokens
      ...(name === 'bob'
        ? {
            swap: (offer) => {
              if (offer.receive.amount === 13n) throw new Error('price feed unavailable');
              return offer.receive.asset === NATIVE_ASSET &&
                offer.give.asset === net.token &&
                offer.receive.amount * 1000n >= offer.give.amount
                ? true
                : { accept: false, reason: 'price or pair not accepted' };
            },
          }
        : {}),
    },
  }));
});
test.after.always(async () => {
  await net?.stop();
});

test.serial('open, pay both ways, and both sides agree on every balance', async (t) => {
  const { alice, bob } = net.nodes;
  const events: bigint[] = [];
  bob!.node.on('payment-received', (e) => events.push(e.amount));
  const ch = await alice!.node.openChannel({ peer: bob!.multiaddr, deposit: [10n * ETHER], counterpartyDeposit: [5n * ETHER] });
  t.is(ch.status, 'open');
  t.is(ch.role, 'leader');
  const p1 = await alice!.node.pay(ch.id, { amount: 2n * ETHER });
  t.true(p1.version >= 1n);
  const p2 = await bob!.node.pay(ch.id, { amount: ETHER / 2n });
  t.true(p2.version > p1.version);
  await converged(ch.id, alice!, bob!);
  const a = await alice!.node.channel(ch.id);
  const b = await bob!.node.channel(ch.id);
  t.deepEqual(a.balances[0], { asset: NATIVE_ASSET, mine: 8n * ETHER + ETHER / 2n, theirs: 6n * ETHER + ETHER / 2n, locked: 0n });
  t.is(b.balances[0]!.mine, a.balances[0]!.theirs);
  t.is(b.version, a.version);
  t.deepEqual(events, [2n * ETHER]);
  const state = await bob!.node.signedState(ch.id);
  t.is(state.state.version, a.version.toString());
  t.is(state.signatures.length, 2);
});

test.serial('hundreds of payments from both sides at once share updates and conserve funds', async (t) => {
  const { alice, bob } = net.nodes;
  const ch = await alice!.node.openChannel({ peer: bob!.multiaddr, deposit: [1000n], counterpartyDeposit: [1000n] });
  const before = (await alice!.node.channel(ch.id)).version;
  const fromAlice = Array.from({ length: 400 }, () => alice!.node.pay(ch.id, { amount: 1n }));
  const fromBob = Array.from({ length: 300 }, () => bob!.node.pay(ch.id, { amount: 2n }));
  const results = await Promise.all([...fromAlice, ...fromBob]);
  await converged(ch.id, alice!, bob!);
  const versions = new Set(results.map((r) => r.version));
  t.true(versions.size < results.length / 4, `${results.length} payments in ${versions.size} updates`);
  const a = await alice!.node.channel(ch.id);
  const b = await bob!.node.channel(ch.id);
  t.is(a.version, b.version);
  t.is(a.balances[0]!.mine, 1000n - 400n + 600n);
  t.is(b.balances[0]!.mine, 1000n - 600n + 400n);
  t.is(a.balances[0]!.mine + a.balances[0]!.theirs, 2000n);
  t.true(a.version > before);
});

test.serial('an overdraft is refused with a typed reason and changes nothing', async (t) => {
  const { alice, bob } = net.nodes;
  const ch = await alice!.node.openChannel({ peer: bob!.multiaddr, deposit: [100n] });
  const err = await t.throwsAsync(bob!.node.pay(ch.id, { amount: 1n }));
  t.is((err as { code?: string }).code, 'INSUFFICIENT_BALANCE');
  // Two payments that together overdraw: one succeeds, the other is refused by the leader.
  const outcomes = await Promise.allSettled([alice!.node.pay(ch.id, { amount: 70n }), alice!.node.pay(ch.id, { amount: 70n })]);
  t.is(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
  const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
  t.is(refused.reason.reason, 'insufficient-balance');
  t.is((await bob!.node.channel(ch.id)).balances[0]!.mine, 70n);
});

test.serial('a swap is one atomic update when the counterparty policy accepts it, and nothing when not', async (t) => {
  const { alice, bob } = net.nodes;
  const executed: unknown[] = [];
  bob!.node.on('swap-executed', (e) => executed.push(e));
  const ch = await alice!.node.openChannel({
    peer: bob!.multiaddr,
    assets: [NATIVE_ASSET, net.token],
    deposit: [ETHER, 0n],
    counterpartyDeposit: [0n, 5000n * ETHER],
  });
  const ok = await alice!.node.swap(ch.id, {
    give: { asset: NATIVE_ASSET, amount: ETHER / 10n },
    take: { asset: net.token, amount: 100n * ETHER },
  });
  t.true(ok.version > 0n);
  const a = await alice!.node.channel(ch.id);
  t.deepEqual(
    a.balances.map((b) => b.mine),
    [ETHER - ETHER / 10n, 100n * ETHER],
  );
  t.is(executed.length, 1);
  // Too cheap for bob's policy: refused as a whole, balances unchanged, later updates still work.
  const refused = await alice!.node
    .swap(ch.id, { give: { asset: NATIVE_ASSET, amount: 1n }, take: { asset: net.token, amount: 100n * ETHER } })
    .catch((e: unknown) => e);
  t.is((refused as { reason?: string }).reason, 'policy');
  t.deepEqual(
    (await alice!.node.channel(ch.id)).balances.map((b) => b.mine),
    [ETHER - ETHER / 10n, 100n * ETHER],
  );
  await alice!.node.pay(ch.id, { asset: NATIVE_ASSET, amount: 1n });
  await converged(ch.id, alice!, bob!);
  const b = await bob!.node.channel(ch.id);
  t.is(b.version, (await alice!.node.channel(ch.id)).version);
  t.is(b.balances[0]!.mine, ETHER / 10n + 1n);
  await converged(ch.id, alice!, bob!);
  // A policy that fails is a refusal of ours ('internal'), not a decision; the channel goes on.
  const failed = await alice!.node
    .swap(ch.id, { give: { asset: NATIVE_ASSET, amount: 13n }, take: { asset: net.token, amount: 1n } })
    .catch((e: unknown) => e);
  t.is((failed as { reason?: string }).reason, 'internal');
  await alice!.node.pay(ch.id, { asset: NATIVE_ASSET, amount: 1n });
  // bob initiates too: a swap bob asks for goes through alice's policy (none: refused).
  const fromBob = await bob!.node
    .swap(ch.id, { give: { asset: net.token, amount: 1n }, take: { asset: NATIVE_ASSET, amount: 1n } })
    .catch((e: unknown) => e);
  t.is((fromBob as { reason?: string }).reason, 'policy');
  // Swaps ride in batches with payments: refused ones are named and fail alone; the rest go again.
  const before = (await alice!.node.channel(ch.id)).balances.map((b) => b.mine);
  const mixed = await Promise.allSettled([
    ...Array.from({ length: 20 }, () => alice!.node.pay(ch.id, { asset: NATIVE_ASSET, amount: 1n })),
    alice!.node.swap(ch.id, { give: { asset: NATIVE_ASSET, amount: 1n }, take: { asset: net.token, amount: ETHER } }),
    alice!.node.swap(ch.id, { give: { asset: NATIVE_ASSET, amount: 2n }, take: { asset: net.token, amount: ETHER } }),
    alice!.node.swap(ch.id, { give: { asset: NATIVE_ASSET, amount: ETHER / 100n }, take: { asset: net.token, amount: ETHER } }),
  ]);
  t.deepEqual(
    mixed.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { reason?: string }).reason)),
    [...Array.from({ length: 20 }, () => 'ok'), 'policy', 'policy', 'ok'],
  );
  t.deepEqual(
    (await alice!.node.channel(ch.id)).balances.map((b) => b.mine),
    [before[0]! - 20n - ETHER / 100n, before[1]! + ETHER],
  );
});

test.serial('a cooperative close pays each side its final balance on-chain', async (t) => {
  const { alice, carol } = net.nodes;
  const ch = await alice!.node.openChannel({ peer: carol!.multiaddr, deposit: [3n * ETHER], counterpartyDeposit: [ETHER] });
  await alice!.node.pay(ch.id, { amount: ETHER });
  const before = await net.ethBalance(carol!.actor.address);
  const closed = await carol!.node.close(ch.id);
  t.is(closed.status, 'closed');
  t.truthy(closed.transactionHash);
  // carol paid gas for the close she submitted, and received 2 ETH.
  const gained = (await net.ethBalance(carol!.actor.address)) - before;
  t.true(gained > 2n * ETHER - ETHER / 100n && gained <= 2n * ETHER, `carol gained ${gained}`);
  await eventually(
    () => alice!.node.channel(ch.id).then((c) => c.status),
    (s) => s === 'closed',
  );
  await t.throwsAsync(alice!.node.pay(ch.id, { amount: 1n }), { message: /closed|not open/ });
});

test.serial('a forced close registers the latest state and concludes after the challenge period', async (t) => {
  const { alice, carol } = net.nodes;
  const ch = await alice!.node.openChannel({ peer: carol!.multiaddr, deposit: [2n * ETHER], challengeDuration: 120n });
  await alice!.node.pay(ch.id, { amount: ETHER / 4n });
  const closing = alice!.node.close(ch.id, { mode: 'force' });
  // Wait until the state is registered, then let the chain's clock pass the period.
  await eventually(
    () => carol!.node.channel(ch.id).then((c) => c.status),
    (s) => s === 'disputed',
  );
  const before = await net.ethBalance(carol!.actor.address);
  await net.chain.increaseTime(121);
  const result = await closing;
  t.is(result.status, 'closed');
  t.is((await net.ethBalance(carol!.actor.address)) - before, ETHER / 4n);
});

test.serial('a restarted leader skips the versions it leased; the follower accepts the jump (ADR 0006)', async (t) => {
  const ch = await net.nodes.alice!.node.openChannel({ peer: net.nodes.bob!.multiaddr, deposit: [1000n], counterpartyDeposit: [1000n] });
  const first = await net.nodes.alice!.node.pay(ch.id, { amount: 1n });
  t.is(first.version, 1n, 'the first update leases versions 1 to 1024');
  t.is((await net.nodes.alice!.node.pay(ch.id, { amount: 1n })).version, 2n, 'within the lease: no jump');
  for (const lease of [1024n, 2048n]) {
    const alice = await net.nodes.alice!.restart();
    await eventually(
      () => alice.node.channel(ch.id),
      (c) => c.counterparty.connected,
    );
    const after = await alice.node.pay(ch.id, { amount: 1n });
    t.is(after.version, lease + 1n, 'every version up to the lease is skipped: none can be signed twice');
    const fromBob = await net.nodes.bob!.node.pay(ch.id, { amount: 2n });
    t.is(fromBob.version, lease + 2n);
  }
  const final = await converged(ch.id, net.nodes.alice!, net.nodes.bob!);
  t.is(final, 2050n);
  const a = await net.nodes.alice!.node.channel(ch.id);
  t.is(a.balances[0]!.mine, 1000n - 4n + 4n);
  t.is((await net.nodes.bob!.node.signedState(ch.id)).state.version, '2050');
});
