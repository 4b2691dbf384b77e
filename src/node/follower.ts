/**
 * The follower's side of the update protocol (ADR 0003). Participant 1 never signs first: it
 * asks the leader for its operations (`request`), checks every proposal (channel, version, the
 * transition, that each operation attributed to it is one it asked for, its swap policy),
 * countersigns, and only sends the countersignature once the co-signed state is on disk.
 */
import { equalBytes } from '../core/bytes.ts';
import type { ProposeMessage, RejectMessage } from '../core/codec/messages.ts';
import { MAX_OPS, type Op } from '../core/ops.ts';
import type { RejectReason } from '../core/result.ts';
import { MAX_VERSION_GAP, type SignedState, validateProposal } from '../core/validate.ts';
import type { Channel } from './channel.ts';
import type { Context } from './context.ts';
import { PeerUnreachableError, RejectedError } from './errors.ts';
import { isMisbehaviour, sendTo } from './messaging.ts';
import { refreshFunding } from './opening.ts';
import { type PolicyDecision, decideSwap } from './policy.ts';
import { applied } from './results.ts';
import { assetOf } from './views.ts';

/** Asks the leader for one of our operations; resolves with the co-signed version that carries it. */
export function submitAsFollower(ctx: Context, ch: Channel, op: Op): Promise<bigint> {
  if (!ctx.transport.isConnected(ch.record.peer.peerId)) return Promise.reject(new PeerUnreachableError(ch.record.peer.peerId));
  return new Promise((resolve, reject) => {
    ch.requested.set(op.id, { op, origin: 'self', since: ctx.clock(), resolve, reject });
    ch.outbox.push(op);
    if (!ch.outboxScheduled) {
      ch.outboxScheduled = true;
      queueMicrotask(() => flushOutbox(ctx, ch));
    }
  });
}

/** Sends every request queued this tick, in as few messages as the limits allow. */
function flushOutbox(ctx: Context, ch: Channel): void {
  ch.outboxScheduled = false;
  while (ch.outbox.length > 0) {
    const ops = ch.outbox.splice(0, MAX_OPS);
    if (!sendTo(ctx, ch, { type: 'request', channelId: ch.id, ops })) {
      for (const op of ops) failRequest(ch, op.id, new PeerUnreachableError(ch.record.peer.peerId));
    }
  }
}

function failRequest(ch: Channel, id: bigint, error: Error): void {
  const p = ch.requested.get(id);
  if (!p) return;
  ch.requested.delete(id);
  p.reject(error);
}

/** The leader refused some of our requests. */
export function onOpsRejected(ch: Channel, msg: RejectMessage & { ops: readonly bigint[] }): void {
  for (const id of msg.ops) failRequest(ch, id, new RejectedError(msg.reason, msg.detail));
}

