/**
 * Valid values of every message type, operation, item kind and record kind, with numbers at
 * their limits: the decoder fuzzers' seeds (seeds.ts) and the bases of their structured inputs
 * (structured.ts) are these, encoded with the encoders under test. Deterministic (RFC 6979
 * signatures, fixed keys).
 */
import {
  type ChannelParams,
  type Lock,
  type Message,
  type Op,
  type SettleMessage,
  type SignedState,
  MAX_UINT256,
  MAX_UINT64,
} from '../../../src/core/index.ts';
import type { ChannelRecord } from '../../../src/store/store.ts';
import { cosign, makeParams, makeState, makeSwapParams } from '../../helpers/factories.ts';

export const b = (hex: string) => Buffer.from(hex.replace(/^0x/, ''), 'hex');
export const HASH = `0x${'ab'.repeat(32)}` as const;
export const eth = makeParams();
export const swap = makeSwapParams({ nonce: MAX_UINT256, chainId: 2n ** 64n, challengeDuration: MAX_UINT64 });
export const ethSigned = cosign(eth, makeState(eth, { version: 7n }));
export const lock = (id: bigint, sender: 0 | 1): Lock => ({
  id,
  asset: 2,
  amount: MAX_UINT256,
  sender,
  receiver: sender === 0 ? 1 : 0,
  hashlock: HASH,
  expiry: MAX_UINT64,
});
export const swapSigned = cosign(swap, {
  ...makeState(swap, { version: MAX_UINT64 - 1n }),
  balances: [
    [MAX_UINT256, 0n],
    [2n ** 53n, 2n ** 53n - 1n],
    [1n, 2n],
  ],
  locks: [lock(1n, 0), lock(MAX_UINT64, 1)],
});
export const finalSigned = cosign(eth, makeState(eth, { version: 9n, isFinal: true }));
export const sig = ethSigned.signatures[0];
export const id = ethSigned.state.channelId;

export const OPS: Op[] = [
  { kind: 'pay', id: 1n, by: 1, asset: 0, amount: 5n },
  { kind: 'swap', id: 2n, by: 1, giveAsset: 1, giveAmount: MAX_UINT256, takeAsset: 2, takeAmount: 1n, expiry: MAX_UINT64 },
  { kind: 'lock', id: 3n, by: 1, lock: lock(3n, 1) },
  { kind: 'settle', id: 4n, by: 0, lockId: 3n, secret: HASH },
  { kind: 'cancel', id: 5n, by: 1, lockId: 3n },
  { kind: 'deposit', id: 6n, by: 0, asset: 2, amount: 1n, holdingsAfter: MAX_UINT256 },
  { kind: 'finalize', id: 7n, by: 0 },
  { kind: 'lock', id: 8n, by: 0, lock: lock(8n, 0), onion: new Uint8Array(300).fill(7) },
  { kind: 'cancel', id: 9n, by: 1, lockId: 8n, failure: Uint8Array.of(1, 2, 3) },
];

export const wireSamples = once((): [string, Message][] => {
  return [
    ['open-eth', { type: 'open', params: eth, deposits: [[1000n, 0n]], signature: sig }],
    [
      'open-swap-extremes',
      {
        type: 'open',
        params: swap,
        deposits: [
          [MAX_UINT256, 0n],
          [1n, 2n],
          [2n ** 53n, 2n ** 53n - 1n],
        ],
        signature: sig,
      },
    ],
    ['open-accept', { type: 'open-accept', channelId: id, signature: sig }],
    ...OPS.map((op, i): [string, Message] => [
      `request-${op.kind}${OPS.findIndex((o) => o.kind === op.kind) === i ? '' : `-${i}`}`,
      { type: 'request', channelId: id, ops: [op] },
    ]),
    ['request-every-op', { type: 'request', channelId: id, ops: OPS }],
    ['propose', { type: 'propose', channelId: id, version: 8n, ops: [OPS[0]!, OPS[3]!], signature: sig }],
    ['propose-no-ops-max-version', { type: 'propose', channelId: id, version: MAX_UINT64, ops: [], signature: sig }],
    ['countersign', { type: 'countersign', channelId: id, version: 8n, signature: sig }],
    ['reject-version', { type: 'reject', channelId: id, version: 8n, reason: 'stale-version', detail: 'version 8 is not above 9' }],
    ['reject-ops', { type: 'reject', channelId: id, ops: [1n, MAX_UINT64], reason: 'insufficient-balance', detail: '' }],
    ['reject-open', { type: 'reject', channelId: id, reason: 'policy', detail: 'no swaps with strangers ✗' }],
    ['close', { type: 'close', channelId: id, id: 12n }],
    ['sync', { type: 'sync', channelId: id, version: 0n }],
    ['state', { type: 'state', state: ethSigned.state, signatures: ethSigned.signatures }],
    ['state-locks-extremes', { type: 'state', state: swapSigned.state, signatures: swapSigned.signatures }],
    ['state-final', { type: 'state', state: finalSigned.state, signatures: finalSigned.signatures }],
  ];
});

