/**
 * Structure-aware inputs for the msgpack decoders. Byte mutations of a valid message rarely turn
 * it into a well-formed message with one field of another shape (a string where a number goes, a
 * float64 -0, an integer written as a byte string, an element more or less), so the targets also
 * accept `[0xc1][bytes…]` (0xc1 is the one byte msgpack never uses). jazzer's FuzzedDataProvider
 * reads the bytes as choices: a valid base value (samples.ts, encoded by the encoders under test)
 * and one to four mutations of its tree (replace a node by a generated value, drop, insert or
 * repeat an element, re-encode an integer, resize a byte string, splice in another node), or a
 * value tree generated from scratch. Generated values lean to what the parsers check: small tags,
 * byte strings of 20, 32 and 65 bytes, integers at their limits, reasons and statuses. {@link pack}
 * writes the tree with encodings msgpackr itself never makes (float64 -0 and whole numbers,
 * integers wider than needed). Coverage feedback then steers the choices.
 */
import { FuzzedDataProvider } from '@jazzer.js/core/dist/FuzzedDataProvider.js';
import { REJECT_REASONS } from '../../../src/core/result.ts';
import { SETTLEMENT_FAILURES } from '../../../src/core/codec/settle.ts';
import { packr } from '../../../src/core/codec/primitives.ts';

/** The first byte of a structured input (msgpack's "never used" byte). */
export const STRUCTURED = 0xc1;

/** A value to pack: numbers carry how they are written. */
type Value =
  | null
  | boolean
  | { int: bigint; width: 0 | 1 | 2 | 4 | 8 }
  | { float: number }
  | string
  | Uint8Array
  | Value[]
  | { map: [Value, Value][] };

const WORDS: readonly string[] = [
  ...REJECT_REASONS,
  ...SETTLEMENT_FAILURES,
  'proposed',
  'funding',
  'open',
  'closing',
  'disputed',
  'closed',
  'rejected',
  '',
  '0',
  '1',
  '4',
  '__proto__',
  'constructor',
  'toString',
];
const SPECIAL_FLOATS = [-0, 0.5, 1.5, -1, 2 ** 53 - 1, 2 ** 53, 2 ** 64, NaN, Infinity, 1, 0];
const SPECIAL_INTS = [0n, 1n, 2n, 7n, 8n, 9n, 255n, 256n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n, -1n, -(2n ** 63n)];
const BYTE_LENGTHS = [0, 1, 2, 7, 8, 9, 19, 20, 21, 31, 32, 33, 64, 65, 66];

function integer(fdp: FuzzedDataProvider): Value {
  const int = fdp.consumeBoolean() ? SPECIAL_INTS[fdp.consumeIntegralInRange(0, SPECIAL_INTS.length - 1)]! : BigInt(fdp.consumeIntegral(2));
  return { int, width: ([0, 1, 2, 4, 8] as const)[fdp.consumeIntegralInRange(0, 4)]! };
}

function bytes(fdp: FuzzedDataProvider): Uint8Array {
  const length = BYTE_LENGTHS[fdp.consumeIntegralInRange(0, BYTE_LENGTHS.length - 1)]!;
  const out = new Uint8Array(length);
  out.set(fdp.consumeBytes(length));
  return out;
}

function value(fdp: FuzzedDataProvider, depth: number): Value {
  const leaf = depth >= 5 || fdp.remainingBytes < 4;
  switch (depth === 0 ? 8 : fdp.consumeIntegralInRange(0, leaf ? 7 : 10)) {
    case 0:
      return null;
    case 1:
      return fdp.consumeBoolean();
    case 2:
    case 3:
      return integer(fdp);
    case 4:
      return { float: SPECIAL_FLOATS[fdp.consumeIntegralInRange(0, SPECIAL_FLOATS.length - 1)]! };
    case 5:
      return bytes(fdp);
    case 6:
      return WORDS[fdp.consumeIntegralInRange(0, WORDS.length - 1)]!;
    case 7:
      return fdp.consumeString(fdp.consumeIntegralInRange(0, 40));
    case 8:
    case 9: {
      // An array, often headed by a small tag as every message, item and operation is.
      const items: Value[] = fdp.consumeBoolean() ? [{ int: BigInt(fdp.consumeIntegralInRange(0, 10)), width: 0 }] : [];
      for (let n = fdp.consumeIntegralInRange(0, 10); n > 0 && fdp.remainingBytes > 0; n--) items.push(value(fdp, depth + 1));
      return items;
    }
    default: {
      const map: [Value, Value][] = [];
      for (let n = fdp.consumeIntegralInRange(0, 3); n > 0; n--) map.push([value(fdp, depth + 1), value(fdp, depth + 1)]);
      return { map };
    }
  }
}

