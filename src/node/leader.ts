/**
 * The leader's side of the update protocol (ADR 0003). Participant 0 queues its own operations
 * and the follower's requests, proposes them as one update, and completes the update when the
 * countersignature arrives. One proposal is in flight per channel; everything that arrives
 * meanwhile rides the next one.
 *
 * Durability (ADR 0006): the leader never signs two states at one version, even across a
 * crash, because it signs only versions up to a lease it raised durably first; after a restart
 * it skips the whole lease. Proposals themselves are not stored, so the next proposal goes out
 * as soon as the countersignature is verified, while the co-signed state is being flushed; the
 * operations it completes resolve only once that flush is done.
 */
import { MAX_OPS, type Op } from '../core/ops.ts';
import { stateDigest } from '../core/eip712.ts';
import type { CountersignMessage, RejectMessage, RequestMessage } from '../core/codec/messages.ts';
import { selectOps } from '../core/transitions.ts';
import type { SignedState } from '../core/validate.ts';
import type { Channel, Inflight, PendingOp } from './channel.ts';
import type { Context } from './context.ts';
import { RejectedError } from './errors.ts';
import { rejectOps, sendTo } from './messaging.ts';
import { applied } from './results.ts';
import { refreshFunding } from './opening.ts';
import { decideSwap } from './policy.ts';
import { assetOf } from './views.ts';

/** Versions the leader leases at a time: one durable record write per this many updates (ADR 0006). */
export const VERSION_LEASE = 1024n;

/** Queues one of our operations; resolves with the version of the co-signed state that carries it. */
export function submitAsLeader(ctx: Context, ch: Channel, op: Op): Promise<bigint> {
  return new Promise((resolve, reject) => {
    ch.queue.push({ op, origin: 'self', since: ctx.clock(), resolve, reject });
    schedule(ctx, ch);
  });
}

/** Starts a propose cycle if one can run: nothing in flight, something to propose, channel live. */
export function schedule(ctx: Context, ch: Channel): void {
  if (ch.pumping || ch.inflight || !ch.latest || !canUpdate(ch)) return;
  if (ch.queue.length === 0 && !ch.needsUpdate) return;
  ch.pumping = true;
  ch.run(async () => {
    ch.pumping = false;
    if (ch.inflight || !ch.latest || !canUpdate(ch)) return;
    const next = await prepare(ctx, ch);
    if (!next) return;
    ch.inflight = next;
    if (next.leaseRaised) await ctx.flush();
    propose(ctx, ch, next);
  }).catch((e: unknown) => ctx.fatal(`propose on ${ch.id}`, e));
}

function canUpdate(ch: Channel): boolean {
  return (ch.record.status === 'open' || ch.record.status === 'closing') && !ch.latest?.state.isFinal;
}

function propose(ctx: Context, ch: Channel, p: Inflight): void {
  sendTo(ctx, ch, { type: 'propose', channelId: ch.id, version: p.version, ops: p.ops, signature: p.signature });
}

/** Re-sends the proposal in flight (after a reconnect). */
export function resendInflight(ctx: Context, ch: Channel): void {
  if (ch.inflight) propose(ctx, ch, ch.inflight);
}

/**
 * Takes what is queued, keeps the operations that apply, raises the version lease if the next
 * version is beyond it (the caller must then flush before sending), and signs the result.
 */
async function prepare(ctx: Context, ch: Channel): Promise<Inflight | undefined> {
  const latest = ch.latest!;
  const taken = takeBatch(ch);
  if (taken.length === 0 && !ch.needsUpdate) return undefined;
  const byOp = new Map<Op, PendingOp>(taken.map((p) => [p.op, p]));
  const sel = selectOps(
    ch.record.params,
    latest.state,
    taken.map((p) => p.op),
    { now: ctx.now(), deposits: ch.record.depositFacts },
    MAX_OPS,
  );
  for (const r of sel.rejected) fail(ctx, ch, byOp.get(r.op)!, r.reason, r.detail);
  if (sel.accepted.length === 0 && !ch.needsUpdate) return undefined;
  ch.needsUpdate = false;
  const version = ch.nextVersion;
  const leaseRaised = version > ch.record.versionLease;
  if (leaseRaised) {
    ch.record = { ...ch.record, versionLease: version + VERSION_LEASE - 1n };
    ctx.store.putRecord(ch.record);
  }
  const state = version === sel.state.version ? sel.state : { ...sel.state, version };
  const digest = stateDigest(ch.record.params, state);
  const signature = await ctx.signer.sign(digest);
  return {
    version,
    ops: sel.accepted,
    state,
    signature,
    digest,
    leaseRaised,
    pending: sel.accepted.map((op) => byOp.get(op)!),
    preparedAt: performance.now(),
  };
}

/**
 * The next batch: everything queued, up to the limit. A swap the follower's policy refuses
 * burns the proposal; the follower names every refused operation, and the others go again in
 * the next proposal (onProposalRejected).
 */
