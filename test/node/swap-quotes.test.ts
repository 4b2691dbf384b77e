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

function desk(premiumPpm = 0n) {
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
