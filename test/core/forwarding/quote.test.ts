/**
 * Swap quotes and the routed-swap decision (docs/adr/0012): a quote's codec and signature, every
 * rule a hub enforces on a swap lock, and a route priced by a quote.
 */
import test from 'ava';
import type { Address, Bytes32, Lock } from '../../../src/core/index.ts';
import { nobleBackend } from '../../../src/core/crypto.ts';
import {
  DEFAULT_TIMING,
  type ForwardPolicy,
  type NextChannel,
  type SwapQuote,
  buildOnion,
  decideForward,
  decodeQuote,
  decodeQuoteAnswer,
  decodeQuoteRequest,
  encodeQuote,
  encodeQuoteAnswer,
  encodeQuoteRequest,
  forwardFee,
  peelOnion,
  quoteDigest,
  quotedAmountIn,
  verifyQuoteSignature,
} from '../../../src/core/forwarding/index.ts';
import { applyQuote } from '../../../src/core/routing/quoted-route.ts';
import type { Route, RouteHop } from '../../../src/core/routing/pathfind.ts';
import { alice, bob } from '../../helpers/actors.ts';

const ETH = '0x0000000000000000000000000000000000000000' as Address;
const USD = '0x00000000000000000000000000000000000000aa' as Address;
const NOW = 1_700_000_000n;
const domain = { chainId: 31337n, adjudicator: '0x00000000000000000000000000000000000000ad' as Address };
const policy: ForwardPolicy = { enabled: true, baseFee: 10n, feePpm: 1000n, minAmount: 1n, maxAmount: 10n ** 24n, maxLocks: 483 };

function signedQuote(over: Partial<SwapQuote> = {}, signer = bob): SwapQuote {
  const body = {
    hub: bob.address,
    from: ETH,
    to: USD,
    rateNum: 3000n,
    rateDen: 1n,
    maxAmount: 10n ** 22n,
    premium: 0n,
    upfront: 0n,
    validUntil: NOW + 30n,
    maxExpiry: NOW + 270n,
    nonce: `0x${'5a'.repeat(32)}` as Bytes32,
    ...over,
  };
  return { ...body, signature: nobleBackend.sign(quoteDigest(domain, body), signer.privateKey) };
}

const next: NextChannel = { channelId: `0x${'0c'.repeat(32)}`, open: true, assets: [USD], spendable: [10n ** 22n], locks: 0, policy };
const lockOf = (amount: bigint, expiry = NOW + 260n): Lock => ({
  id: 1n,
  asset: 0,
  amount,
  sender: 0,
  receiver: 1,
  hashlock: `0x${'11'.repeat(32)}`,
  expiry,
});
const OUT = 3_000_000n;
const wantIn = (q: SwapQuote) => quotedAmountIn(q, OUT, forwardFee(policy, OUT));
const decide = (o: {
  quote?: SwapQuote;
  amountIn?: bigint;
  expiry?: bigint;
  now?: bigint;
  status?: 'ours' | 'not-ours' | 'used' | 'unpaid';
  asset?: Address;
  next?: NextChannel;
}) => {
  const q = o.quote ?? signedQuote();
  return decideForward({
    incoming: lockOf(o.amountIn ?? wantIn(q), o.expiry),
    asset: o.asset ?? ETH,
    payload: { kind: 'swap', channelId: next.channelId, amount: OUT, quote: q },
    next: o.next ?? next,
    now: o.now ?? NOW,
    quote: o.status ?? 'ours',
  });
};
const reason = (d: ReturnType<typeof decideForward>) => (d.action === 'fail' ? d.reason : d.action);

