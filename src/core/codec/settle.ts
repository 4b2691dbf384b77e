/**
 * Messages of the settlement protocol (`/lanes/settle/1.0.0`) between a node and a coordinator.
 *
 * A node `submit`s items (a cooperative close, a dispute, a conclusion, secret reveals, or a
 * `watch` of its latest co-signed state); the coordinator answers `accepted` once the item is
 * durably queued (or `refused`, with a reason, if it is not something the participants signed)
 * and later `result`: settled, or failed with the adjudicator's reason. Same msgpack
 * conventions and validating parser as the channel codec (wire.ts).
 */
import type { Bytes32 } from '../bytes.ts';
import type { ChannelParams } from '../params.ts';
import { type RejectReason, type Result } from '../result.ts';
import type { ChannelState } from '../state.ts';
import type { SignedState } from '../validate.ts';
import type { CodecLimits } from './messages.ts';
import { DEFAULT_LIMITS } from './wire.ts';
import {
  type Wire,
  MAX_UINT64,
  addr,
  arr,
  b32,
  decodeWith,
  describe,
  encodeParams,
  encodeState,
  fail,
  packr,
  params,
  reason,
  sig,
  state,
  text,
  u,
  uint,
} from './primitives.ts';

export const SETTLE_PROTOCOL = '/lanes/settle/1.0.0';

/** The most secrets one reveal item carries. */
export const MAX_SECRETS = 256;

/**
 * Why the adjudicator skips a batch item: its `Reason` enum after `None`, in order (so index + 1
 * is the value in its `ItemFailed` event; src/chain/events.ts decodes by it).
 */
export const ADJUDICATOR_FAILURES = [
  'malformed',
  'invalid-signature',
  'wrong-signer',
  'unknown-channel',
  'channel-closed',
  'exceeds-holdings',
  'stale-version',
  'challenge-expired',
  'not-challenged',
  'challenge-pending',
  'state-mismatch',
  'locks-pending',
  'unknown-lock',
  'already-unlocked',
] as const;

/** Why the chain (or the coordinator) did not settle an item: the adjudicator's reasons, plus `dropped`. */
export const SETTLEMENT_FAILURES = [
  ...ADJUDICATOR_FAILURES,
  'dropped', // the coordinator gave up on it (e.g. its transaction kept failing)
] as const;
export type SettlementFailure = (typeof SETTLEMENT_FAILURES)[number];

export type SettleItem =
  | { readonly kind: 'close' | 'dispute' | 'watch'; readonly params: ChannelParams; readonly signed: SignedState }
  | { readonly kind: 'conclude'; readonly params: ChannelParams; readonly state: ChannelState }
  | { readonly kind: 'reveal'; readonly secrets: readonly Bytes32[] };

export type SettleKind = SettleItem['kind'];

export type SettleMessage =
  | { readonly type: 'submit'; readonly requestId: bigint; readonly item: SettleItem }
  | { readonly type: 'accepted'; readonly requestId: bigint; readonly itemId: bigint }
  | { readonly type: 'refused'; readonly requestId: bigint; readonly reason: RejectReason; readonly detail: string }
  | {
      readonly type: 'result';
      readonly requestId: bigint;
      readonly itemId: bigint;
      readonly ok: boolean;
      readonly reason?: SettlementFailure;
      readonly transactionHash?: Bytes32;
    };

const TAG = { submit: 1, accepted: 2, refused: 3, result: 4 } as const;
const KIND = { close: 1, dispute: 2, conclude: 3, reveal: 4, watch: 5 } as const;
const KINDS: readonly SettleKind[] = ['close', 'dispute', 'conclude', 'reveal', 'watch'];

function encodeItem(item: SettleItem): Wire[] {
  switch (item.kind) {
    case 'close':
    case 'dispute':
    case 'watch':
      return [
        KIND[item.kind],
        encodeParams(item.params),
        encodeState(item.signed.state),
        item.signed.signatures[0],
        item.signed.signatures[1],
      ];
    case 'conclude':
      return [KIND.conclude, encodeParams(item.params), encodeState(item.state)];
    case 'reveal':
      return [KIND.reveal, item.secrets.map(addr)];
  }
}

