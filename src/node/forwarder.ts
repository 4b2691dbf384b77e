/**
 * The forwarding engine (issue 14; docs/adr/0011, 0019): routed locks in, routed locks out.
 *
 * A lock to us that carries a route onion is peeled with the node key. Its payload says either
 * "you are the payee" (handed to payments.ts) or "lock this much on channel C": the pure
 * {@link decideForward} checks fees, amounts, expiry and liquidity, and we then lock the next
 * channel with the same hashlock and the same expiry (one expiry per route, ADR 0011), carrying
 * the inner onion. When the outgoing lock leaves the co-signed state:
 *   - with the secret (the machine keeps it durably in the record's `learned` field before our
 *     signature on the settling state leaves: src/core/channel/learned.ts), we settle the
 *     incoming lock with it;
 *   - without, we give the incoming lock back, with the downstream failure report wrapped in our
 *     layer (or one of ours when there is none), so the payer learns which hop failed and why.
 *
 * What keeps an honest forwarder whole, even across a crash (nothing here is durable but what the
 * channel records hold):
 *   - an incoming lock is given back only once its outgoing lock was refused, or left the state
 *     without its secret; after a restart we do not know which incoming lock an outgoing one
 *     belonged to, so such an incoming lock is kept until its sender takes it back at expiry.
 *     The outgoing lock expires at the same time and pays downstream only if the secret is
 *     registered on-chain in time, and then it pays us upstream too (the registry is shared);
 *   - a secret we learned settles every incoming lock to us with its hashlock, found by hashlock
 *     in every channel's `learned` field, so a restart loses nothing;
 *   - a secret not settled upstream off-chain by `expiry − registrationMargin − slack` (the
 *     upstream refused, or is away) is registered on-chain, through the coordinator when there is
 *     one and else directly: the lock then pays us at close. The channel machines refuse an
 *     off-chain settle inside the margin (`settleMargin`), so downstream cannot hand us a secret
 *     too late to register.
 */
import { type Address, type Bytes32, keccak256Hex, hexToBytes } from '../core/bytes.ts';
import { learnedSecret } from '../core/channel/learned.ts';
import {
  type ForwardPolicy,
  type ForwardTiming,
  type HopPayload,
  type OnionResult,
  type SwapQuote,
  decideForward,
  sealFailure,
  wrapFailure,
} from '../core/forwarding/index.ts';
import type { Op } from '../core/ops.ts';
import type { Lock } from '../core/state.ts';
import { RejectedError } from '../sdk/errors.ts';
import type { Channel } from './channel.ts';
import type { Context } from './context.ts';

/** Onions of locks to us, kept from the counterparty's message until the lock is co-signed (bounded). */
const MAX_ONIONS = 65_536;
/** Downstream failure reports kept until their lock leaves the state (bounded). */
const MAX_FAILURES = 65_536;
/** Payee secrets kept for on-chain registration at most (one per lock whose settle failed). */
const MAX_CLAIMS = 100_000;
/** Seconds before `expiry − registrationMargin` at which an upstream settle still missing makes us register. */
export const REGISTER_SLACK = 30n;
/** Seconds a registration has to be mined before a check that does not find it on-chain counts. */
export const REVEAL_GRACE_S = 15n;
/** Seconds after sending a registration that has not reported back before it is checked on-chain anyway. */
export const UNREPORTED_GRACE_S = 45n;
/** Seconds between on-chain checks of one registration. */
const RECHECK_S = 5n;
/** How often incoming locks whose secret we know are looked at (ms). */
const SWEEP_MS = 1000;
/** How often learned secrets of locks settled upstream are dropped (see forgetSettled). */
const FORGET_SETTLED_MS = 50;
/** How long a settled hashlock whose secret is still needed is tried again before the sweeps take over. */
const SETTLED_KEPT_MS = 5_000;

export type Peeled = OnionResult<{ readonly payload: HopPayload; readonly next?: Uint8Array; readonly replyKey: Uint8Array }>;
export type FinalPayload = Extract<HopPayload, { kind: 'final' }>;

