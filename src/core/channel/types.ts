/**
 * The channel machine's state (docs/adr/0009): the durable record and latest co-signed state,
 * plus what is in flight, which a restart forgets. The step function (step.ts) owns a machine
 * and updates it in place; handlers live in leader.ts, follower.ts, sync.ts, funding.ts,
 * chain.ts and opening.ts.
 */
import type { ProposeMessage } from '../codec/messages.ts';
import type { Op, TransitionContext } from '../ops.ts';
import { type ParticipantIndex, other } from '../params.ts';
import type { ChannelState } from '../state.ts';
import type { SignedState } from '../validate.ts';
import type { CallerId, Effect, Failure, Now, PeerKey, Submission } from './io.ts';
import type { ChannelRecord, ChannelStatus } from './record.ts';

/** An operation waiting to ride a proposal (leader): ours, with its caller, or the follower's request. */
export interface Pending {
  readonly op: Op;
  /** Ours: who waits for the result. Absent: the follower's request, or an operation of the machine's own. */
  readonly caller?: CallerId;
  /** When it was asked for (node clock, ms). */
  readonly since: number;
}

/** The leader's proposal being prepared, sent, or checked. */
export interface Proposal {
  stage: 'signing' | 'flushing' | 'sent' | 'verifying';
  /** The token of the effect this stage waits for. */
  token: number;
  readonly version: bigint;
  readonly pending: readonly Pending[];
  readonly state: ChannelState;
  readonly digest: Uint8Array;
  /** The version of the co-signed state it builds on. */
  readonly base: bigint;
  /** It must be durable (a version beyond the durable lease, a final state) before it is sent. */
  readonly flushFirst: boolean;
  /** The version lease when it was prepared: durable once its flush completes. */
  readonly lease: bigint;
  signature?: Uint8Array;
  countersignature?: Uint8Array;
}

/**
 * A proposal the leader signed and sent that is not co-signed yet: the follower holds our
 * signature on it and may enforce it, so what it carries is "maybe applied" until a co-signed
 * state of a higher version supersedes it (a final state is never superseded: it closes the
 * channel whenever it is submitted).
 */
export interface Released {
  readonly version: bigint;
  readonly digest: Uint8Array;
  readonly state: ChannelState;
  /** Every operation it carries. */
  readonly pending: readonly Pending[];
  /** Its operations the follower refused: they fail for certain once it is superseded. */
  doomed: Pending[];
  /** Why the follower refused it, for the doomed operations. */
  failure?: Failure;
}

/** A co-signed update waiting for its flush before its callers hear of it. */
export interface Completion {
  readonly token: number;
  readonly version: bigint;
  readonly ops: readonly Op[];
  readonly pending: readonly Pending[];
  /**
   * Operations of proposals this state supersedes, which the follower had refused: they fail for
   * certain, but only once this state is durable (until then a crash would leave the refused
   * proposal enforceable again).
   */
  readonly superseded: readonly { readonly pending: Pending; readonly failure: Failure }[];
}

/** The follower's own operation, asked of the leader. */
export interface Requested {
  readonly op: Op;
  readonly caller?: CallerId;
  readonly since: number;
}

/** The follower's check of one proposal. */
export interface Incoming {
  stage: 'verifying' | 'deciding' | 'signing' | 'flushing';
  token: number;
  readonly message: ProposeMessage;
  readonly state: ChannelState;
  readonly digest: Uint8Array;
  signed?: SignedState;
}

/** A co-signed state from the counterparty being verified, then made durable. */
export interface Adoption {
  stage: 'verifying' | 'flushing';
  token: number;
  readonly signed: SignedState;
}

/** A submission in flight, and who waits for it. */
export interface InFlight {
  readonly submission: Submission;
  readonly callers: readonly CallerId[];
}

/** The leader asking its swap policy about swaps the follower requested. */
export interface Deciding {
  readonly token: number;
  readonly ops: readonly Op[];
  readonly since: number;
}

