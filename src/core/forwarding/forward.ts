/**
 * What a node does with an incoming lock that carries a route onion (docs/adr/0011): forward it
 * on the channel the onion names, take it as the payee, or fail it back with a reason. Pure: the
 * caller peels the onion, looks up the outgoing channel and passes the clock.
 *
 * One expiry for the whole route. A lock pays its receiver iff its secret is registered on-chain
 * before its expiry (the shared registry, docs/adr/0001), whoever registers it and whenever the
 * channel closes. So the outgoing lock keeps the incoming lock's expiry: once the secret is
 * registered in time, both pay; if not, both return. A hop needs only the time to register the
 * secret itself when the next hop reveals it late: the registration margin.
 */
import type { Address, Bytes32 } from '../bytes.ts';
import type { Lock } from '../state.ts';
import type { HopPayload } from './onion.ts';
import { quotedAmountIn } from './quote.ts';

/** Why a hop fails a routed lock back (the payer's scorer learns from it, with the hop). */
export const FORWARD_FAILURES = [
  'invalid-onion', // the onion does not open with our key, or does not parse
  'unknown-next-channel', // no open channel of ours by that id
  'channel-disabled', // we do not forward on it now (policy, or the peer is away)
  'fee-insufficient', // less than our base + proportional fee
  'amount-below-minimum',
  'amount-above-maximum',
  'expiry-too-soon', // not enough time left to register the secret if the next hop reveals it late
  'expiry-too-far', // locks our liquidity longer than we allow
  'asset-mismatch', // the next channel does not hold the incoming lock's asset
  'temporary-channel-failure', // not enough balance or lock slots on the next channel now
  'incorrect-payment-details', // payee: unknown hash, wrong amount, expired or paid invoice
  'quote-invalid', // a swap whose quote is not ours (not signed by our key, for this chain)
  'quote-expired', // a swap lock that came after its quote's validity
  'quote-used', // a quote honoured once already
  'quote-underpaid', // the incoming lock holds less than the quote's rate, fee and premium ask
  'quote-unpaid', // the quote's upfront premium has not reached us (ADR 0012, 3)
] as const;
export type ForwardFailure = (typeof FORWARD_FAILURES)[number];

export function isForwardFailure(x: unknown): x is ForwardFailure {
  return typeof x === 'string' && (FORWARD_FAILURES as readonly string[]).includes(x);
}

/** A node's forwarding terms for one of its channels (announced in its channel updates). */
export interface ForwardPolicy {
  readonly enabled: boolean;
  readonly baseFee: bigint;
  /** Proportional fee, parts per million of the forwarded amount. */
  readonly feePpm: bigint;
  readonly minAmount: bigint;
  readonly maxAmount: bigint;
  /** The most locks it holds in flight on this channel. */
  readonly maxLocks: number;
}

export interface ForwardTiming {
  /**
   * Seconds a hop needs to get a secret registered on-chain: submission, inclusion and the
   * chain's confirmations (docs/adr/0011). A lock is settled off-chain only until its expiry
   * minus this margin; after that, only through the registry.
   */
  readonly registrationMargin: bigint;
  /** Seconds a route needs at least, beyond the margin, to complete off-chain. */
  readonly minRouteWindow: bigint;
  /** Seconds ahead of now a hop accepts an expiry (its liquidity is locked until then). */
  readonly maxExpiryAhead: bigint;
}

export const DEFAULT_TIMING: ForwardTiming = { registrationMargin: 120n, minRouteWindow: 60n, maxExpiryAhead: 86_400n };

/** The next channel as the forwarding node sees it. */
export interface NextChannel {
  readonly channelId: Bytes32;
  readonly open: boolean;
  /** Asset addresses, by index. */
  readonly assets: readonly Address[];
  /** What we can lock on it now, per asset index (our balance less what our pending operations take). */
  readonly spendable: readonly bigint[];
  readonly locks: number;
  readonly policy: ForwardPolicy;
}

export type ForwardDecision =
  | {
      readonly action: 'forward';
      readonly channelId: Bytes32;
      /** The outgoing lock's terms: same hashlock and expiry, the asset by its index there. */
      readonly lock: Pick<Lock, 'asset' | 'amount' | 'hashlock' | 'expiry'>;
      /** In the outgoing lock's asset: what the policy charges (a forward: all the incoming lock holds above the outgoing one). */
      readonly fee: bigint;
      /** A routed swap: the outgoing lock pays `to`, and the incoming lock holds this much more than the quote asks (in `from`). */
      readonly swap?: { readonly from: Address; readonly to: Address; readonly surplus: bigint };
    }
  | { readonly action: 'receive'; readonly amount: bigint }
  | { readonly action: 'fail'; readonly reason: ForwardFailure; readonly detail: string };

const fail = (reason: ForwardFailure, detail: string): ForwardDecision => ({ action: 'fail', reason, detail });

/** The fee a policy charges to forward `amount`. */
export function forwardFee(p: Pick<ForwardPolicy, 'baseFee' | 'feePpm'>, amount: bigint): bigint {
  // Rounded down, as BOLT 7 and the payer's pathfinder (src/core/routing/pathfind.ts) compute it:
  // both sides must agree to the unit, or every route fails at its first forwarder.
  return p.baseFee + (amount * p.feePpm) / 1_000_000n;
}

