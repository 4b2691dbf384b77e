/**
 * The leader's side of the update protocol (ADR 0003, 0006, 0009). Participant 0 queues its own
 * operations and the follower's requests, signs the next state, sends it as a proposal, and
 * completes the update when the countersignature verifies. One proposal is in flight; everything
 * that arrives meanwhile rides the next one.
 *
 * What the leader never does, whatever the follower sends:
 * - sign two states at one version (versions are leased durably before they are signed, and a
 *   refused or abandoned version is burned);
 * - apply an operation twice: an operation leaves the queue when a proposal takes it, and once a
 *   co-signed state carries it, it is complete and is never proposed again;
 * - sign anything after a final state it released (the follower could close with that final
 *   state at any time, undoing whatever came after), so a final state rides alone.
 */
import { equalBytes } from '../bytes.ts';
import type { CountersignMessage, Message, RejectMessage, RequestMessage } from '../codec/messages.ts';
import { stateDigest } from '../eip712.ts';
import { MAX_OPS, type Op } from '../ops.ts';
import { changesLocks, selectOps } from '../transitions.ts';
import type { SignedState } from '../validate.ts';
import { uncredited } from '../deposits.ts';
import type { CallerId, Effect, Failure, Now } from './io.ts';
import {
  type Completion,
  type Machine,
  type Pending,
  type Proposal,
  VERSION_LEASE,
  canUpdate,
  counterparty,
  definitely,
  fail,
  log,
  maybe,
  nextVersion,
  opId,
  resolve,
  setRecord,
  setStatus,
  token,
  transitionContext,
  whyNot,
} from './types.ts';
import { answer, submitClose } from './chain.ts';
import { learnSecrets } from './learned.ts';

const contextOf = transitionContext;

/** Our own operations: queued for the next proposal. */
export function onOwnOps(m: Machine, fx: Effect[], ops: readonly { op: Op; caller: CallerId }[], now: Now): void {
  for (const { op, caller } of ops) {
    if (!canUpdate(m)) fail(fx, caller, whyNot(m));
    // As on the follower side: nothing was signed for it, so it fails at once, for certain.
    else if (!m.connected) fail(fx, caller, definitely('unreachable', 'the counterparty is not connected'));
    else m.queue.push({ op, caller, since: now.ms });
  }
  pump(m, fx, now);
}

/** Starts the next proposal if one can go: nothing in flight, something to propose, the channel live. */
export function pump(m: Machine, fx: Effect[], now: Now): void {
  while (!m.proposal && m.latest && m.connected && canUpdate(m) && (m.queue.length > 0 || m.needsUpdate)) {
    if (prepare(m, fx, now)) return;
  }
}

/** Takes the next batch and asks for its signature; returns false when nothing of it applied. */
function prepare(m: Machine, fx: Effect[], now: Now): boolean {
  const latest = m.latest!;
  // A final state rides alone: what was queued before it goes first, and nothing after it.
  const fi = m.queue.findIndex((p) => p.op.kind === 'finalize');
  const batch = fi === 0 ? m.queue.splice(0, 1) : m.queue.splice(0, fi > 0 ? Math.min(fi, MAX_OPS) : MAX_OPS);
  const byOp = new Map<Op, Pending>(batch.map((p) => [p.op, p]));
  const sel = selectOps(
    m.rec.params,
    latest.state,
    batch.map((p) => p.op),
    contextOf(m, now),
    MAX_OPS,
  );
  for (const r of sel.rejected) refuse(m, fx, byOp.get(r.op)!, definitely(r.reason, r.detail));
  if (sel.accepted.length === 0 && !m.needsUpdate) return false;
  m.needsUpdate = false;
  const version = nextVersion(m);
  const leaseRaised = version > m.rec.versionLease;
  // A proposal that changes the locks is kept durably (its lock operations) before it leaves: a
  // registered state carries its locks only by root, and we must be able to rebuild them to
  // unlock what is ours (docs/adr/0010). Deltas below the latest co-signed state are dropped.
  // Without onions and failure reports: only the locks are rebuilt from them.
  const lockOps = sel.accepted.filter(changesLocks).map(bareLockOp);
  const kept = (m.rec.lockDeltas ?? []).filter((d) => d.version > latest.state.version);
  const deltas = lockOps.length > 0 ? [...kept, { version, base: latest.state.version, ops: lockOps }] : kept;
  if (leaseRaised || deltas.length !== (m.rec.lockDeltas?.length ?? 0) || lockOps.length > 0) {
    setRecord(m, fx, {
      ...(leaseRaised ? { versionLease: version + VERSION_LEASE - 1n } : {}),
      lockDeltas: deltas.length > 0 ? deltas : undefined,
    });
  }
  // Secrets the follower revealed to settle our locks: durable before our signature leaves.
  const learned = learnSecrets(m, fx, latest.state, sel.accepted, now);
  const state = version === sel.state.version ? sel.state : { ...sel.state, version };
  const digest = stateDigest(m.rec.params, state);
  const p: Proposal = {
    stage: 'signing',
    token: token(m),
    version,
    pending: sel.accepted.map((op) => byOp.get(op)!),
    state,
    digest,
    base: latest.state.version,
    // Beyond the durable lease (raised now, or by a proposal abandoned before its flush): a
    // crash before the lease is on disk would let a restart sign this version again.
    flushFirst: version > m.leaseDurable || state.isFinal || lockOps.length > 0 || learned,
    lease: m.rec.versionLease,
  };
  m.proposal = p;
  fx.push({ kind: 'sign', token: p.token, digest });
  return true;
}

