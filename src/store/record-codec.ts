/**
 * The store layout: the keys and the on-disk encoding of everything a `ChannelStore` keeps,
 * shared by the lmdb and memory stores so both refuse, store and load exactly the same things.
 *
 * Every value is an envelope: `[kind u8][format u8][payload][crc32 u32 big-endian]`. The kind
 * stops a value written under one key type from being read as another; the format byte lets a
 * later version change a payload without guessing; the CRC catches what msgpack cannot: a
 * flipped bit inside a balance still decodes to a *valid* but wrong amount, and LMDB does not
 * checksum its pages.
 *
 * Payloads reuse the core wire codec where the shapes match (a co-signed state is a `state`
 * message), so one validating parser guards both the network and the disk. The channel record has its own msgpack array with the
 * same integer convention as the wire: safe integers as msgpack numbers, larger ones (uint64
 * versions, uint256 amounts) as minimal big-endian bytes, so every bigint round-trips exactly.
 *
 * Encoding is deterministic (same value, same bytes) and checks its own output by decoding it:
 * a value that could not be loaded after a restart is refused at write time, while the caller
 * still knows which bug produced it. Decoding throws {@link StoreCorruptError} and never
 * returns a partly parsed value.
 */
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import {
  type Balances,
  type Bytes32,
  type ChannelParams,
  type DepositFact,
  type Message,
  type SignedState,
  DEFAULT_LIMITS,
  InvalidArgumentError,
  LanesError,
  type LanesErrorOptions,
  MAX_ASSETS,
  MAX_UINT256,
  MAX_UINT64,
  bytesToUint,
  decodeMessage,
  encodeMessage,
  hexToBytes,
  isBytes32,
} from '../core/index.ts';
import {
  type Wire,
  Malformed,
  address,
  arr,
  b32,
  describe,
  encodeBalances,
  encodeParams,
  fail,
  encodeState,
  packr,
  party,
  small,
  state as wireState,
  u,
} from '../core/codec/primitives.ts';
import {
  type ConcludedLocks,
  type DisputeRecord,
  type FinalProposal,
  type LearnedSecret,
  type LockDelta,
  type LossRecord,
  MAX_LEARNED,
} from '../core/channel/record.ts';
import { encodeOp, readOp } from '../core/codec/wire.ts';
import { MAX_LOCKS } from '../core/state.ts';
import type { ChannelRecord, ChannelStatus, StoredChannel } from './store.ts';

/** A stored value failed its checksum or does not parse: the disk (or a bug) corrupted it. */
export class StoreCorruptError extends LanesError {
  override name = 'StoreCorruptError';
  constructor(shortMessage: string, options: LanesErrorOptions = {}) {
    super(shortMessage, { code: 'STORE_CORRUPT', ...options });
  }
}

/** What an envelope holds. Part of the on-disk format: never renumber (3 held proposals, retired by ADR 0006). */
const KIND = { record: 1, state: 2, meta: 4 } as const;
type Kind = keyof typeof KIND;

/**
 * Bumped when a payload layout changes; decoders refuse formats they do not know. Format 2 adds
 * the channel record's dispute and final proposal (docs/adr/0009); format 3 its lock deltas,
 * concluded locks and revealed secrets (docs/adr/0010). Older formats still load.
 */
export const STORE_FORMAT = 3;
const FORMATS: ReadonlySet<number> = new Set([1, 2, 3]);
/** Lock deltas a record may hold: one per released proposal above the latest state. */
const MAX_LOCK_DELTAS = 64;

const HEADER_BYTES = 2;
const CRC_BYTES = 4;

// ---------------------------------------------------------------------------------------------
// Envelope

function seal(kind: Kind, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.length + CRC_BYTES);
  out[0] = KIND[kind];
  out[1] = STORE_FORMAT;
  out.set(payload, HEADER_BYTES);
  const end = HEADER_BYTES + payload.length;
  new DataView(out.buffer, out.byteOffset).setUint32(end, crc32(out.subarray(0, end)));
  return out;
}

