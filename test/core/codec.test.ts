import test from 'ava';
import fc from 'fast-check';
import {
  type Message,
  DEFAULT_LIMITS,
  MAX_LOCKS,
  MAX_UINT256,
  MAX_UINT64,
  decodeMessage,
  encodeMessage,
  REJECT_REASONS,
} from '../../src/core/index.ts';
import { Packr } from 'msgpackr';
import { makeSwapParams, makeState } from '../helpers/factories.ts';

const params = makeSwapParams({ nonce: MAX_UINT256 });
const id = makeState(params).channelId;
const sig = new Uint8Array(65).fill(7);
const hash = `0x${'ab'.repeat(32)}` as const;
const lock = { id: MAX_UINT64, asset: 2, amount: MAX_UINT256, sender: 1 as const, receiver: 0 as const, hashlock: hash, expiry: 9n };

const samples: Message[] = [
  {
    type: 'open',
    params,
    deposits: [
      [MAX_UINT256, 0n],
      [1n, 2n],
      [2n ** 53n, 2n ** 53n - 1n],
    ],
    signature: sig,
  },
  { type: 'open-accept', channelId: id, signature: sig },
  {
    type: 'request',
    channelId: id,
    ops: [
      { kind: 'pay', id: 1n, by: 1, asset: 0, amount: 5n },
      { kind: 'swap', id: 2n, by: 1, giveAsset: 1, giveAmount: MAX_UINT256, takeAsset: 2, takeAmount: 1n, expiry: MAX_UINT64 },
      { kind: 'lock', id: 3n, by: 1, lock },
      { kind: 'settle', id: 4n, by: 1, lockId: 3n, secret: hash },
      { kind: 'cancel', id: 5n, by: 1, lockId: 3n },
      { kind: 'deposit', id: 6n, by: 1, asset: 0, amount: 1n, holdingsAfter: MAX_UINT256 },
      { kind: 'finalize', id: 7n, by: 1 },
    ],
  },
  { type: 'propose', channelId: id, version: MAX_UINT64, ops: [{ kind: 'pay', id: 0n, by: 0, asset: 0, amount: 1n }], signature: sig },
  { type: 'countersign', channelId: id, version: 3n, signature: sig },
  { type: 'reject', channelId: id, version: 4n, reason: 'stale-version', detail: 'old' },
  { type: 'reject', channelId: id, ops: [1n, MAX_UINT64], reason: 'insufficient-balance', detail: '' },
  { type: 'reject', channelId: id, reason: 'policy', detail: 'no thanks' },
  { type: 'close', channelId: id, id: 12n },
  { type: 'sync', channelId: id, version: 0n },
  { type: 'state', state: { ...makeState(params), version: 2n ** 60n, locks: [lock] }, signatures: [sig, sig] },
];

for (const m of samples) {
  test(`${m.type} round-trips exactly${m.type === 'reject' ? ` (${m.reason})` : ''}`, (t) => {
    const r = decodeMessage(encodeMessage(m));
    if (!r.ok) return t.fail(r.detail);
    t.deepEqual(r.value, m);
  });
}

test('every reject reason survives the wire', (t) => {
  for (const reason of REJECT_REASONS) {
    const r = decodeMessage(encodeMessage({ type: 'reject', channelId: id, reason, detail: reason }));
    t.like(r, { ok: true, value: { reason } });
  }
});