function takeBatch(ch: Channel): PendingOp[] {
  return ch.queue.splice(0, MAX_OPS);
}

/** Refuses one operation: ours rejects its caller, the follower's is refused on the wire. */
function fail(ctx: Context, ch: Channel, p: PendingOp, reason: RejectedError['reason'], detail: string): void {
  if (p.origin === 'self') p.reject(new RejectedError(reason, detail));
  else rejectOps(ctx, ch, [p.op.id], reason, detail);
}

/** The follower countersigned: store the co-signed state, start the next proposal, resolve. */
export function onCountersign(ctx: Context, ch: Channel, msg: CountersignMessage): Promise<void> {
  return ch.run(async () => {
    const inflight = ch.inflight;
    if (!inflight || msg.version !== inflight.version || !ch.peer) return;
    const ok = await ctx.signer.verify(msg.signature, inflight.digest, ch.peer.publicKey);
    if (!ok) {
      ctx.transport.penalize(ch.record.peer.peerId, 'invalid countersignature');
      ctx.channelLog(ch).warn({ version: msg.version }, 'invalid countersignature ignored');
      return;
    }
    const signed: SignedState = { state: inflight.state, signatures: [inflight.signature, msg.signature] };
    ctx.store.putState(ch.id, signed);
    ch.latest = signed;
    ch.inflight = undefined;
    const next = canUpdate(ch) ? await prepare(ctx, ch) : undefined;
    ch.inflight = next;
    // Within the lease, the next proposal need not wait for this state to be durable.
    if (next && !next.leaseRaised) propose(ctx, ch, next);
    await ctx.flush();
    complete(ctx, ch, inflight);
    if (next?.leaseRaised) propose(ctx, ch, next);
    if (inflight.preparedAt !== undefined && ctx.log.isLevelEnabled('debug')) {
      ctx
        .channelLog(ch)
        .debug(
          { version: String(inflight.version), ops: inflight.ops.length, ms: +(performance.now() - inflight.preparedAt).toFixed(2) },
          'update completed',
        );
    }
  });
}

/** Resolves the operations of a completed update and reports it. */
export function complete(ctx: Context, ch: Channel, done: Inflight): void {
  for (const p of done.pending) if (p.origin === 'self') p.resolve(done.version);
  applied(ctx, ch, done.ops, done.version);
}

/** The follower refused our proposal: its version is burned; the innocent operations go again. */
export function onProposalRejected(ctx: Context, ch: Channel, msg: RejectMessage & { version: bigint }): Promise<void> {
  return ch
    .run(async () => {
      const inflight = ch.inflight;
      if (!inflight || msg.version !== inflight.version) return;
      ctx.channelLog(ch).info({ version: msg.version, reason: msg.reason, detail: msg.detail }, 'proposal rejected; version burned');
      ch.record = { ...ch.record, burnedVersion: msg.version };
      ctx.store.putRecord(ch.record);
      ch.inflight = undefined;
      await ctx.flush();
      const culprits = msg.ops && msg.ops.length > 0 ? new Set(msg.ops) : undefined;
      const again: PendingOp[] = [];
      for (const p of inflight.pending) {
        if (culprits === undefined || culprits.has(p.op.id)) fail(ctx, ch, p, msg.reason, msg.detail);
        else again.push(p);
      }
      ch.queue.unshift(...again);
      // Supersede the burned state with a co-signed one soon, unless it was already empty.
      if (inflight.ops.length > 0) ch.needsUpdate = true;
    })
    .then(() => schedule(ctx, ch));
}

/** The follower asks us to include its operations. */
export function onRequest(ctx: Context, ch: Channel, msg: RequestMessage): Promise<void> {
  return ch
    .run(async () => {
      const now = ctx.clock();
      // Our chain watcher may lag behind the follower's: check the holdings before refusing.
      if (ch.record.status === 'funding') await refreshFunding(ctx, ch);
      for (const op of msg.ops) {
        if (op.by !== ch.counterparty) {
          ctx.transport.penalize(ch.record.peer.peerId, 'request for an operation of ours');
          rejectOps(ctx, ch, [op.id], 'not-authorized', "a request may only carry the requester's own operations");
          continue;
        }
        if (!canUpdate(ch)) {
          rejectOps(ctx, ch, [op.id], ch.latest?.state.isFinal ? 'channel-final' : 'closed', `channel is ${ch.record.status}`);
          continue;
        }
        if (op.kind === 'swap') {
          const decision = await decideSwap(ctx.policies.swap, {
            channelId: ch.id,
            receive: { asset: assetOf(ch, op.giveAsset), amount: op.giveAmount },
            give: { asset: assetOf(ch, op.takeAsset), amount: op.takeAmount },
            expiry: op.expiry,
          });
          if (decision !== true) {
            rejectOps(ctx, ch, [op.id], 'policy', decision.reason);
            continue;
          }
        }
        ch.queue.push({ op, origin: 'peer', since: now, resolve: () => undefined, reject: () => undefined });
      }
    })
    .then(() => schedule(ctx, ch));
}