/** A proposal from the leader: check it, countersign it once durable, or refuse it. */
export function onPropose(ctx: Context, ch: Channel, msg: ProposeMessage): Promise<void> {
  return ch.run(async () => {
    const latest = ch.latest;
    if (!latest || !ch.peer) return;
    // The same proposal again (our countersignature was lost): answer it again.
    if (msg.version === latest.state.version) {
      if (equalBytes(msg.signature, latest.signatures[0])) {
        sendTo(ctx, ch, { type: 'countersign', channelId: ch.id, version: msg.version, signature: latest.signatures[1] });
      } else {
        refuse(ctx, ch, msg, 'stale-version', `version ${msg.version} is already co-signed`, false);
      }
      return;
    }
    // A version from the lowest acceptable one up (the leader skips the versions it leased
    // before a restart: ADR 0006); any refusal of it burns it on both sides (the leader burns
    // every version it sees refused), so both agree on the next one.
    const expected = ch.nextVersion;
    if (msg.version < expected) {
      refuse(ctx, ch, msg, 'stale-version', `version ${msg.version} is below the expected ${expected}`, false);
      return;
    }
    if (msg.version > expected + MAX_VERSION_GAP) {
      refuse(ctx, ch, msg, 'version-gap', `version ${msg.version} skips more than ${MAX_VERSION_GAP} versions ahead of ${expected}`, true);
      return;
    }
    // Our chain watcher may lag behind the leader's: check the holdings before refusing.
    if (ch.record.status === 'funding') await refreshFunding(ctx, ch);
    if (ch.record.status !== 'open' && ch.record.status !== 'closing') {
      return burn(ctx, ch, msg, 'closed', `channel is ${ch.record.status}`);
    }
    // Operations attributed to us that we did not ask for (requests from before a restart of
    // ours): name them all in one refusal, so the leader drops them in one round trip.
    const unknown = msg.ops.filter((op) => op.by === ch.self && !ch.requested.has(op.id)).map((op) => op.id);
    if (unknown.length > 0)
      return burn(ctx, ch, msg, 'not-authorized', `${unknown.length} operation(s) attributed to us were not requested`, unknown);
    const requested = { get: (id: bigint) => ch.requested.get(id)?.op };
    const v = validateProposal(ch.record.params, latest.state, msg, {
      ctx: { now: ctx.now(), deposits: ch.record.depositFacts },
      minVersion: expected,
      requested,
    });
    if (!v.ok) return burn(ctx, ch, msg, v.reason, v.detail, v.index === undefined ? undefined : [msg.ops[v.index]!.id]);
    if (!(await ctx.signer.verify(msg.signature, v.value.digest, ch.peer.publicKey))) {
      return burn(ctx, ch, msg, 'wrong-signer', 'the proposal is not signed by the leader');
    }
    // Name every swap our policy refuses, so the leader drops them all in one round trip.
    let refusal: Exclude<PolicyDecision, true> | undefined;
    const refused: bigint[] = [];
    for (const op of msg.ops) {
      if (op.kind !== 'swap' || op.by === ch.self) continue;
      const decision = await decideSwap(ctx.policies.swap, {
        channelId: ch.id,
        receive: { asset: assetOf(ch, op.giveAsset), amount: op.giveAmount },
        give: { asset: assetOf(ch, op.takeAsset), amount: op.takeAmount },
        expiry: op.expiry,
      });
      if (decision === true) continue;
      refusal ??= decision;
      refused.push(op.id);
    }
    if (refusal) return burn(ctx, ch, msg, refusal.failed ? 'internal' : 'policy', refusal.reason, refused);
    const signature = await ctx.signer.sign(v.value.digest);
    const signed: SignedState = { state: v.value.state, signatures: [msg.signature, signature] };
    ctx.store.putState(ch.id, signed);
    await ctx.flush();
    ch.latest = signed;
    sendTo(ctx, ch, { type: 'countersign', channelId: ch.id, version: msg.version, signature });
    for (const op of msg.ops) {
      if (op.by !== ch.self) continue;
      const p = ch.requested.get(op.id);
      if (p) {
        ch.requested.delete(op.id);
        p.resolve(msg.version);
      }
    }
    applied(ctx, ch, msg.ops, msg.version);
  });
}

/** Refuses the proposal at the expected version: the version is burned, durably, before we say so. */
async function burn(
  ctx: Context,
  ch: Channel,
  msg: ProposeMessage,
  reason: RejectReason,
  detail: string,
  culprits?: readonly bigint[],
): Promise<void> {
  ch.record = { ...ch.record, burnedVersion: msg.version };
  ctx.store.putRecord(ch.record);
  await ctx.flush();
  // Operations we forgot in a restart are not the leader's fault.
  refuse(ctx, ch, msg, reason, detail, isMisbehaviour(reason) && culprits === undefined, culprits);
}

function refuse(
  ctx: Context,
  ch: Channel,
  msg: ProposeMessage,
  reason: RejectReason,
  detail: string,
  penalize: boolean,
  culprits?: readonly bigint[],
): void {
  ctx.channelLog(ch).info({ version: msg.version, reason, detail }, 'proposal refused');
  if (penalize) ctx.transport.penalize(ch.record.peer.peerId, `proposal: ${reason}`);
  sendTo(ctx, ch, {
    type: 'reject',
    channelId: ch.id,
    version: msg.version,
    ...(culprits === undefined ? {} : { ops: culprits }),
    reason,
    detail: detail.slice(0, 512),
  });
}
