/**
 * State transitions: pure functions from (state, operations, facts) to a new state or a typed
 * rejection. A rejected transition never modifies its input (states are immutable).
 *
 * Invariants every successful update keeps (tested as properties in test/core):
 * - the version rises by exactly one;
 * - per asset, balances plus locked amounts stay constant, except a top-up, which raises the
 *   total by exactly the deposit the chain shows;
 * - no balance goes below zero or above 2^256-1;
 * - nothing follows a final state.
 */
import { MAX_UINT256, MAX_UINT64, keccak256Hex, hexToBytes, isBytes32 } from './bytes.ts';
import { creditedSurplus, surpluses } from './deposits.ts';
import type { Op, TransitionContext } from './ops.ts';
import { MAX_OPS } from './ops.ts';
import { type ChannelParams, type ParticipantIndex, other } from './params.ts';
import { type RejectReason, type Result, ok, reject } from './result.ts';
import { deriveTree } from './locks.ts';
import { type ChannelState, type Lock, MAX_LOCKS } from './state.ts';

/** A mutable working copy of a state, private to this module. */
interface Draft {
  balances: [bigint, bigint][];
  /** In slot order (docs/adr/0010): a new lock is appended, a removed one replaced by the last. */
  locks: Lock[];
  /** Slot of each lock id, built on first use. */
  slots: Map<bigint, number> | undefined;
  /** Slots whose lock changed (for the lock tree). */
  changed: Set<number>;
  isFinal: boolean;
  totals: bigint[];
}

function draftOf(state: ChannelState): Draft {
  const balances = state.balances.map(([a, b]) => [a, b] as [bigint, bigint]);
  const totals = balances.map(([a, b]) => a + b);
  for (const l of state.locks) totals[l.asset] = (totals[l.asset] ?? 0n) + l.amount;
  return { balances, locks: [...state.locks], slots: undefined, changed: new Set(), isFinal: state.isFinal, totals };
}

function slotsOf(d: Draft): Map<bigint, number> {
  if (d.slots === undefined) d.slots = new Map(d.locks.map((l, i) => [l.id, i]));
  return d.slots;
}

/** The draft's locks as a state's, with their tree derived from `from`'s. */
function locksOf(from: ChannelState, d: Draft): readonly Lock[] {
  if (d.changed.size === 0 && d.locks.length === from.locks.length) return from.locks;
  deriveTree(from.locks, d.locks, d.changed);
  return d.locks;
}

function checkAsset(params: ChannelParams, asset: number, what: string): Result<number> {
  if (!Number.isInteger(asset) || asset < 0 || asset >= params.assets.length) {
    return reject('unknown-asset', `${what} asset index ${asset} is not one of the channel's ${params.assets.length} assets`);
  }
  return ok(asset);
}

function checkAmount(amount: bigint, what: string): Result<bigint> {
  if (typeof amount !== 'bigint' || amount <= 0n || amount > MAX_UINT256) {
    return reject('invalid-amount', `${what} must be a uint256 above zero, got ${String(amount)}`);
  }
  return ok(amount);
}

/** Moves `amount` of `asset` from `from` to the other participant inside the draft. */
function move(d: Draft, asset: number, from: ParticipantIndex, amount: bigint, what: string): Result<void> {
  const row = d.balances[asset]!;
  if (row[from] < amount) {
    return reject('insufficient-balance', `${what}: participant ${from} holds ${row[from]} of asset ${asset}, needs ${amount}`);
  }
  const to = other(from);
  if (row[to] + amount > MAX_UINT256) return reject('overflow', `${what}: participant ${to}'s balance would exceed uint256`);
  row[from] -= amount;
  row[to] += amount;
  return ok(undefined);
}

function applyPay(params: ChannelParams, d: Draft, op: Extract<Op, { kind: 'pay' }>): Result<void> {
  const a = checkAsset(params, op.asset, 'payment');
  if (!a.ok) return a;
  const m = checkAmount(op.amount, 'payment amount');
  if (!m.ok) return m;
  return move(d, op.asset, op.by, op.amount, `payment ${op.id}`);
}