/** One operation refused: ours fails its caller, the follower's is refused on the wire. */
function refuse(m: Machine, fx: Effect[], p: Pending, failure: Parameters<typeof fail>[2]): void {
  if (p.caller !== undefined) {
    // Still carried by a proposal the follower holds our signature on: it fails for certain only
    // once that proposal is superseded (until then it may yet be enforced).
    const holder = failure.maybeApplied
      ? undefined
      : m.released.find((r) => r.pending.some((x) => x.op.id === p.op.id && x.op.by === p.op.by));
    if (holder) {
      if (!holder.doomed.includes(p)) holder.doomed.push(p);
      holder.failure ??= failure;
    } else fail(fx, p.caller, failure);
  } else if (p.op.by === counterparty(m)) {
    fx.push({
      kind: 'send',
      message: {
        type: 'reject',
        channelId: m.rec.id,
        ops: [p.op.id],
        reason: failure.reason === 'timeout' || failure.reason === 'unreachable' ? 'internal' : failure.reason,
        detail: failure.detail.slice(0, 512),
      },
    });
  } else forget(m, p.op);
}

/** An operation of the machine's own failed: it may be tried again later. */
function forget(m: Machine, op: Op): void {
  if (op.kind === 'deposit') m.crediting.delete(`${op.asset}:${op.holdingsAfter}`);
}

export function onSigned(m: Machine, fx: Effect[], t: number, signature: Uint8Array, now: Now): void {
  const p = m.proposal;
  if (!p || p.stage !== 'signing' || p.token !== t) return;
  p.signature = signature;
  // A final state we sign can close the channel at any time: remember durably that we signed it,
  // before anyone can have it, so that even after a restart we sign nothing else.
  if (p.state.isFinal) setRecord(m, fx, { finalProposal: { state: p.state, signature } });
  if (p.flushFirst) {
    p.stage = 'flushing';
    p.token = token(m);
    fx.push({ kind: 'flush', token: p.token });
  } else sendProposal(m, fx, p);
  void now;
}

function sendProposal(m: Machine, fx: Effect[], p: Proposal): void {
  p.stage = 'sent';
  m.released.push({ version: p.version, digest: p.digest, state: p.state, pending: p.pending, doomed: [] });
  fx.push({ kind: 'send', message: proposeMessage(m, p) });
}

function proposeMessage(m: Machine, p: Proposal): Message {
  return { type: 'propose', channelId: m.rec.id, version: p.version, ops: p.pending.map((x) => x.op), signature: p.signature! };
}

/** Sends the proposal in flight again (after a reconnect), or the final state we released. */
export function resend(m: Machine, fx: Effect[]): void {
  const p = m.proposal;
  if (p && (p.stage === 'sent' || p.stage === 'verifying')) {
    fx.push({ kind: 'send', message: proposeMessage(m, p) });
    return;
  }
  const final = m.rec.finalProposal;
  if (!p && final && m.latest && !m.latest.state.isFinal && final.state.version > m.latest.state.version) {
    // Same state, same signature: any finalize operation on the same base produces it.
    fx.push({
      kind: 'send',
      message: {
        type: 'propose',
        channelId: m.rec.id,
        version: final.state.version,
        ops: [{ kind: 'finalize', id: opId(m), by: 0 }],
        signature: final.signature,
      },
    });
  }
}

