/**
 * Issue 13's findings, each reproduced against a real node (lmdb, libp2p, EDR): a scripted
 * counterparty (test/helpers/mallory.ts) with its own valid key tries to make an honest node pay
 * twice or lose funds; recovery paths must not lose or freeze them. Each test failed before the
 * channel machine (docs/adr/0009).
 */
import test from 'ava';
import { type ChannelState, type Message, NATIVE_ASSET, type Op, type ProposeMessage, applyUpdate } from '../../src/core/index.ts';
import type { ChainService } from '../../src/chain/chain-service.ts';
import { challengeItem, closeItem } from '../../src/chain/encode.ts';
import { actor } from '../helpers/actors.ts';
import { freePort } from '../helpers/local-net.ts';
import { type Mallory, inNetwork, mallory } from '../helpers/mallory.ts';
import { ETHER, type Network, converged, eventually, network } from '../helpers/nodes.ts';

let net: Network;
let m: Mallory;
let bobChain: { failNextChallenge: boolean };
let aliceChain: { slowDeposits: number };

test.before(async () => {
  bobChain = { failNextChallenge: false };
  aliceChain = { slowDeposits: 0 };
  // Bob restarts on the same port (as a node with a configured port does): alice redials him there.
  const bobPort = await freePort();
  net = await network(['alice', 'bob', 'carol'], (name) => ({
    ...(name === 'bob' ? { listen: [`/ip4/127.0.0.1/tcp/${bobPort}`] } : {}),
    policies: name === 'carol' ? {} : { open: () => true },
    ...(name === 'bob' ? { wrapChain: (s: ChainService) => failingOnce(s, bobChain) } : {}),
    ...(name === 'alice' ? { wrapChain: (s: ChainService) => slowDeposits(s, aliceChain) } : {}),
  }));
  m = await mallory(inNetwork(net), actor('byzantine-mallory'));
});

test.after.always(async () => {
  await m?.stop();
  await net?.stop();
});

/** A chain service whose next challengeBatch fails once (an RPC error, a receipt timeout). */
function failingOnce(s: ChainService, flag: { failNextChallenge: boolean }): ChainService {
  return {
    ...s,
    challengeBatch(items) {
      if (flag.failNextChallenge) {
        flag.failNextChallenge = false;
        return Promise.reject(new Error('injected: the RPC endpoint is down'));
      }
      return s.challengeBatch(items);
    },
  };
}

/** A chain service whose next `slowDeposits` deposits wait 2 s first. */
function slowDeposits(s: ChainService, flag: { slowDeposits: number }): ChainService {
  return {
    ...s,
    async deposit(...args) {
      if (flag.slowDeposits > 0) {
        flag.slowDeposits--;
        await new Promise((r) => setTimeout(r, 2000));
      }
      return s.deposit(...args);
    },
  };
}

const isPropose = (m: Message): m is ProposeMessage => m.type === 'propose';
const isReject = (m: Message): m is Extract<Message, { type: 'reject' }> => m.type === 'reject';

function next(params: Parameters<typeof applyUpdate>[0], from: ChannelState, ops: Op[], version: bigint): ChannelState {
  const r = applyUpdate(params, from, ops, { now: 0n });
  if (!r.ok) throw new Error(r.detail);
  return { ...r.value, version };
}

/** Bob leads a channel with mallory; bob deposits `bobShare`, mallory `malloryShare` (mallory pays hers herself). */
async function bobLeads(bobShare: bigint, malloryShare = 0n) {
  const bob = net.nodes.bob!;
  const from = m.inbox.length;
  const multiaddr = m.multiaddrs()[0]!;
  const opening = bob.node.openChannel({
    peer: multiaddr,
    deposit: [bobShare],
    counterpartyDeposit: [malloryShare],
    challengeDuration: 600n,
    waitFor: 'signed',
  });
  const { params, v0 } = await m.follow(bob, from);
  const ch = await opening;
  if (malloryShare > 0n) {
    await eventually(
      () => m.chain.holdings(ch.id, NATIVE_ASSET).then((h) => h.amount),
      (a) => a >= bobShare,
    );
    await m.chain.deposit(params, 0, 1, malloryShare);
  }
  await eventually(
    () => bob.node.channel(ch.id).then((c) => c.status),
    (s) => s === 'open',
  );
  return { params, v0, id: ch.id };
}

