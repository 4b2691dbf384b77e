/**
 * Fuzz target: route onions and failure reports (src/core/forwarding/onion.ts, ADR 0011): what
 * the previous hop of a routed lock can put in its `onion`, and what comes back in a cancel's
 * failure report. `peelOnion` and `openFailure` never throw; an onion either opens to a
 * well-formed instruction (a forward carries the next onion, the payee's layer ends) or is
 * `malformed` / `not-for-us` with a short detail.
 *
 * Input: `[mode][bytes…]`. Mode 0: the bytes as an onion. Mode 1: the bytes as a layer's
 * plaintext, which the target seals to the hop's key itself, so the fuzzer explores the layer
 * parser behind the AEAD. Mode 2: the bytes as a failure report. Modes 3–5: routed swaps'
 * quotes (src/core/forwarding/quote.ts, ADR 0012): a quote (what a payer puts in a hub's
 * layer), a quote request (what any peer may send a hub), a hub's answer. Each decodes to a
 * value that re-encodes to equal bytes' value, or is refused with a short detail; never throws.
 */
import {
  type OnionHop,
  buildOnion,
  openFailure,
  peelOnion,
  sealFailure,
  sealLayer,
  wrapFailure,
} from '../../../src/core/forwarding/onion.ts';
import { packr } from '../../../src/core/codec/primitives.ts';
import {
  type SwapQuote,
  decodeQuote,
  decodeQuoteAnswer,
  decodeQuoteRequest,
  encodeQuote,
  encodeQuoteAnswer,
  encodeQuoteRequest,
} from '../../../src/core/forwarding/quote.ts';
import { keccak256, utf8 } from '../../../src/core/bytes.ts';
import * as secp from '@noble/secp256k1';
import { shortDetail, violation } from './check.ts';

const HOP = keccak256(utf8('fuzz onion hop'));
const HOP_PUB = secp.getPublicKey(HOP, true);
const EPH = keccak256(utf8('fuzz onion ephemeral'));
const OTHER = keccak256(utf8('fuzz onion other'));
const REPLY_KEYS = [new Uint8Array(44).fill(7), new Uint8Array(44).fill(9)];

function peel(onion: Uint8Array): void {
  let r: ReturnType<typeof peelOnion>;
  try {
    r = peelOnion(onion, HOP);
  } catch (e) {
    violation('peelOnion threw', e);
  }
  if (!r.ok) {
    if (r.reason !== 'malformed' && r.reason !== 'not-for-us') violation('unknown onion error', r.reason);
    shortDetail(r.detail, 400);
    return;
  }
  const { payload, next, replyKey } = r.value;
  if (payload.kind !== 'final' && !(next instanceof Uint8Array)) violation('a forward without the next onion');
  if (payload.kind === 'swap') roundTrip('swap quote', payload.quote, decodeQuote, encodeQuote);
  if (payload.kind === 'final' && next !== undefined) violation('the payee layer with an inner onion');
  if (replyKey.length !== 44) violation('reply key length', replyKey.length);
}

/** A decoded value re-encodes to bytes that decode to the same value. */
function roundTrip<T>(what: string, value: T, decode: (b: Uint8Array) => { ok: boolean; value?: T }, encode: (v: T) => Uint8Array): void {
  const again = decode(encode(value));
  if (!again.ok) violation(`${what} does not decode after re-encoding`, value);
  if (!Buffer.from(encode(again.value!)).equals(Buffer.from(encode(value)))) violation(`${what} changes on a round trip`, value);
}

function quoteInput(mode: number, bytes: Uint8Array): void {
  try {
    if (mode === 3) {
      const r = decodeQuote(bytes);
      if (r.ok) roundTrip('quote', r.value, decodeQuote, encodeQuote);
      else shortDetail(r.detail, 400);
    } else if (mode === 4) {
      const r = decodeQuoteRequest(bytes);
      if (r.ok) roundTrip('quote request', r.value, decodeQuoteRequest, encodeQuoteRequest);
      else shortDetail(r.detail, 400);
    } else {
      const r = decodeQuoteAnswer(bytes);
      if (r.ok) roundTrip('quote answer', r.value, decodeQuoteAnswer, encodeQuoteAnswer);
      else shortDetail(r.detail, 400);
    }
  } catch (e) {
    violation('a quote decoder threw', e);
  }
}

export function fuzz(data: Buffer): void {
  if (data.length === 0) return;
  const mode = data[0]! % 6;
  const bytes = new Uint8Array(data.subarray(1));
  if (mode === 0) return peel(bytes);
  if (mode === 1) return peel(sealLayer(HOP_PUB, EPH, bytes).onion);
  if (mode >= 3) return quoteInput(mode, bytes);
  try {
    const r = openFailure(bytes, REPLY_KEYS);
    if (r.hop < 0 || r.hop >= REPLY_KEYS.length) violation('blame outside the route', r.hop);
    if (r.ok) shortDetail(r.detail, 400);
  } catch (e) {
    violation('openFailure threw', e);
  }
}