export function onFlushed(m: Machine, fx: Effect[], t: number, now: Now): void {
  const p = m.proposal;
  if (p && p.stage === 'flushing' && p.token === t) {
    if (p.lease > m.leaseDurable) m.leaseDurable = p.lease;
    sendProposal(m, fx, p);
    return;
  }
  const i = m.completing.findIndex((c) => c.token === t);
  if (i < 0) return;
  const [c] = m.completing.splice(i, 1);
  for (const x of c!.pending) {
    resolve(fx, x.caller, c!.version);
    if (x.caller === undefined) forget(m, x.op);
  }
  for (const s of c!.superseded) refuse(m, fx, s.pending, s.failure);
  fx.push({ kind: 'updated', version: c!.version, ops: c!.ops });
  void now;
}

export function onMessage(m: Machine, fx: Effect[], msg: Message, now: Now): void {
  switch (msg.type) {
    case 'countersign':
      return onCountersign(m, fx, msg);
    case 'request':
      return onRequest(m, fx, msg, now);
    case 'close':
      return onRequest(m, fx, { type: 'request', channelId: m.rec.id, ops: [{ kind: 'finalize', id: msg.id, by: 1 }] }, now);
    case 'reject':
      if (msg.version !== undefined) return onRefused(m, fx, { ...msg, version: msg.version }, now);
      if (msg.ops === undefined && m.rec.status === 'proposed') {
        setStatus(m, fx, 'rejected', `${msg.reason}: ${msg.detail}`.slice(0, 300));
        fx.push({ kind: 'flush', token: token(m) });
      }
      return;
    case 'open-accept':
      return; // handled by opening.ts through step.ts
    default:
      fx.push({ kind: 'penalize', why: `${msg.type} from the follower` });
      fx.push({
        kind: 'send',
        message: { type: 'reject', channelId: m.rec.id, reason: 'not-authorized', detail: `participant 1 may not send ${msg.type}` },
      });
  }
}

function onCountersign(m: Machine, fx: Effect[], msg: CountersignMessage): void {
  const p = m.proposal;
  if (!p || p.stage !== 'sent' || msg.version !== p.version || !m.peer) return; // a late or repeated answer
  p.stage = 'verifying';
  p.token = token(m);
  p.countersignature = msg.signature;
  fx.push({ kind: 'verify', token: p.token, checks: [{ signature: msg.signature, digest: p.digest, publicKey: m.peer.publicKey }] });
}

export function onVerified(m: Machine, fx: Effect[], t: number, ok: boolean, now: Now): void {
  const p = m.proposal;
  if (!p || p.stage !== 'verifying' || p.token !== t) return;
  if (!ok) {
    fx.push({ kind: 'penalize', why: 'invalid countersignature' });
    p.stage = 'sent';
    return;
  }
  m.proposal = undefined;
  cosigned(m, fx, { state: p.state, signatures: [p.signature!, p.countersignature!] }, p.pending, now);
}

/**
 * A state we proposed is co-signed: it is the latest. Its operations complete once it is durable;
 * the next proposal may go out before that (the lease covers it, ADR 0006).
 */
export function cosigned(m: Machine, fx: Effect[], signed: SignedState, pending: readonly Pending[], now: Now): void {
  m.latest = signed;
  fx.push({ kind: 'persist-state', signed });
  const superseded = supersede(m, signed.state.version);
  if (signed.state.isFinal) {
    setRecord(m, fx, { finalProposal: undefined });
    if (m.rec.status !== 'disputed') setStatus(m, fx, 'closing');
  }
  const t = token(m);
  m.completing.push({ token: t, version: signed.state.version, ops: pending.map((x) => x.op), pending, superseded });
  pump(m, fx, now);
  fx.push({ kind: 'flush', token: t });
  if (signed.state.isFinal && m.closeCallers.length > 0) submitClose(m, fx);
  // Co-signed while a state is registered: a newer one answers it at once.
  if (m.rec.status === 'disputed') answer(m, fx, now);
}

/**
 * Released proposals up to `version` can no longer win on-chain once a co-signed state of
 * `version` is durable: what they alone carried did not happen. Returns the refused operations
 * to fail then.
 */
function supersede(m: Machine, version: bigint): Completion['superseded'] {
  const out: { pending: Pending; failure: Failure }[] = [];
  m.released = m.released.filter((r) => {
    // A final state stays releasable until a state of its version or above is co-signed.
    if (r.version > version || (r.state.isFinal && r.version < version)) return true;
    for (const d of r.doomed) out.push({ pending: d, failure: r.failure ?? definitely('stale-version', 'superseded') });
    return false;
  });
  return out;
}

