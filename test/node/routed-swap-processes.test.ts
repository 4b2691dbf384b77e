/**
 * Routed swaps (ADR 0012) between four nodes in separate OS processes, on libp2p over TCP and a
 * real EDR chain process:
 *
 *   alice —ETH— hub —TST— carol —TST— dave
 *
 * The hub converts ETH into the test token at a rate of its swap policy, announced in its node
 * announcement and bound by a quote it signs on request. Alice pays dave's TST invoice with ETH.
 * The route pays the quoted rate or nothing:
 *   - paid: dave gets the invoice's amount, alice sends exactly what the quote asks for it (the
 *     rate and every fee), the hub takes that ETH and pays out the TST, carol nets her fee;
 *   - a payer's limit below what the quote asks: nothing is locked;
 *   - a payer that alters the quote's rate (the hub's signature no longer holds) or uses a quote
 *     twice: the hub refuses the lock, and nothing moves;
 *   - a payee that holds the secret past the expiry (the free option, left unexercised): every
 *     lock comes back, and the hub counts a strike against the payer that asked for the quote,
 *     whose next quote is wider (reputation).
 */
import test from 'ava';
import { type Address, type Bytes32, NATIVE_ASSET } from '../../src/core/bytes.ts';
import type { AssetPolicy, SwapOffer } from '../../src/core/routing/types.ts';
import type { ChannelInfo } from '../../src/sdk/api.ts';
import type { InvoiceInfo, PaymentInfo } from '../../src/sdk/payments.ts';
import type { QuoteAnswer } from '../../src/core/forwarding/index.ts';
import { STRIKE_WIDEN_PPM } from '../../src/node/swap-quotes.ts';
import { type Actor, actor } from '../helpers/actors.ts';
import { type LocalNet, freePort, keyHex, localNet } from '../helpers/local-net.ts';
import { type ProcessNode, spawnNode } from '../helpers/process-node.ts';

const ETHER = 10n ** 18n;
const NAMES = ['alice', 'hub', 'carol', 'dave'] as const;
type Name = (typeof NAMES)[number];
const FEE: AssetPolicy = { feeBase: 1000n, feePpm: 100, minAmount: 1n, maxAmount: 10n ** 27n };
/** The hub gives 2,000 TST units per ETH unit (both 18 decimals). */
const RATE = { num: 2000n, den: 1n };

let net: LocalNet;
let token: Address;
const nodes = {} as Record<Name, ProcessNode>;
const actors = Object.fromEntries(NAMES.map((n) => [n, actor(`swap-${n}`)])) as Record<Name, Actor>;
const ids = {} as Record<'ah' | 'hc' | 'cd', Bytes32>;

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const info = (n: Name, id: Bytes32) => nodes[n].call<ChannelInfo>('channel', id);
const mine = async (n: Name, id: Bytes32) => (await info(n, id)).balances[0]!.mine;
const lockedIn = async (n: Name, id: Bytes32) => (await info(n, id)).balances[0]!.locked;

async function snapshot(): Promise<Record<string, bigint>> {
  await until(
    'every lock to leave the channels',
    async () => (await lockedIn('alice', ids.ah)) + (await lockedIn('hub', ids.hc)) + (await lockedIn('carol', ids.cd)),
    (n) => n === 0n,
  );
  return {
    aliceEth: await mine('alice', ids.ah),
    hubEth: await mine('hub', ids.ah),
    hubTst: await mine('hub', ids.hc),
    carolIn: await mine('carol', ids.hc),
    carolOut: await mine('carol', ids.cd),
    daveTst: await mine('dave', ids.cd),
  };
}

/** Moves every process's clock and the chain's `seconds` ahead (past the scorer's memory of a failed channel). */
async function advance(seconds: number): Promise<void> {
  await Promise.all(NAMES.map((n) => nodes[n].call('advanceClock', seconds * 1000)));
  await net.increaseTime(seconds);
}

const fee = (amount: bigint) => FEE.feeBase + (amount * BigInt(FEE.feePpm)) / 1_000_000n;
const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