/** A two-hop onion for our key and a payee's, and layers of each kind. */
export function onionSeeds(): Map<string, Uint8Array> {
  const other = secp.getPublicKey(OTHER, true);
  const hops: OnionHop[] = [
    { publicKey: HOP_PUB, payload: { kind: 'forward', channelId: `0x${'0c'.repeat(32)}`, amount: 10n ** 18n } },
    { publicKey: other, payload: { kind: 'final', amount: 10n ** 18n, paymentSecret: `0x${'ab'.repeat(32)}`, memo: 'thanks' } },
  ];
  const two = buildOnion(hops, [EPH, OTHER]).onion;
  const payee = buildOnion([{ publicKey: HOP_PUB, payload: { kind: 'final', amount: 1n, preimage: `0x${'11'.repeat(32)}` } }], [EPH]).onion;
  const quote: SwapQuote = {
    hub: `0x${'b0'.repeat(20)}`,
    from: `0x${'00'.repeat(20)}`,
    to: `0x${'aa'.repeat(20)}`,
    rateNum: 3000n,
    rateDen: 1n,
    maxAmount: 10n ** 22n,
    premium: 0n,
    upfront: 10n ** 15n,
    validUntil: 1_700_000_030n,
    maxExpiry: 1_700_000_270n,
    nonce: `0x${'5a'.repeat(32)}`,
    signature: new Uint8Array(65).fill(1),
  };
  const swapHop: OnionHop = { publicKey: HOP_PUB, payload: { kind: 'swap', channelId: `0x${'0d'.repeat(32)}`, amount: 5n, quote } };
  const seeds = new Map<string, Uint8Array>([
    ['onion-swap', Uint8Array.of(0, ...buildOnion([swapHop, hops[1]!], [EPH, OTHER]).onion)],
    ['layer-swap', Uint8Array.of(1, ...packr.pack([[2, new Uint8Array(32).fill(13), 7, encodeQuote(quote)], Uint8Array.of(1, 2, 3)]))],
    ['quote', Uint8Array.of(3, ...encodeQuote(quote))],
    ['quote-zero-rate', Uint8Array.of(3, ...encodeQuote({ ...quote, rateNum: 0n }))],
    ['quote-request', Uint8Array.of(4, ...encodeQuoteRequest({ from: quote.from, to: quote.to, amount: 10n ** 18n }))],
    ['quote-answer', Uint8Array.of(5, ...encodeQuoteAnswer({ ok: true, quote }))],
    ['quote-answer-refused', Uint8Array.of(5, ...encodeQuoteAnswer({ ok: false, reason: 'no swap of that pair here' }))],
    ['onion-forward', Uint8Array.of(0, ...two)],
    // Version 2 (ADR 0021): the same key for both layers, a salt each.
    [
      'onion-v2-forward',
      Uint8Array.of(0, ...buildOnion(hops, [EPH, EPH], undefined, [new Uint8Array(16).fill(1), new Uint8Array(16).fill(2)]).onion),
    ],
    ['onion-payee-keysend', Uint8Array.of(0, ...payee)],
    ['onion-not-ours', Uint8Array.of(0, ...buildOnion([hops[1]!], [EPH]).onion)],
    ['failure-garbage', Uint8Array.of(2, ...new Uint8Array(40))],
    ['failure-report', Uint8Array.of(2, ...wrapFailure(REPLY_KEYS[0]!, sealFailure(REPLY_KEYS[1]!, 'fee-insufficient', 'fee 3 < 11')))],
    ['layer-forward', Uint8Array.of(1, ...packr.pack([[0, new Uint8Array(32).fill(12), 5], Uint8Array.of(1, 2, 3)]))],
    ['layer-final', Uint8Array.of(1, ...packr.pack([[1, new Uint8Array(32).fill(255), null, new Uint8Array(32), 'memo'], null]))],
    ['layer-final-invoice', Uint8Array.of(1, ...packr.pack([[1, 1000, new Uint8Array(32).fill(1), null, null], null]))],
    // A keysend prepaying a quote's upfront premium (ADR 0012, 3): the quote's nonce as a sixth field.
    [
      'layer-final-prepay',
      Uint8Array.of(1, ...packr.pack([[1, 1000, null, new Uint8Array(32).fill(7), null, new Uint8Array(32).fill(9)], null])),
    ],
    [
      'onion-payee-prepay',
      Uint8Array.of(
        0,
        ...buildOnion(
          [{ publicKey: HOP_PUB, payload: { kind: 'final', amount: 1n, preimage: `0x${'11'.repeat(32)}`, prepay: quote.nonce } }],
          [EPH],
        ).onion,
      ),
    ],
    ['layer-forward-big-amount', Uint8Array.of(1, ...packr.pack([[0, new Uint8Array(32), new Uint8Array(32).fill(255)], two]))],
    ['layer-unknown-kind', Uint8Array.of(1, ...packr.pack([[2, 1, 2], null]))],
    [
      'onion-twenty-hops',
      Uint8Array.of(
        0,
        ...buildOnion(
          Array.from({ length: 20 }, (_, i) => ({
            publicKey: HOP_PUB,
            payload:
              i === 19
                ? ({ kind: 'final', amount: 1n } as const)
                : ({ kind: 'forward', channelId: `0x${String(i % 10).repeat(64)}` as `0x${string}`, amount: BigInt(20 - i) } as const),
          })),
          Array.from({ length: 20 }, (_, i) => keccak256(utf8(`eph ${i}`))),
        ).onion,
      ),
    ],
  ]);
  return seeds;
}