export function encodeSettleMessage(m: SettleMessage): Uint8Array {
  let w: Wire[];
  switch (m.type) {
    case 'submit':
      w = [TAG.submit, u(m.requestId), encodeItem(m.item)];
      break;
    case 'accepted':
      w = [TAG.accepted, u(m.requestId), u(m.itemId)];
      break;
    case 'refused':
      w = [TAG.refused, u(m.requestId), m.reason, m.detail];
      break;
    case 'result':
      w = [
        TAG.result,
        u(m.requestId),
        u(m.itemId),
        m.ok,
        m.reason ?? null,
        m.transactionHash === undefined ? null : addr(m.transactionHash),
      ];
      break;
  }
  return packr.pack(w);
}

function item(x: unknown, limits: CodecLimits): SettleItem {
  if (!Array.isArray(x) || x.length === 0) fail('item must be a non-empty array');
  const kind = typeof x[0] === 'number' ? KINDS[x[0] - 1] : undefined; // not "4", true or [4]
  if (kind === undefined) fail(`unknown item kind ${describe(x[0])}`);
  if (kind === 'reveal') {
    const f = arr(x, 'reveal item', 2, 2);
    return { kind, secrets: arr(f[1], 'secrets', 1, MAX_SECRETS).map((s, i) => b32(s, `secrets[${i}]`)) };
  }
  if (kind === 'conclude') {
    const f = arr(x, 'conclude item', 3, 3);
    return { kind, params: params(f[1], limits), state: state(f[2], limits) };
  }
  const f = arr(x, `${kind} item`, 5, 5);
  return {
    kind,
    params: params(f[1], limits),
    signed: { state: state(f[2], limits), signatures: [sig(f[3], 'signature 0'), sig(f[4], 'signature 1')] },
  };
}

function failure(x: unknown): SettlementFailure | undefined {
  if (x === null) return undefined;
  if (typeof x !== 'string' || !(SETTLEMENT_FAILURES as readonly string[]).includes(x)) fail('unknown settlement failure');
  return x as SettlementFailure;
}

function parse(w: unknown, limits: CodecLimits): SettleMessage {
  if (!Array.isArray(w) || w.length === 0) fail('message must be a non-empty array');
  switch (w[0]) {
    case TAG.submit: {
      const f = arr(w, 'submit', 3, 3);
      return { type: 'submit', requestId: uint(f[1], 'requestId', MAX_UINT64), item: item(f[2], limits) };
    }
    case TAG.accepted: {
      const f = arr(w, 'accepted', 3, 3);
      return { type: 'accepted', requestId: uint(f[1], 'requestId', MAX_UINT64), itemId: uint(f[2], 'itemId', MAX_UINT64) };
    }
    case TAG.refused: {
      const f = arr(w, 'refused', 4, 4);
      return {
        type: 'refused',
        requestId: uint(f[1], 'requestId', MAX_UINT64),
        reason: reason(f[2]),
        detail: text(f[3], 'detail', limits.maxDetailLength),
      };
    }
    case TAG.result: {
      const f = arr(w, 'result', 6, 6);
      if (typeof f[3] !== 'boolean') fail('ok must be a boolean');
      const why = failure(f[4]);
      const tx = f[5] === null ? undefined : b32(f[5], 'transactionHash');
      return {
        type: 'result',
        requestId: uint(f[1], 'requestId', MAX_UINT64),
        itemId: uint(f[2], 'itemId', MAX_UINT64),
        ok: f[3],
        ...(why === undefined ? {} : { reason: why }),
        ...(tx === undefined ? {} : { transactionHash: tx }),
      };
    }
    default:
      return fail(`unknown settle message tag ${describe(w[0])}`);
  }
}

/** Decodes a settlement message; never throws. */
export function decodeSettleMessage(data: Uint8Array, limits: CodecLimits = DEFAULT_LIMITS): Result<SettleMessage> {
  return decodeWith(data, limits, parse);
}
