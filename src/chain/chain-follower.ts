/**
 * Following the adjudicator's events on a real chain (docs/adr/0014): only blocks with at least
 * `confirmations` blocks on top of them are read, in bounded ranges (log-reader.ts), and the
 * hashes of the blocks whose events were handled are kept for a window below the confirmed head,
 * so a reorg deeper than the confirmation depth is noticed (a kept block's hash changed) and
 * the events of the blocks it removed are handed back, newest first, to be undone.
 *
 * The follower keeps no state of its own: each {@link followStep} takes the position the caller
 * saved and returns the next one, which the caller saves once it has handled the step durably.
 * So the saved position never passes an event whose handling is not on disk, and a crash
 * between the two replays the step (handling a fact twice changes nothing; undoing one that is
 * gone changes nothing).
 *
 * Depth: an event in block b counts once the head is at least b + confirmations (0: as soon as
 * it is mined).
 */
import type { Bytes32 } from '../core/bytes.ts';
import { LanesError } from '../core/errors.ts';
import type { ChainEvent } from './events.ts';
import type { LogFilter } from './log-reader.ts';

/** A block whose events were handled, with its hash then. */
export interface TrackedBlock {
  readonly number: bigint;
  readonly hash: Bytes32;
  /** The events handled in it, in log order (what a reorg that removes the block undoes). */
  readonly events: readonly ChainEvent[];
}

export interface FollowPosition {
  /** The next block to read. */
  readonly next: bigint;
  /** Handled blocks within the window, oldest first: blocks with events, and the last block of each read. */
  readonly blocks: readonly TrackedBlock[];
}

export interface FollowSource {
  blockNumber(): Promise<bigint>;
  /** The hash of the canonical block `n`, or undefined when the chain has none (it got shorter). */
  blockHash(n: bigint): Promise<Bytes32 | undefined>;
  /** Events of the filter from `from` to `upTo` or less; `to` is the last block covered. */
  readLogs(from: bigint, upTo: bigint, filter: LogFilter): Promise<{ readonly events: readonly ChainEvent[]; readonly to: bigint }>;
}

export interface FollowOptions {
  /** Blocks on top of a block before its events count (0: at once). */
  readonly confirmations: number;
  /** How many blocks below the confirmed head a handled block is kept, to be undone by a reorg. */
  readonly window: number;
  /** What to read, computed after the head is known: a channel that exists then has no event above it yet. */
  readonly filter: () => LogFilter;
}

export type FollowStep =
  /**
   * A reorg removed handled blocks. `removed`: their events, newest first, to undo; `fork`: the
   * newest block still on the chain below them (what the chain held then is what holds now,
   * until the blocks after it are read again). `deep`: no kept block survived: the reorg went
   * deeper than the window, and what happened before it cannot be undone.
   */
  | {
      readonly kind: 'reorg';
      readonly removed: readonly ChainEvent[];
      readonly fork: bigint;
      readonly deep: boolean;
      readonly position: FollowPosition;
    }
  /** New confirmed events, in chain order, up to `position.next - 1`. */
  | {
      readonly kind: 'events';
      readonly events: readonly ChainEvent[];
      readonly position: FollowPosition;
      readonly head: bigint;
      /** The confirmed head is reached. */
      readonly caughtUp: boolean;
    }
  /** Nothing new is confirmed (or the chain moved while it was read: try again). */
  | { readonly kind: 'idle'; readonly head: bigint };

/** Default window: beyond Ethereum's finality (64 to 95 blocks) with room. */
export const REORG_WINDOW = 128;

/**
 * One step: one bounded read of confirmed blocks, or a reorg found by the newest kept block's
 * hash. A reorg replaces a suffix of the chain, so if the hash of the confirmed head is the same
 * before and after the read, and the newest kept block is still canonical after it, every block
 * read is of one chain, the one we kept (else the step is dropped, or the reorg reported).
 */
