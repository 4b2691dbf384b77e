/**
 * Invoices: what a payee hands a payer, signed by the payee's node key (docs/adr/0018).
 *
 * An invoice names the payee, a payment hash (keccak256 of a 32-byte secret only the payee
 * knows, as a channel lock's `hashlock`), an asset and an amount (or any amount), the chain and
 * adjudicator it is for, when it was made and when it expires, a memo, and optional route hints
 * (channels into the payee that a payer's graph may not know).
 *
 * String form: bech32m (BIP 350) with the human-readable prefix `lanes<chain id>` (`lanes1` on
 * mainnet, `lanes31337` on a local chain), whose data is the msgpack payload followed by the
 * payee's 65-byte signature. The checksum catches any single changed character at any length
 * (the code's generator has a non-zero constant term); bech32's 90-character limit does not
 * apply, ours is {@link MAX_INVOICE_LENGTH}.
 *
 * Signed digest: `keccak256("Lanes invoice v1\0" ‖ prefix ‖ 0x00 ‖ payload)`. No channel state
 * digest (EIP-712: its preimage starts with 0x19 0x01) or Ethereum signed message (0x19 "Ethereum
 * Signed Message") has that preimage, so a signature on one can never be taken for the other.
 * The payee's key is recovered from the signature and must be the payload's payee address; its
 * peer id follows from the key.
 *
 * Pure: the caller passes in the time, the secret's hash and the signature (the node signs
 * with its Signer).
 */
import { bech32m } from '@scure/base';
import {
  type Address,
  type Bytes32,
  MAX_UINT256,
  NATIVE_ASSET,
  concatBytes,
  equalBytes,
  hexToBytes,
  isAddress,
  isBytes32,
  keccak256,
  keccak256Hex,
  utf8,
} from '../bytes.ts';
import { SIGNATURE_LENGTH, type SignatureBackend, checkSignatureEncoding, nobleBackend } from '../crypto.ts';
import { type Wire, Malformed, address, arr, b32, bytes, describe, fail, packr, u, uint } from '../codec/primitives.ts';
import { MAX_HOLDINGS } from '../state.ts';
import { type NodeIdentity, identityOf } from './peer-id.ts';

export type { NodeIdentity } from './peer-id.ts';

/** The payload layout this build writes and reads. */
export const INVOICE_FORMAT = 1;
/** The human-readable prefix before the chain id. */
export const INVOICE_PREFIX = 'lanes';
/** Longest memo, in bytes of UTF-8 (BOLT 11's description limit). */
export const MAX_MEMO_BYTES = 639;
export const MAX_ROUTE_HINTS = 8;
/** Longest validity of an invoice: one year, in seconds. */
export const MAX_INVOICE_EXPIRY = 365n * 86_400n;
/** Default validity: one hour. */
export const DEFAULT_INVOICE_EXPIRY = 3600n;
/** Longest invoice string: a full memo and every route hint fit with room to spare (about 3,100). */
export const MAX_INVOICE_LENGTH = 4096;
/** Proportional fees are in millionths of the amount forwarded; at most the whole of it. */
export const MAX_FEE_PROPORTIONAL = 1_000_000;
/** Latest creation time accepted (unix seconds, year 36812): keeps times safe integers. */
const MAX_TIME = 2n ** 40n;

const SIGNING_TAG = utf8('Lanes invoice v1\u0000');

/** Why an invoice string was refused. A closed set: the SDK's InvalidInvoiceError carries one. */
export const INVOICE_PROBLEMS = [
  'malformed', // not bech32m, or the payload does not parse
  'checksum', // the bech32m checksum does not match: a character was changed, lost or added
  'prefix', // valid bech32m, but not `lanes<chain id>`
  'too-long', // longer than MAX_INVOICE_LENGTH
  'signature', // not a valid signature, or not by the payee it names
  'bounds', // a field out of its range (memo length, expiry, amounts, fees, hints)
  'wrong-chain', // for another chain or adjudicator than the node's
  'expired', // its expiry has passed
] as const;
export type InvoiceProblem = (typeof INVOICE_PROBLEMS)[number];

const PROBLEM_SET: ReadonlySet<string> = new Set(INVOICE_PROBLEMS);
export function isInvoiceProblem(x: unknown): x is InvoiceProblem {
  return typeof x === 'string' && PROBLEM_SET.has(x);
}