test('a quote, a request and an answer round-trip; the signature is the hub’s and binds every field', (t) => {
  const q = signedQuote();
  t.deepEqual(decodeQuote(encodeQuote(q)), { ok: true, value: q });
  t.true(verifyQuoteSignature(q, domain));
  t.false(verifyQuoteSignature({ ...q, rateNum: 3001n }, domain), 'another rate');
  t.false(verifyQuoteSignature({ ...q, validUntil: q.validUntil + 1n }, domain), 'a longer validity');
  t.false(verifyQuoteSignature({ ...q, upfront: 1n }, domain), 'an upfront premium the hub did not ask');
  const upfront = signedQuote({ upfront: 12_345n });
  t.deepEqual(decodeQuote(encodeQuote(upfront)), { ok: true, value: upfront });
  t.true(verifyQuoteSignature(upfront, domain));
  t.false(verifyQuoteSignature({ ...upfront, upfront: 0n }, domain), 'an upfront premium dropped');
  t.false(verifyQuoteSignature(q, { ...domain, chainId: 1n }), 'another chain');
  t.false(verifyQuoteSignature(signedQuote({}, alice), domain), 'signed by someone else than the hub it names');
  const req = { from: ETH, to: USD, amount: 5n };
  t.deepEqual(decodeQuoteRequest(encodeQuoteRequest(req)), { ok: true, value: req });
  t.deepEqual(decodeQuoteAnswer(encodeQuoteAnswer({ ok: true, quote: q })), { ok: true, value: { ok: true, quote: q } });
  t.deepEqual(decodeQuoteAnswer(encodeQuoteAnswer({ ok: false, reason: 'no' })), { ok: true, value: { ok: false, reason: 'no' } });
  for (const bad of [new Uint8Array(0), Uint8Array.of(0xc1), new Uint8Array(600), encodeQuote(q).subarray(0, 40)]) {
    t.false(decodeQuote(bad).ok);
    t.false(decodeQuoteRequest(bad).ok);
    t.false(decodeQuoteAnswer(bad).ok);
  }
  t.false(decodeQuote(encodeQuote({ ...q, rateDen: 0n })).ok, 'a zero rate term');
  t.false(decodeQuote(encodeQuote({ ...q, to: ETH })).ok, 'one asset both ways');
  t.false(decodeQuoteRequest(encodeQuoteRequest({ ...req, amount: 0n })).ok);
});

test('a swap payload rides the onion to the hub intact', (t) => {
  const q = signedQuote();
  const { onion } = buildOnion(
    [
      {
        publicKey: nobleBackend.publicKey(bob.privateKey, true),
        payload: { kind: 'swap', channelId: next.channelId, amount: OUT, quote: q },
      },
      { publicKey: nobleBackend.publicKey(alice.privateKey, true), payload: { kind: 'final', amount: OUT } },
    ],
    [new Uint8Array(32).fill(3), new Uint8Array(32).fill(4)],
  );
  const peeled = peelOnion(onion, bob.privateKey);
  t.true(peeled.ok);
  if (peeled.ok) t.deepEqual(peeled.value.payload, { kind: 'swap', channelId: next.channelId, amount: OUT, quote: q });
});

test('a keysend that prepays a quote carries its nonce to the hub; a prepayment without a preimage is refused', (t) => {
  const hub = nobleBackend.publicKey(bob.privateKey, true);
  const prepay = `0x${'5a'.repeat(32)}` as Bytes32;
  const preimage = `0x${'77'.repeat(32)}` as Bytes32;
  const eph = [new Uint8Array(32).fill(5)];
  const { onion } = buildOnion([{ publicKey: hub, payload: { kind: 'final', amount: 9n, preimage, prepay } }], eph);
  const peeled = peelOnion(onion, bob.privateKey);
  t.true(peeled.ok);
  if (peeled.ok) t.deepEqual(peeled.value.payload, { kind: 'final', amount: 9n, preimage, prepay });
  const plain = peelOnion(buildOnion([{ publicKey: hub, payload: { kind: 'final', amount: 9n, preimage } }], eph).onion, bob.privateKey);
  t.true(plain.ok && plain.value.payload.kind === 'final' && plain.value.payload.prepay === undefined, 'no nonce: a plain keysend');
  const bare = peelOnion(buildOnion([{ publicKey: hub, payload: { kind: 'final', amount: 9n, prepay } }], eph).onion, bob.privateKey);
  t.false(bare.ok);
  if (!bare.ok) t.regex(bare.detail, /a prepayment is a keysend/);
});

test('a swap lock holding what the quote asks is converted: the outgoing lock pays the quoted asset, same hashlock and expiry', (t) => {
  const q = signedQuote();
  const fee = forwardFee(policy, OUT);
  t.is(wantIn(q), (OUT + fee + 2999n) / 3000n, 'ceil((out + fee) × den / num)');
  t.deepEqual(decide({}), {
    action: 'forward',
    channelId: next.channelId,
    lock: { asset: 0, amount: OUT, hashlock: lockOf(0n).hashlock, expiry: NOW + 260n },
    fee,
    swap: { from: ETH, to: USD, surplus: 0n },
  });
  const premium = signedQuote({ premium: 7n });
  t.is(reason(decide({ quote: premium, amountIn: wantIn(q) })), 'quote-underpaid', 'the premium is owed too');
  t.is(reason(decide({ quote: premium })), 'forward');
});