function applySwap(params: ChannelParams, d: Draft, op: Extract<Op, { kind: 'swap' }>, ctx: TransitionContext): Result<void> {
  const g = checkAsset(params, op.giveAsset, 'swap give');
  if (!g.ok) return g;
  const t = checkAsset(params, op.takeAsset, 'swap take');
  if (!t.ok) return t;
  if (op.giveAsset === op.takeAsset) return reject('invalid-swap', 'a swap exchanges two different assets');
  const ga = checkAmount(op.giveAmount, 'swap give amount');
  if (!ga.ok) return ga;
  const ta = checkAmount(op.takeAmount, 'swap take amount');
  if (!ta.ok) return ta;
  if (typeof op.expiry !== 'bigint' || op.expiry > MAX_UINT64) return reject('invalid-expiry', 'swap expiry must be a uint64');
  if (ctx.now >= op.expiry) return reject('swap-expired', `swap ${op.id} expired at ${op.expiry}, now ${ctx.now}`);
  // Check both legs before moving either, so a failing swap changes nothing (atomicity).
  const giveRow = d.balances[op.giveAsset]!;
  const takeRow = d.balances[op.takeAsset]!;
  const peer = other(op.by);
  if (giveRow[op.by] < op.giveAmount) {
    return reject(
      'insufficient-balance',
      `swap ${op.id}: participant ${op.by} holds ${giveRow[op.by]} of asset ${op.giveAsset}, gives ${op.giveAmount}`,
    );
  }
  if (takeRow[peer] < op.takeAmount) {
    return reject(
      'insufficient-balance',
      `swap ${op.id}: participant ${peer} holds ${takeRow[peer]} of asset ${op.takeAsset}, gives ${op.takeAmount}`,
    );
  }
  if (giveRow[peer] + op.giveAmount > MAX_UINT256 || takeRow[op.by] + op.takeAmount > MAX_UINT256) {
    return reject('overflow', `swap ${op.id}: a balance would exceed uint256`);
  }
  giveRow[op.by] -= op.giveAmount;
  giveRow[peer] += op.giveAmount;
  takeRow[peer] -= op.takeAmount;
  takeRow[op.by] += op.takeAmount;
  return ok(undefined);
}

function applyLock(params: ChannelParams, d: Draft, op: Extract<Op, { kind: 'lock' }>, ctx: TransitionContext): Result<void> {
  const { lock } = op;
  if (lock.sender !== op.by) return reject('not-authorized', `only the sender may add lock ${lock.id}`);
  if (lock.receiver !== other(lock.sender)) return reject('malformed', `lock ${lock.id} receiver must be the other participant`);
  if (typeof lock.id !== 'bigint' || lock.id < 0n || lock.id > MAX_UINT64) return reject('malformed', 'lock id must be a uint64');
  const a = checkAsset(params, lock.asset, 'lock');
  if (!a.ok) return a;
  const m = checkAmount(lock.amount, 'lock amount');
  if (!m.ok) return m;
  if (!isBytes32(lock.hashlock)) return reject('malformed', 'lock hashlock must be 32 bytes of lowercase hex');
  if (typeof lock.expiry !== 'bigint' || lock.expiry > MAX_UINT64) return reject('invalid-expiry', 'lock expiry must be a uint64');
  if (lock.expiry <= ctx.now)
    return reject('invalid-expiry', `lock ${lock.id} expiry ${lock.expiry} is not in the future (now ${ctx.now})`);
  if (d.locks.length >= MAX_LOCKS) return reject('too-many-locks', `a state holds at most ${MAX_LOCKS} locks`);
  if (slotsOf(d).has(lock.id)) return reject('duplicate-lock', `lock ${lock.id} already exists`);
  const row = d.balances[lock.asset]!;
  if (row[lock.sender] < lock.amount) {
    return reject('insufficient-balance', `lock ${lock.id}: participant ${lock.sender} holds ${row[lock.sender]}, locks ${lock.amount}`);
  }
  row[lock.sender] -= lock.amount;
  const slot = d.locks.length;
  d.locks.push({ ...lock });
  slotsOf(d).set(lock.id, slot);
  d.changed.add(slot);
  return ok(undefined);
}

function takeLock(d: Draft, lockId: bigint): Result<Lock> {
  const i = slotsOf(d).get(lockId);
  if (i === undefined) return reject('unknown-lock', `no pending lock ${lockId}`);
  return ok(d.locks[i]!);
}