export type InvoiceResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: InvoiceProblem; readonly detail: string };

const refuse = (problem: InvoiceProblem, detail: string) => ({ ok: false, problem, detail }) as const;

/** A channel into the payee, through `hop` (the payee's counterparty), with the hop's forwarding terms. */
export interface RouteHint {
  readonly channelId: Bytes32;
  readonly hop: NodeIdentity;
  /** The hop's fee: `feeBase + amount * feeProportional / 1e6`, in the invoice's asset. */
  readonly feeBase: bigint;
  readonly feeProportional: number;
  /** The least and (if any) most the hop forwards through this channel. */
  readonly minAmount: bigint;
  readonly maxAmount?: bigint;
}

/** A route hint as the payee gives it: the hop by its public key (33 or 65 bytes). */
export type RouteHintInput = Omit<RouteHint, 'hop'> & { readonly hopPublicKey: Uint8Array };

/** What the payee signs. */
export interface InvoiceFields {
  readonly chainId: bigint;
  readonly adjudicator: Address;
  /** The payee's address: the signature must recover to it. */
  readonly payee: Address;
  readonly paymentHash: Bytes32;
  readonly asset: Address;
  /** Absent: any amount (the payer chooses). */
  readonly amount?: bigint;
  /** Unix seconds. */
  readonly createdAt: bigint;
  /** Unix seconds, after `createdAt` by at most {@link MAX_INVOICE_EXPIRY}. */
  readonly expiresAt: bigint;
  readonly memo: string;
  readonly routeHints: readonly RouteHintInput[];
}

/** A decoded, signature-checked invoice. */
export interface Invoice extends Omit<InvoiceFields, 'payee' | 'routeHints'> {
  readonly payee: NodeIdentity;
  readonly routeHints: readonly RouteHint[];
  /** The canonical (lowercase) string form. */
  readonly text: string;
}

/** An invoice ready to be signed: sign `digest` with the payee's key, then {@link completeInvoice}. */
export interface PreparedInvoice {
  readonly prefix: string;
  readonly payload: Uint8Array;
  readonly digest: Uint8Array;
}

/** `lanes<chain id>`. */
export function invoicePrefix(chainId: bigint): string {
  return `${INVOICE_PREFIX}${chainId}`;
}

/** The payment hash of a 32-byte secret: keccak256, as a lock's hashlock. */
export function paymentHashOf(secret: Bytes32): Bytes32 {
  return keccak256Hex(hexToBytes(secret));
}

export function invoiceDigest(prefix: string, payload: Uint8Array): Uint8Array {
  return keccak256(concatBytes(SIGNING_TAG, utf8(prefix), Uint8Array.of(0), payload));
}

// ---------------------------------------------------------------------------------------------
// Bounds: one check for what is signed and what is decoded

/** Why a memo is refused, or undefined. Control and bidirectional-override characters could disguise what a terminal shows. */
export function memoProblem(memo: unknown): string | undefined {
  if (typeof memo !== 'string') return 'memo must be a string';
  if (!memo.isWellFormed()) return 'memo must be well-formed Unicode (no lone surrogates)';
  const length = utf8(memo).length;
  if (length > MAX_MEMO_BYTES) return `memo of ${length} bytes of UTF-8 exceeds the limit of ${MAX_MEMO_BYTES}`;
  for (const ch of memo) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
      return `memo must not contain control or bidirectional-override characters (U+${c.toString(16).padStart(4, '0')})`;
  }
  return undefined;
}

const isUint = (x: unknown, max: bigint): x is bigint => typeof x === 'bigint' && x >= 0n && x <= max;

function hintProblem(h: Omit<RouteHint, 'hop'>, i: number): string | undefined {
  const at = `routeHints[${i}]`;
  if (!isBytes32(h.channelId)) return `${at}.channelId must be a 32-byte id`;
  if (!isUint(h.feeBase, MAX_HOLDINGS)) return `${at}.feeBase must be 0..2^128-1`;
  if (!Number.isSafeInteger(h.feeProportional) || h.feeProportional < 0 || h.feeProportional > MAX_FEE_PROPORTIONAL)
    return `${at}.feeProportional must be 0..${MAX_FEE_PROPORTIONAL} millionths`;
  if (!isUint(h.minAmount, MAX_HOLDINGS)) return `${at}.minAmount must be 0..2^128-1`;
  if (h.maxAmount !== undefined && (!isUint(h.maxAmount, MAX_HOLDINGS) || h.maxAmount === 0n || h.maxAmount < h.minAmount))
    return `${at}.maxAmount must be 1..2^128-1 and at least minAmount`;
  return undefined;
}