test.serial("1. a leader that lists the follower's one payment three times gets no countersignature", async (t) => {
  const bob = net.nodes.bob!;
  const { params, v0 } = await m.lead(bob, [[0n, 5n * ETHER]]);
  await eventually(
    () => bob.node.channel(v0.channelId).then((c) => c.status),
    (s) => s === 'open',
  );
  const from = m.inbox.length;
  const paying = bob.node.pay(v0.channelId, { amount: ETHER });
  const request = await m.next((x): x is Extract<Message, { type: 'request' }> => x.type === 'request', from);
  const op = request.ops[0]!;
  const thrice = next(params, v0, [op, op, op], 1n);
  const seen = m.inbox.length;
  await m.send(bob, { type: 'propose', channelId: v0.channelId, version: 1n, ops: [op, op, op], signature: m.sign(params, thrice) });
  const answer = await m.next((x): x is Message => (x.type === 'countersign' || x.type === 'reject') && x.channelId === v0.channelId, seen);
  t.is(answer.type, 'reject', 'bob never countersigns one payment applied three times');
  t.is((await bob.node.channel(v0.channelId)).balances[0]!.mine, 5n * ETHER);
  // Listed once, it is countersigned, and the payment completes.
  const once = next(params, v0, [op], 2n);
  await m.send(bob, { type: 'propose', channelId: v0.channelId, version: 2n, ops: [op], signature: m.sign(params, once) });
  t.is((await paying).version, 2n);
  t.is((await bob.node.channel(v0.channelId)).balances[0]!.mine, 4n * ETHER);
});

test.serial('2. a refused proposal resurrected through catch-up is applied once, never again', async (t) => {
  const bob = net.nodes.bob!;
  const { params, v0, id } = await bobLeads(5n * ETHER);
  const from = m.inbox.length;
  const paying = bob.node.pay(id, { amount: ETHER });
  const p1 = await m.next(isPropose, from);
  // Refuse it, naming an operation it does not carry, then hand bob the very state, countersigned.
  await m.send(bob, { type: 'reject', channelId: id, version: p1.version, ops: [999_999n], reason: 'policy', detail: 'no' });
  const state = next(params, v0.state, [...p1.ops], p1.version);
  await m.send(bob, { type: 'state', state, signatures: [p1.signature, m.sign(params, state)] });
  t.is(await paying.then((r) => r.version), p1.version, 'the payment completes once, in the adopted state');
  // Mallory countersigns whatever bob proposes next: the payment must never be in it again.
  let after = m.inbox.length;
  const more = bob.node.pay(id, { amount: 1n });
  let done = false;
  void more.finally(() => (done = true));
  let base = state;
  const proposed: ProposeMessage[] = [];
  while (!done) {
    const p = await m.next(isPropose, after).catch(() => undefined);
    if (!p) continue;
    after = m.inbox.indexOf(p) + 1;
    proposed.push(p);
    base = next(params, base, [...p.ops], p.version);
    await m.send(bob, { type: 'countersign', channelId: id, version: p.version, signature: m.sign(params, base) });
    await new Promise((r) => setTimeout(r, 50));
  }
  await more;
  t.false(
    proposed.some((p) => p.ops.some((o) => o.id === p1.ops[0]!.id)),
    'the resurrected payment is not proposed again',
  );
  t.is((await bob.node.channel(id)).balances[0]!.mine, 4n * ETHER - 1n, 'bob paid 1 ETH once, and 1 wei');
});

test.serial('3. after a final state bob released, bob signs nothing else (a refused final is no instant-close ticket)', async (t) => {
  const bob = net.nodes.bob!;
  const { params, id } = await bobLeads(5n * ETHER, 5n * ETHER);
  const from = m.inbox.length;
  const closing = bob.node.close(id, { waitFor: 'closed' });
  const final = await m.next(isPropose, from);
  await m.send(bob, { type: 'reject', channelId: id, version: final.version, reason: 'policy', detail: 'not yet' });
  // Mallory pays bob 2 ETH: were it co-signed, her old final state would undo it at once.
  const seen = m.inbox.length;
  await m.send(bob, { type: 'request', channelId: id, ops: [{ kind: 'pay', id: 1n, by: 1, asset: 0, amount: 2n * ETHER }] });
  const otherState = await m.arrives((x) => isPropose(x) && x.version !== final.version, seen, 1500);
  t.false(otherState, 'no state after the final one is proposed');
  const refused = m.inbox.slice(seen).find((x) => isReject(x) && x.ops?.includes(1n));
  t.truthy(refused, 'the payment request is refused');
  // She closes with the final state after all: it is exactly what bob agreed to.
  const finalState = (await bob.node.signedState(id).catch(() => undefined))?.state;
  void finalState;
  const state: ChannelState = {
    channelId: id,
    version: final.version,
    balances: [[5n * ETHER, 5n * ETHER]],
    locks: [],
    isFinal: true,
  };
  const before = await net.ethBalance(bob.actor.address);
  await m.chain.closeBatch([closeItem(params, { state, signatures: [final.signature, m.sign(params, state)] })]);
  await closing;
  t.is((await net.ethBalance(bob.actor.address)) - before, 5n * ETHER);
});

