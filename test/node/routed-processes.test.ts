/**
 * Routed payments between five nodes in separate OS processes, in a line
 * alice — bob — carol — dave — erin, on libp2p over TCP and a real EDR chain process. Public
 * channels are announced over graph gossip and checked on-chain; bob, carol and dave forward for
 * a fee. Every test ends with every honest node whole: the payer pays amount + fees or nothing,
 * each forwarder nets exactly its fee or nothing.
 *
 *   - 3 and 4 hops, invoice and keysend;
 *   - a failure at each hop position, reported to the payer with the hop and the reason;
 *   - a payee that never reveals: every lock returns after the expiry, and a reveal after it gets nothing;
 *   - a hop that goes offline holding a lock: the payer is refunded after the expiry;
 *   - a forwarder whose upstream is gone when it learns the secret: it registers the secret
 *     on-chain, is paid at close, and the upstream, back, is paid by its own upstream.
 *
 * Clocks: every process's clock and the chain's move forward together (`advance`), so expiries
 * pass without waiting for them.
 */
import test from 'ava';
import type { Bytes32 } from '../../src/core/bytes.ts';
import type { AssetPolicy } from '../../src/core/routing/types.ts';
import type { ChannelInfo, CloseResult } from '../../src/sdk/api.ts';
import type { InvoiceInfo, PaymentInfo } from '../../src/sdk/payments.ts';
import { type Actor, actor } from '../helpers/actors.ts';
import { type LocalNet, freePort, keyHex, localNet } from '../helpers/local-net.ts';
import { type ProcessNode, spawnNode } from '../helpers/process-node.ts';

const ETHER = 10n ** 18n;
const NAMES = ['alice', 'bob', 'carol', 'dave', 'erin'] as const;
type Name = (typeof NAMES)[number];
const FEE: AssetPolicy = { feeBase: 1000n, feePpm: 100, minAmount: 1n, maxAmount: 10n ** 24n };
/** A lock of a route lasts 660 s (ten minutes plus the forwarders' minimum); this passes it. */
const PAST_EXPIRY = 700;

let net: LocalNet;
const nodes = {} as Record<Name, ProcessNode>;
const actors = Object.fromEntries(NAMES.map((n) => [n, actor(n)])) as Record<Name, Actor>;
const dirs = {} as Record<Name, string>;
const ports = {} as Record<Name, number>;
/** The channel between each node and the next, by the first node's name. */
const ids = {} as Record<'ab' | 'bc' | 'cd' | 'de', Bytes32>;
let offset = 0;

async function start(name: Name): Promise<ProcessNode> {
  dirs[name] ??= net.tempDir(name);
  ports[name] ??= await freePort();
  nodes[name] = await spawnNode({
    port: ports[name],
    privateKey: keyHex(actors[name]),
    dataDir: dirs[name],
    rpc: net.chain.rpcUrl,
    adjudicator: net.adjudicator,
    acceptOpens: true,
    graph: true,
    clockOffset: offset,
  });
  return nodes[name];
}

const down = new Set<Name>();

/** Moves every live process's clock and the chain's `seconds` ahead. */
async function advance(seconds: number): Promise<void> {
  offset += seconds * 1000;
  await Promise.all(NAMES.filter((n) => !down.has(n)).map((n) => nodes[n].call('advanceClock', seconds * 1000)));
  await net.increaseTime(seconds);
}

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline)
      throw new Error(`waiting for ${what}: last ${JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}` : x))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const info = (n: Name, id: Bytes32) => nodes[n].call<ChannelInfo>('channel', id);
const mine = async (n: Name, id: Bytes32) => (await info(n, id)).balances[0]!.mine;
const locked = async (n: Name, id: Bytes32) => (await info(n, id)).balances[0]!.locked;

/** Every node's balance in each of its channels, for "nothing moved" checks. */
async function snapshot(): Promise<Record<string, bigint>> {
  const s: Record<string, bigint> = {};
  const pairs: [Name, keyof typeof ids][] = [
    ['alice', 'ab'],
    ['bob', 'ab'],
    ['bob', 'bc'],
    ['carol', 'bc'],
    ['carol', 'cd'],
    ['dave', 'cd'],
    ['dave', 'de'],
    ['erin', 'de'],
  ];
  for (const [n, c] of pairs) if (!down.has(n)) s[`${n}/${c}`] = await mine(n, ids[c]);
  return s;
}

/** Waits until no lock is left on any channel a live node sees, and returns the balances. */
/**
 * erin crashes with her settle sent to a frozen dave (who is killed too), comes back, and must
 * register the secret on-chain herself.
 */
