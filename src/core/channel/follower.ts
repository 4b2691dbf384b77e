/**
 * The follower's side of the update protocol (ADR 0003, 0009). Participant 1 never signs first:
 * it asks the leader for its operations (`request`), checks every proposal (channel, version, the
 * transition, that each operation attributed to it is one it asked for, and only once, its swap
 * policy), countersigns, and sends the countersignature only once the co-signed state is durable.
 *
 * Refusing signs nothing, so a refusal is not made durable: a peer cannot make us write to disk
 * by sending proposals we refuse.
 */
import { equalBytes } from '../bytes.ts';
import type { Message, ProposeMessage, RejectMessage } from '../codec/messages.ts';
import { MAX_OPS, type Op } from '../ops.ts';
import type { RejectReason } from '../result.ts';
import { MAX_VERSION_GAP, validateProposal } from '../validate.ts';
import type { CallerId, Effect, Now } from './io.ts';
import { answer, submitClose } from './chain.ts';
import { learnSecrets } from './learned.ts';
import { type Machine, canUpdate, transitionContext, definitely, fail, log, maybe, resolve, setStatus, token, whyNot } from './types.ts';

/** Reasons an honest leader never causes: they count against it. */
const MISBEHAVIOUR: ReadonlySet<RejectReason> = new Set<RejectReason>([
  'malformed',
  'invalid-signature',
  'wrong-signer',
  'wrong-channel',
  'not-authorized',
  'version-gap',
  'unknown-asset',
  'overflow',
  'invalid-amount',
  'too-many-ops',
  'too-many-locks',
  'duplicate-lock',
  'state-mismatch',
  'invalid-swap',
]);

export function isMisbehaviour(reason: RejectReason): boolean {
  return MISBEHAVIOUR.has(reason);
}

/** Our own operations: asked of the leader in one request. */
export function onOwnOps(m: Machine, fx: Effect[], ops: readonly { op: Op; caller: CallerId }[], now: Now): void {
  const sendable: Op[] = [];
  for (const { op, caller } of ops) {
    if (!canUpdate(m)) fail(fx, caller, whyNot(m));
    else if (!m.connected) fail(fx, caller, definitely('unreachable', 'the counterparty is not connected'));
    else {
      m.requested.set(op.id, { op, caller, since: now.ms });
      sendable.push(op);
    }
  }
  sendRequests(m, fx, sendable);
}

export function sendRequests(m: Machine, fx: Effect[], ops: readonly Op[]): void {
  for (let i = 0; i < ops.length; i += MAX_OPS) {
    fx.push({ kind: 'send', message: { type: 'request', channelId: m.rec.id, ops: ops.slice(i, i + MAX_OPS) } });
  }
}

/** After a reconnect the leader may have lost our requests (a restart): ask again; it drops repeats. */
export function resendRequests(m: Machine, fx: Effect[]): void {
  sendRequests(
    m,
    fx,
    [...m.requested.values()].map((r) => r.op),
  );
}

export function onMessage(m: Machine, fx: Effect[], msg: Message, now: Now): void {
  switch (msg.type) {
    case 'propose':
      if (m.incoming) m.waitingProposal = { message: msg, since: now.ms, refreshed: false };
      else onPropose(m, fx, msg, now, false);
      return;
    case 'reject':
      if (msg.ops) for (const id of msg.ops) failRequest(m, fx, id, definitely(msg.reason, msg.detail));
      return;
    default:
      fx.push({ kind: 'penalize', why: `${msg.type} from the leader` });
      fx.push({
        kind: 'send',
        message: {
          type: 'reject',
          channelId: m.rec.id,
          reason: 'not-authorized',
          detail: `participant 0 may not send ${msg.type}`,
        },
      });
  }
}

function failRequest(m: Machine, fx: Effect[], id: bigint, failure: Parameters<typeof fail>[2]): void {
  const r = m.requested.get(id);
  if (!r) return;
  // An operation in the proposal being checked is not the leader's to refuse any more.
  if (m.incoming?.message.ops.some((op) => op.by === 1 && op.id === id)) return;
  m.requested.delete(id);
  fail(fx, r.caller, failure);
}