/** Checks kind, format and CRC; returns the payload as a view into `bytes`. */
function unseal(kind: Kind, bytes: Uint8Array, where: string): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw corrupt(where, 'value is not bytes');
  if (bytes.length < HEADER_BYTES + CRC_BYTES) throw corrupt(where, `value of ${bytes.length} bytes is too short`);
  const end = bytes.length - CRC_BYTES;
  const stored = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(end);
  if (crc32(bytes.subarray(0, end)) !== stored) throw corrupt(where, 'checksum mismatch');
  if (bytes[0] !== KIND[kind]) throw corrupt(where, `expected a ${kind} value, found kind ${String(bytes[0])}`);
  if (!FORMATS.has(bytes[1]!)) throw corrupt(where, `unknown format ${String(bytes[1])} (this build reads ${[...FORMATS].join(', ')})`);
  return bytes.subarray(HEADER_BYTES, end);
}

function corrupt(where: string, detail: string, cause?: unknown): StoreCorruptError {
  return new StoreCorruptError(`corrupt ${where}: ${detail}`, cause === undefined ? {} : { cause });
}

function unpack(payload: Uint8Array, where: string): unknown {
  try {
    return packr.unpack(payload);
  } catch (e) {
    throw corrupt(where, `not msgpack (${e instanceof Error ? e.message.slice(0, 200) : 'decode error'})`, e);
  }
}