/**
 * Mallory as an honest-looking follower: countersigns every proposal of channel `id` the node
 * sends, tracking the co-signed state. Returns the latest state and a stop function.
 */
function countersignAll(node: NonNullable<Network['nodes'][string]>, params: Parameters<typeof applyUpdate>[0], v0: ChannelState) {
  let latest = v0;
  let stopped = false;
  let from = m.inbox.length;
  void (async () => {
    while (!stopped) {
      const p = await m.next((x): x is ProposeMessage => isPropose(x) && x.channelId === v0.channelId, from, 500).catch(() => undefined);
      if (!p) continue;
      from = m.inbox.indexOf(p) + 1;
      latest = next(params, latest, [...p.ops], p.version);
      await m.send(node, { type: 'countersign', channelId: v0.channelId, version: p.version, signature: m.sign(params, latest) });
    }
  })();
  return {
    latest: () => latest,
    stop: () => {
      stopped = true;
    },
  };
}

test.serial("4. a griefer's wei during funding and a top-up made while the leader is offline are both credited", async (t) => {
  const { alice, bob } = net.nodes as Record<string, NonNullable<(typeof net.nodes)[string]>>;
  // Alice's first deposit is slow: a stranger's 1 wei for bob lands before it.
  aliceChain.slowDeposits = 1;
  const ch = await alice!.node.openChannel({ peer: bob!.multiaddr, deposit: [5n * ETHER], waitFor: 'signed' });
  const json = (await alice!.node.signedState(ch.id)).params;
  const params = {
    chainId: BigInt(json.chainId),
    adjudicator: json.adjudicator,
    participants: json.participants,
    assets: json.assets,
    challengeDuration: BigInt(json.challengeDuration),
    nonce: BigInt(json.nonce),
  };
  await m.chain.deposit(params, 0, 1, 1n);
  await eventually(
    () => alice!.node.channel(ch.id).then((c) => c.status),
    (s) => s === 'open',
    15_000,
  );
  await eventually(
    () => bob!.node.channel(ch.id).then((c) => c.balances[0]!.mine),
    (b) => b === 1n,
    15_000,
  );
  // Alice (the leader) goes away; bob tops up; alice comes back later.
  await alice!.node.stop();
  const topping = bob!.node.deposit(ch.id, { amount: ETHER }).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 3000));
  const back = await alice!.restart();
  await back.node.connect(bob!.multiaddr).catch(() => undefined);
  await eventually(
    () => bob!.node.channel(ch.id).then((c) => c.balances[0]!.mine),
    (b) => b === ETHER + 1n,
    20_000,
  );
  await topping;
  await converged(ch.id, back, bob!);
  t.is((await back.node.channel(ch.id)).balances[0]!.theirs, ETHER + 1n);
});

test.serial('5a. a forced close survives a restart of the node that registered it: it still concludes', async (t) => {
  const alice = net.nodes.alice!;
  const from = m.inbox.length;
  const opening = alice.node.openChannel({ peer: m.multiaddrs()[0]!, deposit: [5n * ETHER], challengeDuration: 600n });
  const { params, v0 } = await m.follow(alice, from);
  const cs = countersignAll(alice, params, v0.state);
  const ch = await opening;
  await alice.node.pay(ch.id, { amount: ETHER });
  cs.stop();
  await alice.node.close(ch.id, { mode: 'force', waitFor: 'submitted' });
  await eventually(
    () => alice.node.channel(ch.id).then((c) => c.status),
    (s) => s === 'disputed',
  );
  // The chain watcher has taken in the registration (and moved its position past it) when alice
  // restarts in the middle of the dispute; mallory never concludes; the period passes.
  await new Promise((r) => setTimeout(r, 1000));
  const again = await alice.restart();
  await net.chain.increaseTime(601);
  await eventually(
    () => again.node.channel(ch.id).then((c) => c.status),
    (s) => s === 'closed',
    30_000,
  );
  t.pass();
});