test.before(async () => {
  net = await localNet();
  token = net.token;
  for (const n of NAMES) await net.fund(actors[n], 100n, n === 'hub' || n === 'carol' ? 1_000_000n * ETHER : 0n);
  for (const n of NAMES) {
    nodes[n] = await spawnNode({
      port: await freePort(),
      privateKey: keyHex(actors[n]),
      dataDir: net.tempDir(n),
      rpc: net.chain.rpcUrl,
      adjudicator: net.adjudicator,
      acceptOpens: true,
      graph: true,
      ...(n === 'hub' ? { swapPairs: [{ receive: NATIVE_ASSET, give: token, minReceive: RATE.den, perGive: RATE.num }] } : {}),
    });
  }
  const open = async (a: Name, b: Name, c: keyof typeof ids, assets: Address[], deposit: bigint) => {
    const ch = await nodes[a].call<ChannelInfo>('openChannel', {
      peer: nodes[b].info.multiaddrs[0],
      assets,
      deposit: [deposit],
      challengeDuration: 100n,
    });
    ids[c] = ch.id;
  };
  await open('alice', 'hub', 'ah', [NATIVE_ASSET], 10n * ETHER);
  await open('hub', 'carol', 'hc', [token], 100_000n * ETHER);
  await open('carol', 'dave', 'cd', [token], 100_000n * ETHER);
  for (const [n, c] of [
    ['alice', 'ah'],
    ['hub', 'hc'],
    ['carol', 'cd'],
  ] as const)
    await nodes[n].call('announce', ids[c]);
  await nodes.hub.call('setPolicy', ids.hc, FEE);
  await nodes.carol.call('setPolicy', ids.cd, FEE);
  await until(
    "alice's graph to hold the forwarders' policies and the hub's swap offer",
    async () => {
      const swaps = await nodes.alice.call<SwapOffer[]>('graphSwaps', actors.hub.address);
      if (swaps.length === 0) await nodes.hub.call('announceNode').catch(() => undefined);
      return swaps.length > 0 && (await nodes.alice.call<boolean>('graphHas', [ids.hc, ids.cd]));
    },
    Boolean,
    60_000,
  );
});

test.after.always(async () => {
  await Promise.all(Object.values(nodes).map((n) => n.kill('SIGKILL')));
  await net?.stop();
});

test.serial('a TST invoice paid with ETH: the payee gets its amount, the payer sends exactly what the quote asks', async (t) => {
  const before = await snapshot();
  const amount = 100n * ETHER;
  const inv = await nodes.dave.call<InvoiceInfo>('createInvoice', { amount, asset: token });
  const paid = await nodes.alice.call<PaymentInfo>('payInvoice', inv.invoice, { payWith: NATIVE_ASSET });
  t.is(paid.status, 'settled');
  t.is(paid.route.length, 3);
  t.like(paid.swap, { asset: NATIVE_ASSET, hub: actors.hub.address, rateNum: RATE.num, rateDen: RATE.den });
  const carolFee = fee(amount);
  const hubOut = amount + carolFee;
  const hubFee = fee(hubOut);
  const quotedIn = ceilDiv((hubOut + hubFee) * RATE.den, RATE.num);
  t.is(paid.swap!.amount, quotedIn, 'the payer sends what the quoted rate asks for the payee and the fees');
  t.is(paid.fee, quotedIn - ceilDiv(amount * RATE.den, RATE.num), "fees, in the payer's asset");
  const after = await snapshot();
  t.is(after.aliceEth! - before.aliceEth!, -quotedIn);
  t.is(after.hubEth! - before.hubEth!, quotedIn, 'the hub takes the ETH');
  t.is(after.hubTst! - before.hubTst!, -hubOut, 'and pays out the TST');
  t.is(after.carolIn! - before.carolIn! + (after.carolOut! - before.carolOut!), carolFee, 'carol nets her fee');
  t.is(after.daveTst! - before.daveTst!, amount);
  // Counted once the co-signed state is durable (the 'updated' effect), a moment after it shows.
  const stats = await until(
    "the hub's forward to be counted",
    () => nodes.hub.call<{ forwarded: number }>('forwardingStats'),
    (s) => s.forwarded >= 1,
    10_000,
  );
  t.is(stats.forwarded, 1);
});

