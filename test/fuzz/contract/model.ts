/**
 * A reference model of the LanesAdjudicator, written from its specification (the NatSpec and
 * docs/adr/0004, 0008) in plain TypeScript: no assembly, no calldata offsets, no gas tricks.
 * The invariant fuzzer runs every call against both this model and the compiled contract on
 * EDR and compares every item result and the whole resulting state after each step.
 *
 * The model is pure: the block time and the gas a transaction cost are inputs.
 */
import type { ContractLock, ContractParams } from '../../../src/chain/encode.ts';
import {
  type Address,
  type Bytes32,
  MAX_ASSETS,
  MAX_CHALLENGE_DURATION,
  MAX_HOLDINGS,
  MAX_LOCKS,
  type Lock,
  channelId,
  locksRoot,
  verifyLockProof,
} from '../../../src/core/index.ts';

export const NATIVE: Address = '0x0000000000000000000000000000000000000000';
export const ZERO_ID: Bytes32 = `0x${'00'.repeat(32)}`;
const MAX_UINT256 = 2n ** 256n - 1n;

/** How a token behaves; `unknown` is an address that is not a token at all. */
export type TokenKind =
  | 'eth'
  | 'plain'
  | 'fee'
  | 'false'
  | 'noreturn'
  | 'reentrant'
  | 'lying'
  | 'burning'
  | 'permit'
  | 'burnpermit'
  | 'reenterpermit'
  | 'unknown';

/**
 * What an EIP-2612 permit signature is: whose key signed the permit digest of which fields, or
 * `garbage` (no key's valid signature of any permit: random bytes, a high s, a bad v).
 */
export interface PermitSig {
  readonly signer: Address | 'garbage';
  readonly owner: Address;
  readonly spender: Address;
  readonly value: bigint;
  readonly nonce: bigint;
  readonly deadline: bigint;
}

/** A {depositWithPermit}'s result: what it credited, or the custom error it reverted with. */
export type PermitDepositOutcome =
  | { readonly ok: true; readonly permitted: boolean; readonly channelId: Bytes32; readonly received: bigint; readonly total: bigint }
  | { readonly ok: false; readonly permitted: boolean; readonly error: string };

/** What a signature in an item is: its encoding, and whose key signed exactly the digest checked. */
export type SigForm = 'canonical' | 'high-s' | 'bad-v' | 'zero-r' | 'zero-s';
export interface SigSpec {
  readonly form: SigForm;
  /** The address whose key signed this item's digest; `random` when it signed something else. */
  readonly signer: Address | 'random';
}

export interface ModelState {
  readonly version: bigint;
  /** Flat: [asset0.p0, asset0.p1, asset1.p0, ...]. */
  readonly balances: readonly bigint[];
  readonly locks: readonly ContractLock[];
  readonly isFinal: boolean;
}

export interface ModelItem {
  readonly params: ContractParams;
  readonly state: ModelState;
  readonly sigs: readonly [SigSpec, SigSpec];
}

export type Reason =
  | 'malformed'
  | 'invalid-signature'
  | 'wrong-signer'
  | 'unknown-channel'
  | 'channel-closed'
  | 'exceeds-holdings'
  | 'stale-version'
  | 'challenge-expired'
  | 'not-challenged'
  | 'challenge-pending'
  | 'state-mismatch'
  | 'locks-pending'
  | 'unknown-lock'
  | 'already-unlocked';

export type ItemOutcome =
  { readonly channelId: Bytes32; readonly ok: true } | { readonly channelId: Bytes32; readonly ok: false; readonly reason: Reason };

/** An {unlockBatch} item: a lock, its slot in the concluded state's lock tree, and a proof. */
export interface ModelUnlock {
  readonly params: ContractParams;
  readonly lock: ContractLock;
  readonly index: bigint;
  readonly proof: readonly Bytes32[];
}

export interface Holding {
  readonly amount: bigint;
  readonly closed: boolean;
}

export interface Dispute {
  readonly version: bigint;
  readonly finalizesAt: bigint;
  readonly state: ModelState;
}

export interface DepositArgs {
  readonly params: ContractParams;
  readonly assetIndex: bigint;
  readonly participant: bigint;
  readonly amount: bigint;
}

export type Payout = 'transfer' | 'credit';

/** Whether a call ran, and what each item did. */
export interface CallOutcome {
  readonly reverted: boolean;
  readonly items: readonly ItemOutcome[];
}