/** Why these fields cannot make an invoice, or undefined. Hops are given as addresses. */
function fieldsProblem(
  f: Omit<InvoiceFields, 'routeHints'>,
  hints: readonly (Omit<RouteHint, 'hop'> & { hop: Address })[],
): string | undefined {
  if (!isUint(f.chainId, MAX_HOLDINGS) || f.chainId === 0n) return 'chainId must be a positive integer below 2^128';
  if (!isAddress(f.adjudicator)) return 'adjudicator must be an address';
  if (!isAddress(f.payee)) return 'payee must be an address';
  if (!isBytes32(f.paymentHash)) return 'paymentHash must be 32 bytes';
  if (!isAddress(f.asset)) return 'asset must be an address';
  if (f.amount !== undefined && (!isUint(f.amount, MAX_HOLDINGS) || f.amount === 0n))
    return 'amount must be 1..2^128-1 base units (or absent: any amount)';
  if (!isUint(f.createdAt, MAX_TIME) || f.createdAt === 0n) return 'createdAt must be a positive unix time in seconds';
  if (!isUint(f.expiresAt, MAX_TIME + MAX_INVOICE_EXPIRY) || f.expiresAt <= f.createdAt || f.expiresAt - f.createdAt > MAX_INVOICE_EXPIRY)
    return `the invoice must expire 1 second to ${MAX_INVOICE_EXPIRY / 86_400n} days after its creation`;
  const memo = memoProblem(f.memo);
  if (memo !== undefined) return memo;
  if (hints.length > MAX_ROUTE_HINTS) return `at most ${MAX_ROUTE_HINTS} route hints, got ${hints.length}`;
  const channels = new Set<string>();
  for (const [i, h] of hints.entries()) {
    const p = hintProblem(h, i);
    if (p !== undefined) return p;
    if (h.hop === f.payee) return `routeHints[${i}]: the hop is the payee itself`;
    if (channels.has(h.channelId)) return `routeHints[${i}]: channel ${h.channelId} is hinted twice`;
    channels.add(h.channelId);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Payload: [format, adjudicator, payee, paymentHash, asset | null (native), amount | null (any),
//           createdAt, expiresIn, memo, [[channelId, hopKey33, feeBase, feeProportional, minAmount, maxAmount | null]…]]

function payloadWire(f: Omit<InvoiceFields, 'routeHints'>, hints: readonly (Omit<RouteHint, 'hop'> & { key: Uint8Array })[]): Wire[] {
  return [
    INVOICE_FORMAT,
    hexToBytes(f.adjudicator),
    hexToBytes(f.payee),
    hexToBytes(f.paymentHash),
    f.asset === NATIVE_ASSET ? null : hexToBytes(f.asset),
    f.amount === undefined ? null : u(f.amount),
    Number(f.createdAt),
    Number(f.expiresAt - f.createdAt),
    f.memo,
    hints.map((h) => [
      hexToBytes(h.channelId),
      h.key,
      u(h.feeBase),
      h.feeProportional,
      u(h.minAmount),
      h.maxAmount === undefined ? null : u(h.maxAmount),
    ]),
  ];
}

/** Checks the fields and builds the payload and the digest to sign. */
export function prepareInvoice(fields: InvoiceFields): InvoiceResult<PreparedInvoice> {
  if (!Array.isArray(fields.routeHints)) return refuse('bounds', 'routeHints must be an array');
  const hints: (Omit<RouteHint, 'hop'> & { hop: Address; key: Uint8Array })[] = [];
  for (const [i, h] of fields.routeHints.entries()) {
    const id = identityOf(h.hopPublicKey);
    if (id === undefined) return refuse('bounds', `routeHints[${i}].hopPublicKey is not a secp256k1 public key`);
    const { hopPublicKey: _key, ...rest } = h;
    hints.push({ ...rest, hop: id.address, key: hexToBytes(id.publicKey) });
  }
  const problem = fieldsProblem(fields, hints);
  if (problem !== undefined) return refuse('bounds', problem);
  const prefix = invoicePrefix(fields.chainId);
  const payload = packr.pack(payloadWire(fields, hints));
  return { ok: true, value: { prefix, payload, digest: invoiceDigest(prefix, payload) } };
}

/** The invoice string: the prepared payload with the payee's 65-byte signature on its digest. */
export function completeInvoice(prepared: PreparedInvoice, signature: Uint8Array): string {
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_LENGTH) throw new TypeError('signature expected 65 bytes');
  const words = bech32m.toWords(concatBytes(prepared.payload, signature));
  return bech32m.encode(prepared.prefix, words, MAX_INVOICE_LENGTH);
}

// ---------------------------------------------------------------------------------------------
// Decoding

interface Parsed extends Omit<InvoiceFields, 'routeHints'> {
  readonly routeHints: readonly (Omit<RouteHint, 'hop'> & { readonly key: Uint8Array; readonly hop: NodeIdentity })[];
}

const optional = <T>(x: unknown, read: (x: unknown) => T): T | undefined => (x === null ? undefined : read(x));

function safeTime(x: unknown, what: string): bigint {
  if (typeof x !== 'number') fail(`${what} must be a number of seconds`);
  return uint(x, what, MAX_TIME + MAX_INVOICE_EXPIRY);
}

function parsePayload(raw: unknown, chainId: bigint): Parsed {
  const f = arr(raw, 'invoice', 10, 10);
  if (f[0] !== INVOICE_FORMAT) fail(`unknown invoice format ${describe(f[0])} (this build reads ${INVOICE_FORMAT})`);
  const createdAt = safeTime(f[6], 'createdAt');
  const expiresIn = safeTime(f[7], 'expiresIn');
  if (typeof f[8] !== 'string') fail('memo must be a string');
  const hints = arr(f[9], 'routeHints', 0, MAX_ROUTE_HINTS).map((x, i) => {
    const h = arr(x, `routeHints[${i}]`, 6, 6);
    const key = bytes(h[1], `routeHints[${i}] hop key`, 33);
    const hop = identityOf(key);
    if (hop === undefined || !equalBytes(hexToBytes(hop.publicKey), key))
      fail(`routeHints[${i}] hop key is not a compressed secp256k1 public key`);
    const maxAmount = optional(h[5], (m) => uint(m, 'maxAmount', MAX_UINT256));
    return {
      channelId: b32(h[0], `routeHints[${i}] channelId`),
      key: new Uint8Array(key),
      hop,
      feeBase: uint(h[2], 'feeBase', MAX_UINT256),
      feeProportional: Number(uint(h[3], 'feeProportional', BigInt(Number.MAX_SAFE_INTEGER))),
      minAmount: uint(h[4], 'minAmount', MAX_UINT256),
      ...(maxAmount === undefined ? {} : { maxAmount }),
    };
  });
  const amount = optional(f[5], (a) => uint(a, 'amount', MAX_UINT256));
  return {
    chainId,
    adjudicator: address(f[1], 'adjudicator'),
    payee: address(f[2], 'payee'),
    paymentHash: b32(f[3], 'paymentHash'),
    asset:
      optional(f[4], (a) => {
        const asset = address(a, 'asset');
        if (asset === NATIVE_ASSET) fail('the native asset is written as nil');
        return asset;
      }) ?? NATIVE_ASSET,
    ...(amount === undefined ? {} : { amount }),
    createdAt,
    expiresAt: createdAt + expiresIn,
    memo: f[8],
    routeHints: hints,
  };
}

const PREFIX_RE = /^lanes([1-9][0-9]{0,76})$/;

/**
 * Decodes an invoice string (surrounding whitespace ignored; lower or upper case) and checks its
 * checksum, every field's bounds and the payee's signature. It does not check the chain or the
 * expiry: {@link checkInvoice} does, against the node's.
 */
export function decodeInvoice(input: unknown, backend: SignatureBackend = nobleBackend): InvoiceResult<Invoice> {
  if (typeof input !== 'string') return refuse('malformed', 'an invoice is a string');
  // Bounded before any work on it (trimming a huge paste costs its length).
  if (input.length > 2 * MAX_INVOICE_LENGTH)
    return refuse('too-long', `an invoice has at most ${MAX_INVOICE_LENGTH} characters, got ${input.length}`);
  const text = input.trim();
  if (text.length > MAX_INVOICE_LENGTH)
    return refuse('too-long', `an invoice has at most ${MAX_INVOICE_LENGTH} characters, got ${text.length}`);
  let prefix: string;
  let data: Uint8Array;
  try {
    const decoded = bech32m.decode(text as `${string}1${string}`, MAX_INVOICE_LENGTH);
    prefix = decoded.prefix;
    data = bech32m.fromWords(decoded.words);
  } catch (e) {
    // The library's messages quote the whole input: say what is wrong without it.
    const message = e instanceof Error ? e.message : '';
    if (/checksum/i.test(message)) return refuse('checksum', 'the checksum does not match: a character was changed, lost or added');
    return refuse('malformed', `not a bech32m string (${bech32Reason(message)})`);
  }
  const m = PREFIX_RE.exec(prefix);
  if (!m) return refuse('prefix', `an invoice starts with ${INVOICE_PREFIX}<chain id>, not ${describe(prefix)}`);
  const chainId = BigInt(m[1]!);
  if (data.length <= SIGNATURE_LENGTH) return refuse('malformed', 'too short for a payload and a signature');
  const payload = data.subarray(0, data.length - SIGNATURE_LENGTH);
  const signature = data.slice(data.length - SIGNATURE_LENGTH);

  let parsed: Parsed;
  try {
    parsed = parsePayload(packr.unpack(payload), chainId);
  } catch (e) {
    return refuse('malformed', e instanceof Malformed ? e.message : 'the payload is not msgpack');
  }
  const problem = fieldsProblem(
    parsed,
    parsed.routeHints.map((h) => ({ ...h, hop: h.hop.address })),
  );
  if (problem !== undefined) return refuse('bounds', problem);
  // One encoding per invoice: what was signed is what the encoder writes (no padded integers,
  // no longer string headers, no trailing bytes).
  if (!equalBytes(packr.pack(payloadWire(parsed, parsed.routeHints)), payload))
    return refuse('malformed', 'the payload is not canonically encoded');

  if (!checkSignatureEncoding(signature).ok) return refuse('signature', 'not a valid low-S secp256k1 signature');
  const key = backend.recover(signature, invoiceDigest(prefix, payload));
  const payee = key === undefined ? undefined : identityOf(key);
  if (payee === undefined) return refuse('signature', 'no public key recovers from the signature');
  if (payee.address !== parsed.payee) return refuse('signature', `signed by ${payee.address}, not by the payee ${parsed.payee}`);

  const { routeHints, payee: _payee, ...rest } = parsed;
  return {
    ok: true,
    value: { ...rest, payee, routeHints: routeHints.map(({ key: _k, ...h }) => h), text: text.toLowerCase() },
  };
}

function bech32Reason(message: string): string {
  if (/lowercase or uppercase/i.test(message)) return 'mixed case';
  if (/length/i.test(message)) return 'wrong length';
  if (/"1"|separator/i.test(message)) return 'no separator';
  if (/padding/i.test(message)) return 'bad padding';
  if (/unknown letter|invalid/i.test(message)) return 'a character outside the bech32 alphabet';
  return 'undecodable';
}

/** Refuses an invoice for another chain or adjudicator, or one that expired at `now` (unix seconds). */
export function checkInvoice(
  invoice: Invoice,
  expected: { readonly chainId: bigint; readonly adjudicator: Address; readonly now: bigint },
): InvoiceResult<Invoice> {
  if (invoice.chainId !== expected.chainId)
    return refuse('wrong-chain', `the invoice is for chain ${invoice.chainId}, this node is on chain ${expected.chainId}`);
  if (invoice.adjudicator !== expected.adjudicator)
    return refuse('wrong-chain', `the invoice is for adjudicator ${invoice.adjudicator}, this node uses ${expected.adjudicator}`);
  if (expected.now >= invoice.expiresAt)
    return refuse('expired', `the invoice expired at ${invoice.expiresAt} (unix seconds); it is now ${expected.now}`);
  return { ok: true, value: invoice };
}