test.serial("a payer's limit below what the quote asks: nothing is locked, the payment fails with quote-refused", async (t) => {
  const before = await snapshot();
  const amount = 10n * ETHER;
  const inv = await nodes.dave.call<InvoiceInfo>('createInvoice', { amount, asset: token });
  const e = await t.throwsAsync(nodes.alice.call('payInvoice', inv.invoice, { payWith: NATIVE_ASSET, maxSend: ceilDiv(amount, RATE.num) }));
  t.like(e, { code: 'PAYMENT_FAILED', reason: 'quote-refused' });
  t.deepEqual(await snapshot(), before);
});

test.serial('a payer that alters the rate, or uses a quote twice: the hub refuses the lock and nothing moves', async (t) => {
  await nodes.alice.call('tamperQuotes', 'rate');
  let before = await snapshot();
  const inv = await nodes.dave.call<InvoiceInfo>('createInvoice', { amount: ETHER, asset: token });
  const e = await t.throwsAsync(nodes.alice.call('payInvoice', inv.invoice, { payWith: NATIVE_ASSET }));
  t.like(e, { code: 'PAYMENT_FAILED', reason: 'quote-refused', hop: 1 });
  t.regex(String((e as { message?: string }).message), /quote-invalid/);
  t.deepEqual(await snapshot(), before, 'the altered quote moved nothing');

  await advance(11 * 60); // the payer's scorer avoids the refusing hub's channel for a while
  await nodes.alice.call('tamperQuotes', 'replay');
  const first = await nodes.dave.call<InvoiceInfo>('createInvoice', { amount: ETHER, asset: token });
  t.is((await nodes.alice.call<PaymentInfo>('payInvoice', first.invoice, { payWith: NATIVE_ASSET })).status, 'settled');
  before = await snapshot();
  const second = await nodes.dave.call<InvoiceInfo>('createInvoice', { amount: ETHER, asset: token });
  const e2 = await t.throwsAsync(nodes.alice.call('payInvoice', second.invoice, { payWith: NATIVE_ASSET }));
  t.like(e2, { code: 'PAYMENT_FAILED', reason: 'quote-refused' });
  t.regex(String((e2 as { message?: string }).message), /quote-used/);
  t.deepEqual(await snapshot(), before, 'the replayed quote moved nothing');
  await nodes.alice.call('tamperQuotes', 'off');
});

test.serial('a payee that never reveals a swap: every lock comes back, and the hub widens the payer’s next quote', async (t) => {
  await advance(11 * 60); // past the scorer's memory of the refusals above
  const before = await snapshot();
  t.is(await nodes.hub.call<number>('quoteStrikes', actors.alice.address), 0);
  const inv = await nodes.dave.call<InvoiceInfo>('createInvoice', { amount: ETHER, asset: token, hold: true });
  const paying = nodes.alice.call('payInvoice', inv.invoice, { payWith: NATIVE_ASSET });
  paying.catch(() => undefined);
  await until(
    'the lock to reach dave',
    () => lockedIn('carol', ids.cd),
    (l) => l > 0n,
  );
  await advance(10 * 60); // past the swap's short expiry: the option lapses
  await t.throwsAsync(paying);
  t.deepEqual(await snapshot(), before, 'every lock came back');
  t.is(await nodes.hub.call<number>('quoteStrikes', actors.alice.address), 1);
  const amount = 1000n * ETHER;
  const q = await nodes.alice.call<QuoteAnswer>('requestQuote', actors.hub.address, NATIVE_ASSET, token, amount);
  if (!q.ok) return t.fail(q.reason);
  t.is(q.quote.premium, (((amount * RATE.den) / RATE.num) * STRIKE_WIDEN_PPM) / 1_000_000n, 'one strike: the premium widened');
});