test('each swap rule refuses with its reason', (t) => {
  const q = signedQuote();
  t.is(reason(decide({ status: 'not-ours' })), 'quote-invalid');
  t.is(reason(decide({ status: 'used' })), 'quote-used');
  t.is(reason(decide({ quote: signedQuote({ upfront: 5n }), status: 'unpaid' })), 'quote-unpaid', 'the upfront premium has not arrived');
  t.is(reason(decide({ quote: signedQuote({ upfront: 5n }) })), 'forward', 'it has');
  t.is(
    reason(decide({ status: 'unpaid', now: q.validUntil + 1n, expiry: q.validUntil + 200n })),
    'quote-expired',
    'an expired quote says so, paid or not',
  );
  t.is(reason(decide({ now: q.validUntil + 1n, expiry: q.validUntil + 200n })), 'quote-expired');
  t.is(reason(decide({ amountIn: wantIn(q) - 1n })), 'quote-underpaid', 'one unit short of the quoted rate');
  t.is(reason(decide({ asset: USD })), 'asset-mismatch', 'the incoming lock is not in the quote’s from asset');
  t.is(reason(decide({ next: { ...next, assets: [ETH] } })), 'asset-mismatch', 'the next channel does not hold the quote’s to asset');
  t.is(reason(decide({ expiry: q.maxExpiry + 1n })), 'expiry-too-far', 'a lock outliving the quote’s bound: a longer free option');
  t.is(reason(decide({ quote: signedQuote({ maxAmount: OUT - 1n }) })), 'amount-above-maximum');
  t.is(reason(decide({ next: { ...next, spendable: [OUT - 1n] } })), 'temporary-channel-failure');
  const soon = NOW + DEFAULT_TIMING.registrationMargin + DEFAULT_TIMING.minRouteWindow;
  t.is(reason(decide({ expiry: soon })), 'expiry-too-soon');
});

test('a route priced by a quote: the hub’s amount in and every amount upstream are computed again, downstream is unchanged', (t) => {
  const hop = (over: Partial<RouteHop>): RouteHop => ({
    channelId: `0x${'01'.repeat(32)}`,
    from: alice.address,
    to: bob.address,
    toPeerId: '',
    asset: ETH,
    direction: 0,
    assetIndex: 0,
    amount: 0n,
    fee: 0n,
    feeBase: 0n,
    feePpm: 0,
    minExpirySeconds: 0,
    capacity: 0n,
    probability: 1,
    ...over,
  });
  const carol = '0x00000000000000000000000000000000000000c0' as Address;
  const payee = '0x00000000000000000000000000000000000000d0' as Address;
  const hubFee = forwardFee(policy, OUT);
  // payer → carol (forwards ETH, 5 + 100 ppm) → bob (converts) → payee; found at the indicative rate 2,000.
  const route: Route = {
    from: alice.address,
    to: payee,
    amount: OUT,
    asset: USD,
    payWith: ETH,
    sent: 0n,
    totalFee: 0n,
    probability: 1,
    minExpirySeconds: 180,
    hops: [
      hop({ to: carol, amount: 1n }),
      hop({ from: carol, to: bob.address, amount: 1n, feeBase: 5n, feePpm: 100 }),
      hop({
        from: bob.address,
        to: payee,
        asset: USD,
        amount: OUT,
        fee: hubFee,
        feeBase: policy.baseFee,
        feePpm: Number(policy.feePpm),
        conversion: { from: ETH, to: USD, rateNum: 2000n, rateDen: 1n, amountIn: 1n },
      }),
    ],
  };
  const q = signedQuote();
  const r = applyQuote(route, q);
  t.true(r.ok);
  if (!r.ok) return;
  const into = quotedAmountIn(q, OUT, hubFee);
  const carolFee = 5n + (into * 100n) / 1_000_000n;
  t.is(r.route.hops[1]!.amount, into);
  t.is(r.route.hops[0]!.amount, into + carolFee);
  t.is(r.route.sent, into + carolFee);
  t.is(r.route.totalFee, into + carolFee - (OUT + 2999n) / 3000n);
  t.deepEqual(r.route.hops[2]!.conversion, { from: ETH, to: USD, rateNum: 3000n, rateDen: 1n, amountIn: into });
  t.is(r.route.hops[2]!.amount, OUT);
  t.false(applyQuote(route, signedQuote({ hub: alice.address }, alice)).ok, 'another hub’s quote');
  t.false(applyQuote(route, signedQuote({ to: ETH, from: USD })).ok, 'another pair');
  t.false(applyQuote(route, signedQuote({ maxAmount: OUT - 1n })).ok, 'a quote too small');
});
