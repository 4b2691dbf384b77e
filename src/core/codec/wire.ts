/**
 * The msgpack wire codec for {@link Message}s.
 *
 * Every message is a msgpack array whose first element is a numeric tag. Integers up to
 * 2^53-1 travel as msgpack integers; larger ones (uint64 versions, uint256 amounts) as
 * minimal big-endian byte strings, so every uint256 survives the round trip exactly.
 *
 * {@link decodeMessage} is the only way bytes from a peer become a message: it checks sizes
 * first, then decodes through a validating parser that rejects any wrong type, out-of-range
 * number or excess element with a `malformed` result (never an exception, never a partly
 * parsed object).
 */
import { MAX_OPS, MAX_OP_FAILURE_BYTES, MAX_OP_ONION_BYTES, type Op } from '../ops.ts';
import { MAX_ASSETS, type ChannelParams } from '../params.ts';
import type { Result } from '../result.ts';
import { MAX_LOCKS } from '../state.ts';
import type { CodecLimits, Message } from './messages.ts';
import {
  type Wire,
  MAX_UINT256,
  MAX_UINT64,
  addr,
  address,
  arr,
  b32,
  balances,
  decodeWith,
  describe,
  encodeBalances,
  encodeLock,
  encodeParams,
  fail,
  lock,
  packr,
  party,
  reason,
  sig,
  small,
  text,
  u,
  uint,
} from './primitives.ts';

export const DEFAULT_LIMITS: CodecLimits = {
  maxMessageBytes: 1 << 20,
  maxOps: MAX_OPS,
  maxLocks: MAX_LOCKS,
  maxAssets: MAX_ASSETS,
  maxDetailLength: 1024,
};

const TAG = { open: 1, 'open-accept': 2, request: 3, propose: 4, countersign: 5, reject: 6, close: 7, sync: 8, state: 9 } as const;
const OP_TAG = { pay: 1, swap: 2, lock: 3, settle: 4, cancel: 5, deposit: 6, finalize: 7 } as const;

// ---------------------------------------------------------------------------------------------
// Encoding

function encodeOp(op: Op): Wire[] {
  const head: Wire[] = [OP_TAG[op.kind], u(op.id), op.by];
  switch (op.kind) {
    case 'pay':
      return [...head, op.asset, u(op.amount)];
    case 'swap':
      return [...head, op.giveAsset, u(op.giveAmount), op.takeAsset, u(op.takeAmount), u(op.expiry)];
    case 'lock':
      return op.onion === undefined ? [...head, encodeLock(op.lock)] : [...head, encodeLock(op.lock), op.onion];
    case 'settle':
      return [...head, u(op.lockId), addr(op.secret)];
    case 'cancel':
      return op.failure === undefined ? [...head, u(op.lockId)] : [...head, u(op.lockId), op.failure];
    case 'deposit':
      return [...head, op.asset, u(op.amount), u(op.holdingsAfter)];
    case 'finalize':
      return head;
  }
}

function toWire(m: Message): Wire[] {
  switch (m.type) {
    case 'open': {
      return [TAG.open, ...encodeParams(m.params), encodeBalances(m.deposits), m.signature];
    }
    case 'open-accept':
      return [TAG['open-accept'], addr(m.channelId), m.signature];
    case 'request':
      return [TAG.request, addr(m.channelId), m.ops.map(encodeOp)];
    case 'propose':
      return [TAG.propose, addr(m.channelId), u(m.version), m.ops.map(encodeOp), m.signature];
    case 'countersign':
      return [TAG.countersign, addr(m.channelId), u(m.version), m.signature];
    case 'reject':
      return [
        TAG.reject,
        addr(m.channelId),
        m.version === undefined ? null : u(m.version),
        m.ops === undefined ? null : m.ops.map(u),
        m.reason,
        m.detail,
      ];
    case 'close':
      return [TAG.close, addr(m.channelId), u(m.id)];
    case 'sync':
      return [TAG.sync, addr(m.channelId), u(m.version)];
    case 'state': {
      const s = m.state;
      return [
        TAG.state,
        addr(s.channelId),
        u(s.version),
        encodeBalances(s.balances),
        s.locks.map(encodeLock),
        s.isFinal,
        m.signatures[0],
        m.signatures[1],
      ];
    }
  }
}