/** Swap-remove: the last lock takes the removed one's slot (docs/adr/0010). */
function removeLock(d: Draft, lockId: bigint): void {
  const slots = slotsOf(d);
  const i = slots.get(lockId)!;
  const last = d.locks.length - 1;
  slots.delete(lockId);
  if (i !== last) {
    const moved = d.locks[last]!;
    d.locks[i] = moved;
    slots.set(moved.id, i);
    d.changed.add(i);
  }
  d.locks.pop();
  d.changed.add(last);
}

function credit(d: Draft, asset: number, to: ParticipantIndex, amount: bigint, what: string): Result<void> {
  const row = d.balances[asset]!;
  if (row[to] + amount > MAX_UINT256) return reject('overflow', `${what}: participant ${to}'s balance would exceed uint256`);
  row[to] += amount;
  return ok(undefined);
}

/** Whether the lock's secret was registered on-chain before its expiry, as the context knows. */
function registeredInTime(lock: Lock, ctx: TransitionContext): boolean {
  const at = ctx.revealedAt?.(lock.hashlock);
  return at !== undefined && at < lock.expiry;
}

function applySettle(d: Draft, op: Extract<Op, { kind: 'settle' }>, ctx: TransitionContext): Result<void> {
  const found = takeLock(d, op.lockId);
  if (!found.ok) return found;
  const lock = found.value;
  if (!isBytes32(op.secret)) return reject('malformed', 'secret must be 32 bytes of lowercase hex');
  if (keccak256Hex(hexToBytes(op.secret)) !== lock.hashlock) return reject('wrong-secret', `secret does not open lock ${lock.id}`);
  // At or after the expiry the lock belongs to its sender on-chain, unless its secret was
  // registered before the expiry; settling it off-chain otherwise would let the state disagree
  // with what the contract pays. Within the settle margin before the expiry, only a registered
  // secret settles it: a forwarding node must have the time to register what it learns (ADR 0011).
  if (!registeredInTime(lock, ctx) && ctx.now + (ctx.settleMargin ?? 0n) >= lock.expiry)
    return reject('lock-expired', `lock ${lock.id} expires at ${lock.expiry}, now ${ctx.now}: it settles through the registry only`);
  const c = credit(d, lock.asset, lock.receiver, lock.amount, `settle lock ${lock.id}`);
  if (!c.ok) return c;
  removeLock(d, lock.id);
  return ok(undefined);
}

function applyCancel(d: Draft, op: Extract<Op, { kind: 'cancel' }>, ctx: TransitionContext): Result<void> {
  const found = takeLock(d, op.lockId);
  if (!found.ok) return found;
  const lock = found.value;
  // The receiver may give a lock back at any time; the sender only once it has expired.
  if (op.by !== lock.receiver && ctx.now < lock.expiry) {
    return reject('lock-not-expired', `lock ${lock.id} expires at ${lock.expiry}; only its receiver may cancel it before`);
  }
  if (op.by !== lock.receiver && registeredInTime(lock, ctx)) {
    return reject('lock-revealed', `the secret of lock ${lock.id} was registered on-chain before its expiry: it is its receiver's`);
  }
  const c = credit(d, lock.asset, lock.sender, lock.amount, `cancel lock ${lock.id}`);
  if (!c.ok) return c;
  removeLock(d, lock.id);
  return ok(undefined);
}

function applyDeposit(params: ChannelParams, d: Draft, op: Extract<Op, { kind: 'deposit' }>, ctx: TransitionContext): Result<void> {
  const a = checkAsset(params, op.asset, 'deposit');
  if (!a.ok) return a;
  const m = checkAmount(op.amount, 'deposit amount');
  if (!m.ok) return m;
  if (ctx.deposits === undefined || ctx.shares === undefined) {
    return reject('deposit-exceeds-holdings', 'no on-chain deposits are known to credit');
  }
  // The next surplus to credit is the one that starts where the state's credited surplus ends.
  const credited = creditedSurplus(ctx.shares, d.totals)[op.asset]!;
  const next = surpluses(ctx.deposits, ctx.shares, op.asset).find((s) => s.start === credited);
  if (next === undefined || next.holdingsAfter !== op.holdingsAfter || next.amount !== op.amount) {
    return reject(
      'deposit-exceeds-holdings',
      next === undefined
        ? `no deposit of asset ${op.asset} is waiting to be credited`
        : `the next deposit to credit is ${next.amount} reaching holdings ${next.holdingsAfter}, not ${op.amount} reaching ${op.holdingsAfter}`,
    );
  }
  const c = credit(d, op.asset, next.participant, op.amount, `deposit ${op.id}`);
  if (!c.ok) return c;
  d.totals[op.asset] = d.totals[op.asset]! + op.amount;
  return ok(undefined);
}