test.serial(
  'an upfront premium is paid to the hub before the swap and kept whatever the swap does; a payer that skips it is refused',
  async (t) => {
    await advance(61 * 60); // past the scorer's memory, and the strike above is forgotten
    const amount = 100n * ETHER;
    // 1% of the amount in, upfront: with the route's fees above the payer's default limit (1%).
    await nodes.hub.call('setSwapPricing', 0n, 10_000n);
    let before = await snapshot();
    const dear = await nodes.dave.call<InvoiceInfo>('createInvoice', { amount, asset: token });
    const refused = await t.throwsAsync(nodes.alice.call('payInvoice', dear.invoice, { payWith: NATIVE_ASSET }));
    t.like(refused, { code: 'PAYMENT_FAILED', reason: 'quote-refused' });
    t.regex(String((refused as { message?: string }).message), /an upfront premium of \d+ .*exceed the limit/);
    t.deepEqual(await snapshot(), before, 'over the limit: not even the premium is paid');

    await advance(11 * 60); // past the scorer's memory of the hub it avoided
    await nodes.hub.call('setSwapPricing', 0n, 5_000n); // 0.5%
    const upfrontOf = (out: bigint) => ((((out + fee(out)) * RATE.den) / RATE.num) * 5_000n) / 1_000_000n;
    const prepaid0 = await nodes.hub.call<bigint>('quotePrepaid');

    // Paid: alice sends the quoted amount over the route and the premium to the hub, in a keysend
    // of its own that her history shows.
    before = await snapshot();
    const inv = await nodes.dave.call<InvoiceInfo>('createInvoice', { amount, asset: token });
    const paid = await nodes.alice.call<PaymentInfo>('payInvoice', inv.invoice, { payWith: NATIVE_ASSET });
    t.is(paid.status, 'settled');
    const hubOut = amount + fee(amount);
    const quotedIn = ceilDiv((hubOut + fee(hubOut)) * RATE.den, RATE.num);
    const upfront = upfrontOf(amount);
    t.true(upfront > 0n);
    t.is(paid.swap!.amount, quotedIn, 'the swap itself is priced as without an upfront premium');
    let after = await snapshot();
    t.is(after.aliceEth! - before.aliceEth!, -(quotedIn + upfront));
    t.is(after.hubEth! - before.hubEth!, quotedIn + upfront, 'the hub takes the swap and the premium');
    t.is(after.daveTst! - before.daveTst!, amount);
    const premiums = (await nodes.alice.call<PaymentInfo[]>('payments', { direction: 'out' })).filter(
      (p) => p.kind === 'keysend' && p.counterparty === actors.hub.address,
    );
    t.is(premiums.length, 1);
    t.like(premiums[0], { status: 'settled', amount: upfront, asset: NATIVE_ASSET });
    t.true(premiums[0]!.memo.includes(paid.paymentHash), 'the keysend names the swap it prepaid');
    t.is((await nodes.hub.call<bigint>('quotePrepaid')) - prepaid0, upfront);

    // A payer that sends the swap's lock without the premium: the hub refuses it, nothing moves.
    await nodes.alice.call('skipUpfront', true);
    before = await snapshot();
    const unpaid = await nodes.dave.call<InvoiceInfo>('createInvoice', { amount: ETHER, asset: token });
    const e = await t.throwsAsync(nodes.alice.call('payInvoice', unpaid.invoice, { payWith: NATIVE_ASSET }));
    t.like(e, { code: 'PAYMENT_FAILED', reason: 'quote-refused', hop: 1 });
    t.regex(String((e as { message?: string }).message), /quote-unpaid/);
    t.deepEqual(await snapshot(), before, 'the unpaid swap moved nothing');
    await nodes.alice.call('skipUpfront', false);

    // A payee that never reveals: every lock of the swap comes back, the premium stays with the hub
    // (the price of the option it held).
    await advance(11 * 60); // past the scorer's memory of the refusal
    before = await snapshot();
    const held = await nodes.dave.call<InvoiceInfo>('createInvoice', { amount: ETHER, asset: token, hold: true });
    const paying = nodes.alice.call('payInvoice', held.invoice, { payWith: NATIVE_ASSET });
    paying.catch(() => undefined);
    await until(
      'the lock to reach dave',
      () => lockedIn('carol', ids.cd),
      (l) => l > 0n,
    );
    await advance(10 * 60); // past the swap's short expiry
    await t.throwsAsync(paying);
    after = await snapshot();
    t.is(after.aliceEth! - before.aliceEth!, -upfrontOf(ETHER), 'alice is out the premium, and only it');
    t.is(after.hubEth! - before.hubEth!, upfrontOf(ETHER));
    t.is(after.hubTst! - before.hubTst!, 0n);
    t.is(after.daveTst! - before.daveTst!, 0n);
    await nodes.hub.call('setSwapPricing', 0n, 0n);
  },
);

