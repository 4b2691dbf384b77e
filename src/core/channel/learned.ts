/**
 * Secrets learned from the counterparty: a `settle` of a lock we sent carries the preimage of its
 * hashlock. When we forwarded that lock, the same secret pays us upstream, by an off-chain settle
 * or, failing that, by registering it on-chain before the expiry (docs/adr/0011). So it is kept
 * durably from the moment it is seen, before our signature on any state that settles the lock
 * leaves this node.
 */
import type { Op } from '../ops.ts';
import type { ChannelState } from '../state.ts';
import type { Effect, Now } from './io.ts';
import { type LearnedSecret, MAX_LEARNED } from './record.ts';
import { type Machine, setRecord, token } from './types.ts';

/** Kept this long after the lock's expiry: past it, the secret pays nothing anywhere. */
const KEEP_AFTER_EXPIRY = 86_400n;

/**
 * Records the secrets that `ops` (applied on `base`) reveal for locks we sent. Returns whether
 * the record changed (the caller's flush then makes it durable).
 */
export function learnSecrets(m: Machine, fx: Effect[], base: ChannelState, ops: readonly Op[], now?: Now): boolean {
  let fresh: LearnedSecret[] | undefined;
  for (const op of ops) {
    if (op.kind !== 'settle') continue;
    const lock = base.locks.find((l) => l.id === op.lockId);
    if (!lock || lock.sender !== m.rec.self) continue;
    (fresh ??= []).push({ hashlock: lock.hashlock, secret: op.secret, expiry: lock.expiry });
  }
  if (!fresh) return false;
  const seconds = now === undefined ? undefined : (now.chainTime ?? BigInt(Math.floor(now.ms / 1000)));
  const known = new Set<string>();
  const all: LearnedSecret[] = [];
  for (const x of [...fresh, ...(m.rec.learned ?? [])]) {
    if (known.has(x.hashlock)) continue;
    if (seconds !== undefined && x.expiry + KEEP_AFTER_EXPIRY < seconds) continue;
    known.add(x.hashlock);
    all.push(x);
  }
  // Over the cap, the soonest to expire go first (they are the least likely to be needed).
  if (all.length > MAX_LEARNED) all.sort((a, b) => (a.expiry > b.expiry ? -1 : a.expiry < b.expiry ? 1 : 0));
  setRecord(m, fx, { learned: all.slice(0, MAX_LEARNED) });
  return true;
}

/**
 * Drops learned secrets the shell says are no longer needed (docs/adr/0019): under load the list
 * otherwise fills to {@link MAX_LEARNED} and every record write re-encodes all of it. The record
 * is flushed (one write per channel and sweep, at most).
 */
export function forgetLearned(m: Machine, fx: Effect[], hashlocks: readonly string[]): void {
  const learned = m.rec.learned;
  if (!learned || learned.length === 0 || hashlocks.length === 0) return;
  const drop = new Set(hashlocks);
  const kept = learned.filter((x) => !drop.has(x.hashlock));
  if (kept.length === learned.length) return;
  setRecord(m, fx, { learned: kept.length === 0 ? undefined : kept });
  fx.push({ kind: 'flush', token: token(m) });
}

/** The secret of `hashlock`, if the counterparty revealed it to us. */
export function learnedSecret(m: Machine, hashlock: string): LearnedSecret | undefined {
  return m.rec.learned?.find((x) => x.hashlock === hashlock);
}