/** Encodes, then proves the bytes decode, so nothing unreadable ever reaches the disk. */
function checked<T>(what: string, encode: () => Uint8Array, decode: (bytes: Uint8Array) => T): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = encode();
    decode(bytes);
  } catch (e) {
    const detail = e instanceof StoreCorruptError ? e.shortMessage.replace(/^corrupt [^:]*: /, '') : String(e);
    throw new InvalidArgumentError(`cannot store ${what}: ${detail}`, { cause: e });
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Field readers for the record payload: the wire codec's (core/codec/primitives.ts), plus the
// store's own canonical `uint`. Each throws `Malformed`, turned into a StoreCorruptError that
// names the value once at the top.

/** Canonical: a safe integer as a number, anything larger as minimal big-endian bytes. */
function uint(x: unknown, what: string, max: bigint): bigint {
  if (typeof x === 'number') {
    if (!Number.isSafeInteger(x) || x < 0) fail(`${what} must be a non-negative integer`);
    return BigInt(x);
  }
  if (!(x instanceof Uint8Array) || x.length === 0 || x.length > 32 || x[0] === 0) {
    fail(`${what} must be an integer or minimal big-endian bytes`);
  }
  const v = bytesToUint(x);
  if (v <= BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} is not canonically encoded`);
  if (v > max) fail(`${what} is out of range`);
  return v;
}

function str(x: unknown, what: string): string {
  if (typeof x !== 'string') fail(`${what} must be a string`);
  return x;
}

// Keyed by status so the compiler fails here when ChannelStatus gains or loses a member.
const STATUSES: Record<ChannelStatus, true> = {
  proposed: true,
  funding: true,
  open: true,
  closing: true,
  disputed: true,
  closed: true,
  rejected: true,
};

function status(x: unknown): ChannelStatus {
  if (typeof x !== 'string' || !Object.hasOwn(STATUSES, x)) fail(`status ${describe(x)} is not a known channel status`);
  return x as ChannelStatus;
}

// ---------------------------------------------------------------------------------------------
// Channel record

function readParams(x: unknown): ChannelParams {
  const f = arr(x, 'params', 7, 7);
  return {
    chainId: uint(f[0], 'chainId', MAX_UINT256),
    adjudicator: address(f[1], 'adjudicator'),
    participants: [address(f[2], 'participant 0'), address(f[3], 'participant 1')],
    assets: arr(f[4], 'assets', 1, MAX_ASSETS).map((a, i) => address(a, `assets[${i}]`)),
    challengeDuration: uint(f[5], 'challengeDuration', MAX_UINT64),
    nonce: uint(f[6], 'nonce', MAX_UINT256),
  };
}

function readBalances(x: unknown): Balances {
  return arr(x, 'deposits', 1, MAX_ASSETS).map((row, i) => {
    const r = arr(row, `deposits[${i}]`, 2, 2);
    return [uint(r[0], 'deposit', MAX_UINT256), uint(r[1], 'deposit', MAX_UINT256)] as const;
  });
}

function readDepositFact(x: unknown, i: number): DepositFact {
  const f = arr(x, `depositFacts[${i}]`, 4, 4);
  return {
    asset: small(f[0], 'deposit fact asset', MAX_ASSETS - 1),
    participant: party(f[1], 'deposit fact participant'),
    amount: uint(f[2], 'deposit fact amount', MAX_UINT256),
    holdingsAfter: uint(f[3], 'deposit fact holdingsAfter', MAX_UINT256),
  };
}

/**
 * Encoded learned secrets by entry. An entry stays the same object from record to record while
 * it is kept (a record is copied, its entries are not, and none is mutated), and every record
 * write encodes them all: hundreds under load at a payer or forwarder (ADR 0019).
 */
const encodedLearned = new WeakMap<LearnedSecret, Wire[]>();

function learnedWire(x: LearnedSecret): Wire[] {
  let w = encodedLearned.get(x);
  if (w === undefined) {
    w = [hexToBytes(x.hashlock), hexToBytes(x.secret), u(x.expiry)];
    encodedLearned.set(x, w);
  }
  return w;
}

function recordToWire(r: ChannelRecord): Wire[] {
  return [
    hexToBytes(r.id),
    encodeParams(r.params),
    r.self,
    [r.peer.peerId, [...r.peer.multiaddrs]],
    r.status,
    encodeBalances(r.deposits),
    r.depositFacts.map((d) => [d.asset, d.participant, u(d.amount), u(d.holdingsAfter)]),
    u(r.burnedVersion),
    u(r.versionLease),
    u(r.nextOpId),
    r.createdAt,
    r.note ?? null,
    r.dispute === undefined
      ? null
      : [
          u(r.dispute.version),
          u(r.dispute.finalizesAt),
          r.dispute.byUs,
          r.dispute.state === undefined ? null : encodeState(r.dispute.state),
        ],
    r.finalProposal === undefined ? null : [encodeState(r.finalProposal.state), r.finalProposal.signature],
    r.lockDeltas === undefined ? null : r.lockDeltas.map((d) => [u(d.version), u(d.base), d.ops.map(encodeOp)]),
    r.concludedLocks === undefined ? null : [encodeState(r.concludedLocks.state), [...r.concludedLocks.unlocked]],
    r.revealed === undefined ? null : r.revealed.map((x) => [hexToBytes(x.hashlock), u(x.at)]),
    r.learned === undefined ? null : r.learned.map(learnedWire),
    // An optional 19th field: records without a loss keep the 18 fields older builds read.
    ...(r.loss === undefined
      ? []
      : [[u(r.loss.version), u(r.loss.latest), r.loss.expected.map(u), r.loss.paid === undefined ? null : r.loss.paid.map(u)]]),
  ];
}

function readLoss(x: unknown, assets: number): LossRecord {
  const f = arr(x, 'loss', 4, 4);
  const amounts = (y: unknown, what: string) => arr(y, what, assets, assets).map((a, i) => uint(a, `${what}[${i}]`, MAX_UINT256));
  return {
    version: uint(f[0], 'loss version', MAX_UINT64),
    latest: uint(f[1], 'loss latest', MAX_UINT64),
    expected: amounts(f[2], 'loss expected'),
    ...(f[3] === null ? {} : { paid: amounts(f[3], 'loss paid') }),
  };
}

function readLockDeltas(x: unknown): LockDelta[] | undefined {
  if (x === null) return undefined;
  return arr(x, 'lockDeltas', 0, MAX_LOCK_DELTAS).map((d, i) => {
    const f = arr(d, `lockDeltas[${i}]`, 3, 3);
    const ops = arr(f[2], `lockDeltas[${i}] ops`, 0, DEFAULT_LIMITS.maxOps).map((o) => readOp(o, DEFAULT_LIMITS));
    if (ops.some((o) => o.kind !== 'lock' && o.kind !== 'settle' && o.kind !== 'cancel')) fail('a lock delta holds only lock operations');
    return { version: uint(f[0], 'lock delta version', MAX_UINT64), base: uint(f[1], 'lock delta base', MAX_UINT64), ops };
  });
}

function readConcludedLocks(x: unknown): ConcludedLocks | undefined {
  if (x === null) return undefined;
  const f = arr(x, 'concludedLocks', 2, 2);
  const state = wireState(f[0], DEFAULT_LIMITS);
  const unlocked = arr(f[1], 'concludedLocks unlocked', 0, MAX_LOCKS).map((i) => small(i, 'unlocked slot', state.locks.length - 1));
  return { state, unlocked };
}

function readRevealed(x: unknown): { hashlock: `0x${string}`; at: bigint }[] | undefined {
  if (x === null) return undefined;
  return arr(x, 'revealed', 0, 2 * MAX_LOCKS).map((r, i) => {
    const f = arr(r, `revealed[${i}]`, 2, 2);
    return { hashlock: b32(f[0], 'revealed hashlock'), at: uint(f[1], 'revealed at', MAX_UINT64) };
  });
}

function readLearned(x: unknown): LearnedSecret[] | undefined {
  if (x === null) return undefined;
  return arr(x, 'learned', 0, MAX_LEARNED).map((r, i) => {
    const f = arr(r, `learned[${i}]`, 3, 3);
    return {
      hashlock: b32(f[0], 'learned hashlock'),
      secret: b32(f[1], 'learned secret'),
      expiry: uint(f[2], 'learned expiry', MAX_UINT64),
    };
  });
}

function readDispute(x: unknown): DisputeRecord | undefined {
  if (x === null) return undefined;
  const f = arr(x, 'dispute', 4, 4);
  if (typeof f[2] !== 'boolean') fail('dispute byUs must be a boolean');
  return {
    version: uint(f[0], 'dispute version', MAX_UINT64),
    finalizesAt: uint(f[1], 'dispute finalizesAt', MAX_UINT64),
    byUs: f[2],
    ...(f[3] === null ? {} : { state: wireState(f[3], DEFAULT_LIMITS) }),
  };
}

function readFinalProposal(x: unknown): FinalProposal | undefined {
  if (x === null) return undefined;
  const f = arr(x, 'finalProposal', 2, 2);
  const signature = f[1];
  if (!(signature instanceof Uint8Array) || signature.length !== 65) fail('final proposal signature must be 65 bytes');
  return { state: wireState(f[0], DEFAULT_LIMITS), signature: new Uint8Array(signature) };
}

function recordFromWire(w: unknown, format: number): ChannelRecord {
  // Format 1 records have 12 fields; format 2 adds the dispute and the final proposal; format 3
  // the lock deltas, the concluded locks, the revealed secrets and the secrets learned.
  // (and may add a 19th: the loss).
  const fields = format === 1 ? 12 : format === 2 ? 14 : 18;
  const f = arr(w, `format ${format} record`, fields, format === 3 ? 19 : fields);
  const dispute = fields >= 14 ? readDispute(f[12]) : undefined;
  const finalProposal = fields >= 14 ? readFinalProposal(f[13]) : undefined;
  const lockDeltas = fields >= 17 ? readLockDeltas(f[14]) : undefined;
  const concludedLocks = fields >= 17 ? readConcludedLocks(f[15]) : undefined;
  const revealed = fields >= 17 ? readRevealed(f[16]) : undefined;
  const learned = fields >= 18 ? readLearned(f[17]) : undefined;
  const peer = arr(f[3], 'peer', 2, 2);
  const createdAt = f[10];
  if (typeof createdAt !== 'number' || !Number.isSafeInteger(createdAt) || createdAt < 0) {
    fail('createdAt must be a non-negative integer (unix ms)');
  }
  const note = f[11] === null ? undefined : str(f[11], 'note');
  const params = readParams(f[1]);
  const loss = f.length > 18 ? readLoss(f[18], params.assets.length) : undefined;
  return {
    id: b32(f[0], 'id'),
    params,
    self: party(f[2], 'self'),
    peer: { peerId: str(peer[0], 'peerId'), multiaddrs: arr(peer[1], 'multiaddrs', 0, Infinity).map((m) => str(m, 'multiaddr')) },
    status: status(f[4]),
    deposits: readBalances(f[5]),
    depositFacts: arr(f[6], 'depositFacts', 0, Infinity).map(readDepositFact),
    burnedVersion: uint(f[7], 'burnedVersion', MAX_UINT64),
    versionLease: uint(f[8], 'versionLease', MAX_UINT64),
    nextOpId: uint(f[9], 'nextOpId', MAX_UINT64),
    createdAt: createdAt === 0 ? 0 : createdAt, // a float64 -0 is 0
    ...(note === undefined ? {} : { note }),
    ...(dispute === undefined ? {} : { dispute }),
    ...(finalProposal === undefined ? {} : { finalProposal }),
    ...(lockDeltas === undefined ? {} : { lockDeltas }),
    ...(concludedLocks === undefined ? {} : { concludedLocks }),
    ...(revealed === undefined ? {} : { revealed }),
    ...(learned === undefined ? {} : { learned }),
    ...(loss === undefined ? {} : { loss }),
  };
}

/** Encodes a channel record. Throws {@link InvalidArgumentError} for a value it could not load back. */
export function encodeChannelRecord(record: ChannelRecord): Uint8Array {
  return checked('channel record', () => seal('record', packr.pack(recordToWire(record))), decodeChannelRecord);
}

/** Decodes a channel record. Throws {@link StoreCorruptError}; `where` names the value in the message. */
export function decodeChannelRecord(bytes: Uint8Array, where = 'channel record'): ChannelRecord {
  const raw = unpack(unseal('record', bytes, where), where);
  try {
    return recordFromWire(raw, bytes[1]!); // unseal checked the format byte
  } catch (e) {
    if (e instanceof Malformed) throw corrupt(where, e.message);
    throw corrupt(where, 'record structure is invalid', e);
  }
}

// ---------------------------------------------------------------------------------------------
// Co-signed state: a core wire message inside the envelope.

function wireDecode<T extends Message['type']>(bytes: Uint8Array, type: T, where: string): Extract<Message, { type: T }> {
  const r = decodeMessage(bytes, DEFAULT_LIMITS);
  if (!r.ok) throw corrupt(where, r.detail);
  if (r.value.type !== type) throw corrupt(where, `expected a ${type} message, found ${r.value.type}`);
  return r.value as Extract<Message, { type: T }>;
}

/** Encodes a co-signed state (a wire `state` message). Throws {@link InvalidArgumentError}. */
export function encodeSignedState(signed: SignedState): Uint8Array {
  return checked(
    'signed state',
    () => seal('state', encodeMessage({ type: 'state', state: signed.state, signatures: signed.signatures })),
    decodeSignedState,
  );
}

/** Decodes a co-signed state. Throws {@link StoreCorruptError}. */
export function decodeSignedState(bytes: Uint8Array, where = 'signed state'): SignedState {
  const m = wireDecode(unseal('state', bytes, where), 'state', where);
  return { state: m.state, signatures: m.signatures };
}

// ---------------------------------------------------------------------------------------------
// Meta: opaque bytes, still enveloped so corruption is caught.

/** Wraps an opaque meta value in the checksummed envelope. */
export function encodeMeta(value: Uint8Array): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new InvalidArgumentError('cannot store meta: value must be a Uint8Array');
  return seal('meta', value);
}

/** Unwraps a meta value (a copy: stores may hand out views of reused buffers). Throws {@link StoreCorruptError}. */
export function decodeMeta(bytes: Uint8Array, where = 'meta value'): Uint8Array {
  return new Uint8Array(unseal('meta', bytes, where));
}

// ---------------------------------------------------------------------------------------------
// Layout: the keys every store uses, and the checks shared by every implementation, so the
// memory store and the lmdb store refuse and load exactly the same things.

/** Key prefixes. Part of the on-disk format. `/` sorts before every hex digit and `0`. */
export const KEY_PREFIX = { record: 'c/', state: 's/', meta: 'm/' } as const;

/** Longest meta key in UTF-8 bytes: lmdb refuses keys above 1978 bytes, with room for the prefix. */
export const MAX_META_KEY_BYTES = 1024;

/** One write to a key: bytes to store, or `undefined` to delete. */
export interface StoreWrite {
  readonly key: string;
  readonly value: Uint8Array | undefined;
}

function channelKey(prefix: string, id: unknown, what: string): string {
  if (!isBytes32(id)) throw new InvalidArgumentError(`${what}: channel id must be a lowercase 0x-prefixed 32-byte hex string`);
  return prefix + id;
}

/** Validates and encodes a record write. Throws {@link InvalidArgumentError}. */
export function recordWrite(record: ChannelRecord): StoreWrite {
  return { key: channelKey(KEY_PREFIX.record, record.id, 'putRecord'), value: encodeChannelRecord(record) };
}

/** Validates and encodes a latest-state write. Throws {@link InvalidArgumentError}. */
export function stateWrite(id: Bytes32, signed: SignedState): StoreWrite {
  const key = channelKey(KEY_PREFIX.state, id, 'putState');
  if (signed.state.channelId !== id) throw new InvalidArgumentError(`putState: state is for channel ${signed.state.channelId}, not ${id}`);
  return { key, value: encodeSignedState(signed) };
}

/** The storage key of a meta entry. Throws {@link InvalidArgumentError} for an empty or oversized key. */
export function metaKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidArgumentError('meta key must be a non-empty string');
  if (Buffer.byteLength(key, 'utf8') > MAX_META_KEY_BYTES) {
    throw new InvalidArgumentError(`meta key must be at most ${MAX_META_KEY_BYTES} bytes of UTF-8`);
  }
  return KEY_PREFIX.meta + key;
}

/** Validates a meta key's removal. Throws {@link InvalidArgumentError}. */
export function metaDelete(key: string): StoreWrite {
  return { key: metaKey(key), value: undefined };
}

/** Validates and encodes a meta write. Throws {@link InvalidArgumentError}. */
export function metaWrite(key: string, value: Uint8Array): StoreWrite {
  return { key: metaKey(key), value: encodeMeta(value) };
}

/**
 * Builds the channels from the stored records (in key order) and their latest states.
 * Every value is decoded and checked against its key; anything wrong throws
 * {@link StoreCorruptError} naming the key, because starting with a silently dropped or
 * altered channel is worse than not starting. A state without a record is
 * ignored: it has no params, so nothing could be done with it.
 */
export function assembleChannels(
  records: Iterable<readonly [key: string, value: Uint8Array]>,
  get: (key: string) => Uint8Array | undefined,
): StoredChannel[] {
  const out: StoredChannel[] = [];
  for (const [key, bytes] of records) {
    const id = key.slice(KEY_PREFIX.record.length);
    const record = decodeChannelRecord(bytes, key);
    if (record.id !== id) throw new StoreCorruptError(`corrupt ${key}: record is for channel ${record.id}`);
    const latest = readOptional(KEY_PREFIX.state + id, get, decodeSignedState);
    if (latest !== undefined && latest.state.channelId !== id) {
      throw new StoreCorruptError(`corrupt ${KEY_PREFIX.state + id}: state is for channel ${latest.state.channelId}`);
    }
    out.push({ record, ...(latest === undefined ? {} : { latest }) });
  }
  return out;
}

function readOptional<T>(
  key: string,
  get: (key: string) => Uint8Array | undefined,
  decode: (b: Uint8Array, where: string) => T,
): T | undefined {
  const bytes = get(key);
  return bytes === undefined ? undefined : decode(bytes, key);
}