test.serial(
  "a payer that sends the swap's lock before the hub's settle of its premium is co-signed: refused, and the premium is still the hub's",
  async (t) => {
    // The hub counts a premium once its settle is co-signed, not when the lock arrives: a payer
    // that stalled that settle could otherwise have the swap and, at the keysend's expiry, its
    // premium back. Here the hub's settle waits 4 s (a counterparty slow to co-sign, as the hub
    // sees it) and alice sends the swap's lock 1 s after the premium's.
    await advance(61 * 60); // past the strike of the test above (its payee held a swap's secret)
    await nodes.hub.call('setSwapPricing', 0n, 5_000n);
    await nodes.hub.call('delaySettles', 4_000);
    await nodes.alice.call('prepayWithoutWaiting', true);
    try {
      const before = await snapshot();
      const amount = 100n * ETHER; // its premium and fees within the payer's default limit
      const inv = await nodes.dave.call<InvoiceInfo>('createInvoice', { amount, asset: token });
      const e = await t.throwsAsync(nodes.alice.call('payInvoice', inv.invoice, { payWith: NATIVE_ASSET }));
      t.like(e, { code: 'PAYMENT_FAILED', reason: 'quote-refused', hop: 1 });
      t.regex(String((e as { message?: string }).message), /quote-unpaid/);
      const after = await snapshot(); // once the premium's keysend has settled
      const upfront = ((((amount + fee(amount)) * RATE.den) / RATE.num) * 5_000n) / 1_000_000n;
      t.is(after.aliceEth! - before.aliceEth!, -upfront, 'alice is out the premium, and only it');
      t.is(after.hubEth! - before.hubEth!, upfront);
      t.is(after.hubTst! - before.hubTst!, 0n, 'no swap');
      t.is(after.daveTst! - before.daveTst!, 0n);
    } finally {
      await nodes.alice.call('prepayWithoutWaiting', false);
      await nodes.hub.call('delaySettles', 0);
      await nodes.hub.call('setSwapPricing', 0n, 0n);
    }
  },
);

test.serial(
  'a quote far worse than the hub announced counts its difference as a fee: refused at the default limit, nothing moves',
  async (t) => {
    await advance(11 * 60);
    // The quote reaching alice gives half the announced rate: twice the ETH for the same TST.
    await nodes.alice.call('tamperQuotes', 'worse');
    try {
      const before = await snapshot();
      const inv = await nodes.dave.call<InvoiceInfo>('createInvoice', { amount: 10n * ETHER, asset: token });
      const e = await t.throwsAsync(nodes.alice.call('payInvoice', inv.invoice, { payWith: NATIVE_ASSET }));
      t.like(e, { code: 'PAYMENT_FAILED', reason: 'quote-refused' });
      // Refused by alice before any lock (not by the hub, whose signature the halved rate breaks).
      t.regex(String((e as { message?: string }).message), /fees and premium of \d+ exceed the limit/);
      t.deepEqual(await snapshot(), before);
    } finally {
      await nodes.alice.call('tamperQuotes', 'off');
    }
  },
);