function applyOne(params: ChannelParams, d: Draft, op: Op, ctx: TransitionContext): Result<void> {
  if (d.isFinal) return reject('channel-final', 'the state is final; nothing may follow it');
  if (op.by !== 0 && op.by !== 1) return reject('malformed', `operation ${String(op.id)} names no participant`);
  switch (op.kind) {
    case 'pay':
      return applyPay(params, d, op);
    case 'swap':
      return applySwap(params, d, op, ctx);
    case 'lock':
      return applyLock(params, d, op, ctx);
    case 'settle':
      return applySettle(d, op, ctx);
    case 'cancel':
      return applyCancel(d, op, ctx);
    case 'deposit':
      return applyDeposit(params, d, op, ctx);
    case 'finalize':
      if (d.locks.length > 0) return reject('pending-locks', `${d.locks.length} lock(s) must be settled or cancelled first`);
      d.isFinal = true;
      return ok(undefined);
  }
}

/** Where in an update an operation failed, with the reason. */
export interface OpRejected {
  readonly ok: false;
  readonly reason: RejectReason;
  readonly detail: string;
  /** Index of the failing operation in the update. */
  readonly index: number;
}

/**
 * Applies `ops` in order to `state` and bumps the version by one: the one transition every
 * update goes through. All or nothing: if any operation fails, the result names it and the
 * input state is untouched.
 *
 * @example
 * const next = applyUpdate(params, state, [{ kind: 'pay', id: 1n, by: 0, asset: 0, amount: 5n }], { now });
 * if (next.ok) console.log(next.value.version); // state.version + 1n
 */
export function applyUpdate(
  params: ChannelParams,
  state: ChannelState,
  ops: readonly Op[],
  ctx: TransitionContext,
): Result<ChannelState> | OpRejected {
  if (ops.length > MAX_OPS)
    return { ok: false, reason: 'too-many-ops', detail: `an update carries at most ${MAX_OPS} operations`, index: -1 };
  if (state.version >= MAX_UINT64) return { ok: false, reason: 'overflow', detail: 'version would exceed uint64', index: -1 };
  const d = draftOf(state);
  for (let i = 0; i < ops.length; i++) {
    const r = applyOne(params, d, ops[i]!, ctx);
    if (!r.ok) return { ...r, index: i };
  }
  return ok({
    channelId: state.channelId,
    version: state.version + 1n,
    balances: d.balances,
    locks: locksOf(state, d),
    isFinal: d.isFinal,
  });
}

/** The outcome of {@link selectOps}: the next state, and which operations made it in. */
export interface Selection {
  readonly state: ChannelState;
  readonly accepted: readonly Op[];
  readonly rejected: readonly { readonly op: Op; readonly reason: RejectReason; readonly detail: string }[];
}

/**
 * Applies each of `ops` in order to `state` on its own: an operation that fails is rejected
 * individually and the others still apply. The leader uses it to build a proposal from its
 * queue, so one bad payment never holds back the rest. `state` is the next version (one
 * above the input) whatever was accepted; replaying `accepted` with {@link applyUpdate} on the
 * input gives the same state. Every transition checks before it mutates, so a failed operation
 * leaves the working copy exactly as it was.
 */
export function selectOps(
  params: ChannelParams,
  state: ChannelState,
  ops: readonly Op[],
  ctx: TransitionContext,
  limit = MAX_OPS,
): Selection {
  const d = draftOf(state);
  const accepted: Op[] = [];
  const rejected: { op: Op; reason: RejectReason; detail: string }[] = [];
  for (const op of ops) {
    if (accepted.length >= limit) {
      rejected.push({ op, reason: 'too-many-ops', detail: `an update carries at most ${limit} operations` });
      continue;
    }
    const r = applyOne(params, d, op, ctx);
    if (r.ok) accepted.push(op);
    else rejected.push({ op, reason: r.reason, detail: r.detail });
  }
  return {
    state: { channelId: state.channelId, version: state.version + 1n, balances: d.balances, locks: locksOf(state, d), isFinal: d.isFinal },
    accepted,
    rejected,
  };
}