/** Encodes a message. Messages built by the node are valid by construction. */
export function encodeMessage(message: Message): Uint8Array {
  return packr.pack(toWire(message));
}

// ---------------------------------------------------------------------------------------------
// Decoding: a validating parser. Each reader throws `Malformed`, caught once in decodeMessage.

/** Fields per operation tag: [fewest, most] (a lock may carry an onion, a cancel a failure). */
const OP_ARITY: Record<number, readonly [number, number]> = {
  1: [5, 5],
  2: [8, 8],
  3: [4, 5],
  4: [5, 5],
  5: [4, 5],
  6: [6, 6],
  7: [3, 3],
};

function blob(x: unknown, what: string, max: number): Uint8Array {
  if (!(x instanceof Uint8Array) || x.length === 0 || x.length > max) fail(`${what} must be 1..${max} bytes`);
  return new Uint8Array(x);
}

function op(x: unknown, limits: CodecLimits): Op {
  if (!Array.isArray(x) || x.length === 0) fail('operation must be a non-empty array');
  const tag = x[0];
  const arity = typeof tag === 'number' ? OP_ARITY[tag] : undefined;
  if (arity === undefined) fail(`unknown operation tag ${describe(tag)}`);
  const f = arr(x, 'operation', arity[0], arity[1]);
  const id = uint(f[1], 'operation id', MAX_UINT64);
  const by = party(f[2], 'operation by');
  const maxAsset = limits.maxAssets - 1;
  switch (tag) {
    case 1:
      return { kind: 'pay', id, by, asset: small(f[3], 'asset', maxAsset), amount: uint(f[4], 'amount', MAX_UINT256) };
    case 2:
      return {
        kind: 'swap',
        id,
        by,
        giveAsset: small(f[3], 'give asset', maxAsset),
        giveAmount: uint(f[4], 'give amount', MAX_UINT256),
        takeAsset: small(f[5], 'take asset', maxAsset),
        takeAmount: uint(f[6], 'take amount', MAX_UINT256),
        expiry: uint(f[7], 'swap expiry', MAX_UINT64),
      };
    case 3:
      return f.length === 5
        ? { kind: 'lock', id, by, lock: lock(f[3], limits), onion: blob(f[4], 'lock onion', MAX_OP_ONION_BYTES) }
        : { kind: 'lock', id, by, lock: lock(f[3], limits) };
    case 4:
      return { kind: 'settle', id, by, lockId: uint(f[3], 'lock id', MAX_UINT64), secret: b32(f[4], 'secret') };
    case 5:
      return f.length === 5
        ? { kind: 'cancel', id, by, lockId: uint(f[3], 'lock id', MAX_UINT64), failure: blob(f[4], 'cancel failure', MAX_OP_FAILURE_BYTES) }
        : { kind: 'cancel', id, by, lockId: uint(f[3], 'lock id', MAX_UINT64) };
    case 6:
      return {
        kind: 'deposit',
        id,
        by,
        asset: small(f[3], 'asset', maxAsset),
        amount: uint(f[4], 'amount', MAX_UINT256),
        holdingsAfter: uint(f[5], 'holdings after', MAX_UINT256),
      };
    default:
      return { kind: 'finalize', id, by };
  }
}

function ops(x: unknown, limits: CodecLimits): Op[] {
  return arr(x, 'operations', 0, limits.maxOps).map((o) => op(o, limits));
}

