/**
 * Opening a channel (ADR 0003, 0009): the leader proposes the parameters with its signature on
 * version 0; the follower (whose node's open policy said yes) verifies it, signs version 0 too,
 * makes the channel durable, and accepts. Version 0 is co-signed before any money moves, so
 * either side can always get its deposit back through the adjudicator.
 */
import type { OpenAcceptMessage, OpenMessage } from '../codec/messages.ts';
import { stateDigest } from '../eip712.ts';
import { initialState } from '../state.ts';
import type { Effect, Now, PeerKey } from './io.ts';
import type { ChannelRecord } from './record.ts';
import { onFundingTick } from './funding.ts';
import { type Machine, restore, setStatus, token } from './types.ts';

const v0Of = (m: Machine) => initialState(m.rec.params, m.rec.deposits);

/** A new channel we lead: signs version 0, makes the record durable, then sends `open`. */
export function proposeChannel(
  rec: ChannelRecord,
  o: { readonly selfKey: Uint8Array; readonly firstOpId: bigint; readonly peer: PeerKey },
): { machine: Machine; effects: Effect[] } {
  const m = restore({ ...rec, status: 'proposed' }, undefined, o);
  m.peer = o.peer;
  m.connected = true;
  const fx: Effect[] = [{ kind: 'persist-record', record: m.rec }];
  m.openToken = token(m);
  fx.push({ kind: 'sign', token: m.openToken, digest: stateDigest(m.rec.params, v0Of(m)) });
  return { machine: m, effects: fx };
}

/**
 * A channel a peer proposed and our open policy accepted (the node checked the params, who we
 * are in them, and the policy): verify its signature on version 0, then sign ours.
 */
export function acceptChannel(
  msg: OpenMessage,
  o: {
    readonly selfKey: Uint8Array;
    readonly firstOpId: bigint;
    readonly peer: PeerKey;
    readonly id: ChannelRecord['id'];
    readonly createdAt: number;
  },
): { machine: Machine; effects: Effect[] } {
  const rec: ChannelRecord = {
    id: o.id,
    params: msg.params,
    self: 1,
    peer: { peerId: o.peer.peerId, multiaddrs: [] },
    status: 'proposed',
    deposits: msg.deposits,
    depositFacts: [],
    burnedVersion: 0n,
    versionLease: 0n,
    nextOpId: 0n,
    createdAt: o.createdAt,
  };
  const m = restore(rec, undefined, o);
  m.peer = o.peer;
  m.connected = true;
  m.openSignature = msg.signature;
  m.openToken = token(m);
  const digest = stateDigest(m.rec.params, v0Of(m));
  return {
    machine: m,
    effects: [{ kind: 'verify', token: m.openToken, checks: [{ signature: msg.signature, digest, publicKey: o.peer.publicKey }] }],
  };
}

/** Whether a completion belongs to the opening handshake (then it is handled here). */
export function isOpening(m: Machine, t: number): boolean {
  return m.openToken === t;
}

export function onOpeningSigned(m: Machine, fx: Effect[], signature: Uint8Array): void {
  m.openToken = undefined;
  if (m.rec.self === 0) {
    m.openSignature = signature;
    m.openToken = token(m);
    fx.push({ kind: 'flush', token: m.openToken }); // the record is durable before anyone hears of it
    return;
  }
  // Follower: version 0 is co-signed; durable before we accept.
  m.latest = { state: v0Of(m), signatures: [m.openSignature!, signature] };
  setStatus(m, fx, 'funding');
  fx.push({ kind: 'persist-state', signed: m.latest });
  m.openToken = token(m);
  fx.push({ kind: 'flush', token: m.openToken });
}

export function onOpeningVerified(m: Machine, fx: Effect[], ok: boolean): void {
  m.openToken = undefined;
  if (!ok) {
    fx.push({ kind: 'penalize', why: 'open or open-accept with a bad signature' });
    if (m.rec.self === 1) {
      fx.push({
        kind: 'send',
        message: { type: 'reject', channelId: m.rec.id, reason: 'invalid-signature', detail: 'bad signature on version 0' },
      });
      m.rec = { ...m.rec, status: 'rejected', note: 'bad signature on version 0' };
    }
    return;
  }
  if (m.rec.self === 1) {
    m.openToken = token(m);
    fx.push({ kind: 'sign', token: m.openToken, digest: stateDigest(m.rec.params, v0Of(m)) });
    return;
  }
  // Leader: the follower accepted; version 0 is co-signed.
  m.latest = { state: v0Of(m), signatures: [m.openSignature!, m.pendingAccept!] };
  m.pendingAccept = undefined;
  fx.push({ kind: 'persist-state', signed: m.latest });
  setStatus(m, fx, 'funding');
  fx.push({ kind: 'flush', token: token(m) });
}

export function onOpeningFlushed(m: Machine, fx: Effect[], now: Now): void {
  m.openToken = undefined;
  if (m.rec.self === 0) {
    if (m.rec.status === 'proposed') resendOpen(m, fx);
    return;
  }
  fx.push({ kind: 'send', message: { type: 'open-accept', channelId: m.rec.id, signature: m.latest!.signatures[1] } });
  onFundingTick(m, fx, now);
}

/** Sends `open` (again), signing version 0 first if this process has not. */
export function resendOpen(m: Machine, fx: Effect[]): void {
  if (m.rec.self !== 0 || m.rec.status !== 'proposed' || m.openToken !== undefined) return;
  if (!m.openSignature) {
    m.openToken = token(m);
    fx.push({ kind: 'sign', token: m.openToken, digest: stateDigest(m.rec.params, v0Of(m)) });
    return;
  }
  fx.push({ kind: 'send', message: { type: 'open', params: m.rec.params, deposits: m.rec.deposits, signature: m.openSignature } });
}

/** The follower's answer to our open. */
export function onOpenAccept(m: Machine, fx: Effect[], msg: OpenAcceptMessage): void {
  if (m.rec.self !== 0 || m.rec.status !== 'proposed' || !m.peer || !m.openSignature || m.openToken !== undefined) return;
  m.pendingAccept = msg.signature;
  m.openToken = token(m);
  fx.push({
    kind: 'verify',
    token: m.openToken,
    checks: [{ signature: msg.signature, digest: stateDigest(m.rec.params, v0Of(m)), publicKey: m.peer.publicKey }],
  });
}

/** A repeated `open` (our answer was lost): answer it the same way again. */
export function onRepeatedOpen(m: Machine, fx: Effect[]): void {
  if (m.rec.self === 1 && m.latest && m.openToken === undefined) {
    fx.push({ kind: 'send', message: { type: 'open-accept', channelId: m.rec.id, signature: m.latest.signatures[1] } });
  }
}
