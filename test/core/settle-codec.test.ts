import test from 'ava';
import fc from 'fast-check';
import { type SettleMessage, SETTLEMENT_FAILURES, decodeSettleMessage, encodeSettleMessage } from '../../src/core/index.ts';
import { ITEM_REASONS } from '../../src/chain/events.ts';
import { cosign, makeParams, makeState, makeSwapParams } from '../helpers/factories.ts';

const params = makeSwapParams();
const signed = cosign(params, {
  ...makeState(params, { version: 2n ** 60n }),
  locks: [{ id: 1n, asset: 2, amount: 5n, sender: 1, receiver: 0, hashlock: `0x${'ab'.repeat(32)}`, expiry: 9n }],
});
const samples: SettleMessage[] = [
  {
    type: 'submit',
    requestId: 1n,
    item: { kind: 'close', params: makeParams(), signed: cosign(makeParams(), makeState(makeParams(), { isFinal: true })) },
  },
  { type: 'submit', requestId: 2n ** 63n, item: { kind: 'dispute', params, signed } },
  { type: 'submit', requestId: 3n, item: { kind: 'watch', params, signed } },
  { type: 'submit', requestId: 4n, item: { kind: 'conclude', params, state: signed.state } },
  { type: 'submit', requestId: 5n, item: { kind: 'reveal', secrets: [`0x${'01'.repeat(32)}`, `0x${'02'.repeat(32)}`] } },
  { type: 'accepted', requestId: 6n, itemId: 77n },
  { type: 'refused', requestId: 7n, reason: 'invalid-signature', detail: 'participant 1 did not sign' },
  { type: 'result', requestId: 8n, itemId: 77n, ok: true, transactionHash: `0x${'cd'.repeat(32)}` },
  { type: 'result', requestId: 9n, itemId: 78n, ok: false, reason: 'exceeds-holdings' },
];

for (const m of samples) {
  test(`${m.type}${m.type === 'submit' ? ` ${m.item.kind}` : m.type === 'result' ? ` ok=${m.ok}` : ''} round-trips`, (t) => {
    t.like(decodeSettleMessage(encodeSettleMessage(m)), { ok: true, value: m });
  });
}

test('settlement failures are the adjudicator reasons plus dropped', (t) => {
  t.deepEqual([...SETTLEMENT_FAILURES], [...ITEM_REASONS.slice(1), 'dropped']);
});

test('random and mutated bytes never throw', (t) => {
  const encoded = samples.map(encodeSettleMessage);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 400 }),
        fc
          .tuple(fc.integer({ min: 0, max: encoded.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 5 }))
          .map(([i, flips]) => {
            const b = new Uint8Array(encoded[i]!);
            for (const [pos, val] of flips) b[pos % b.length] = val;
            return b;
          }),
      ),
      (bytes) => {
        const r = decodeSettleMessage(bytes);
        return r.ok || r.reason === 'malformed';
      },
    ),
    { numRuns: 2000, seed: Number(process.env.SEED ?? Date.now() % 2 ** 31) },
  );
  t.pass();
});