const key = (a: string, b: string) => `${a}|${b}`;

export class AdjudicatorModel {
  readonly chainId: bigint;
  readonly adjudicator: Address;
  readonly kinds: ReadonlyMap<Address, TokenKind>;
  now = 0n;
  readonly holdings = new Map<string, Holding>();
  readonly disputes = new Map<Bytes32, Dispute>();
  readonly revealedAt = new Map<Bytes32, bigint>();
  readonly withdrawable = new Map<string, bigint>();
  /** The locks of the state each channel concluded with (the contract keeps only their root). */
  readonly lockTrees = new Map<Bytes32, readonly ContractLock[]>();
  /** `${channelId}|${slot}` of every lock paid out. */
  readonly unlocked = new Set<string>();
  /** Balances of tracked accounts in every asset whose `balanceOf` tells the truth. */
  readonly balances = new Map<string, bigint>();
  /** Addresses whose code refuses ETH or burns the gas it is given. */
  readonly hostileReceivers = new Set<Address>();
  /**
   * Allowances given to the adjudicator, by `${owner}|${token}`, for the owners and tokens the
   * model tracks (the attacker keys, who deposit by permit); an untracked pair is unlimited.
   */
  readonly allowances = new Map<string, bigint>();
  /** EIP-2612 nonces by `${owner}|${token}` (0 when absent). */
  readonly nonces = new Map<string, bigint>();
  falseFailing = false;
  burnBurning = false;
  liePending = 0n;

  constructor(o: { chainId: bigint; adjudicator: Address; kinds: ReadonlyMap<Address, TokenKind> }) {
    this.chainId = o.chainId;
    this.adjudicator = o.adjudicator;
    this.kinds = o.kinds;
  }

  clone(): AdjudicatorModel {
    const m = new AdjudicatorModel({ chainId: this.chainId, adjudicator: this.adjudicator, kinds: this.kinds });
    m.now = this.now;
    for (const [k, v] of this.holdings) m.holdings.set(k, v);
    for (const [k, v] of this.disputes) m.disputes.set(k, v);
    for (const [k, v] of this.revealedAt) m.revealedAt.set(k, v);
    for (const [k, v] of this.withdrawable) m.withdrawable.set(k, v);
    for (const [k, v] of this.balances) m.balances.set(k, v);
    for (const [k, v] of this.lockTrees) m.lockTrees.set(k, v);
    for (const k of this.unlocked) m.unlocked.add(k);
    for (const a of this.hostileReceivers) m.hostileReceivers.add(a);
    for (const [k, v] of this.allowances) m.allowances.set(k, v);
    for (const [k, v] of this.nonces) m.nonces.set(k, v);
    m.falseFailing = this.falseFailing;
    m.burnBurning = this.burnBurning;
    m.liePending = this.liePending;
    return m;
  }

  /** Copies every field of `other` into this model (used to commit a call that did not revert). */
  assign(other: AdjudicatorModel): void {
    this.now = other.now;
    for (const [mine, theirs] of [
      [this.holdings, other.holdings],
      [this.disputes, other.disputes],
      [this.revealedAt, other.revealedAt],
      [this.withdrawable, other.withdrawable],
      [this.balances, other.balances],
      [this.lockTrees, other.lockTrees],
      [this.allowances, other.allowances],
      [this.nonces, other.nonces],
    ] as [Map<unknown, unknown>, Map<unknown, unknown>][]) {
      mine.clear();
      for (const [k, v] of theirs) mine.set(k, v);
    }
    this.unlocked.clear();
    for (const k of other.unlocked) this.unlocked.add(k);
    this.hostileReceivers.clear();
    for (const a of other.hostileReceivers) this.hostileReceivers.add(a);
    this.falseFailing = other.falseFailing;
    this.burnBurning = other.burnBurning;
    this.liePending = other.liePending;
  }

  kind(asset: Address): TokenKind {
    return asset === NATIVE ? 'eth' : (this.kinds.get(asset) ?? 'unknown');
  }

  /** Whether the model tracks balances of `asset` (every asset whose balance is real). */
  tracksBalance(asset: Address): boolean {
    const k = this.kind(asset);
    return k !== 'lying' && k !== 'unknown';
  }

  id(params: ContractParams): Bytes32 {
    return channelId({ chainId: this.chainId, adjudicator: this.adjudicator, ...params });
  }