export interface Machine {
  rec: ChannelRecord;
  /** The latest co-signed state this node holds durably. */
  latest: SignedState | undefined;
  /** Our own public key (to check our signature on a catch-up state). */
  readonly selfKey: Uint8Array;
  /**
   * Seconds before a lock's expiry from which it settles only through the registry (docs/adr/0011).
   * Set by the node from its forwarding timing when it adopts a machine.
   */
  settleMargin: bigint;
  /** The counterparty's key, once the transport authenticated it. */
  peer: PeerKey | undefined;
  connected: boolean;
  /**
   * The counterparty told us (its `sync`) it is behind our latest co-signed state: a leader that
   * restarted before its last state was on disk. Until it catches up, its proposals are built on
   * an old state and fail our checks honestly: refused, not penalised. A count of such free
   * refusals left (a few: a peer that lies about being behind still gets penalised soon).
   */
  peerBehind: number;
  /**
   * The latest co-signed version the counterparty announced (its `sync`) on this connection. A
   * leader whose proposal builds on an older state knows the refusal is about its base.
   */
  peerLatest: bigint | undefined;
  nextToken: number;
  /** Ids for operations the machine makes itself (finalize, deposit credits); seeded by the node. */
  nextOpId: bigint;
  // Leader ---------------------------------------------------------------------------------
  queue: Pending[];
  proposal: Proposal | undefined;
  released: Released[];
  completing: Completion[];
  /** Propose even with nothing queued: to supersede a refused version with a co-signed one. */
  needsUpdate: boolean;
  deciding: Deciding[];
  /**
   * The version lease known to be on disk. A proposal beyond it waits for a flush, even when an
   * abandoned proposal raised the lease in memory and never waited for its flush.
   */
  leaseDurable: bigint;
  /** Our signature on version 0, and the token of the effect the opening waits for. */
  openSignature: Uint8Array | undefined;
  openToken: number | undefined;
  /** The follower's signature on version 0, while it is verified. */
  pendingAccept: Uint8Array | undefined;
  /** Requests that arrived before this node saw the channel funded. */
  waitingRequests: Op[];
  // Follower -------------------------------------------------------------------------------
  requested: Map<bigint, Requested>;
  incoming: Incoming | undefined;
  /** A proposal that arrived while another was being checked, or before a deposit it credits was seen. */
  waitingProposal: { readonly message: ProposeMessage; readonly since: number; refreshed: boolean } | undefined;
  /** The highest version refused in this process: not durable, since refusing signs nothing. */
  refusedVersion: bigint;
  // Both -----------------------------------------------------------------------------------
  adoption: Adoption | undefined;
  submissions: Map<number, InFlight>;
  /** Our version-0 deposits submitted in this process, and what the chain showed of ours before. */
  deposited: { readonly base: bigint[]; readonly sent: bigint[] } | undefined;
  /** Callers waiting for a close to be submitted. */
  closeCallers: CallerId[];
  /** A caller asked to submit the close ourselves, not through the coordinator. */
  closeDirect: boolean;
  /** We submitted the close of our final state (in this process). */
  closeSubmitted: boolean;
  /** When (node clock, ms) we first saw our final state co-signed and not yet paid out. */
  finalSince: number | undefined;
  /** Surpluses being credited (by `holdingsAfter`, per asset), so each is proposed once. */
  crediting: Set<string>;
  /** When a dispute answer, a conclusion or a deposit was last submitted (node clock, ms). */
  lastAttempt: { dispute: number; conclude: number; deposit: number; refresh: number; unlock: number };
  /** When we first saw a registered state concludable (node clock, ms). */
  dueSince: number | undefined;
  /** The version we submitted for registration (a forced close or an answer), if any. */
  registering: bigint | undefined;
}

/** How long a failed submission waits before it is tried again (ms). */
export const RETRY_MS = 5_000;
/** How long the side that did not register a state lets the other conclude first (ms). */
export const CONCLUDE_GRACE_MS = 10_000;
/** Versions the leader leases at a time: one durable record write per this many updates (ADR 0006). */
export const VERSION_LEASE = 1024n;