export const settleSamples = once((): [string, SettleMessage][] => {
  return [
    ['submit-close', { type: 'submit', requestId: 1n, item: { kind: 'close', params: eth, signed: finalSigned } }],
    ['submit-dispute', { type: 'submit', requestId: 2n ** 63n, item: { kind: 'dispute', params: swap, signed: swapSigned } }],
    ['submit-watch', { type: 'submit', requestId: 3n, item: { kind: 'watch', params: eth, signed: ethSigned } }],
    ['submit-conclude', { type: 'submit', requestId: 4n, item: { kind: 'conclude', params: swap, state: swapSigned.state } }],
    ['submit-reveal', { type: 'submit', requestId: 5n, item: { kind: 'reveal', secrets: [HASH, `0x${'01'.repeat(32)}`] } }],
    ['accepted', { type: 'accepted', requestId: 6n, itemId: MAX_UINT64 }],
    ['refused', { type: 'refused', requestId: 7n, reason: 'invalid-signature', detail: 'participant 1 did not sign' }],
    ['result-ok', { type: 'result', requestId: 8n, itemId: 77n, ok: true, transactionHash: `0x${'cd'.repeat(32)}` }],
    ['result-failed', { type: 'result', requestId: 9n, itemId: 78n, ok: false, reason: 'exceeds-holdings' }],
    ['result-dropped', { type: 'result', requestId: 10n, itemId: 79n, ok: false, reason: 'dropped' }],
  ];
});

export function record(params: ChannelParams, overrides: Partial<ChannelRecord> = {}): ChannelRecord {
  return {
    id: makeState(params).channelId,
    params,
    self: 0,
    peer: { peerId: '16Uiu2HAmExamplePeer', multiaddrs: ['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4001'] },
    status: 'open',
    deposits: params.assets.map(() => [1000n, 1000n] as const),
    depositFacts: [],
    burnedVersion: 0n,
    versionLease: 1024n,
    nextOpId: 1n,
    createdAt: 1_700_000_000_000,
    ...overrides,
  };
}

export const recordSamples = once((): [string, ChannelRecord][] => {
  return [
    ['record-open', record(eth)],
    ['record-proposed', record(eth, { status: 'proposed', self: 1, peer: { peerId: 'p', multiaddrs: [] }, versionLease: 0n })],
    [
      'record-extremes',
      record(swap, {
        self: 1,
        status: 'disputed',
        deposits: [
          [MAX_UINT256, 0n],
          [2n ** 53n, 2n ** 53n - 1n],
          [1n, MAX_UINT256 - 1n],
        ],
        depositFacts: [
          { asset: 0, participant: 0, amount: MAX_UINT256, holdingsAfter: MAX_UINT256 },
          { asset: 2, participant: 1, amount: 1n, holdingsAfter: 2n ** 64n },
        ],
        burnedVersion: MAX_UINT64,
        versionLease: MAX_UINT64 - 1n,
        nextOpId: 2n ** 53n,
        createdAt: Number.MAX_SAFE_INTEGER,
        note: 'settlement failed: gas ≥ limit ✗',
      }),
    ],
    ['record-rejected', record(eth, { status: 'rejected', note: 'policy: no thanks' })],
    [
      'record-dispute-final-proposal',
      record(swap, {
        status: 'disputed',
        dispute: { version: swapSigned.state.version, finalizesAt: MAX_UINT64, byUs: true, state: swapSigned.state },
        finalProposal: { state: finalSigned.state, signature: sig },
      }),
    ],
    ['record-dispute-no-state', record(eth, { status: 'disputed', dispute: { version: 7n, finalizesAt: 1_700_003_600n, byUs: false } })],
    [
      // Locks by root (docs/adr/0010): deltas of lock-changing proposals, a conclusion's locks, reveals.
      'record-locks',
      record(swap, {
        status: 'closed',
        lockDeltas: [
          {
            version: MAX_UINT64,
            base: MAX_UINT64 - 1n,
            ops: OPS.filter((o) => o.kind === 'lock' || o.kind === 'settle' || o.kind === 'cancel'),
          },
          { version: 2n, base: 1n, ops: [] },
        ],
        concludedLocks: { state: swapSigned.state, unlocked: [1] },
        revealed: [
          { hashlock: HASH, at: MAX_UINT64 },
          { hashlock: `0x${'00'.repeat(32)}`, at: 0n },
        ],
      }),
    ],
  ];
});

export const stateSamples = once((): [string, SignedState][] => {
  return [
    ['state', ethSigned],
    ['state-locks-extremes', swapSigned],
  ];
});

export const metaSamples = once((): [string, Uint8Array][] => [
  ['meta-empty', new Uint8Array(0)],
  ['meta-cursor', Uint8Array.of(0x92, 0xce, 0, 1, 0xe2, 0x40, 0xc4, 32, ...b('77'.repeat(32)))], // [123456, 32 bytes]
]);

function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}