/**
 * The msgpack bytes of a structured input: a mutated base from `bases` (msgpack values), or a
 * generated tree (always an array at the top, as every message is).
 */
export function structuredMsgpack(data: Uint8Array, bases: readonly Uint8Array[] = []): Uint8Array {
  const fdp = new FuzzedDataProvider(Buffer.from(data.buffer, data.byteOffset, data.length));
  const pick = fdp.consumeIntegralInRange(0, bases.length);
  let tree: Value;
  if (pick === bases.length) tree = value(fdp, 0);
  else {
    tree = fromUnpacked(packr.unpack(bases[pick]!));
    for (let n = fdp.consumeIntegralInRange(1, 4); n > 0; n--) tree = mutate(tree, fdp);
  }
  const out: number[] = [];
  pack(tree, out);
  return Uint8Array.from(out);
}

function fromUnpacked(x: unknown): Value {
  if (x === null || typeof x === 'boolean' || typeof x === 'string') return x;
  if (typeof x === 'number') return Number.isInteger(x) ? { int: BigInt(x), width: 0 } : { float: x };
  if (typeof x === 'bigint') return { int: x, width: 8 };
  if (x instanceof Uint8Array) return Uint8Array.from(x);
  if (Array.isArray(x)) return x.map(fromUnpacked);
  if (x instanceof Map) return { map: [...x].map(([k, v]): [Value, Value] => [fromUnpacked(k), fromUnpacked(v)]) };
  return null;
}

interface Slot {
  readonly node: Value;
  readonly depth: number;
  set: (v: Value) => void;
}

/** Every node of `tree` in pre-order, with a way to replace it (the root's is set by the caller). */
function nodes(tree: Value): Slot[] {
  const out: Slot[] = [];
  const walk = (node: Value, depth: number, set: (v: Value) => void) => {
    out.push({ node, depth, set });
    if (isList(node)) node.forEach((child, i) => walk(child, depth + 1, (v) => (node[i] = v)));
  };
  walk(tree, 0, () => {});
  return out;
}

function mutate(tree: Value, fdp: FuzzedDataProvider): Value {
  let root = tree;
  const all = nodes(tree);
  all[0]!.set = (v) => (root = v);
  const { node, depth, set } = all[fdp.consumeIntegralInRange(0, all.length - 1)]!;
  switch (fdp.consumeIntegralInRange(0, 6)) {
    case 0: // replace by a generated value
      set(value(fdp, Math.max(1, depth)));
      break;
    case 1: // drop, insert or repeat an element
      if (isList(node)) {
        const at = fdp.consumeIntegralInRange(0, node.length);
        const how = fdp.consumeIntegralInRange(0, 2);
        if (how === 0) node.splice(at, 1);
        else if (how === 1) node.splice(at, 0, value(fdp, depth + 1));
        else if (node.length > 0) node.splice(at, 0, structuredClone(node[Math.min(at, node.length - 1)]!));
      } else set(value(fdp, Math.max(1, depth)));
      break;
    case 2: // the same integer, written another way
      if (node !== null && typeof node === 'object' && 'int' in node) {
        const how = fdp.consumeIntegralInRange(0, 3);
        if (how === 0) set({ int: node.int, width: ([0, 1, 2, 4, 8] as const)[fdp.consumeIntegralInRange(0, 4)]! });
        else if (how === 1) set({ float: Number(node.int) });
        else if (how === 2) set(minimal(node.int));
        else set(Uint8Array.of(0, ...minimal(node.int)));
      } else set(integer(fdp));
      break;
    case 3: // a byte string one byte shorter or longer, or with a byte changed
      if (node instanceof Uint8Array) {
        const how = fdp.consumeIntegralInRange(0, 2);
        if (how === 0) set(node.subarray(0, Math.max(0, node.length - 1)));
        else if (how === 1) set(Uint8Array.of(...node, fdp.consumeIntegral(1)));
        else if (node.length > 0) node[fdp.consumeIntegralInRange(0, node.length - 1)] = fdp.consumeIntegral(1);
      } else set(bytes(fdp));
      break;
    case 4: // another node of the tree here
      set(structuredClone(all[fdp.consumeIntegralInRange(0, all.length - 1)]!.node));
      break;
    case 5: // a known word
      set(WORDS[fdp.consumeIntegralInRange(0, WORDS.length - 1)]!);
      break;
    default: // a special number
      set({ float: SPECIAL_FLOATS[fdp.consumeIntegralInRange(0, SPECIAL_FLOATS.length - 1)]! });
  }
  return root;
}