function parse(w: unknown, limits: CodecLimits): Message {
  if (!Array.isArray(w) || w.length === 0) fail('message must be a non-empty array');
  switch (w[0]) {
    case TAG.open: {
      const f = arr(w, 'open', 10, 10);
      const assets = arr(f[5], 'assets', 1, limits.maxAssets).map((a, i) => address(a, `assets[${i}]`));
      const params: ChannelParams = {
        chainId: uint(f[1], 'chainId', MAX_UINT256),
        adjudicator: address(f[2], 'adjudicator'),
        participants: [address(f[3], 'participant 0'), address(f[4], 'participant 1')],
        assets,
        challengeDuration: uint(f[6], 'challengeDuration', MAX_UINT64),
        nonce: uint(f[7], 'nonce', MAX_UINT256),
      };
      const deposits = balances(f[8], limits);
      if (deposits.length !== assets.length) fail('deposits must have one row per asset');
      return { type: 'open', params, deposits, signature: sig(f[9], 'signature') };
    }
    case TAG['open-accept']: {
      const f = arr(w, 'open-accept', 3, 3);
      return { type: 'open-accept', channelId: b32(f[1], 'channelId'), signature: sig(f[2], 'signature') };
    }
    case TAG.request: {
      const f = arr(w, 'request', 3, 3);
      return { type: 'request', channelId: b32(f[1], 'channelId'), ops: ops(f[2], limits) };
    }
    case TAG.propose: {
      const f = arr(w, 'propose', 5, 5);
      return {
        type: 'propose',
        channelId: b32(f[1], 'channelId'),
        version: uint(f[2], 'version', MAX_UINT64),
        ops: ops(f[3], limits),
        signature: sig(f[4], 'signature'),
      };
    }
    case TAG.countersign: {
      const f = arr(w, 'countersign', 4, 4);
      return {
        type: 'countersign',
        channelId: b32(f[1], 'channelId'),
        version: uint(f[2], 'version', MAX_UINT64),
        signature: sig(f[3], 'signature'),
      };
    }
    case TAG.reject: {
      const f = arr(w, 'reject', 6, 6);
      const version = f[2] === null ? undefined : uint(f[2], 'version', MAX_UINT64);
      const opIds = f[3] === null ? undefined : arr(f[3], 'ops', 0, limits.maxOps).map((x) => uint(x, 'op id', MAX_UINT64));
      return {
        type: 'reject',
        channelId: b32(f[1], 'channelId'),
        ...(version === undefined ? {} : { version }),
        ...(opIds === undefined ? {} : { ops: opIds }),
        reason: reason(f[4]),
        detail: text(f[5], 'detail', limits.maxDetailLength),
      };
    }
    case TAG.close: {
      const f = arr(w, 'close', 3, 3);
      return { type: 'close', channelId: b32(f[1], 'channelId'), id: uint(f[2], 'id', MAX_UINT64) };
    }
    case TAG.sync: {
      const f = arr(w, 'sync', 3, 3);
      return { type: 'sync', channelId: b32(f[1], 'channelId'), version: uint(f[2], 'version', MAX_UINT64) };
    }
    case TAG.state: {
      const f = arr(w, 'state', 8, 8);
      if (typeof f[5] !== 'boolean') fail('isFinal must be a boolean');
      return {
        type: 'state',
        state: {
          channelId: b32(f[1], 'channelId'),
          version: uint(f[2], 'version', MAX_UINT64),
          balances: balances(f[3], limits),
          locks: arr(f[4], 'locks', 0, limits.maxLocks).map((l) => lock(l, limits)),
          isFinal: f[5],
        },
        signatures: [sig(f[6], 'signature 0'), sig(f[7], 'signature 1')],
      };
    }
    default:
      return fail(`unknown message tag ${describe(w[0])}`);
  }
}

/**
 * Decodes bytes from a peer into a message, or a `malformed` rejection saying what was wrong.
 * Never throws.
 */
export function decodeMessage(data: Uint8Array, limits: CodecLimits = DEFAULT_LIMITS): Result<Message> {
  return decodeWith(data, limits, parse);
}

/** One operation's wire form and its validating reader (the store keeps lock deltas in it). */
export { encodeOp, op as readOp };