test.serial('5b. an answer to a stale state that failed once is sent again before the deadline', async (t) => {
  const bob = net.nodes.bob!;
  const { params, v0, id } = await bobLeads(5n * ETHER);
  const cs = countersignAll(bob, params, v0.state);
  await bob.node.pay(id, { amount: ETHER });
  const stale = cs.latest();
  const staleSigned = { state: stale, signatures: [(await bob.node.signedState(id)).signatures[0], m.sign(params, stale)] };
  await bob.node.pay(id, { amount: ETHER });
  cs.stop();
  const { hexToBytes } = await import('../../src/core/index.ts');
  // Mallory registers the older state; bob's first answer fails (its RPC endpoint is down).
  bobChain.failNextChallenge = true;
  await m.chain.challengeBatch([
    challengeItem(params, {
      state: stale,
      signatures: [hexToBytes(staleSigned.signatures[0] as `0x${string}`), staleSigned.signatures[1] as Uint8Array],
    }),
  ]);
  const latest = (await bob.node.channel(id)).version;
  await eventually(
    () => m.chain.dispute(id).then((d) => d?.version),
    (v) => v === latest,
    20_000,
  );
  t.false(bobChain.failNextChallenge, 'the first answer failed');
  await net.chain.increaseTime(601);
  const before = await net.ethBalance(bob.actor.address);
  await eventually(
    () => bob.node.channel(id).then((c) => c.status),
    (s) => s === 'closed',
    30_000,
  );
  const got = (await net.ethBalance(bob.actor.address)) - before;
  t.true(got <= 3n * ETHER && got > 3n * ETHER - 10n ** 15n, `the channel concluded with bob's latest state (got ${got})`);
});

test.serial('6. a state the counterparty registered but never countersigned back is concluded by us', async (t) => {
  const bob = net.nodes.bob!;
  const { params, v0, id } = await bobLeads(5n * ETHER);
  const from = m.inbox.length;
  const paying = bob.node.pay(id, { amount: ETHER }).catch((e: unknown) => e);
  const p1 = await m.next(isPropose, from);
  // Mallory withholds her countersignature, registers bob's proposal herself, and walks away.
  const state = next(params, v0.state, [...p1.ops], p1.version);
  await m.chain.challengeBatch([challengeItem(params, { state, signatures: [p1.signature, m.sign(params, state)] })]);
  await eventually(
    () => bob.node.channel(id).then((c) => c.status),
    (s) => s === 'disputed',
  );
  await net.chain.increaseTime(601);
  const before = await net.ethBalance(bob.actor.address);
  await eventually(
    () => bob.node.channel(id).then((c) => c.status),
    (s) => s === 'closed',
    30_000,
  );
  // Bob paid the conclusion's gas himself.
  const got = (await net.ethBalance(bob.actor.address)) - before;
  t.true(got <= 4n * ETHER && got > 4n * ETHER - 10n ** 15n, `bob concluded the state with his payment in it (got ${got})`);
  const r = await paying;
  t.false(r instanceof Error, 'the payment is reported done: it is in the state the chain paid out');
});

test.serial('7. opens nobody asked for are refused without a policy, and capped per peer with one', async (t) => {
  const carol = net.nodes.carol!;
  const from = m.inbox.length;
  await m
    .lead(carol, [[ETHER, 0n]])
    .then(() => t.fail('carol has no open policy'))
    .catch(() => undefined);
  const refused = m.inbox.slice(from).find(isReject);
  t.is(refused?.reason, 'policy');
  // Bob accepts opens, but no more than 16 unfunded ones from one peer.
  const bob = net.nodes.bob!;
  for (let i = 0; i < 16; i++) await m.lead(bob, [[ETHER, 0n]]); // mallory never funds them
  const seen = m.inbox.length;
  await m.lead(bob, [[ETHER, 0n]]).catch(() => undefined);
  t.true(m.inbox.slice(seen).some((x) => isReject(x) && x.reason === 'policy'));
});