function single(params: ChannelParams, state: ChannelState, op: Op, ctx: TransitionContext): Result<ChannelState> {
  const r = applyUpdate(params, state, [op], ctx);
  return r.ok ? r : { ok: false, reason: r.reason, detail: r.detail };
}

/** One payment as one update. */
export function pay(
  params: ChannelParams,
  state: ChannelState,
  p: { id: bigint; from: ParticipantIndex; asset: number; amount: bigint },
): Result<ChannelState> {
  return single(params, state, { kind: 'pay', id: p.id, by: p.from, asset: p.asset, amount: p.amount }, { now: 0n });
}

/** Several payments (either direction) as one update: one version, one pair of signatures. */
export function payMany(
  params: ChannelParams,
  state: ChannelState,
  payments: readonly { id: bigint; from: ParticipantIndex; asset: number; amount: bigint }[],
): Result<ChannelState> | OpRejected {
  return applyUpdate(
    params,
    state,
    payments.map((p) => ({ kind: 'pay', id: p.id, by: p.from, asset: p.asset, amount: p.amount }) as const),
    { now: 0n },
  );
}

/** An atomic exchange as one update. */
export function swap(
  params: ChannelParams,
  state: ChannelState,
  s: Omit<Extract<Op, { kind: 'swap' }>, 'kind'>,
  ctx: TransitionContext,
): Result<ChannelState> {
  return single(params, state, { kind: 'swap', ...s }, ctx);
}

export function addLock(params: ChannelParams, state: ChannelState, id: bigint, lock: Lock, ctx: TransitionContext): Result<ChannelState> {
  return single(params, state, { kind: 'lock', id, by: lock.sender, lock }, ctx);
}

export function settleLock(
  params: ChannelParams,
  state: ChannelState,
  s: { id: bigint; by: ParticipantIndex; lockId: bigint; secret: `0x${string}` },
  ctx: TransitionContext,
): Result<ChannelState> {
  return single(params, state, { kind: 'settle', ...s }, ctx);
}

export function cancelLock(
  params: ChannelParams,
  state: ChannelState,
  c: { id: bigint; by: ParticipantIndex; lockId: bigint },
  ctx: TransitionContext,
): Result<ChannelState> {
  return single(params, state, { kind: 'cancel', ...c }, ctx);
}

export function finalize(params: ChannelParams, state: ChannelState, f: { id: bigint; by: ParticipantIndex }): Result<ChannelState> {
  return single(params, state, { kind: 'finalize', ...f }, { now: 0n });
}

/**
 * The lock list after `ops` (their `lock`, `settle` and `cancel` operations) on `locks`, slot by
 * slot as {@link applyUpdate} builds it, without balance checks: how the leader rebuilds the
 * locks of a proposal it released from its durable delta (docs/adr/0010). Undefined when the
 * operations do not fit the list (an unknown lock).
 */
export function replayLocks(locks: readonly Lock[], ops: readonly Op[]): readonly Lock[] | undefined {
  const d: Draft = { balances: [], locks: [...locks], slots: undefined, changed: new Set(), isFinal: false, totals: [] };
  for (const op of ops) {
    if (op.kind === 'lock') {
      if (slotsOf(d).has(op.lock.id)) return undefined;
      slotsOf(d).set(op.lock.id, d.locks.length);
      d.changed.add(d.locks.length);
      d.locks.push({ ...op.lock });
    } else if (op.kind === 'settle' || op.kind === 'cancel') {
      if (!slotsOf(d).has(op.lockId)) return undefined;
      removeLock(d, op.lockId);
    }
  }
  const from: ChannelState = { channelId: '0x', version: 0n, balances: [], locks, isFinal: false };
  return locksOf(from, d);
}

/** Whether an operation changes the lock list. */
export function changesLocks(op: Op): boolean {
  return op.kind === 'lock' || op.kind === 'settle' || op.kind === 'cancel';
}