async function erinBackRegisters(): Promise<void> {
  await nodes.erin.kill('SIGKILL');
  await nodes.dave.kill('SIGKILL');
  down.add('dave');
  await start('erin');
  await until(
    'erin to register the secret',
    () => nodes.erin.call<{ registered: number }>('forwardingStats'),
    (s) => s.registered > 0,
    60_000,
  );
}

async function settledDown(): Promise<Record<string, bigint>> {
  await until(
    'every lock to leave the channels',
    async () => {
      let n = 0n;
      for (const [name, c] of [
        ['alice', 'ab'],
        ['bob', 'bc'],
        ['carol', 'cd'],
        ['dave', 'de'],
      ] as const)
        if (!down.has(name)) n += await locked(name, ids[c]);
      return n;
    },
    (n) => n === 0n,
  );
  return snapshot();
}

test.before(async () => {
  net = await localNet();
  for (const n of NAMES) await net.fund(actors[n], 100n);
  for (const n of NAMES) await start(n);
  const line: [Name, Name, keyof typeof ids][] = [
    ['alice', 'bob', 'ab'],
    ['bob', 'carol', 'bc'],
    ['carol', 'dave', 'cd'],
    ['dave', 'erin', 'de'],
  ];
  for (const [a, b, c] of line) {
    const ch = await nodes[a].call<ChannelInfo>('openChannel', {
      peer: nodes[b].info.multiaddrs[0],
      deposit: [10n * ETHER],
      challengeDuration: 100n,
    });
    ids[c] = ch.id;
  }
  for (const [a, , c] of line) await nodes[a].call('announce', ids[c]);
  for (const [a, , c] of line.slice(1)) await nodes[a].call('setPolicy', ids[c], FEE);
  await until(
    "alice's graph to hold every forwarder's policy",
    () => nodes.alice.call<boolean>('graphHas', [ids.bc, ids.cd, ids.de]),
    Boolean,
  );
});

test.after.always(async () => {
  await Promise.all(Object.values(nodes).map((n) => n.kill('SIGKILL')));
  await net?.stop();
});

const fee = (amount: bigint) => FEE.feeBase + (amount * BigInt(FEE.feePpm)) / 1_000_000n;

test.serial('3 and 4 hops: the payee gets the amount, each forwarder nets exactly its fee', async (t) => {
  const before = await snapshot();
  const amount = ETHER / 10n;
  const inv = await nodes.dave.call<InvoiceInfo>('createInvoice', { amount });
  const three = await nodes.alice.call<PaymentInfo>('payInvoice', inv.invoice);
  t.is(three.status, 'settled');
  t.is(three.route.length, 3);
  const carolFee = fee(amount);
  const bobFee = fee(amount + carolFee);
  t.is(three.fee, carolFee + bobFee);
  const keysend = await nodes.alice.call<PaymentInfo>('sendPayment', { to: actors.erin.address, amount });
  t.is(keysend.status, 'settled');
  t.is(keysend.route.length, 4);
  const d4 = fee(amount);
  const c4 = fee(amount + d4);
  const b4 = fee(amount + d4 + c4);
  t.is(keysend.fee, d4 + c4 + b4);
  const after = await settledDown();
  t.is(after['alice/ab']! - before['alice/ab']!, -(2n * amount + three.fee + keysend.fee));
  t.is(after['bob/ab']! - before['bob/ab']! + (after['bob/bc']! - before['bob/bc']!), bobFee + b4, 'bob nets his fees');
  t.is(after['carol/bc']! - before['carol/bc']! + (after['carol/cd']! - before['carol/cd']!), carolFee + c4, 'carol nets hers');
  t.is(after['dave/cd']! - before['dave/cd']! + (after['dave/de']! - before['dave/de']!), amount + d4, 'dave: paid, and a fee');
  t.is(after['erin/de']! - before['erin/de']!, amount);
  // A channel's view shows a co-signed state as soon as it is applied; the forwarder counts it
  // once it is durable (the 'updated' effect), a moment later.
  const stats = await until(
    "bob's forwards to be counted",
    () => nodes.bob.call<{ forwarded: number }>('forwardingStats'),
    (s) => s.forwarded >= 2,
    10_000,
  );
  t.is(stats.forwarded, 2);
  // The secrets the payer and the forwarders learned are dropped once what they pay is durable
  // (an upstream settle, the payer's record): records do not grow with the payments made.
  for (const n of ['alice', 'bob', 'carol', 'dave'] as const)
    await until(
      `${n} to drop the secrets it learned`,
      () => nodes[n].call<number>('learnedHeld'),
      (x) => x === 0,
      10_000,
    );
});