export interface ForwarderHost {
  readonly ctx: Context;
  submit(ch: Channel, op: Op): Promise<bigint>;
  nextOpId(ch: Channel): bigint;
  /** Opens the outer layer of an onion with the node key. */
  peel(onion: Uint8Array): Peeled;
  /** Our forwarding terms for asset `assetIndex` of `ch` (what our channel update announces). */
  policy(ch: Channel, assetIndex: number): ForwardPolicy;
  readonly timing: ForwardTiming;
  /**
   * Registers secrets on-chain: through the coordinator when there is one, else directly.
   * `direct`: our own transaction whatever the coordinator (one of these was registered through
   * it before and is not on-chain: a coordinator that reports success and does not deliver).
   */
  register(secrets: readonly Bytes32[], o?: { readonly direct?: boolean }): Promise<void>;
  /** Whether a lock we sent is one of our own payments' (payments.ts cancels those itself). */
  ownsLock(channelId: Bytes32, lockId: bigint): boolean;
  /**
   * Hashlocks of our own payments not yet final (payments.ts): a secret learned for one is kept
   * in the channel record until the payment's record holds it (a crash before then would
   * otherwise leave a settled payment looking failed, and paid again).
   */
  ownHashlocks?(): Iterable<Bytes32>;
  /**
   * Routed swaps (swap-quotes.ts): whether a quote in a swap payload is ours and unused, and
   * marking it used. Absent: this node converts nothing, and every swap payload is refused.
   */
  readonly quotes?: {
    check(q: SwapQuote): 'ours' | 'not-ours' | 'used' | 'unpaid';
    use(q: SwapQuote): void;
    /** The swap under `q` gave our outgoing lock back without the secret after `heldMs` (reputation). */
    unrevealed(q: SwapQuote, heldMs: number): void;
  };
}

/** What {@link Forwarder.take} did with a lock to us. */
export type Taken =
  | { readonly kind: 'none' } // no onion: not a routed lock (a direct payment's, payments.ts)
  | { readonly kind: 'taken' } // forwarded, or failed back
  | { readonly kind: 'final'; readonly payload: FinalPayload; readonly replyKey: Uint8Array };

interface Forward {
  readonly inCh: Bytes32;
  readonly inLock: bigint;
  readonly replyKey: Uint8Array;
  readonly hashlock: Bytes32;
  readonly asset: Address;
  readonly amountIn: bigint;
  readonly outCh: Bytes32;
  readonly outLock: bigint;
  /** The outgoing lock's asset: `asset`, or another one for a routed swap. */
  readonly assetOut: Address;
  readonly amountOut: bigint;
  /** What our policy charged, in `assetOut`. */
  readonly fee: bigint;
  readonly expiry: bigint;
  /** A routed swap's quote (ours), for the asker's reputation when it comes back unrevealed. */
  readonly quote?: SwapQuote;
  /** When the outgoing lock was sent (ms, from the node clock's seconds). */
  readonly sentAt: number;
  /** Seen in a co-signed state of the outgoing channel. */
  present: boolean;
}

const key = (channelId: Bytes32, lockId: bigint): string => `${channelId}:${lockId}`;

export class Forwarder {
  private readonly host: ForwarderHost;
  private readonly ctx: Context;
  private readonly onions = new Map<string, Uint8Array>();
  private readonly failures = new Map<string, Uint8Array>();
  /** Our outgoing forwarded locks, per outgoing channel and lock id. */
  private readonly out = new Map<Bytes32, Map<bigint, Forward>>();
  /** Incoming locks we took (forwarded, failed back or handed to the payee), by `channel:lock`. */
  private readonly taken = new Set<string>();
  /** Incoming locks with a settle or a cancel of ours in flight. */
  private readonly busy = new Set<string>();
  /** Hashlocks whose secret we sent for registration, and when (unix s). */
  private readonly registered = new Map<Bytes32, bigint>();
  /** Hashlocks whose registration was found missing on-chain: registered again directly. */
  private readonly missed = new Set<Bytes32>();
  /** Incoming locks whose off-chain settle the upstream refused: register without waiting. */
  private readonly refused = new Set<string>();
  /** Secrets we know for hashlocks of locks to us (learned downstream), by hashlock. */
  private readonly secrets = new Map<Bytes32, Bytes32>();
  /**
   * Secrets of locks to us as their payee (payments.ts), given here after a settle of ours failed:
   * the counterparty may hold the secret and not countersign. The payments service settles them
   * again itself; the sweep only registers them on-chain, when late or when the channel is not
   * open and connected, so that the lock pays us at close.
   */
  private readonly claims = new Map<Bytes32, Bytes32>();
  private sweeper: NodeJS.Timeout | undefined;
  private offs: (() => void)[] = [];
  private stopped = false;
  /** False: every routed lock to forward is refused with `channel-disabled` (an operator's pause). */
  enabled = true;
  /** Counts for metrics and the testnet report. */
  readonly stats = {
    forwarded: 0,
    settled: 0,
    failed: 0,
    registered: 0,
    /** Registrations found missing on-chain (a reorg) and sent again. */
    reregistered: 0,
    swaps: 0,
    feesEarned: new Map<Address, bigint>(),
    /** Routed swaps: what came in and went out, per asset (net of the fees above). */
    swappedIn: new Map<Address, bigint>(),
    swappedOut: new Map<Address, bigint>(),
  };