/** A machine around a durable record and latest state (after a restart, or for a new channel). */
export function restore(
  rec: ChannelRecord,
  latest: SignedState | undefined,
  o: { readonly selfKey: Uint8Array; readonly firstOpId: bigint; readonly settleMargin?: bigint },
): Machine {
  // As leader we may have signed and sent proposals up to the lease that we never stored:
  // skip them all, so no version is ever signed twice (ADR 0006).
  const burned = rec.self === 0 && rec.versionLease > rec.burnedVersion ? rec.versionLease : rec.burnedVersion;
  return {
    rec: burned === rec.burnedVersion ? rec : { ...rec, burnedVersion: burned },
    latest,
    selfKey: o.selfKey,
    settleMargin: o.settleMargin ?? 0n,
    peer: undefined,
    connected: false,
    peerBehind: 0,
    peerLatest: undefined,
    nextToken: 1,
    nextOpId: o.firstOpId,
    queue: [],
    proposal: undefined,
    released: [],
    completing: [],
    needsUpdate: false,
    deciding: [],
    leaseDurable: rec.versionLease,
    openSignature: undefined,
    openToken: undefined,
    pendingAccept: undefined,
    waitingRequests: [],
    requested: new Map(),
    incoming: undefined,
    waitingProposal: undefined,
    refusedVersion: 0n,
    adoption: undefined,
    submissions: new Map(),
    deposited: undefined,
    closeCallers: [],
    closeDirect: false,
    closeSubmitted: false,
    finalSince: undefined,
    crediting: new Set(),
    lastAttempt: { dispute: -Infinity, conclude: -Infinity, deposit: -Infinity, refresh: -Infinity, unlock: -Infinity },
    dueSince: undefined,
    registering: undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the handlers

export function token(m: Machine): number {
  return m.nextToken++;
}

/** An id for an operation the machine makes itself; keeps the participant's parity (ids never collide). */
export function opId(m: Machine): bigint {
  const id = (m.nextOpId << 1n) | BigInt(m.rec.self);
  m.nextOpId += 1n;
  return id;
}

export const isLeader = (m: Machine): boolean => m.rec.self === 0;
export const counterparty = (m: Machine): ParticipantIndex => other(m.rec.self);

/** A change to the record; `undefined` removes an optional field. */
export type RecordChange = { [K in keyof ChannelRecord]?: ChannelRecord[K] | undefined };

/** Updates the record and persists it (durable at the next flush). */
export function setRecord(m: Machine, fx: Effect[], change: RecordChange): void {
  const next: Record<string, unknown> = { ...m.rec, ...change };
  for (const [k, v] of Object.entries(change)) if (v === undefined) delete next[k];
  m.rec = next as unknown as ChannelRecord;
  fx.push({ kind: 'persist-record', record: m.rec });
}

export function setStatus(m: Machine, fx: Effect[], status: ChannelStatus, note?: string): void {
  if (m.rec.status === status) return;
  setRecord(m, fx, { status, ...(note === undefined ? {} : { note }) });
  fx.push({ kind: 'status', status });
}

/** Whether new updates may be agreed: open or closing, nothing final signed. */
export function canUpdate(m: Machine): boolean {
  return (
    (m.rec.status === 'open' || m.rec.status === 'closing') &&
    m.latest !== undefined &&
    !m.latest.state.isFinal &&
    m.rec.finalProposal === undefined
  );
}

/** Why updates are refused, when {@link canUpdate} is false. */
export function whyNot(m: Machine): Failure {
  if (m.latest?.state.isFinal || m.rec.finalProposal) return definitely('channel-final', 'the channel has a final state');
  return definitely('closed', `the channel is ${m.rec.status}`);
}

export function fail(fx: Effect[], caller: CallerId | undefined, failure: Failure): void {
  if (caller !== undefined) fx.push({ kind: 'fail', caller, failure });
}

export function resolve(fx: Effect[], caller: CallerId | undefined, version: bigint): void {
  if (caller !== undefined) fx.push({ kind: 'resolve', caller, version });
}

export const definitely = (reason: Failure['reason'], detail: string): Failure => ({ reason, detail, maybeApplied: false });
export const maybe = (reason: Failure['reason'], detail: string): Failure => ({ reason, detail, maybeApplied: true });

/** The lowest version a new proposal may carry: above the latest, and above every burned or refused one. */
export function nextVersion(m: Machine): bigint {
  let v = m.latest?.state.version ?? 0n;
  if (m.rec.burnedVersion > v) v = m.rec.burnedVersion;
  if (m.refusedVersion > v) v = m.refusedVersion;
  return v + 1n;
}

export function log(fx: Effect[], level: 'info' | 'warn', message: string, fields?: Record<string, unknown>): void {
  fx.push({ kind: 'log', level, message, ...(fields === undefined ? {} : { fields }) });
}

/** Live: a status in which the channel's funds are at stake and its peer is worth talking to. */
export function isLive(m: Machine): boolean {
  const s = m.rec.status;
  return s === 'funding' || s === 'open' || s === 'closing' || s === 'disputed';
}

/**
 * What the transition rules need from this channel: the node's clock, the deposits seen, and
 * when secrets of its locks were registered on-chain (a lock registered in time is its
 * receiver's, docs/adr/0011).
 */
export function transitionContext(m: Machine, now: Now): TransitionContext {
  const revealed = m.rec.revealed;
  return {
    now: BigInt(Math.floor(now.ms / 1000)),
    deposits: m.rec.depositFacts,
    shares: m.rec.deposits,
    settleMargin: m.settleMargin,
    ...(revealed && revealed.length > 0 ? { revealedAt: (h: string) => revealed.find((r) => r.hashlock === h)?.at } : {}),
  };
}