test.serial('a failure at each hop position comes back to the payer with the hop and the reason; nothing moves', async (t) => {
  const before = await snapshot();
  for (const [hop, name] of [
    [1, 'bob'],
    [2, 'carol'],
    [3, 'dave'],
  ] as const) {
    await nodes[name].call('setForwarding', false);
    const inv = await nodes.erin.call<InvoiceInfo>('createInvoice', { amount: 1_000_000n });
    const e = await t.throwsAsync(nodes.alice.call('payInvoice', inv.invoice));
    t.like(e, { code: 'PAYMENT_FAILED', reason: 'temporary-channel-failure', hop }, `paused at ${name}`);
    await nodes[name].call('setForwarding', true);
    await advance(11 * 60); // past the scorer's avoidance of the failed channel
  }
  // The payee position: a hold invoice that erin cancels once the lock reached her.
  const inv = await nodes.erin.call<InvoiceInfo>('createInvoice', { amount: 1_000_000n, hold: true });
  const paying = nodes.alice.call('payInvoice', inv.invoice);
  paying.catch(() => undefined);
  await until(
    'the lock to reach erin',
    () => locked('dave', ids.de),
    (l) => l > 0n,
  );
  await nodes.erin.call('cancelInvoice', inv.paymentHash);
  const e = await t.throwsAsync(paying);
  t.like(e, { code: 'PAYMENT_FAILED', reason: 'unknown-payment', hop: 4 });
  t.deepEqual(await settledDown(), before);
});

test.serial('a payee that never reveals: every hop gets its lock back after the expiry, and a late reveal gets nothing', async (t) => {
  const before = await snapshot();
  const inv = await nodes.erin.call<InvoiceInfo>('createInvoice', { amount: 1_000_000n, hold: true });
  const paying = nodes.alice.call('payInvoice', inv.invoice);
  paying.catch(() => undefined);
  await until(
    'the lock to reach erin',
    () => locked('dave', ids.de),
    (l) => l > 0n,
  );
  await advance(PAST_EXPIRY);
  // erin reveals now, after the expiry: dave's machine refuses the settle, and the chain would too.
  await nodes.erin.call('settleInvoice', inv.paymentHash);
  t.deepEqual(await settledDown(), before);
  const [record] = await nodes.alice.call<PaymentInfo[]>('payments', { status: 'failed' });
  t.like(record, { paymentHash: inv.paymentHash, status: 'failed' });
});

test.serial('a hop that goes offline holding a lock: the payer is refunded after the expiry, and the hop is whole when back', async (t) => {
  const before = await snapshot();
  const inv = await nodes.erin.call<InvoiceInfo>('createInvoice', { amount: 1_000_000n, hold: true });
  const paying = nodes.alice.call('payInvoice', inv.invoice);
  paying.catch(() => undefined);
  await until(
    'the lock to reach erin',
    () => locked('dave', ids.de),
    (l) => l > 0n,
  );
  await nodes.carol.kill('SIGKILL');
  down.add('carol');
  await advance(PAST_EXPIRY);
  await until(
    'alice to be refunded',
    () => mine('alice', ids.ab),
    (m) => m === before['alice/ab'],
  );
  await start('carol');
  down.delete('carol');
  t.deepEqual(await settledDown(), before);
});

test.serial('a routed keysend whose first settle fails is settled on the next try: the payee still has its layer', async (t) => {
  const before = await snapshot();
  await nodes.erin.call('failSettles', 1);
  const amount = ETHER / 100n;
  const paid = await nodes.alice.call<PaymentInfo>('sendPayment', { to: actors.erin.address, amount });
  t.is(paid.status, 'settled');
  const after = await settledDown();
  t.is(after['erin/de']! - before['erin/de']!, amount, 'erin got the keysend');
});

test.serial(
  'a routed keysend whose settle the counterparty takes and never countersigns: the payee, restarted without its layer, registers the secret',
  async (t) => {
    // erin settles a keysend alice routed to her; dave is frozen when erin's settle (with the
    // preimage) leaves, and erin crashes. Back, erin has no onion layer for the lock any more:
    // the preimage is in her payment record, and she must register it before the expiry.
    const amount = ETHER / 50n;
    await nodes.erin.call('delaySettles', 1500);
    const paying = nodes.alice.call('sendPayment', { to: actors.erin.address, amount });
    paying.catch(() => undefined);
    await until(
      'the lock to reach erin',
      () => locked('dave', ids.de),
      (l) => l >= amount,
    );
    process.kill(nodes.dave.pid, 'SIGSTOP'); // frozen: it receives, and answers nothing
    await new Promise((r) => setTimeout(r, 2_500)); // erin's settle, with the preimage, has left
    await erinBackRegisters();
    // dave back: erin's settle goes through off-chain after all, and the line is whole again for
    // the next test.
    await start('dave');
    down.delete('dave');
    await until(
      'the lock to erin to be settled',
      () => locked('dave', ids.de),
      (l) => l === 0n,
      60_000,
    );
    t.is(
      ((await paying) as PaymentInfo).status,
      'settled',
      "alice's keysend settled end to end, dave's forward found again in his records",
    );
    await settledDown(); // every hop's lock gone: carol's to dave goes once dave's settle is co-signed
  },
);