/** The follower refused our proposal: its version is burned; the operations it did not name go again. */
function onRefused(m: Machine, fx: Effect[], msg: RejectMessage & { version: bigint }, now: Now): void {
  const p = m.proposal;
  if (!p || (p.stage !== 'sent' && p.stage !== 'verifying') || msg.version !== p.version) return;
  log(fx, 'info', 'proposal refused; version burned', { version: String(msg.version), reason: msg.reason, detail: msg.detail });
  if (p.version > m.rec.burnedVersion) setRecord(m, fx, { burnedVersion: p.version });
  m.proposal = undefined;
  const ids = new Set(p.pending.map((x) => x.op.id));
  const named = msg.ops ?? [];
  // A refusal that names operations the proposal does not carry is a lie: trust none of it.
  const honest = named.every((id) => ids.has(id));
  if (!honest) fx.push({ kind: 'penalize', why: 'a refusal naming operations the proposal does not carry' });
  const culprits = honest && named.length > 0 ? new Set(named) : undefined;
  const released = m.released.find((r) => r.version === p.version);
  if (!p.state.isFinal && (m.adoption !== undefined || (m.peerLatest !== undefined && p.base < m.peerLatest))) {
    // Built on a state older than the follower's: we restarted behind it (a countersignature we
    // had not made durable), and its co-signed state is on its way to us. The refusal is about
    // our base, not about what the proposal carries: all of it goes again on the state we adopt
    // (adopted() pumps), and none of it fails. Not at once: a follower that only claims to be
    // ahead gets a proposal a tick, as for any refusal, until the operations time out. The
    // follower may hold our signature on the refused state: it stays released, and the next
    // co-signed state supersedes it, as needsUpdate asks.
    log(fx, 'info', 'proposal refused: it built on an older state than the follower has; everything goes again', {
      version: String(p.version),
      base: String(p.base),
      followerAt: String(m.peerLatest),
      adopting: m.adoption !== undefined,
    });
    m.queue.unshift(...p.pending);
    m.needsUpdate = true;
    return;
  }
  const failure = maybe(msg.reason, msg.detail);
  const again: Pending[] = [];
  for (const x of p.pending) {
    if (culprits === undefined || culprits.has(x.op.id)) {
      // The follower holds our signature on a state carrying it: it fails for certain only once a
      // co-signed state supersedes that one.
      if (released) released.doomed.push(x);
      else refuse(m, fx, x, failure);
    } else again.push(x);
  }
  if (released) released.failure = definitely(msg.reason, msg.detail);
  m.queue.unshift(...again);
  // Supersede the refused state with a co-signed one, so what it carried is settled either way:
  // the operations that go again do it at once; an update of nothing waits for the next tick, so
  // a follower refusing everything costs us a signature a second, not a busy loop.
  m.needsUpdate = true;
  if (again.length > 0) pump(m, fx, now);
}

/** The follower asks us to include its operations. */
function onRequest(m: Machine, fx: Effect[], msg: RequestMessage, now: Now): void {
  const swaps: Extract<Op, { kind: 'swap' }>[] = [];
  let queued: Set<bigint> | undefined;
  for (const op of msg.ops) {
    if (op.by !== counterparty(m)) {
      fx.push({ kind: 'penalize', why: 'a request for an operation of ours' });
      rejectOps(m, fx, [op.id], 'not-authorized', "a request may only carry the requester's own operations");
      continue;
    }
    if (m.rec.status === 'funding') {
      // Our chain view may lag the follower's: keep it until we see the funding.
      if (m.waitingRequests.length < MAX_OPS) m.waitingRequests.push(op);
      fx.push({ kind: 'check-funding' });
      continue;
    }
    if (!canUpdate(m)) {
      const why = whyNot(m);
      rejectOps(m, fx, [op.id], why.reason === 'channel-final' ? 'channel-final' : 'closed', why.detail);
      continue;
    }
    queued ??= queuedIds(m, op.by);
    if (queued.has(op.id)) continue; // a repeat (after a reconnect, or in this message): it is already on its way
    queued.add(op.id);
    if (op.kind === 'swap') swaps.push(op);
    else m.queue.push({ op, since: now.ms });
  }
  if (swaps.length > 0) {
    const t = token(m);
    m.deciding.push({ token: t, ops: swaps, since: now.ms });
    fx.push({ kind: 'decide-swaps', token: t, swaps });
  }
  pump(m, fx, now);
}

