/**
 * Honest channels and the oracle of what they are owed. The oracle does not ask the model: it
 * knows only what the honest pair signed and when secrets were revealed, and says what each
 * participant must be paid. "Every honest channel settles exactly as its latest co-signed or
 * registered state says; nothing anybody else does changes that, except a newer co-signed state."
 */
import type { ContractLock, ContractParams } from '../../../src/chain/encode.ts';
import type { Address, Bytes32 } from '../../../src/core/index.ts';
import type { Actor } from '../../helpers/actors.ts';
import type { ModelState } from './model.ts';

export type HonestPhase = 'funding' | 'open' | 'closing' | 'settled';

export interface HonestChannel {
  readonly index: number;
  readonly pair: readonly [Actor, Actor];
  readonly params: ContractParams;
  readonly id: Bytes32;
  /** Version-0 shares, flat [asset0.p0, asset0.p1, ...]. */
  readonly deposits: readonly bigint[];
  /** Whether participant 1 paid its share (when it did not, participant 0 must get its deposit back). */
  readonly fullyFunded: boolean;
  /** Every state both signed, oldest first; the last is the latest. */
  readonly states: ModelState[];
  /** Secrets of this channel's locks whose receiver knows them (and reveals them in a dispute). */
  readonly known: Map<Bytes32, Bytes32>;
  phase: HonestPhase;
  /** The locks of the state it concluded with, and the slots paid out so far (docs/adr/0010). */
  concluded?: { readonly locks: readonly ContractLock[]; readonly unlocked: Set<number> };
}

export const latest = (ch: HonestChannel): ModelState => ch.states[ch.states.length - 1]!;

/**
 * What each participant of `ch` is owed when it settles with `version` (`closed`: a cooperative
 * close; `concluded`: a registered state paid out), or a violation.
 */
export function honestPayout(
  ch: HonestChannel,
  how: 'closed' | 'concluded',
  version: bigint,
  heldBefore: readonly bigint[],
): { ok: true; pay: bigint[] } | { ok: false; why: string } {
  const last = latest(ch);
  if (version !== last.version) {
    return { ok: false, why: `honest channel ${ch.index} ${how} at version ${version}, but its latest co-signed state is ${last.version}` };
  }
  if (how === 'closed' && !last.isFinal) return { ok: false, why: `honest channel ${ch.index} closed with a non-final state` };
  // The balances only: each lock is paid by its own unlock (the engine's oracle checks those).
  const pay = [...last.balances];
  // A channel participant 1 never finished funding pays in funding order (docs/adr/0008).
  for (let a = 0; a < ch.params.assets.length; a++) {
    const h = heldBefore[a]!;
    if (pay[2 * a]! + pay[2 * a + 1]! > h) {
      if (ch.fullyFunded) return { ok: false, why: `honest channel ${ch.index} is funded but holds less than its state` };
      pay[2 * a] = pay[2 * a]! < h ? pay[2 * a]! : h;
      pay[2 * a + 1] = h - pay[2 * a]!;
    }
  }
  return { ok: true, pay };
}

/** Locks of a new honest state: each taken out of its sender's balance. */
export function withLocks(
  balances: bigint[],
  specs: readonly { sender: 0 | 1; asset: number; share: number; expiryIn: bigint; known: boolean; secret: Bytes32; hashlock: Bytes32 }[],
  now: bigint,
  nextId: bigint,
): { balances: bigint[]; locks: ContractLock[]; known: [Bytes32, Bytes32][] } {
  const locks: ContractLock[] = [];
  const known: [Bytes32, Bytes32][] = [];
  let id = nextId;
  for (const s of specs) {
    const from = 2 * s.asset + s.sender;
    const amount = (balances[from]! * BigInt(s.share)) / 100n;
    if (amount === 0n) continue;
    balances[from] = balances[from]! - amount;
    locks.push({
      id: id++,
      asset: s.asset,
      amount,
      sender: s.sender,
      receiver: 1 - s.sender,
      hashlock: s.hashlock,
      expiry: now + s.expiryIn,
    });
    if (s.known) known.push([s.hashlock, s.secret]);
  }
  return { balances, locks, known };
}

/** The final state of `ch`: locks settled off-chain (known secrets to the receiver, others back). */
export function finalOf(ch: HonestChannel): ModelState {
  const last = latest(ch);
  const balances = [...last.balances];
  for (const l of last.locks) balances[2 * l.asset + (ch.known.has(l.hashlock) ? l.receiver : l.sender)]! += l.amount;
  return { version: last.version + 1n, balances, locks: [], isFinal: true };
}

export function participants(ch: HonestChannel): readonly [Address, Address] {
  return [ch.pair[0].address, ch.pair[1].address];
}
