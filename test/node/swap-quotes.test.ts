/**
 * The hub's quote desk (src/node/swap-quotes.ts, ADR 0012): quotes signed and checked once, and
 * the askers' reputation — a swap that held the hub's liquidity and came back unrevealed widens
 * the asker's next quotes, then stops them, and is forgotten an hour after the last strike.
 */
import test from 'ava';
import type { Address } from '../../src/core/bytes.ts';
import { nobleBackend } from '../../src/core/crypto.ts';
import {
  DEFAULT_TIMING,
  type SwapQuote,
  decodeQuoteAnswer,
  encodeQuoteRequest,
  verifyQuoteSignature,
} from '../../src/core/forwarding/index.ts';
import { QuoteDesk, STRIKE_AFTER_MS, STRIKE_LIMIT, STRIKE_MEMORY_MS, STRIKE_WIDEN_PPM } from '../../src/node/swap-quotes.ts';
import { alice, bob, irene } from '../helpers/actors.ts';

const ETH = '0x0000000000000000000000000000000000000000' as Address;
const USD = '0x00000000000000000000000000000000000000aa' as Address;
const domain = { chainId: 31337n, adjudicator: '0x00000000000000000000000000000000000000ad' as Address };

function desk(premiumPpm = 0n, upfrontPpm?: bigint, maxUpfrontQuotes?: number) {
  const clock = { ms: 1_700_000_000_000 };
  const d = new QuoteDesk({
    self: bob.address,
    domain,
    backend: nobleBackend,
    sign: async (digest) => nobleBackend.sign(digest, bob.privateKey),
    now: () => BigInt(Math.floor(clock.ms / 1000)),
    nowMs: () => clock.ms,
    offers: [{ from: ETH, to: USD, rateNum: 2000n, rateDen: 1n, maxAmount: 10n ** 30n }],
    timing: DEFAULT_TIMING,
    premiumPpm,
    ...(upfrontPpm === undefined ? {} : { upfrontPpm }),
    ...(maxUpfrontQuotes === undefined ? {} : { maxUpfrontQuotes }),
  });
  return { d, clock };
}

async function ask(
  d: QuoteDesk,
  by: Address | undefined,
  amount = 2_000_000_000n,
): Promise<{ ok: true; quote: SwapQuote } | { ok: false; reason: string }> {
  const a = decodeQuoteAnswer(await d.answer(by, encodeQuoteRequest({ from: ETH, to: USD, amount })));
  if (!a.ok) throw new Error(a.detail);
  return a.value;
}

test('a quote is the hub’s, and honoured once', async (t) => {
  const { d } = desk();
  const a = await ask(d, alice.address);
  if (!a.ok) return t.fail(a.reason);
  t.true(verifyQuoteSignature(a.quote, domain, nobleBackend));
  t.is(a.quote.premium, 0n);
  t.is(d.check(a.quote), 'ours');
  d.use(a.quote);
  t.is(d.check(a.quote), 'used');
  t.is(d.check({ ...a.quote, rateNum: 3000n }), 'not-ours');
});

test('a quote with an upfront premium is refused as unpaid until all of it arrives by keysends that name its nonce', async (t) => {
  const { d, clock } = desk(0n, 2_000n); // 0.2% of the amount in, upfront
  const a = await ask(d, alice.address); // 2,000,000,000 of USD out: 1,000,000 of ETH in
  if (!a.ok) return t.fail(a.reason);
  const q = a.quote;
  t.is(q.upfront, 2_000n);
  t.is(q.premium, 0n);
  t.is(d.check(q), 'unpaid');
  t.false(d.prepaid(q.nonce, USD, 5_000n), 'in another asset than the quote takes: not counted');
  t.is(d.check(q), 'unpaid');
  t.false(d.prepaid(`0x${'99'.repeat(32)}`, ETH, 5_000n), 'for a nonce the desk never issued: not counted');
  t.true(d.prepaid(q.nonce, ETH, 1_999n));
  t.is(d.check(q), 'unpaid', 'one unit short');
  t.true(d.prepaid(q.nonce, ETH, 1n));
  t.is(d.check(q), 'ours');
  t.is(d.check({ ...q, upfront: 1n }), 'not-ours', 'the upfront is signed: a payer cannot lower it');
  d.use(q);
  t.is(d.check(q), 'used', 'paid once, honoured once');
  t.false(d.prepaid(q.nonce, ETH, 1n), 'a used quote takes no more prepayments');
  // A prepayment after the quote's lock bound is not counted (nothing can use the quote any more).
  const late = await ask(d, alice.address);
  if (!late.ok) return t.fail(late.reason);
  clock.ms = Number(late.quote.maxExpiry + 1n) * 1000;
  t.false(d.prepaid(late.quote.nonce, ETH, late.quote.upfront));
  t.is(d.stats.prepaid, 2_000n);
  // No upfront asked: nothing to prepay.
  const none = await ask(desk().d, alice.address);
  t.true(none.ok && none.quote.upfront === 0n);
  t.throws(() => desk(0n, 1_000_001n), { instanceOf: RangeError });
  t.throws(() => desk(-1n), { instanceOf: RangeError });
});