  constructor(host: ForwarderHost) {
    this.host = host;
    this.ctx = host.ctx;
  }

  start(): void {
    for (const ch of this.ctx.channels.values()) for (const l of ch.record.learned ?? []) this.secrets.set(l.hashlock, l.secret);
    this.offs.push(this.ctx.events.on('channel-updated', (e) => this.updated(e.channelId)));
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.sweeper);
    clearTimeout(this.forgetTimer);
    for (const off of this.offs.splice(0)) off();
  }

  /**
   * The counterparty's operations, before they are applied: onions of locks to us, failure
   * reports on cancels of our forwarded locks. Called by payments.ts's message observer.
   */
  observe(ch: Channel, ops: readonly Op[]): void {
    for (const op of ops) {
      if (op.kind === 'lock') {
        if (op.onion === undefined || op.lock.receiver !== ch.self) continue;
        // A lock already co-signed is not new: the machine refuses the operation as a duplicate.
        // Its onion is not taken either. After a restart (`taken` is empty) a sender re-sending
        // an old lock with a fresh onion would otherwise have it forwarded a second time.
        if (ch.latest?.state.locks.some((x) => x.id === op.lock.id && x.receiver === ch.self)) continue;
        if (this.onions.size >= MAX_ONIONS) this.onions.delete(this.onions.keys().next().value!);
        this.onions.set(key(ch.id, op.lock.id), op.onion);
      } else if (op.kind === 'settle') {
        // The next hop reveals the secret of a lock we forwarded: settle the incoming lock with it
        // now, not once the settle downstream is co-signed. Safe: knowing the secret is all that
        // claiming upstream needs, and downstream the lock pays whether or not we hurry (its
        // receiver holds the secret). It saves a co-signed update per hop on the way back.
        const f = this.out.get(ch.id)?.get(op.lockId);
        if (f === undefined || keccak256Hex(hexToBytes(op.secret)) !== f.hashlock) continue;
        this.secrets.set(f.hashlock, op.secret);
        const inCh = this.ctx.channels.get(f.inCh);
        if (inCh) this.settleIn(inCh, f.inLock, op.secret);
      } else if (op.kind === 'cancel') {
        if (op.failure === undefined || !this.out.get(ch.id)?.has(op.lockId)) continue;
        if (this.failures.size >= MAX_FAILURES) this.failures.delete(this.failures.keys().next().value!);
        this.failures.set(key(ch.id, op.lockId), op.failure);
      }
    }
  }

  /** A co-signed lock to us, not one of our invoices': forward it, fail it, or hand it to the payee. */
  take(ch: Channel, l: Lock): Taken {
    const k = key(ch.id, l.id);
    if (this.taken.has(k)) return { kind: 'taken' };
    const onion = this.onions.get(k);
    if (onion === undefined) return { kind: 'none' };
    this.onions.delete(k);
    const peeled = this.host.peel(onion);
    if (!peeled.ok) {
      // Not sealed to us, or garbled: we cannot seal a report the payer could open, so the cancel
      // carries none and the payer blames the hop before us (openFailure).
      this.ctx.channelLog(ch).info({ reason: peeled.reason, detail: peeled.detail }, 'a routed lock with a bad onion: giving it back');
      this.taken.add(k);
      this.cancelIn(ch, l.id, undefined);
      return { kind: 'taken' };
    }
    const { payload, replyKey } = peeled.value;
    const asset = ch.record.params.assets[l.asset]!;
    const now = this.ctx.now();
    const next = payload.kind === 'final' ? undefined : this.ctx.channels.get(payload.channelId);
    const outAsset = payload.kind === 'swap' ? payload.quote.to : asset;
    const decision = decideForward({
      ...(payload.kind === 'swap' ? { quote: this.host.quotes?.check(payload.quote) ?? 'not-ours' } : {}),
      incoming: l,
      asset,
      payload,
      now,
      timing: this.host.timing,
      next:
        next === undefined || next === ch
          ? undefined
          : {
              channelId: next.id,
              open: next.record.status === 'open' && next.latest !== undefined && next.machine.connected,
              assets: next.record.params.assets,
              spendable: next.latest?.state.balances.map((b) => b[next.self]) ?? [],
              locks: next.latest?.state.locks.reduce((n, x) => (x.sender === next.self ? n + 1 : n), 0) ?? 0,
              policy: this.host.policy(next, Math.max(0, next.record.params.assets.indexOf(outAsset))),
            },
    });
    if (decision.action === 'receive') return { kind: 'final', payload: payload as FinalPayload, replyKey };
    this.taken.add(k);
    if (decision.action === 'fail') {
      this.ctx.channelLog(ch).debug({ reason: decision.reason, detail: decision.detail, hashlock: l.hashlock }, 'routed lock refused');
      this.stats.failed++;
      this.cancelIn(ch, l.id, sealFailure(replyKey, decision.reason, decision.detail));
      return { kind: 'taken' };
    }
    const outCh = next!;
    if (payload.kind === 'swap') this.host.quotes?.use(payload.quote);
    const outLock = this.host.nextOpId(outCh);
    const f: Forward = {
      inCh: ch.id,
      inLock: l.id,
      replyKey,
      hashlock: l.hashlock,
      asset,
      amountIn: l.amount,
      outCh: outCh.id,
      outLock,
      assetOut: outAsset,
      amountOut: decision.lock.amount,
      fee: decision.fee,
      expiry: l.expiry,
      ...(payload.kind === 'swap' ? { quote: payload.quote } : {}),
      sentAt: Number(now) * 1000,
      present: false,
    };
    let m = this.out.get(outCh.id);
    if (!m) this.out.set(outCh.id, (m = new Map()));
    m.set(outLock, f);
    const lock: Lock = { id: outLock, sender: outCh.self, receiver: outCh.counterparty, ...decision.lock };
    const op: Op = {
      kind: 'lock',
      id: this.host.nextOpId(outCh),
      by: outCh.self,
      lock,
      ...(peeled.value.next === undefined ? {} : { onion: peeled.value.next }),
    };
    this.host.submit(outCh, op).then(
      () => this.markPresent(outCh, f),
      (e: unknown) => {
        if ((e as { maybeApplied?: unknown }).maybeApplied === true) {
          // The next hop may hold a state with the lock: it is watched in the states that come
          // (updated); the incoming lock stays until one shows it gone, or its sender takes it at expiry.
          return;
        }
        this.untrack(f);
        const detail = e instanceof RejectedError ? `${e.reason}: ${e.detail}` : e instanceof Error ? e.message : 'the lock failed';
        this.stats.failed++;
        this.cancelIn(ch, l.id, sealFailure(replyKey, 'temporary-channel-failure', detail));
      },
    );
    return { kind: 'taken' };
  }

  /**
   * A secret registered on-chain (by anyone: the next hop, us, the coordinator): locks to us
   * with its hashlock are settled with it, off-chain (the machine accepts it after the expiry
   * when the registration came before), or they pay us at close.
   */
  learn(hashlock: Bytes32, secret: Bytes32, at: bigint): void {
    if (keccak256Hex(hexToBytes(secret)) !== hashlock) return;
    this.secrets.set(hashlock, secret);
    if (!this.registered.has(hashlock)) this.registered.set(hashlock, at);
    this.watchRegistration(hashlock, this.ctx.now());
  }

  /** A payee's secret that left us in a settle not co-signed (see `claims`); wrong secrets are ignored. */
  claim(hashlock: Bytes32, secret: Bytes32): void {
    if (keccak256Hex(hexToBytes(secret)) !== hashlock) return;
    if (this.claims.size >= MAX_CLAIMS && !this.claims.has(hashlock)) this.claims.delete(this.claims.keys().next().value!);
    this.claims.set(hashlock, secret);
  }

  /** Cancels (gives back) a lock to us, with a failure report for the payer. */
  private cancelIn(ch: Channel, lockId: bigint, failure: Uint8Array | undefined): void {
    const k = key(ch.id, lockId);
    if (this.busy.has(k)) return;
    this.busy.add(k);
    const op: Op = { kind: 'cancel', id: this.host.nextOpId(ch), by: ch.self, lockId, ...(failure === undefined ? {} : { failure }) };
    this.host.submit(ch, op).then(
      () => {
        this.busy.delete(k);
      },
      (e: unknown) => {
        this.busy.delete(k);
        // Its sender takes it back at expiry anyway; log and leave it.
        this.ctx.channelLog(ch).debug({ err: e, lockId }, 'giving a routed lock back failed');
      },
    );
  }

  private markPresent(outCh: Channel, f: Forward): void {
    if (!this.out.get(f.outCh)?.has(f.outLock)) return;
    f.present = true;
    if (!outCh.latest?.state.locks.some((x) => x.id === f.outLock && x.sender === outCh.self)) this.resolve(outCh, f);
  }

  private untrack(f: Forward): void {
    const m = this.out.get(f.outCh);
    m?.delete(f.outLock);
    if (m?.size === 0) this.out.delete(f.outCh);
    this.failures.delete(key(f.outCh, f.outLock));
  }

  /** A new co-signed state of `channelId`: our forwarded locks that left it. */
  private updated(channelId: Bytes32): void {
    if (this.stopped) return;
    const mine = this.out.get(channelId);
    if (!mine) return;
    const ch = this.ctx.channels.get(channelId);
    const state = ch?.latest?.state;
    if (!ch || !state) return;
    const ids = new Set<bigint>();
    for (const l of state.locks) if (l.sender === ch.self) ids.add(l.id);
    for (const f of [...mine.values()]) {
      if (ids.has(f.outLock)) f.present = true;
      else if (f.present) this.resolve(ch, f);
    }
  }

  /** Our outgoing forwarded lock left the state: settle or give back the incoming one. */
  private resolve(outCh: Channel, f: Forward): void {
    const failure = this.failures.get(key(f.outCh, f.outLock));
    this.untrack(f);
    const inCh = this.ctx.channels.get(f.inCh);
    const secret = learnedSecret(outCh.machine, f.hashlock)?.secret;
    if (secret !== undefined && keccak256Hex(hexToBytes(secret)) === f.hashlock) {
      this.secrets.set(f.hashlock, secret);
      this.stats.forwarded++;
      const swap = f.assetOut !== f.asset;
      const fee = swap ? f.fee : f.amountIn - f.amountOut;
      const add = (m: Map<Address, bigint>, a: Address, x: bigint) => m.set(a, (m.get(a) ?? 0n) + x);
      add(this.stats.feesEarned, f.assetOut, fee);
      if (swap) {
        this.stats.swaps++;
        add(this.stats.swappedIn, f.asset, f.amountIn);
        add(this.stats.swappedOut, f.assetOut, f.amountOut + fee);
      }
      this.ctx.events.emit('payment-forwarded', {
        paymentHash: f.hashlock,
        asset: f.asset,
        incoming: { channelId: f.inCh, amount: f.amountIn },
        outgoing: { channelId: f.outCh, amount: f.amountOut, ...(swap ? { asset: f.assetOut } : {}) },
        fee,
      });
      if (inCh) this.settleIn(inCh, f.inLock, secret);
      return;
    }
    if (f.quote !== undefined) this.host.quotes?.unrevealed(f.quote, Number(this.ctx.now()) * 1000 - f.sentAt);
    if (!inCh) return;
    this.stats.failed++;
    const report =
      failure !== undefined
        ? wrapFailure(f.replyKey, failure)
        : sealFailure(f.replyKey, 'temporary-channel-failure', 'the next hop gave the lock back without a report');
    this.cancelIn(inCh, f.inLock, report);
  }

  /** Settles a lock to us with the secret we learned downstream. */
  private settleIn(ch: Channel, lockId: bigint, secret: Bytes32): void {
    const k = key(ch.id, lockId);
    if (this.busy.has(k)) return;
    const lock = ch.latest?.state.locks.find((l) => l.id === lockId && l.receiver === ch.self);
    if (!lock) return;
    this.busy.add(k);
    this.host.submit(ch, { kind: 'settle', id: this.host.nextOpId(ch), by: ch.self, lockId, secret }).then(
      () => {
        this.busy.delete(k);
        this.stats.settled++;
        this.secretKept(lock.hashlock);
      },
      (e: unknown) => {
        this.busy.delete(k);
        if (e instanceof RejectedError && !e.maybeApplied) this.refused.add(k);
        this.ctx.channelLog(ch).info({ err: e, lockId }, 'settling a forwarded lock upstream failed: again at the next sweep');
      },
    );
  }

  /**
   * Every second: locks to us whose secret we know are settled (again), and those that cannot be
   * settled off-chain in time get their secret registered on-chain (deadline-aware, batched).
   */
  private sweep(): void {
    if (this.stopped) return;
    const now = this.ctx.now();
    this.cancelExpired(now);
    this.forgetUnneeded();
    this.learnFromRecords();
    this.pruneTaken();
    if (this.secrets.size === 0 && this.claims.size === 0) return;
    const margin = this.host.timing.registrationMargin;
    const toRegister: Bytes32[] = [];
    const live = new Set<Bytes32>();
    /** Registered hashlocks of locks to us not expired yet: still on-chain? */
    const toCheck = new Set<Bytes32>();
    for (const ch of this.ctx.channels.values()) {
      const state = ch.latest?.state;
      if (!state || state.locks.length === 0) continue;
      for (const l of state.locks) {
        if (l.receiver !== ch.self) continue;
        const learned = this.secrets.get(l.hashlock);
        const secret = learned ?? this.claims.get(l.hashlock);
        if (secret === undefined) continue;
        live.add(l.hashlock);
        const k = key(ch.id, l.id);
        const open = ch.record.status === 'open';
        if (learned !== undefined && open && ch.machine.connected && now + margin < l.expiry) this.settleIn(ch, l.id, secret);
        const late = now + margin + REGISTER_SLACK >= l.expiry;
        if ((late || this.refused.has(k) || !open || !ch.machine.connected) && now < l.expiry && !this.registered.has(l.hashlock)) {
          this.registered.set(l.hashlock, now);
          // Checked on-chain even if the registration never reports back (a coordinator gone quiet).
          this.watchRegistration(l.hashlock, now + UNREPORTED_GRACE_S);
          toRegister.push(secret);
        }
        // Registered in time: the machine now accepts the settle, even past the expiry.
        if (learned !== undefined && this.registered.has(l.hashlock) && open && ch.machine.connected && !this.busy.has(k))
          this.settleIn(ch, l.id, secret);
        if (now < l.expiry && this.registered.has(l.hashlock)) toCheck.add(l.hashlock);
      }
    }
    this.checkRegistrations(toCheck, now);
    // Secrets no lock to us needs any more.
    for (const h of [...this.secrets.keys()]) if (!live.has(h) && !this.pendingFor(h)) this.secrets.delete(h);
    for (const h of [...this.registered.keys()]) if (!live.has(h) && !this.secrets.has(h)) this.registered.delete(h);
    for (const h of [...this.claims.keys()]) if (!live.has(h)) this.claims.delete(h);
    for (const h of this.missed) if (!live.has(h)) this.missed.delete(h);
    if (toRegister.length > 0) {
      this.stats.registered += toRegister.length;
      this.ctx.log.warn({ secrets: toRegister.length }, 'registering learned secrets on-chain: upstream did not settle in time');
      // Registrations found missing go as our own transactions; the rest as usual.
      const groups = { first: new Map<Bytes32, Bytes32>(), again: new Map<Bytes32, Bytes32>() };
      for (const s of toRegister) {
        const h = keccak256Hex(hexToBytes(s)) as Bytes32;
        groups[this.missed.has(h) ? 'again' : 'first'].set(h, s);
      }
      for (const [name, group] of Object.entries(groups)) {
        if (group.size === 0) continue;
        this.host.register([...group.values()], name === 'again' ? { direct: true } : undefined).then(
          () => {
            for (const h of group.keys()) this.watchRegistration(h, this.ctx.now());
          },
          (e: unknown) => {
            for (const h of group.keys()) this.registered.delete(h);
            this.ctx.log.error({ err: e }, 'registering secrets on-chain failed: again at the next sweep');
          },
        );
      }
    }
  }

  /**
   * Secrets in the channel records' learned lists that we do not hold: a settle downstream of a
   * forward made before a restart (its `Forward` is gone, so neither `observe` nor `resolve`
   * sees it). The machine stored the secret (it checks it against the lock's hashlock); held
   * here, the sweep settles the lock to us upstream with it, or registers it in time. Before,
   * such a forward paid downstream and was never claimed upstream: the sender took its lock
   * back at the expiry.
   */
  private learnFromRecords(): void {
    for (const ch of this.ctx.channels.values())
      for (const l of ch.record.learned ?? []) if (!this.secrets.has(l.hashlock)) this.secrets.set(l.hashlock, l.secret);
  }

  /**
   * Incoming locks we took, or whose settle the upstream refused, that are no longer in their
   * channel's latest state: nothing asks about them again (lock ids are never reused), and the
   * sets would otherwise grow with every payment forwarded.
   */
  private pruneTaken(): void {
    const present = new Set<string>();
    for (const ch of this.ctx.channels.values())
      for (const l of ch.latest?.state.locks ?? []) if (l.receiver === ch.self) present.add(key(ch.id, l.id));
    for (const k of this.taken) if (!present.has(k)) this.taken.delete(k);
    for (const k of this.refused) if (!present.has(k)) this.refused.delete(k);
  }

  /**
   * A registration is checked on-chain again while its lock to us lives: a reorg can take the
   * transaction out after its receipt (the coordinator reports a batch at its first receipt),
   * and a registration by another party can go the same way. A registration is checked once it
   * has been reported mined for {@link REVEAL_GRACE_S}, or sent for {@link UNREPORTED_GRACE_S}
   * + that without a report. One found missing at two checks in a row is forgotten, and the
   * next sweep registers it again (before the expiry). At most one check per hashlock each
   * {@link RECHECK_S}.
   */
  private checkRegistrations(hashlocks: ReadonlySet<Bytes32>, now: bigint): void {
    for (const h of [...this.checks.keys()]) if (!hashlocks.has(h)) this.checks.delete(h);
    for (const h of hashlocks) {
      const c = this.checks.get(h);
      if (c === undefined || now - c.since < REVEAL_GRACE_S || c.busy || now < c.next) continue;
      c.next = now + RECHECK_S;
      c.busy = true;
      const since = c.since;
      this.ctx.chain.revealedAt(h).then(
        (at) => {
          c.busy = false;
          if (c.since !== since || this.checks.get(h) !== c) return; // registered again meanwhile
          if (at !== 0n) return void (c.misses = 0);
          // Two misses in a row, RECHECK_S apart: one read from a lagging node is not enough.
          if (++c.misses < 2) return;
          this.checks.delete(h);
          this.registered.delete(h);
          this.missed.add(h); // not through whoever reported it done: our own transaction next
          this.stats.reregistered++;
          this.ctx.log.warn({ hashlock: h }, 'a secret we registered is not on-chain (a reorg?): registering it again');
        },
        (e: unknown) => {
          c.busy = false;
          this.ctx.log.warn({ err: e, hashlock: h }, 'checking a registration on-chain failed: again in a few seconds');
        },
      );
    }
  }

  /** A registration to check from `since` (unix s): reported mined, seen on-chain, or just sent (with a grace added). */
  private watchRegistration(hashlock: Bytes32, since: bigint): void {
    const c = this.checks.get(hashlock);
    if (c) c.since = since;
    else this.checks.set(hashlock, { since, next: 0n, misses: 0, busy: false });
  }

  /**
   * Registrations checked on-chain again (checkRegistrations), by hashlock: from when, when
   * next, the misses in a row, and whether a check is in flight.
   */
  private readonly checks = new Map<Bytes32, { since: bigint; next: bigint; misses: number; busy: boolean }>();

  /**
   * Forwarded locks we sent that passed their expiry unregistered are ours again: we cancel them
   * (the sender may, once expired). Found in the channel states, not in our memory of forwards,
   * so that a restart leaves none behind.
   */
  private cancelExpired(now: bigint): void {
    for (const ch of this.ctx.channels.values()) {
      const state = ch.latest?.state;
      if (!state || state.locks.length === 0 || ch.record.status !== 'open' || !ch.machine.connected) continue;
      for (const l of state.locks) {
        if (l.sender !== ch.self || l.expiry > now || this.host.ownsLock(ch.id, l.id)) continue;
        if (ch.record.revealed?.some((r) => r.hashlock === l.hashlock && r.at < l.expiry)) continue; // it pays downstream
        const k = key(ch.id, l.id);
        if (this.busy.has(k)) continue;
        this.busy.add(k);
        this.host.submit(ch, { kind: 'cancel', id: this.host.nextOpId(ch), by: ch.self, lockId: l.id }).then(
          () => this.busy.delete(k),
          () => this.busy.delete(k),
        );
      }
    }
  }

  /** Hashlocks whose lock to us was settled (co-signed, durable), and when (ms): their learned secrets can go. */
  private readonly settledUp = new Map<Bytes32, number>();
  private forgetTimer: NodeJS.Timeout | undefined;

  /**
   * The secret of `hashlock` is durable where it pays us (a co-signed settle of our lock
   * upstream, or our own payment's record): the copy in a channel record's learned secrets can go.
   */
  secretKept(hashlock: Bytes32): void {
    if (this.stopped) return;
    this.settledUp.set(hashlock, Date.now());
    this.forgetTimer ??= setTimeout(() => this.forgetSettled(), FORGET_SETTLED_MS).unref();
  }

  /**
   * Learned secrets whose lock to us is settled are dropped at once (every
   * {@link FORGET_SETTLED_MS}), not at the sweeps: under load a forwarder learns hundreds of
   * secrets a second, and each record write encodes all those its channel holds (ADR 0019). The
   * settle that triggers this is co-signed and durable; a secret still needed by another lock to
   * us (the same hashlock elsewhere, a dispute, a forward in flight) is kept, and tried again
   * until it is {@link SETTLED_KEPT_MS} old, after which the sweeps decide.
   */
  private forgetSettled(): void {
    this.forgetTimer = undefined;
    if (this.stopped || this.settledUp.size === 0) return;
    const needed = this.neededHashlocks();
    const gone = new Set<string>();
    for (const ch of this.ctx.channels.values()) {
      const learned = ch.record.learned;
      if (!learned || learned.length === 0) continue;
      const forget: string[] = [];
      for (const x of learned) if (this.settledUp.has(x.hashlock as Bytes32) && !needed.has(x.hashlock)) forget.push(x.hashlock);
      if (forget.length === 0) continue;
      for (const h of forget) gone.add(h);
      ch.input({ kind: 'forget-learned', hashlocks: forget });
    }
    const old = Date.now() - SETTLED_KEPT_MS;
    for (const [h, at] of this.settledUp) if (gone.has(h) || at < old) this.settledUp.delete(h);
    if (this.settledUp.size > 0) this.forgetTimer = setTimeout(() => this.forgetSettled(), FORGET_SETTLED_MS).unref();
  }

  /**
   * Hashlocks a learned secret is needed for: a lock to us with it in a channel's latest,
   * registered or concluded state, or a forward of ours with it in flight.
   */
  private neededHashlocks(): Set<string> {
    const needed = new Set<string>();
    for (const ch of this.ctx.channels.values()) {
      const r = ch.record;
      for (const state of [ch.latest?.state, r.dispute?.state, r.concludedLocks?.state])
        for (const l of state?.locks ?? []) if (l.receiver === ch.self) needed.add(l.hashlock);
    }
    for (const m of this.out.values()) for (const f of m.values()) needed.add(f.hashlock);
    for (const h of this.host.ownHashlocks?.() ?? []) needed.add(h);
    return needed;
  }

  /** Learned secrets found unneeded at the last sweep, by channel: forgotten if still unneeded at this one. */
  private unneeded = new Map<Bytes32, Set<string>>();

  /**
   * Learned secrets (in each channel record's `learned`) that nothing needs any more are
   * dropped, so that under load the list does not sit at its cap and make every record write
   * re-encode thousands of secrets (ADR 0019). A secret is needed while a lock to us with its
   * hashlock is in a channel's latest, registered or concluded state, or a forward of ours with
   * it is in flight. A payer's own secrets are in its payment records. To leave writes in flight
   * time to land, a secret goes only after two sweeps in a row found it unneeded.
   */
  private forgetUnneeded(): void {
    let any = false;
    for (const ch of this.ctx.channels.values()) if ((ch.record.learned?.length ?? 0) > 0) any = true;
    if (!any) {
      this.unneeded.clear();
      return;
    }
    const needed = this.neededHashlocks();
    const next = new Map<Bytes32, Set<string>>();
    for (const ch of this.ctx.channels.values()) {
      const learned = ch.record.learned;
      if (!learned || learned.length === 0) continue;
      const before = this.unneeded.get(ch.id);
      const now = new Set<string>();
      const forget: string[] = [];
      for (const x of learned) {
        if (needed.has(x.hashlock)) continue;
        if (before?.has(x.hashlock)) forget.push(x.hashlock);
        else now.add(x.hashlock);
      }
      if (forget.length > 0) ch.input({ kind: 'forget-learned', hashlocks: forget });
      if (now.size > 0) next.set(ch.id, now);
    }
    this.unneeded = next;
  }

  /** Whether a forward of ours with this hashlock is still in flight. */
  private pendingFor(h: Bytes32): boolean {
    for (const m of this.out.values()) for (const f of m.values()) if (f.hashlock === h) return true;
    return false;
  }

  /** Forwards in flight (for tests and status). */
  get inFlight(): number {
    let n = 0;
    for (const m of this.out.values()) n += m.size;
    return n;
  }
}