/** Minimal big-endian bytes of a non-negative integer (empty for 0), as the wire writes big ones. */
function minimal(v: bigint): Uint8Array {
  const out: number[] = [];
  for (let x = v < 0n ? -v : v; x > 0n; x >>= 8n) out.unshift(Number(x & 0xffn));
  return Uint8Array.from(out);
}

function be(out: number[], v: bigint, bytes: number): void {
  for (let i = bytes - 1; i >= 0; i--) out.push(Number((BigInt.asUintN(64, v) >> BigInt(8 * i)) & 0xffn));
}

function head(out: number[], length: number, fix: number | undefined, fixMax: number, codes: readonly [number, number, number]): void {
  if (fix !== undefined && length <= fixMax) out.push(fix | length);
  else if (length < 0x100 && codes[0] !== 0) out.push(codes[0], length);
  else if (length < 0x10000) out.push(codes[1], length >> 8, length & 0xff);
  else out.push(codes[2], ...[24, 16, 8, 0].map((s) => (length >>> s) & 0xff));
}

const isList = (v: Value): v is Value[] => Array.isArray(v);

/** msgpack, written by hand so every encoding (float64 -0, over-wide integers) is reachable. */
export function pack(v: Value, out: number[]): void {
  if (v === null) out.push(0xc0);
  else if (typeof v === 'boolean') out.push(v ? 0xc3 : 0xc2);
  else if (typeof v === 'string') {
    const utf8 = Buffer.from(v, 'utf8');
    head(out, utf8.length, 0xa0, 31, [0xd9, 0xda, 0xdb]);
    out.push(...utf8);
  } else if (v instanceof Uint8Array) {
    head(out, v.length, undefined, 0, [0xc4, 0xc5, 0xc6]);
    out.push(...v);
  } else if (isList(v)) {
    head(out, v.length, 0x90, 15, [0, 0xdc, 0xdd]);
    for (const item of v) pack(item, out);
  } else if ('map' in v) {
    head(out, v.map.length, 0x80, 15, [0, 0xde, 0xdf]);
    for (const [k, x] of v.map) {
      pack(k, out);
      pack(x, out);
    }
  } else if ('float' in v) {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v.float);
    out.push(0xcb, ...b);
  } else {
    const { int, width } = v;
    const negative = int < 0n;
    if (width === 0 && int >= 0n && int < 128n) out.push(Number(int));
    else if (width === 0 && int < 0n && int >= -32n) out.push(Number(int) & 0xff);
    else {
      const w = width === 0 ? 8 : width;
      out.push((negative ? { 1: 0xd0, 2: 0xd1, 4: 0xd2, 8: 0xd3 } : { 1: 0xcc, 2: 0xcd, 4: 0xce, 8: 0xcf })[w]);
      be(out, int, w);
    }
  }
}