const raw = new Packr({ useRecords: false });
const malformed: [string, unknown][] = [
  ['an unknown tag', [99, 1]],
  ['a map instead of an array', { a: 1 }],
  ['a short channel id', [8, new Uint8Array(31), 1]],
  ['a negative version', [8, new Uint8Array(32), -1]],
  ['a fractional version', [8, new Uint8Array(32), 1.5]],
  ['a version above uint64', [8, new Uint8Array(32), new Uint8Array(9).fill(1)]],
  ['a non-minimal big integer', [8, new Uint8Array(32), Uint8Array.of(0, 1)]],
  ['an amount above uint256', [3, new Uint8Array(32), [[1, 0, 1, 0, new Uint8Array(33).fill(1)]]]],
  ['an extra element', [8, new Uint8Array(32), 1, 2]],
  ['a short signature', [5, new Uint8Array(32), 1, new Uint8Array(64)]],
  ['an unknown reject reason', [6, new Uint8Array(32), null, null, 'because', '']],
  ['an overlong reject detail', [6, new Uint8Array(32), null, null, 'policy', 'x'.repeat(2000)]],
  ['a participant index of 2', [3, new Uint8Array(32), [[1, 0, 2, 0, 1]]]],
  ['an asset index past the limit', [3, new Uint8Array(32), [[1, 0, 1, 8, 1]]]],
  ['an unknown operation', [3, new Uint8Array(32), [[42, 0, 1]]]],
  ['a string amount', [3, new Uint8Array(32), [[1, 0, 1, 0, '5']]]],
  ['too many operations', [3, new Uint8Array(32), Array.from({ length: DEFAULT_LIMITS.maxOps + 1 }, () => [7, 0, 1])]],
  [
    'too many locks',
    [
      9,
      new Uint8Array(32),
      1,
      [[1, 1]],
      Array.from({ length: MAX_LOCKS + 1 }, () => [1, 0, 1, 0, 1, new Uint8Array(32), 1]),
      false,
      sig,
      sig,
    ],
  ],
  ['a non-boolean final flag', [9, new Uint8Array(32), 1, [[1, 1]], [], 1, sig, sig]],
  [
    'open deposits not matching assets',
    [
      1,
      1,
      new Uint8Array(20),
      new Uint8Array(20),
      new Uint8Array(20),
      [new Uint8Array(20)],
      1,
      1,
      [
        [1, 1],
        [1, 1],
      ],
      sig,
    ],
  ],
];

for (const [title, value] of malformed) {
  test(`decoding ${title} is a malformed rejection`, (t) => {
    const r = decodeMessage(raw.pack(value));
    t.like(r, { ok: false, reason: 'malformed' });
  });
}

test('oversized and empty input is refused before decoding', (t) => {
  t.like(decodeMessage(new Uint8Array(0)), { ok: false, reason: 'malformed' });
  t.like(decodeMessage(new Uint8Array(DEFAULT_LIMITS.maxMessageBytes + 1)), { ok: false, reason: 'malformed' });
});

test('random bytes and mutated messages never throw', (t) => {
  const encoded = samples.map(encodeMessage);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 512 }),
        fc
          .tuple(fc.integer({ min: 0, max: encoded.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 6 }))
          .map(([i, flips]) => {
            const b = new Uint8Array(encoded[i]!);
            for (const [pos, val] of flips) b[pos % b.length] = val;
            return b;
          }),
        fc
          .tuple(fc.integer({ min: 0, max: encoded.length - 1 }), fc.nat())
          .map(([i, n]) => encoded[i]!.subarray(0, n % encoded[i]!.length)),
      ),
      (bytes) => {
        const r = decodeMessage(bytes);
        return typeof r.ok === 'boolean' && (r.ok || r.reason === 'malformed');
      },
    ),
    { numRuns: 3000, seed: Number(process.env.SEED ?? Date.now() % 2 ** 31) },
  );
  t.pass();
});

test('a lock may carry a route onion and a cancel a failure report; both round-trip and are bounded', (t) => {
  const lockOp = {
    kind: 'lock' as const,
    id: 3n,
    by: 0 as const,
    lock: { id: 3n, asset: 0, amount: 5n, sender: 0 as const, receiver: 1 as const, hashlock: `0x${'11'.repeat(32)}` as const, expiry: 9n },
    onion: new Uint8Array([1, 2, 3]),
  };
  const cancel = { kind: 'cancel' as const, id: 4n, by: 1 as const, lockId: 3n, failure: new Uint8Array([9]) };
  const msg: Message = { type: 'request', channelId: `0x${'22'.repeat(32)}`, ops: [lockOp, cancel] };
  const r = decodeMessage(encodeMessage(msg));
  t.deepEqual(r.ok ? r.value : r, msg);
  const big = { ...msg, ops: [{ ...lockOp, onion: new Uint8Array(8193) }] };
  t.like(decodeMessage(encodeMessage(big)), { ok: false, reason: 'malformed' });
  const empty = { ...msg, ops: [{ ...cancel, failure: new Uint8Array(0) }] };
  t.like(decodeMessage(encodeMessage(empty)), { ok: false, reason: 'malformed' });
});
