/**
 * The lock tree (docs/adr/0010): a state commits to its locks by the root of a binary Merkle tree
 * of fixed depth {@link LOCK_TREE_DEPTH}. Leaf `i` is the EIP-712 `hashStruct(Lock)` of the
 * state's `i`-th lock, missing leaves are zero words, an inner node is `keccak256(left ‖ right)`,
 * and a state without locks has the root `0x00…00`.
 *
 * Trees are memoised per lock list (the array object a state holds), and a transition that
 * changes a few slots derives the next tree from the previous one by rehashing only their paths
 * ({@link deriveTree}), so an update costs O(changed × depth) hashes, not O(locks).
 */
import { type Bytes32, bytesToHex, concatBytes, hexToBytes, keccak256, utf8, writeWord } from './bytes.ts';
import type { Lock } from './state.ts';

export const LOCK_TYPE = 'Lock(uint64 id,uint8 asset,uint256 amount,uint8 sender,uint8 receiver,bytes32 hashlock,uint64 expiry)';
export const LOCK_TYPEHASH = keccak256(utf8(LOCK_TYPE));

/** EIP-712 `hashStruct(Lock)`: a leaf of the lock tree. */
export function hashLock(lock: Lock): Uint8Array {
  const buf = new Uint8Array(32 * 8);
  buf.set(LOCK_TYPEHASH, 0);
  writeWord(buf, 32, lock.id);
  writeWord(buf, 64, BigInt(lock.asset));
  writeWord(buf, 96, lock.amount);
  writeWord(buf, 128, BigInt(lock.sender));
  writeWord(buf, 160, BigInt(lock.receiver));
  buf.set(hexToBytes(lock.hashlock), 192);
  writeWord(buf, 224, lock.expiry);
  return keccak256(buf);
}

/** Depth of the lock tree: 2^10 = 1,024 slots. */
export const LOCK_TREE_DEPTH = 10;
/** The most locks one state may carry: the tree's capacity. */
export const LOCK_TREE_CAPACITY = 1 << LOCK_TREE_DEPTH;
/** The root of a state without locks. */
export const EMPTY_LOCKS_ROOT: Bytes32 = `0x${'00'.repeat(32)}`;

const ZERO = new Uint8Array(32);
/** ZEROS[l]: the hash of an empty subtree of height l. */
const ZEROS: Uint8Array[] = [ZERO];
for (let l = 1; l <= LOCK_TREE_DEPTH; l++) ZEROS.push(keccak256(concatBytes(ZEROS[l - 1]!, ZEROS[l - 1]!)));

/** A tree's levels: `levels[0]` the leaves, `levels[l][i]` the node over leaves `[i·2^l, (i+1)·2^l)`; only occupied nodes are kept. */
interface Tree {
  readonly levels: Uint8Array[][];
}

const trees = new WeakMap<readonly Lock[], Tree>();

/**
 * Leaves by lock object. A lock stays the same object from state to state while it lives (the
 * transitions copy the list, not its locks, and a `Lock` is never mutated), so a tree rebuilt
 * after a large update hashes only the locks that are new.
 */
const leaves = new WeakMap<Lock, Uint8Array>();

function leaf(lock: Lock): Uint8Array {
  let h = leaves.get(lock);
  if (h === undefined) {
    h = hashLock(lock);
    leaves.set(lock, h);
  }
  return h;
}

function node(levels: Uint8Array[][], l: number, i: number): Uint8Array {
  return levels[l]![i] ?? ZEROS[l]!;
}

/** Two children side by side; hashing copies them out, so one buffer serves every call. */
const pair = new Uint8Array(64);

function rehash(levels: Uint8Array[][], l: number, i: number): void {
  pair.set(node(levels, l - 1, 2 * i), 0);
  pair.set(node(levels, l - 1, 2 * i + 1), 32);
  levels[l]![i] = keccak256(pair);
}

function build(locks: readonly Lock[]): Tree {
  const levels: Uint8Array[][] = [locks.map(leaf)];
  for (let l = 1; l <= LOCK_TREE_DEPTH; l++) {
    const below = levels[l - 1]!.length;
    const level: Uint8Array[] = [];
    levels.push(level);
    for (let i = 0; i < Math.ceil(below / 2); i++) rehash(levels, l, i);
  }
  return { levels };
}

function treeOf(locks: readonly Lock[]): Tree {
  let t = trees.get(locks);
  if (t === undefined) {
    t = build(locks);
    trees.set(locks, t);
  }
  return t;
}

/**
 * Registers the tree of `next`, a lock list that differs from `prev` only in `changed` slots
 * (and in its length: slots at or beyond the shorter length count as changed), by rehashing
 * their paths in a copy of `prev`'s tree. The caller guarantees the relation; a wrong `changed`
 * gives a wrong root, which the counterparty's own computation then refuses.
 */
export function deriveTree(prev: readonly Lock[], next: readonly Lock[], changed: ReadonlySet<number>): void {
  if (next.length === 0 || trees.has(next)) return;
  const base = trees.get(prev);
  if (base === undefined || changed.size * 4 > next.length) {
    trees.set(next, build(next));
    return;
  }
  const levels = base.levels.map((level) => level.slice());
  levels[0]!.length = next.length;
  let dirty = new Set<number>();
  const all = new Set(changed);
  for (let s = Math.min(prev.length, next.length); s < Math.max(prev.length, next.length); s++) all.add(s);
  for (const s of all) {
    if (s < next.length) levels[0]![s] = leaf(next[s]!);
    dirty.add(s);
  }
  for (let l = 1; l <= LOCK_TREE_DEPTH; l++) {
    const width = Math.ceil(levels[l - 1]!.length / 2);
    levels[l]!.length = width;
    const up = new Set<number>();
    for (const i of dirty) up.add(i >> 1);
    for (const i of up) if (i < width) rehash(levels, l, i);
    dirty = up;
  }
  trees.set(next, { levels });
}

/** The root a state with these locks signs (`0x00…00` for none). */
export function locksRootBytes(locks: readonly Lock[]): Uint8Array {
  if (locks.length === 0) return ZERO;
  return node(treeOf(locks).levels, LOCK_TREE_DEPTH, 0);
}

export function locksRoot(locks: readonly Lock[]): Bytes32 {
  return bytesToHex(locksRootBytes(locks));
}

/** The sibling hashes from leaf `index` up to the root: what `unlockBatch` checks a lock with. */
export function lockProof(locks: readonly Lock[], index: number): Bytes32[] {
  if (!Number.isInteger(index) || index < 0 || index >= locks.length) throw new RangeError(`no lock at slot ${index}`);
  const { levels } = treeOf(locks);
  const out: Bytes32[] = [];
  let i = index;
  for (let l = 0; l < LOCK_TREE_DEPTH; l++) {
    out.push(bytesToHex(node(levels, l, i ^ 1)));
    i >>= 1;
  }
  return out;
}

/** Whether `lock` sits at slot `index` of the tree with `root` (the contract's check, in TypeScript). */
export function verifyLockProof(root: Bytes32, lock: Lock, index: number, proof: readonly Bytes32[]): boolean {
  if (proof.length !== LOCK_TREE_DEPTH || !Number.isInteger(index) || index < 0 || index >= LOCK_TREE_CAPACITY) return false;
  let h = hashLock(lock);
  let i = index;
  for (const sibling of proof) {
    const s = hexToBytes(sibling);
    h = keccak256(i & 1 ? concatBytes(s, h) : concatBytes(h, s));
    i >>= 1;
  }
  return bytesToHex(h) === root;
}