/** Our swap policy answered about swaps the follower requested. */
export function onDecided(
  m: Machine,
  fx: Effect[],
  t: number,
  refused: readonly { id: bigint; reason: string; failed?: boolean }[],
  now: Now,
): boolean {
  const i = m.deciding.findIndex((d) => d.token === t);
  if (i < 0) return false;
  const [d] = m.deciding.splice(i, 1);
  const no = new Map(refused.map((r) => [r.id, r]));
  for (const op of d!.ops) {
    const r = no.get(op.id);
    if (r !== undefined) rejectOps(m, fx, [op.id], r.failed ? 'internal' : 'policy', r.reason);
    else if (canUpdate(m)) m.queue.push({ op, since: d!.since });
    else rejectOps(m, fx, [op.id], 'closed', `the channel is ${m.rec.status}`);
  }
  pump(m, fx, now);
  return true;
}

/** The ids of `by`'s operations on their way: queued, being decided, in the proposal in flight, or released. */
function queuedIds(m: Machine, by: number): Set<bigint> {
  const ids = new Set<bigint>();
  const add = (ps: readonly Pending[]) => {
    for (const p of ps) if (p.op.by === by) ids.add(p.op.id);
  };
  add(m.queue);
  if (m.proposal) add(m.proposal.pending);
  for (const r of m.released) add(r.pending);
  for (const d of m.deciding) for (const op of d.ops) if (op.by === by) ids.add(op.id);
  return ids;
}

function rejectOps(m: Machine, fx: Effect[], ids: readonly bigint[], reason: RejectMessage['reason'], detail: string): void {
  fx.push({ kind: 'send', message: { type: 'reject', channelId: m.rec.id, ops: ids, reason, detail: detail.slice(0, 512) } });
}

/** Requests held until funding was seen: now they can be queued (or refused). */
export function releaseWaitingRequests(m: Machine, fx: Effect[], now: Now): void {
  if (m.waitingRequests.length === 0 || m.rec.status === 'funding') return;
  const ops = m.waitingRequests.splice(0);
  onRequest(m, fx, { type: 'request', channelId: m.rec.id, ops }, now);
}

/**
 * A co-signed state we adopted (from the counterparty, or from the chain): if it is one we
 * proposed, what it carries is complete; a proposal built on an older state is abandoned and its
 * version burned, and nothing it shares with the adopted state is ever proposed again.
 */
export function adopted(m: Machine, fx: Effect[], signed: SignedState, now: Now): void {
  const v = signed.state.version;
  const digest = stateDigest(m.rec.params, signed.state);
  const match = m.released.find((r) => r.version === v && equalBytes(r.digest, digest));
  const done = new Set<Pending>(match ? [...match.pending] : []);
  const p = m.proposal;
  if (p && p.version === v && equalBytes(p.digest, digest)) {
    // The proposal in flight itself came back co-signed.
    for (const x of p.pending) done.add(x);
    m.proposal = undefined;
  }
  // A final state we signed stays the last thing we ever sign, whatever its base: it is not
  // abandoned (that would mean signing another), it only fails to be countersigned.
  if (p && m.proposal === p && p.base < v && !p.state.isFinal) {
    // Built on an older state: it can never be co-signed as a successor. Burn its version; what
    // it carries that the adopted state does not goes again.
    if (p.version > m.rec.burnedVersion) setRecord(m, fx, { burnedVersion: p.version });
    m.proposal = undefined;
    m.queue.unshift(...p.pending.filter((x) => !done.has(x)));
  }
  if (done.size > 0) {
    const ids = new Set([...done].map((x) => `${x.op.by}:${x.op.id}`));
    m.queue = m.queue.filter((x) => !ids.has(`${x.op.by}:${x.op.id}`));
    for (const r of m.released) r.doomed = r.doomed.filter((x) => !ids.has(`${x.op.by}:${x.op.id}`));
  }
  const superseded = supersede(m, v);
  if (done.size > 0 || superseded.length > 0) {
    const t = token(m);
    m.completing.push({ token: t, version: v, ops: [...done].map((x) => x.op), pending: [...done], superseded });
    fx.push({ kind: 'flush', token: t });
  }
  if (signed.state.isFinal) {
    setRecord(m, fx, { finalProposal: undefined });
    if (m.rec.status === 'open') setStatus(m, fx, 'closing');
  }
  pump(m, fx, now);
}