/** A proposal from the leader: check it, then verify, decide, sign, persist, and answer. */
export function onPropose(m: Machine, fx: Effect[], msg: ProposeMessage, now: Now, refreshed: boolean): void {
  const latest = m.latest;
  if (!latest || !m.peer) return;
  if (msg.version === latest.state.version) {
    // The same proposal again (our countersignature was lost): answer it again.
    if (equalBytes(msg.signature, latest.signatures[0])) {
      fx.push({
        kind: 'send',
        message: { type: 'countersign', channelId: m.rec.id, version: msg.version, signature: latest.signatures[1] },
      });
    } else refuse(m, fx, msg, 'stale-version', `version ${msg.version} is already co-signed`);
    return;
  }
  // From the lowest acceptable version up: the leader skips the versions it leased before a
  // restart (ADR 0006) and every version we refused.
  const expected = (latest.state.version > m.refusedVersion ? latest.state.version : m.refusedVersion) + 1n;
  if (msg.version < expected) return refuse(m, fx, msg, 'stale-version', `version ${msg.version} is below the expected ${expected}`);
  if (msg.version > expected + MAX_VERSION_GAP) {
    return refuse(m, fx, msg, 'version-gap', `version ${msg.version} skips more than ${MAX_VERSION_GAP} versions`, undefined, true);
  }
  // A co-signed state being written (a catch-up, sync.ts) at this version or above: what we
  // would write for this proposal would land on disk after it, older than our latest.
  if (m.adoption?.stage === 'flushing' && msg.version <= m.adoption.signed.state.version) {
    return refuse(m, fx, msg, 'stale-version', `version ${msg.version} is not above the state being adopted`);
  }
  if (m.rec.status === 'funding') {
    // Our chain view may lag the leader's: keep the proposal until we see the funding.
    m.waitingProposal = { message: msg, since: now.ms, refreshed };
    fx.push({ kind: 'check-funding' });
    return;
  }
  if (!canUpdate(m)) {
    const why = whyNot(m);
    return refuse(m, fx, msg, why.reason === 'channel-final' ? 'channel-final' : 'closed', why.detail);
  }
  // Operations attributed to us that we did not ask for (requests from before a restart of
  // ours): name them all in one refusal, so the leader drops them in one round trip.
  const unknown = msg.ops.filter((op) => op.by === 1 && !m.requested.has(op.id)).map((op) => op.id);
  if (unknown.length > 0)
    return refuse(m, fx, msg, 'not-authorized', `${unknown.length} operation(s) attributed to us were not requested`, unknown);
  const v = validateProposal(m.rec.params, latest.state, msg, {
    ctx: transitionContext(m, now),
    minVersion: expected,
    requested: { get: (id: bigint) => m.requested.get(id)?.op },
  });
  if (!v.ok) {
    if (v.reason === 'deposit-exceeds-holdings' && !refreshed) {
      // A deposit we have not seen yet: read the chain before refusing.
      m.waitingProposal = { message: msg, since: now.ms, refreshed: true };
      fx.push({ kind: 'check-funding' });
      return;
    }
    const culprit = v.index === undefined ? undefined : [msg.ops[v.index]!.id];
    return refuse(m, fx, msg, v.reason, v.detail, culprit, isMisbehaviour(v.reason) && culprit === undefined && !excused(m));
  }
  const t = token(m);
  m.incoming = { stage: 'verifying', token: t, message: msg, state: v.value.state, digest: v.value.digest };
  fx.push({ kind: 'verify', token: t, checks: [{ signature: msg.signature, digest: v.value.digest, publicKey: m.peer.publicKey }] });
}

/** Whether a failed proposal is excused: the leader said it is behind us (uses one free refusal). */
function excused(m: Machine): boolean {
  if (m.peerBehind <= 0) return false;
  m.peerBehind--;
  return true;
}

function refuse(
  m: Machine,
  fx: Effect[],
  msg: ProposeMessage,
  reason: RejectReason,
  detail: string,
  culprits?: readonly bigint[],
  penalize = false,
): void {
  // A refused version in the acceptable window is never countersigned; the leader burns it too,
  // so both agree on the next. (Versions outside the window were never acceptable: no change.)
  const latest = m.latest?.state.version ?? -1n;
  const expected = (latest > m.refusedVersion ? latest : m.refusedVersion) + 1n;
  if (msg.version >= expected && msg.version <= expected + MAX_VERSION_GAP) m.refusedVersion = msg.version;
  log(fx, 'info', 'proposal refused', { version: String(msg.version), reason, detail });
  if (penalize) fx.push({ kind: 'penalize', why: `proposal: ${reason}` });
  const message: RejectMessage = {
    type: 'reject',
    channelId: m.rec.id,
    version: msg.version,
    ...(culprits === undefined ? {} : { ops: culprits }),
    reason,
    detail: detail.slice(0, 512),
  };
  fx.push({ kind: 'send', message });
}

export function onVerified(m: Machine, fx: Effect[], t: number, ok: boolean, now: Now): void {
  const inc = m.incoming;
  if (!inc || inc.stage !== 'verifying' || inc.token !== t) return;
  if (!ok) {
    m.incoming = undefined;
    // A leader still catching up signed its own (older) base: honest, so not penalised.
    refuse(m, fx, inc.message, 'wrong-signer', 'the proposal is not signed by the leader', undefined, !excused(m));
    return next(m, fx, now);
  }
  m.peerBehind = 0; // a proposal on our latest state: it caught up
  const swaps = inc.message.ops.filter((op): op is Extract<Op, { kind: 'swap' }> => op.kind === 'swap' && op.by !== 1);
  if (swaps.length > 0) {
    inc.stage = 'deciding';
    inc.token = token(m);
    fx.push({ kind: 'decide-swaps', token: inc.token, swaps });
    return;
  }
  sign(m, fx);
}

