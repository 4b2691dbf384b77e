/**
 * Staying in step (docs/architecture.md, "Durability rules"): on every connection each side
 * announces its latest co-signed version; the side that is ahead sends its co-signed state, which
 * the other adopts only with valid signatures of both participants, ours included (so it is a
 * state we agreed to). The follower persists before countersigning, so in practice only the
 * leader catches up: a countersignature lost to a crash or a dropped connection.
 */
import type { StateMessage, SyncMessage } from '../codec/messages.ts';
import { stateDigest } from '../eip712.ts';
import { checkState } from '../validate.ts';
import type { Effect, Now, PeerKey } from './io.ts';
import * as leader from './leader.ts';
import * as follower from './follower.ts';
import { answer } from './chain.ts';
import { resendOpen } from './opening.ts';
import { type Machine, isLeader, isLive, setStatus, token } from './types.ts';

export function onConnected(m: Machine, fx: Effect[], peer: PeerKey, now: Now): void {
  m.peer = peer;
  m.connected = true;
  if (m.rec.status === 'proposed') return resendOpen(m, fx);
  if (!isLive(m) || !m.latest) return;
  fx.push({ kind: 'send', message: { type: 'sync', channelId: m.rec.id, version: m.latest.state.version } });
  if (isLeader(m)) {
    leader.resend(m, fx);
    leader.creditDeposits(m, fx, now);
    leader.pump(m, fx, now);
  } else follower.resendRequests(m, fx);
}

/** Refusals a peer that said it is behind gets without a penalty (its proposals in flight). */
const FREE_REFUSALS_BEHIND = 4;

/** The peer's latest version: if we are ahead, it gets our co-signed state. */
export function onSync(m: Machine, fx: Effect[], msg: SyncMessage): void {
  m.peerLatest = msg.version;
  const latest = m.latest;
  if (latest && msg.version < latest.state.version) {
    m.peerBehind = FREE_REFUSALS_BEHIND;
    fx.push({ kind: 'send', message: { type: 'state', state: latest.state, signatures: latest.signatures } });
  }
}

/** A co-signed state from the peer: verify both signatures, then make it durable before using it. */
export function onState(m: Machine, fx: Effect[], msg: StateMessage): void {
  const latest = m.latest;
  // One thing at a time: a proposal being checked builds on the latest state, which must not
  // move under it (the state comes again with the next sync).
  if (m.adoption || m.incoming || !m.peer || !latest) return;
  if (msg.state.version <= latest.state.version) return; // a race, not a fault
  const shape = checkState(m.rec.params, m.rec.id, msg.state);
  if (!shape.ok) {
    fx.push({ kind: 'penalize', why: `catch-up state: ${shape.reason}` });
    return;
  }
  const digest = stateDigest(m.rec.params, msg.state);
  const keys = m.rec.self === 0 ? [m.selfKey, m.peer.publicKey] : [m.peer.publicKey, m.selfKey];
  const t = token(m);
  m.adoption = { stage: 'verifying', token: t, signed: { state: msg.state, signatures: msg.signatures } };
  fx.push({
    kind: 'verify',
    token: t,
    checks: [0, 1].map((i) => ({ signature: msg.signatures[i]!, digest, publicKey: keys[i]! })),
  });
}

export function onAdoptionVerified(m: Machine, fx: Effect[], ok: boolean): void {
  const a = m.adoption!;
  if (a.stage !== 'verifying') return;
  if (!ok) {
    m.adoption = undefined;
    fx.push({ kind: 'penalize', why: 'catch-up state with an invalid signature' });
    return;
  }
  // The latest may have moved on while the signatures were checked: never write an older state
  // over a newer one (the disk would go back to a state the counterparty may still enforce).
  if (m.latest && a.signed.state.version <= m.latest.state.version) {
    m.adoption = undefined;
    return;
  }
  fx.push({ kind: 'persist-state', signed: a.signed });
  a.stage = 'flushing';
  a.token = token(m);
  fx.push({ kind: 'flush', token: a.token });
}

export function onAdoptionFlushed(m: Machine, fx: Effect[], now: Now): void {
  const a = m.adoption!;
  if (a.stage !== 'flushing') return;
  m.adoption = undefined;
  adopt(m, fx, a.signed, now);
}

/** A co-signed state newer than ours (durable already) becomes the latest. */
export function adopt(m: Machine, fx: Effect[], signed: Parameters<typeof leader.adopted>[2], now: Now): void {
  if (m.latest && signed.state.version <= m.latest.state.version) return;
  m.latest = signed;
  fx.push({ kind: 'log', level: 'info', message: 'caught up from the counterparty', fields: { version: String(signed.state.version) } });
  if (m.rec.status === 'disputed') answer(m, fx, now);
  if (isLeader(m)) leader.adopted(m, fx, signed, now);
  else {
    // We do not know what the state carries: what we asked for may or may not be in it.
    follower.abandonRequests(m, fx, 'the channel moved to a state this node did not check', true);
    if (signed.state.isFinal && m.rec.status === 'open') setStatus(m, fx, 'closing');
  }
}