/** Surpluses the chain shows and the latest state has not credited: credit them (the leader proposes). */
export function creditDeposits(m: Machine, fx: Effect[], now: Now): void {
  if (!m.latest || !canUpdate(m)) return;
  const totals = m.latest.state.balances.map(([a, b]) => a + b);
  for (const l of m.latest.state.locks) totals[l.asset] = totals[l.asset]! + l.amount;
  for (const s of uncredited(m.rec.depositFacts, m.rec.deposits, totals)) {
    const key = `${s.asset}:${s.holdingsAfter}`;
    if (m.crediting.has(key)) continue;
    m.crediting.add(key);
    m.queue.push({
      op: { kind: 'deposit', id: opId(m), by: 0, asset: s.asset, amount: s.amount, holdingsAfter: s.holdingsAfter },
      since: now.ms,
    });
  }
  pump(m, fx, now);
}

/** Operations older than `limit` (ms) give up: queued ones for certain, signed ones maybe. */
export function expire(m: Machine, fx: Effect[], limit: number): void {
  let n = 0;
  while (n < m.queue.length && m.queue[n]!.since < limit) n++;
  for (const x of m.queue.splice(0, n)) {
    if (x.caller === undefined) continue;
    // Waiting to go again after a refusal, it is still in a proposal the follower may enforce.
    const held = m.released.some((r) => r.pending.some((y) => y.op.id === x.op.id && y.op.by === x.op.by));
    fail(fx, x.caller, (held ? maybe : definitely)('timeout', `${x.op.kind} ${x.op.id} was not agreed in time`));
  }
  for (const r of m.released) {
    r.doomed = r.doomed.filter((x) => {
      if (x.since >= limit) return true;
      fail(fx, x.caller, maybe(r.failure?.reason ?? 'timeout', 'refused, but the counterparty holds our signature on a state carrying it'));
      return false;
    });
  }
  const p = m.proposal;
  if (p && (p.stage === 'sent' || p.stage === 'verifying') && p.pending.some((x) => x.since < limit)) {
    // The follower does not answer: tell the callers, though the proposal may still be co-signed.
    for (const x of p.pending) fail(fx, x.caller, maybe('timeout', `${x.op.kind} ${x.op.id} was proposed but not countersigned in time`));
  }
  for (const d of m.deciding.splice(0)) {
    if (d.since >= limit) m.deciding.push(d);
    else
      rejectOps(
        m,
        fx,
        d.ops.map((o) => o.id),
        'internal',
        'the swap policy did not answer in time',
      );
  }
}

/** The channel closed or is disputed: nothing queued will be proposed. */
export function abandonQueue(m: Machine, fx: Effect[], why: Parameters<typeof fail>[2]): void {
  for (const x of m.queue.splice(0)) refuse(m, fx, x, why);
  for (const op of m.waitingRequests.splice(0)) rejectOps(m, fx, [op.id], 'closed', why.detail);
}

export function queueFinalize(m: Machine, now: Now): void {
  if (!m.queue.some((p) => p.op.kind === 'finalize')) m.queue.push({ op: { kind: 'finalize', id: opId(m), by: 0 }, since: now.ms });
}

/**
 * The chain paid the channel out with the state of `version`. If that is a proposal of ours
 * (the follower registered our signed proposal and concluded it), what it carried happened;
 * everything else we signed is moot now.
 */
export function settledAt(m: Machine, fx: Effect[], version: bigint): void {
  const done = m.released.find((r) => r.version === version) ?? (m.proposal?.version === version ? m.proposal : undefined);
  const completed = new Set<Pending>(done ? done.pending : []);
  for (const x of completed) resolve(fx, x.caller, version);
  const gone = [...m.released.flatMap((r) => r.pending), ...(m.proposal?.pending ?? [])];
  for (const x of gone) if (!completed.has(x)) fail(fx, x.caller, definitely('closed', 'the channel was settled on-chain without it'));
  m.released = [];
  m.proposal = undefined;
}

/** A lock-changing operation without what rides along for routing (onion, failure report). */
function bareLockOp(op: Op): Op {
  if (op.kind === 'lock' && op.onion !== undefined) return { kind: 'lock', id: op.id, by: op.by, lock: op.lock };
  if (op.kind === 'cancel' && op.failure !== undefined) return { kind: 'cancel', id: op.id, by: op.by, lockId: op.lockId };
  return op;
}