/** Whether a lock expiring at `expiry` can still be settled off-chain at `now` (else only by the registry). */
export function settlesOffChain(expiry: bigint, now: bigint, t: Pick<ForwardTiming, 'registrationMargin'>): boolean {
  return now + t.registrationMargin < expiry;
}

/**
 * The decision for an incoming lock (ours to receive, co-signed) with its peeled payload.
 * `asset` is the incoming lock's asset address; `next` the channel a forward payload names, if
 * we have it.
 */
export function decideForward(o: {
  readonly incoming: Lock;
  readonly asset: Address;
  readonly payload: HopPayload;
  readonly next: NextChannel | undefined;
  readonly now: bigint;
  readonly timing?: ForwardTiming;
  /**
   * For a swap payload: whether its quote is ours (signed by our key in this deployment) and
   * unused, and whether its upfront premium (if it asks one) was received ('unpaid' if not). The
   * caller checks the signature, the nonces it has seen and the prepayments (src/node/swap-quotes.ts).
   */
  readonly quote?: 'ours' | 'not-ours' | 'used' | 'unpaid';
}): ForwardDecision {
  const t = o.timing ?? DEFAULT_TIMING;
  const { incoming, payload, now } = o;
  const left = incoming.expiry - now;
  if (left <= t.registrationMargin + t.minRouteWindow)
    return fail('expiry-too-soon', `the lock expires in ${left} s; a route needs ${t.registrationMargin + t.minRouteWindow} s`);
  if (left > t.maxExpiryAhead) return fail('expiry-too-far', `the lock expires in ${left} s; at most ${t.maxExpiryAhead} s`);
  if (payload.kind === 'final') {
    if (incoming.amount < payload.amount)
      return fail('incorrect-payment-details', `the lock holds ${incoming.amount}, the payer meant ${payload.amount}`);
    return { action: 'receive', amount: incoming.amount };
  }
  if (payload.kind === 'swap') {
    const q = payload.quote;
    if (o.quote === 'used') return fail('quote-used', `quote ${q.nonce} was used`);
    if (o.quote !== 'ours' && o.quote !== 'unpaid') return fail('quote-invalid', 'not our quote');
    if (now > q.validUntil) return fail('quote-expired', `the quote was valid until ${q.validUntil}, now ${now}`);
    if (o.quote === 'unpaid') return fail('quote-unpaid', `the upfront premium of ${q.upfront} for quote ${q.nonce} has not reached us`);
    if (o.asset !== q.from) return fail('asset-mismatch', `the quote takes ${q.from}, the lock holds ${o.asset}`);
    if (incoming.expiry > q.maxExpiry)
      return fail('expiry-too-far', `the lock expires at ${incoming.expiry}; the quote allows ${q.maxExpiry}`);
  }
  const next = o.next;
  if (!next || !next.open) return fail('unknown-next-channel', `no open channel ${payload.channelId}`);
  const p = next.policy;
  if (!p.enabled) return fail('channel-disabled', `not forwarding on ${next.channelId}`);
  const outAsset = payload.kind === 'swap' ? payload.quote.to : o.asset;
  const asset = next.assets.findIndex((a) => a === outAsset);
  if (asset < 0) return fail('asset-mismatch', `channel ${next.channelId} holds no ${outAsset}`);
  const amount = payload.amount;
  if (amount <= 0n || amount < p.minAmount) return fail('amount-below-minimum', `${amount} is below ${p.minAmount}`);
  if (amount > p.maxAmount) return fail('amount-above-maximum', `${amount} is above ${p.maxAmount}`);
  let fee: bigint;
  let swap: { from: Address; to: Address; surplus: bigint } | undefined;
  if (payload.kind === 'swap') {
    const q = payload.quote;
    if (amount > q.maxAmount) return fail('amount-above-maximum', `${amount} is above the quote's ${q.maxAmount}`);
    fee = forwardFee(p, amount);
    const want = quotedAmountIn(q, amount, fee);
    if (incoming.amount < want)
      return fail(
        'quote-underpaid',
        `the lock holds ${incoming.amount}; ${amount} out at ${q.rateNum}/${q.rateDen} with fee ${fee} needs ${want}`,
      );
    swap = { from: q.from, to: q.to, surplus: incoming.amount - want };
  } else {
    fee = incoming.amount - amount;
    const want = forwardFee(p, amount);
    if (fee < want) return fail('fee-insufficient', `fee ${fee} < ${want} (base ${p.baseFee} + ${p.feePpm} ppm)`);
  }
  if ((next.spendable[asset] ?? 0n) < amount || next.locks >= p.maxLocks)
    return fail('temporary-channel-failure', `channel ${next.channelId} cannot lock ${amount} now`);
  return {
    action: 'forward',
    channelId: next.channelId,
    lock: { asset, amount, hashlock: incoming.hashlock, expiry: incoming.expiry },
    fee,
    ...(swap === undefined ? {} : { swap }),
  };
}