export async function followStep(source: FollowSource, pos: FollowPosition, o: FollowOptions): Promise<FollowStep> {
  const head = await source.blockNumber();
  const confirmed = head - BigInt(o.confirmations);
  if (confirmed < pos.next) return (await checkReorg(source, pos)) ?? { kind: 'idle', head };
  const filter = o.filter();
  const before = await source.blockHash(confirmed);
  if (before === undefined) return { kind: 'idle', head }; // the chain got shorter meanwhile
  const { events, to } = await source.readLogs(pos.next, confirmed, filter);
  const reorg = await checkReorg(source, pos);
  if (reorg) return reorg;
  if (to < pos.next || (await source.blockHash(confirmed)) !== before) return { kind: 'idle', head };
  const toHash = to === confirmed ? before : await source.blockHash(to);
  // A provider that answered from another chain than its blocks (a load balancer over nodes).
  if (toHash === undefined || events.some((e) => e.blockNumber === to && e.blockHash !== toHash)) return { kind: 'idle', head };
  const added: TrackedBlock[] = [];
  for (const e of events) {
    const b = added.at(-1);
    if (b && b.number === e.blockNumber) (b.events as ChainEvent[]).push(e);
    else added.push({ number: e.blockNumber, hash: e.blockHash, events: [e] });
  }
  if (added.at(-1)?.number !== to) added.push({ number: to, hash: toHash, events: [] });
  const floor = to - BigInt(o.window);
  const blocks = [...pos.blocks, ...added].filter((b, i, all) => b.number >= floor || i === all.length - 1);
  return { kind: 'events', events, position: { next: to + 1n, blocks: compact(blocks) }, head, caughtUp: to >= confirmed };
}

/** Blocks without events are only needed as the newest one (the reorg check) and to place a fork. */
function compact(blocks: readonly TrackedBlock[]): TrackedBlock[] {
  // Keep every block with events, the newest block, and one empty block between event blocks at
  // most (the end of a read): enough to find a fork to within the blocks that matter.
  const out: TrackedBlock[] = [];
  for (const [i, b] of blocks.entries()) {
    const prev = out.at(-1);
    if (b.events.length === 0 && i !== blocks.length - 1 && prev && prev.events.length === 0) out.pop();
    out.push(b);
  }
  return out;
}

async function checkReorg(source: FollowSource, pos: FollowPosition): Promise<FollowStep | undefined> {
  const blocks = pos.blocks;
  const newest = blocks.at(-1);
  if (!newest || (await source.blockHash(newest.number)) === newest.hash) return undefined;
  let keep = blocks.length - 1;
  while (keep > 0) {
    const b = blocks[keep - 1]!;
    if ((await source.blockHash(b.number)) === b.hash) break;
    keep--;
  }
  // `keep` blocks survive; the others were replaced.
  const removed = blocks
    .slice(keep)
    .flatMap((b) => b.events)
    .reverse();
  const survivor = blocks[keep - 1];
  const fork = survivor ? survivor.number : blocks[0]!.number - 1n;
  return { kind: 'reorg', removed, fork, deep: !survivor, position: { next: fork + 1n, blocks: blocks.slice(0, keep) } };
}

/** What a reorg's handler reads again: the dispute registered for a channel, at a block or the latest. */
export type DisputeReader<D> = (channelId: `0x${string}`, at?: bigint) => Promise<D>;

/**
 * The dispute of a channel at a reorg's fork, or, when the backend cannot answer for that block
 * (a reorg deeper than the window puts the fork far back, beyond the ~128 blocks of state a full
 * node keeps), the latest one, which is enough to decide whether to answer now. Without the
 * fallback, the handler threw at every try, the position was never saved, and following stopped
 * for every channel. `onFallback` is told (to log it); a failure of the latest read is thrown.
 */
export async function disputeAtFork<D>(
  read: DisputeReader<D>,
  channelId: `0x${string}`,
  fork: bigint,
  onFallback?: (err: unknown) => void,
): Promise<D> {
  try {
    return await read(channelId, fork);
  } catch (e) {
    onFallback?.(e);
    return read(channelId);
  }
}

/**
 * Confirmations per chain when none is configured: 0 for dev chains (Hardhat/EDR, anvil and
 * ganache ids: automine, no reorgs unless a test makes one), 12 elsewhere (Ethereum's
 * customary depth; finality is 64 to 95 blocks, for who wants it: `--confirmations 64`).
 */
export function defaultConfirmations(chainId: bigint): number {
  return DEV_CHAINS.has(chainId) ? 0 : 12;
}
const DEV_CHAINS = new Set([31337n, 1337n]);

/** Checks a configured confirmation depth (a whole number, at most the reorg window). */
export function checkConfirmations(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0 || n > REORG_WINDOW)
    throw new LanesError(`confirmations must be a whole number from 0 to ${REORG_WINDOW}, got ${n}`, { code: 'INVALID_ARGUMENT' });
  return n;
}

// -----------------------------------------------------------------------------------------------
// On disk: JSON, bigints as strings tagged "n:".

export function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `n:${v}` : v)));
}

export function decodeJson<T>(bytes: Uint8Array): T {
  return JSON.parse(new TextDecoder().decode(bytes), (_k, v: unknown) =>
    typeof v === 'string' && v.startsWith('n:') ? BigInt(v.slice(2)) : v,
  ) as T;
}

export const encodePosition = (p: FollowPosition): Uint8Array => encodeJson(p);
export const decodePosition = (bytes: Uint8Array): FollowPosition => decodeJson<FollowPosition>(bytes);