export function onDecided(
  m: Machine,
  fx: Effect[],
  t: number,
  refused: readonly { id: bigint; reason: string; failed?: boolean }[],
  now: Now,
): boolean {
  const inc = m.incoming;
  if (!inc || inc.stage !== 'deciding' || inc.token !== t) return false;
  if (refused.length > 0) {
    m.incoming = undefined;
    // Name every refused swap, so the leader drops them all in one round trip.
    // A policy that failed (threw) is our fault, not a decision: `internal`.
    const reason = refused.some((r) => r.failed) ? 'internal' : 'policy';
    refuse(
      m,
      fx,
      inc.message,
      reason,
      refused[0]!.reason,
      refused.map((r) => r.id),
    );
    next(m, fx, now);
    return true;
  }
  sign(m, fx);
  return true;
}

function sign(m: Machine, fx: Effect[]): void {
  const inc = m.incoming!;
  inc.stage = 'signing';
  inc.token = token(m);
  fx.push({ kind: 'sign', token: inc.token, digest: inc.digest });
}

export function onSigned(m: Machine, fx: Effect[], t: number, signature: Uint8Array): void {
  const inc = m.incoming;
  if (!inc || inc.stage !== 'signing' || inc.token !== t) return;
  inc.signed = { state: inc.state, signatures: [inc.message.signature, signature] };
  fx.push({ kind: 'persist-state', signed: inc.signed });
  // Secrets the leader revealed to settle our locks: durable with the state, before it hears from us.
  if (m.latest) learnSecrets(m, fx, m.latest.state, inc.message.ops);
  inc.stage = 'flushing';
  inc.token = token(m);
  fx.push({ kind: 'flush', token: inc.token });
}

/** The co-signed state is durable: only now does the leader get our signature. */
export function onFlushed(m: Machine, fx: Effect[], t: number, now: Now): boolean {
  const inc = m.incoming;
  if (!inc || inc.stage !== 'flushing' || inc.token !== t) return false;
  m.incoming = undefined;
  m.latest = inc.signed!;
  const version = inc.message.version;
  fx.push({ kind: 'send', message: { type: 'countersign', channelId: m.rec.id, version, signature: inc.signed!.signatures[1] } });
  for (const op of inc.message.ops) {
    if (op.by !== 1) continue;
    const r = m.requested.get(op.id);
    if (!r) continue;
    m.requested.delete(op.id);
    resolve(fx, r.caller, version);
  }
  fx.push({ kind: 'updated', version, ops: inc.message.ops });
  if (inc.state.isFinal && m.rec.status !== 'disputed') {
    setStatus(m, fx, 'closing');
    if (m.closeCallers.length > 0) submitClose(m, fx);
  }
  // Co-signed while a state is registered: a newer one answers it at once.
  if (m.rec.status === 'disputed') answer(m, fx, now);
  next(m, fx, now);
  return true;
}

/** The next waiting proposal, if any. */
export function next(m: Machine, fx: Effect[], now: Now): void {
  const w = m.waitingProposal;
  if (!w || m.incoming || m.rec.status === 'funding') return;
  m.waitingProposal = undefined;
  onPropose(m, fx, w.message, now, w.refreshed);
}

/** Requests not agreed in time fail for certain: the leader can no longer get them countersigned. */
export function expire(m: Machine, fx: Effect[], limit: number): void {
  for (const [id, r] of m.requested) {
    if (r.since >= limit) break; // insertion order: the rest are newer
    failRequest(m, fx, id, definitely('timeout', `${r.op.kind} ${id} was not agreed in time`));
  }
  const w = m.waitingProposal;
  if (w && w.since < limit && !m.incoming) {
    m.waitingProposal = undefined;
    refuse(m, fx, w.message, 'closed', 'the channel is not funded as far as this node can see');
  }
}

/** The channel closed, or a state was registered: nothing more will be countersigned. */
export function abandonRequests(m: Machine, fx: Effect[], detail: string, maybeApplied: boolean): void {
  for (const [id, r] of m.requested) {
    // One in the proposal being checked is decided by that proposal: countersigned, or refused.
    if (m.incoming?.message.ops.some((op) => op.by === 1 && op.id === id)) continue;
    m.requested.delete(id);
    fail(fx, r.caller, maybeApplied ? maybe('closed', detail) : definitely('closed', detail));
  }
}