  holding(id: Bytes32, asset: Address): Holding {
    return this.holdings.get(key(id, asset)) ?? { amount: 0n, closed: false };
  }

  owed(account: Address, asset: Address): bigint {
    return this.withdrawable.get(key(account, asset)) ?? 0n;
  }

  balance(account: Address, asset: Address): bigint {
    return this.balances.get(key(account, asset)) ?? 0n;
  }

  setBalance(account: Address, asset: Address, amount: bigint): void {
    this.balances.set(key(account, asset), amount);
  }

  #addBalance(account: Address, asset: Address, delta: bigint): void {
    if (!this.tracksBalance(asset)) return;
    this.balances.set(key(account, asset), this.balance(account, asset) + delta);
  }

  #addOwed(account: Address, asset: Address, delta: bigint): void {
    this.withdrawable.set(key(account, asset), this.owed(account, asset) + delta);
  }

  /** A transaction's gas, paid by its sender whether or not it reverted. */
  payGas(sender: Address, cost: bigint): void {
    this.#addBalance(sender, NATIVE, -cost);
  }

  // ------------------------------------------------------------------------------------------
  // Params and signatures

  validParams(p: ContractParams): boolean {
    const n = p.assets.length;
    if (n === 0 || n > MAX_ASSETS || p.challengeDuration > MAX_CHALLENGE_DURATION) return false;
    return new Set(p.assets).size === n;
  }

  #sigs(p: ContractParams, sigs: readonly [SigSpec, SigSpec]): Reason | undefined {
    for (const i of [0, 1] as const) {
      const s = sigs[i];
      if (s.form !== 'canonical') return 'invalid-signature';
      if (s.signer === 'random' || s.signer !== p.participants[i]) return 'wrong-signer';
    }
    return undefined;
  }

  #wellFormed(p: ContractParams, s: ModelState): boolean {
    if (!this.validParams(p)) return false;
    const n = p.assets.length;
    // The contract sees only the locks' root: a lock's own fields are checked when it is unlocked.
    if (s.balances.length !== 2 * n || s.locks.length > MAX_LOCKS) return false;
    return !s.isFinal || s.locks.length === 0;
  }

  // ------------------------------------------------------------------------------------------
  // Token movements

  /** An ERC-20 `transfer` out of the adjudicator with capped gas: whether it succeeded. */
  #pushToken(asset: Address, to: Address, amount: bigint): boolean {
    const k = this.kind(asset);
    if (k === 'unknown') return false;
    if (k === 'false' && this.falseFailing) return false;
    if (k === 'burning' && this.burnBurning) return false;
    if (k !== 'lying' && this.balance(this.adjudicator, asset) < amount) return false;
    this.#addBalance(this.adjudicator, asset, -amount);
    this.#addBalance(to, asset, k === 'fee' ? amount - amount / 100n : amount);
    return true;
  }

  /** ETH with the 2,300 stipend (batch payouts) or all gas (withdraw): code that refuses fails. */
  #pushEth(to: Address, amount: bigint): boolean {
    if (this.hostileReceivers.has(to) || this.balance(this.adjudicator, NATIVE) < amount) return false;
    this.#addBalance(this.adjudicator, NATIVE, -amount);
    this.#addBalance(to, NATIVE, amount);
    return true;
  }

  /** `transferFrom(from, adjudicator, amount)` and the balance increase the adjudicator observes. */
  #pullToken(asset: Address, from: Address, amount: bigint): bigint | undefined {
    const k = this.kind(asset);
    if (k === 'unknown') return undefined;
    if (k === 'false' && this.falseFailing) return undefined;
    if (k === 'lying') {
      const received = amount + this.liePending;
      this.liePending = 0n;
      return received;
    }
    if (this.balance(from, asset) < amount) return undefined;
    // TestToken spends no unlimited allowance; NoReturnToken spends any.
    const allowed = this.allowances.get(key(from, asset));
    if (allowed !== undefined) {
      if (allowed < amount) return undefined;
      if (allowed !== MAX_UINT256 || k === 'noreturn') this.allowances.set(key(from, asset), allowed - amount);
    }
    const received = k === 'fee' ? amount - amount / 100n : amount;
    this.#addBalance(from, asset, -amount);
    this.#addBalance(this.adjudicator, asset, received);
    return received;
  }

  // ------------------------------------------------------------------------------------------
  // Funding: whole-call success or revert

  #depositArgsOk(d: DepositArgs): boolean {
    return this.validParams(d.params) && d.assetIndex < BigInt(d.params.assets.length) && d.participant <= 1n && d.amount !== 0n;
  }

  /** {deposit}: returns whether it went through (on revert the model is unchanged). */
  deposit(sender: Address, d: DepositArgs, value: bigint): boolean {
    const next = this.clone();
    if (!next.#deposit(sender, d, value)) return false;
    this.assign(next);
    return true;
  }

  #deposit(sender: Address, d: DepositArgs, value: bigint): boolean {
    if (!this.#depositArgsOk(d)) return false;
    const id = this.id(d.params);
    const asset = d.params.assets[Number(d.assetIndex)]!;
    const held = this.holding(id, asset);
    if (held.closed) return false;
    let received: bigint;
    if (asset === NATIVE) {
      if (value !== d.amount || this.balance(sender, NATIVE) < value) return false;
      this.#addBalance(sender, NATIVE, -value);
      this.#addBalance(this.adjudicator, NATIVE, value);
      received = d.amount;
    } else {
      if (value !== 0n) return false;
      const r = this.#pullToken(asset, sender, d.amount);
      if (r === undefined || r === 0n) return false;
      received = r;
    }
    if (held.amount + received > MAX_HOLDINGS) return false;
    this.holdings.set(key(id, asset), { amount: held.amount + received, closed: false });
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // Permits (EIP-2612) and {depositWithPermit}

  /** Whether `token` has a working EIP-2612 `permit` (the gas burner's only looks like one). */
  hasPermit(token: Address): boolean {
    const k = this.kind(token);
    return k === 'permit' || k === 'reenterpermit';
  }

  allowance(owner: Address, token: Address): bigint | undefined {
    return this.allowances.get(key(owner, token));
  }

  nonce(owner: Address, token: Address): bigint {
    return this.nonces.get(key(owner, token)) ?? 0n;
  }

  /** `token.approve(adjudicator, value)` by `owner`, on a token whose approve does something. */
  approve(owner: Address, token: Address, value: bigint): void {
    const k = this.kind(token);
    if (k === 'eth' || k === 'lying' || k === 'unknown') return;
    if (this.allowances.has(key(owner, token))) this.allowances.set(key(owner, token), value);
  }

  /**
   * `token.permit(owner, spender, value, deadline, sig)` at the current time: whether it went
   * through (it then spends the owner's nonce and sets the allowance).
   */
  permit(token: Address, owner: Address, spender: Address, value: bigint, deadline: bigint, sig: PermitSig): boolean {
    if (!this.hasPermit(token) || this.now > deadline) return false;
    if (sig.signer !== owner || sig.owner !== owner || sig.spender !== spender || sig.value !== value) return false;
    if (sig.deadline !== deadline || sig.nonce !== this.nonce(owner, token)) return false;
    this.nonces.set(key(owner, token), sig.nonce + 1n);
    if (spender === this.adjudicator && this.allowances.has(key(owner, token))) this.allowances.set(key(owner, token), value);
    return true;
  }

  /**
   * {depositWithPermit} by `sender`: the token is asked for the sender's own permit of exactly
   * the amount to this contract, whatever its outcome the deposit then pulls from the sender.
   * On a revert the model is unchanged.
   */
  depositWithPermit(sender: Address, d: DepositArgs, deadline: bigint, sig: PermitSig): PermitDepositOutcome {
    const next = this.clone();
    const r = next.#depositWithPermit(sender, d, deadline, sig);
    if (r.ok) this.assign(next);
    return r;
  }

  #depositWithPermit(sender: Address, d: DepositArgs, deadline: bigint, sig: PermitSig): PermitDepositOutcome {
    const err = (error: string, permitted = false): PermitDepositOutcome => ({ ok: false, permitted, error });
    if (!this.validParams(d.params)) return err('InvalidParams');
    if (d.assetIndex >= BigInt(d.params.assets.length)) return err('InvalidAsset');
    if (d.participant > 1n) return err('InvalidParticipant');
    if (d.amount === 0n) return err('ZeroAmount');
    const asset = d.params.assets[Number(d.assetIndex)]!;
    if (asset === NATIVE) return err('InvalidAsset');
    const permitted = this.permit(asset, sender, this.adjudicator, d.amount, deadline, sig);
    const id = this.id(d.params);
    const held = this.holding(id, asset);
    if (held.closed) return err('ChannelIsClosed', permitted);
    const received = this.#pullToken(asset, sender, d.amount);
    if (received === undefined) return err('TransferFailed', permitted);
    if (received === 0n) return err('ZeroAmount', permitted);
    if (held.amount + received > MAX_HOLDINGS) return err('HoldingsOverflow', permitted);
    this.holdings.set(key(id, asset), { amount: held.amount + received, closed: false });
    return { ok: true, permitted, channelId: id, received, total: held.amount + received };
  }

  /** {depositBatch}: all or nothing. */
  depositBatch(sender: Address, items: readonly DepositArgs[], value: bigint): boolean {
    const next = this.clone();
    if (!next.#depositBatch(sender, items, value)) return false;
    this.assign(next);
    return true;
  }

  #depositBatch(sender: Address, items: readonly DepositArgs[], value: bigint): boolean {
    let ethTotal = 0n;
    for (const it of items) {
      if (!this.#depositArgsOk(it)) return false;
      if (it.params.assets[Number(it.assetIndex)] === NATIVE) ethTotal += it.amount;
      if (ethTotal > MAX_UINT256) return false;
    }
    if (value !== ethTotal) return false;
    if (value > 0n) {
      if (this.balance(sender, NATIVE) < value) return false;
      this.#addBalance(sender, NATIVE, -value);
      this.#addBalance(this.adjudicator, NATIVE, value);
    }
    const sums = new Map<Address, bigint>();
    for (const it of items) {
      const token = it.params.assets[Number(it.assetIndex)]!;
      if (token === NATIVE) continue;
      sums.set(token, (sums.get(token) ?? 0n) + it.amount);
    }
    for (const [token, sum] of sums) {
      if (sum > MAX_UINT256) return false;
      const received = this.#pullToken(token, sender, sum);
      if (received !== sum) return false;
    }
    for (const it of items) {
      const id = this.id(it.params);
      const asset = it.params.assets[Number(it.assetIndex)]!;
      const held = this.holding(id, asset);
      if (held.closed || held.amount + it.amount > MAX_HOLDINGS) return false;
      this.holdings.set(key(id, asset), { amount: held.amount + it.amount, closed: false });
    }
    return true;
  }

  /** {depositFromWithdrawable}. */
  depositFromWithdrawable(sender: Address, d: DepositArgs): boolean {
    if (!this.#depositArgsOk(d)) return false;
    const id = this.id(d.params);
    const asset = d.params.assets[Number(d.assetIndex)]!;
    const available = this.owed(sender, asset);
    const held = this.holding(id, asset);
    if (available < d.amount || held.closed || held.amount + d.amount > MAX_HOLDINGS) return false;
    this.withdrawable.set(key(sender, asset), available - d.amount);
    this.holdings.set(key(id, asset), { amount: held.amount + d.amount, closed: false });
    return true;
  }

  /** {withdraw}. */
  withdraw(sender: Address, asset: Address, to: Address): boolean {
    const amount = this.owed(sender, asset);
    if (amount === 0n) return false;
    const next = this.clone();
    next.withdrawable.set(key(sender, asset), 0n);
    const ok = asset === NATIVE ? next.#pushEth(to, amount) : next.#pushToken(asset, to, amount);
    if (!ok) return false;
    this.assign(next);
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // Settlement: items fail alone; the call itself never reverts

  /** `skip`: items that failed on-chain for reasons the model does not see (crafted calldata). */
  closeBatch(items: readonly ModelItem[], payout: Payout, skip: ReadonlySet<number> = new Set()): CallOutcome {
    const acc = new Map<string, { to: Address; asset: Address; amount: bigint }>();
    const outcomes = items.map((it, i) => (skip.has(i) ? fail(ZERO_ID, 'malformed') : this.#close(it, acc)));
    this.#flush(acc, payout);
    return { reverted: false, items: outcomes };
  }

  #close(it: ModelItem, acc: Map<string, { to: Address; asset: Address; amount: bigint }>): ItemOutcome {
    const p = it.params;
    const s = it.state;
    // A close item carries no locks and no final flag: it is final and lock-free by definition.
    if (!this.validParams(p) || s.balances.length !== 2 * p.assets.length) return fail(ZERO_ID, 'malformed');
    const id = this.id(p);
    // The contract checks the signatures against the digest of (version, balances, no locks,
    // final): a signature of any other state, a non-final one say, is someone else's digest.
    const closeShaped = s.isFinal && s.locks.length === 0;
    const sig = this.#sigs(
      p,
      closeShaped
        ? it.sigs
        : [
            { ...it.sigs[0], signer: 'random' },
            { ...it.sigs[1], signer: 'random' },
          ],
    );
    if (sig) return fail(id, sig);
    let funded = false;
    let exceeds = false;
    for (const [a, asset] of p.assets.entries()) {
      const h = this.holding(id, asset);
      if (h.closed) return fail(id, 'channel-closed');
      if (h.amount !== 0n) funded = true;
      const total = s.balances[2 * a]! + s.balances[2 * a + 1]!;
      if (total > MAX_UINT256) return fail(id, 'malformed');
      if (total > h.amount) exceeds = true;
    }
    if (!funded) return fail(id, 'unknown-channel');
    if (exceeds) return fail(id, 'exceeds-holdings');
    for (const [a, asset] of p.assets.entries()) {
      const h = this.holding(id, asset);
      this.holdings.set(key(id, asset), { amount: h.amount - s.balances[2 * a]! - s.balances[2 * a + 1]!, closed: true });
      credit(acc, p.participants[0], asset, s.balances[2 * a]!);
      credit(acc, p.participants[1], asset, s.balances[2 * a + 1]!);
    }
    return { channelId: id, ok: true };
  }

  challengeBatch(items: readonly ModelItem[]): CallOutcome {
    return { reverted: false, items: items.map((it) => this.#challenge(it)) };
  }

  #challenge(it: ModelItem): ItemOutcome {
    const p = it.params;
    const s = it.state;
    if (!this.#wellFormed(p, s)) return fail(ZERO_ID, 'malformed');
    const id = this.id(p);
    const sig = this.#sigs(p, it.sigs);
    if (sig) return fail(id, sig);
    let funded = false;
    for (const asset of p.assets) {
      const h = this.holding(id, asset);
      if (h.closed) return fail(id, 'channel-closed');
      if (h.amount !== 0n) funded = true;
    }
    if (!funded) return fail(id, 'unknown-channel');
    const d = this.disputes.get(id);
    let finalizesAt: bigint;
    if (d) {
      if (this.now >= d.finalizesAt) return fail(id, 'challenge-expired');
      if (s.version <= d.version) return fail(id, 'stale-version');
      finalizesAt = d.finalizesAt;
    } else {
      finalizesAt = this.now + p.challengeDuration;
    }
    this.disputes.set(id, { version: s.version, finalizesAt, state: s });
    return { channelId: id, ok: true };
  }

  concludeBatch(items: readonly ModelItem[], payout: Payout): CallOutcome {
    const acc = new Map<string, { to: Address; asset: Address; amount: bigint }>();
    const outcomes = items.map((it) => this.#conclude(it, acc));
    this.#flush(acc, payout);
    return { reverted: false, items: outcomes };
  }

  #conclude(it: ModelItem, acc: Map<string, { to: Address; asset: Address; amount: bigint }>): ItemOutcome {
    const p = it.params;
    const s = it.state;
    if (!this.#wellFormed(p, s)) return fail(ZERO_ID, 'malformed');
    const id = this.id(p);
    const d = this.disputes.get(id);
    if (!d) return fail(id, 'not-challenged');
    if (this.now < d.finalizesAt) return fail(id, 'challenge-pending');
    if (!sameContent(d.state, s)) return fail(id, 'state-mismatch');
    // Balances only: what the locks hold stays in the channel until each is unlocked.
    const pay = [...s.balances];
    let funded = false;
    for (const [a, asset] of p.assets.entries()) {
      const h = this.holding(id, asset);
      if (h.closed) return fail(id, 'channel-closed');
      if (h.amount !== 0n) funded = true;
      if (pay[2 * a]! + pay[2 * a + 1]! > MAX_UINT256) return fail(id, 'malformed');
      // Underfunded: participant 0 first, then participant 1 takes what is left.
      if (pay[2 * a]! + pay[2 * a + 1]! > h.amount) {
        if (pay[2 * a]! > h.amount) pay[2 * a] = h.amount;
        pay[2 * a + 1] = h.amount - pay[2 * a]!;
      }
    }
    if (!funded) return fail(id, 'unknown-channel');
    for (const [a, asset] of p.assets.entries()) {
      const h = this.holding(id, asset);
      this.holdings.set(key(id, asset), { amount: h.amount - pay[2 * a]! - pay[2 * a + 1]!, closed: true });
    }
    this.disputes.delete(id);
    if (s.locks.length > 0) this.lockTrees.set(id, s.locks);
    for (const [a, asset] of p.assets.entries()) {
      credit(acc, p.participants[0], asset, pay[2 * a]!);
      credit(acc, p.participants[1], asset, pay[2 * a + 1]!);
    }
    return { channelId: id, ok: true };
  }

  unlockBatch(items: readonly ModelUnlock[], payout: Payout): CallOutcome {
    const acc = new Map<string, { to: Address; asset: Address; amount: bigint }>();
    const outcomes = items.map((it) => this.#unlock(it, acc));
    this.#flush(acc, payout);
    return { reverted: false, items: outcomes };
  }

  /** Who a concluded lock pays now: its receiver if revealed in time, its sender once expired, else nobody yet. */
  lockOutcome(l: ContractLock): 'receiver' | 'sender' | undefined {
    const when = this.revealedAt.get(l.hashlock) ?? 0n;
    if (when !== 0n && when < l.expiry) return 'receiver';
    return this.now >= l.expiry ? 'sender' : undefined;
  }

  #unlock(it: ModelUnlock, acc: Map<string, { to: Address; asset: Address; amount: bigint }>): ItemOutcome {
    const p = it.params;
    const l = it.lock;
    if (!this.validParams(p)) return fail(ZERO_ID, 'malformed');
    if (l.asset >= p.assets.length || l.sender > 1 || l.receiver !== 1 - l.sender || it.index >= BigInt(MAX_LOCKS))
      return fail(ZERO_ID, 'malformed');
    const id = this.id(p);
    const tree = this.lockTrees.get(id);
    if (!tree || !verifyLockProof(locksRoot(tree as readonly Lock[]), l as Lock, Number(it.index), it.proof))
      return fail(id, 'unknown-lock');
    const slot = `${id}|${it.index}`;
    if (this.unlocked.has(slot)) return fail(id, 'already-unlocked');
    const outcome = this.lockOutcome(l);
    if (!outcome) return fail(id, 'locks-pending');
    const asset = p.assets[l.asset]!;
    const h = this.holding(id, asset);
    if (l.amount > h.amount) return fail(id, 'exceeds-holdings');
    this.holdings.set(key(id, asset), { amount: h.amount - l.amount, closed: h.closed });
    this.unlocked.add(slot);
    credit(acc, p.participants[outcome === 'receiver' ? l.receiver : l.sender]!, asset, l.amount);
    return { channelId: id, ok: true };
  }

  /** Pays every netted (recipient, asset) once, in first-credit order; a failed push is owed instead. */
  #flush(acc: Map<string, { to: Address; asset: Address; amount: bigint }>, payout: Payout): void {
    for (const { to, asset, amount } of acc.values()) {
      if (payout === 'credit') {
        this.#addOwed(to, asset, amount);
        continue;
      }
      const ok = asset === NATIVE ? this.#pushEth(to, amount) : this.#pushToken(asset, to, amount);
      if (!ok) this.#addOwed(to, asset, amount);
    }
  }

  /** {revealSecrets}: `hashlocks` are keccak256 of each secret. */
  reveal(hashlocks: readonly Bytes32[]): void {
    for (const h of hashlocks) if (!this.revealedAt.has(h)) this.revealedAt.set(h, this.now);
  }
}

function fail(channelId: Bytes32, reason: Reason): ItemOutcome {
  return { channelId, ok: false, reason };
}

function credit(acc: Map<string, { to: Address; asset: Address; amount: bigint }>, to: Address, asset: Address, amount: bigint): void {
  if (amount === 0n) return;
  const k = key(to, asset);
  const e = acc.get(k);
  if (e) e.amount += amount;
  else acc.set(k, { to, asset, amount });
}

export function sameContent(a: ModelState, b: ModelState): boolean {
  if (a.isFinal !== b.isFinal || a.balances.length !== b.balances.length || a.locks.length !== b.locks.length) return false;
  if (a.balances.some((x, i) => x !== b.balances[i])) return false;
  return a.locks.every((l, i) => {
    const m = b.locks[i]!;
    return (
      l.id === m.id &&
      l.asset === m.asset &&
      l.amount === m.amount &&
      l.sender === m.sender &&
      l.receiver === m.receiver &&
      l.hashlock === m.hashlock &&
      l.expiry === m.expiry
    );
  });
}