test.serial('upstream gone when a forwarder learns the secret: it registers it on-chain and is paid at close', async (t) => {
  const amount = ETHER / 20n;
  const before = await snapshot();
  const inv = await nodes.erin.call<InvoiceInfo>('createInvoice', { amount, hold: true });
  const paying = nodes.alice.call('payInvoice', inv.invoice);
  paying.catch(() => undefined);
  await until(
    'the lock to reach erin',
    () => locked('dave', ids.de),
    (l) => l > 0n,
  );
  const carolLock = await locked('carol', ids.cd);
  await nodes.carol.kill('SIGKILL');
  down.add('carol');
  await nodes.erin.call('settleInvoice', inv.paymentHash);
  // dave learns the secret from erin; carol is away, so he registers it at once.
  await until(
    'dave to register the secret',
    () => nodes.dave.call<{ registered: number }>('forwardingStats'),
    (s) => s.registered > 0,
  );
  const daveBefore = await net.ethBalance(actors.dave.address);
  const daveInCd = await mine('dave', ids.cd);
  const closing = nodes.dave.call<CloseResult>('close', ids.cd, { mode: 'force' });
  await until(
    'the dispute to be registered',
    async () => (await info('dave', ids.cd)).status,
    (s) => s === 'disputed',
  );
  await advance(101);
  t.is((await closing).status, 'closed');
  // Paid his balance and the lock (its secret was registered before its expiry), less gas.
  await until(
    'the lock to be unlocked to dave',
    () => net.ethBalance(actors.dave.address),
    (b) => b - daveBefore > daveInCd + carolLock - ETHER / 100n,
  );
  // carol comes back: she learns the secret from the chain and is paid by bob, off-chain.
  await start('carol');
  down.delete('carol');
  const bcAfter = await until(
    'bob and carol to agree with no lock left',
    async () => [await locked('bob', ids.bc), await mine('carol', ids.bc), await locked('alice', ids.ab)] as const,
    ([l, , la]) => l === 0n && la === 0n,
    60_000,
  );
  const carolGot = bcAfter[1] - before['carol/bc']!;
  const d = fee(amount);
  const c = fee(amount + d);
  const b = fee(amount + d + c);
  t.is(carolLock, amount + d);
  t.is(carolGot - carolLock, c, 'carol: paid upstream what she lost downstream, plus her fee');
  t.is(before['alice/ab']! - (await mine('alice', ids.ab)), amount + d + c + b, 'alice paid the amount and the fees, once');
});

test.serial(
  'a payer that takes the secret and never countersigns: the payee, restarted, registers it on-chain and is paid at close',
  async (t) => {
    // dave pays erin's hold invoice over their channel; when erin settles, dave (the leader of
    // that channel) receives her secret and is killed before he countersigns: nobody settles it
    // off-chain. erin must register the secret before the lock's expiry, or at close the lock goes
    // back to dave, who holds the secret as his proof of payment.
    const amount = ETHER / 20n;
    const inv = await nodes.erin.call<InvoiceInfo>('createInvoice', { amount, hold: true });
    const paying = nodes.dave.call('payInvoice', inv.invoice);
    paying.catch(() => undefined);
    await until(
      'the lock to reach erin',
      () => locked('dave', ids.de),
      (l) => l >= amount,
    );
    const erinInDe = await mine('erin', ids.de);
    process.kill(nodes.dave.pid, 'SIGSTOP'); // frozen: it receives, and answers nothing
    await nodes.erin.call('settleInvoice', inv.paymentHash);
    await new Promise((r) => setTimeout(r, 500)); // erin's request, with the secret, is on its way
    // erin crashes before her settle fails, and comes back: she must still know that the secret
    // left her (the invoice was released), not hold the lock again.
    await erinBackRegisters();
    const erinBefore = await net.ethBalance(actors.erin.address);
    const closing = nodes.erin.call<CloseResult>('close', ids.de, { mode: 'force' });
    await until(
      'the dispute to be registered',
      async () => (await info('erin', ids.de)).status,
      (s) => s === 'disputed',
    );
    await advance(PAST_EXPIRY); // past the challenge period and the lock's expiry
    t.is((await closing).status, 'closed');
    await until(
      'the lock to be unlocked to erin',
      () => net.ethBalance(actors.erin.address),
      (b) => b - erinBefore > erinInDe + amount - ETHER / 100n,
      60_000,
    );
    t.pass();
  },
);