test('when the live quotes that ask a premium fill the table, no more are issued (none is evicted); expired ones make room', async (t) => {
  const { d, clock } = desk(0n, 2_000n, 2);
  const first = await ask(d, alice.address);
  const second = await ask(d, irene.address);
  if (!first.ok || !second.ok) return t.fail('the first two quotes');
  t.true(d.prepaid(first.quote.nonce, ETH, first.quote.upfront), 'a premium on its way is counted');
  const third = await ask(d, alice.address);
  t.false(third.ok, 'the table is full');
  if (!third.ok) t.regex(third.reason, /too many quotes outstanding/);
  t.is(d.check(first.quote), 'ours', 'the paid quote was kept');
  t.is(d.check(second.quote), 'unpaid');
  clock.ms = Number(second.quote.maxExpiry + 1n) * 1000; // both can no longer be used
  const fourth = await ask(d, alice.address);
  t.true(fourth.ok, 'the expired quotes made room');
});

test('swaps left unrevealed widen the asker’s quotes, then stop them; other peers are not affected', async (t) => {
  const { d } = desk(1_000n);
  const amountIn = 2_000_000_000n / 2000n;
  const premiumAt = (ppm: bigint) => (amountIn * ppm) / 1_000_000n;
  for (let strike = 0; strike < STRIKE_LIMIT; strike++) {
    const a = await ask(d, alice.address);
    if (!a.ok) return t.fail(a.reason);
    t.is(a.quote.premium, premiumAt(1_000n + BigInt(strike) * STRIKE_WIDEN_PPM), `after ${strike} strikes`);
    d.use(a.quote);
    d.unrevealed(a.quote, STRIKE_AFTER_MS);
  }
  t.is(d.strikesOf(alice.address), STRIKE_LIMIT);
  const refused = await ask(d, alice.address);
  t.false(refused.ok);
  if (!refused.ok) t.regex(refused.reason, /not revealed/);
  const other = await ask(d, irene.address);
  t.true(other.ok && other.quote.premium === premiumAt(1_000n), 'irene keeps the plain premium');
});

test('a swap refused quickly is no strike, nor is one whose quote the desk did not issue to anyone known', async (t) => {
  const { d } = desk();
  const a = await ask(d, alice.address);
  if (!a.ok) return t.fail(a.reason);
  d.unrevealed(a.quote, STRIKE_AFTER_MS - 1);
  t.is(d.strikesOf(alice.address), 0, 'given back within a few seconds: not the free option');
  const anonymous = await ask(d, undefined);
  if (!anonymous.ok) return t.fail(anonymous.reason);
  d.unrevealed(anonymous.quote, 60_000);
  t.is(d.stats.strikes, 0);
  // A strike is counted once per quote.
  const b = await ask(d, alice.address);
  if (!b.ok) return t.fail(b.reason);
  d.unrevealed(b.quote, 60_000);
  d.unrevealed(b.quote, 60_000);
  t.is(d.strikesOf(alice.address), 1);
});

test('strikes are forgotten an hour after the last one', async (t) => {
  const { d, clock } = desk();
  for (let i = 0; i < STRIKE_LIMIT; i++) {
    const a = await ask(d, alice.address);
    if (!a.ok) return t.fail(a.reason);
    d.unrevealed(a.quote, 60_000);
  }
  t.false((await ask(d, alice.address)).ok);
  clock.ms += STRIKE_MEMORY_MS - 1;
  t.false((await ask(d, alice.address)).ok, 'not yet');
  clock.ms += 1;
  const again = await ask(d, alice.address);
  t.true(again.ok && again.quote.premium === 0n);
  t.is(d.strikesOf(alice.address), 0);
});
