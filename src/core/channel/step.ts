/**
 * The step: one input through the channel machine (docs/adr/0009).
 *
 * `step(m, input, now)` returns the effects to execute, in order; it does no I/O, reads no
 * clock and draws no randomness. It updates `m` in place (the node owns the machine; a leader's
 * queue may hold thousands of operations, and copying them on every step would cost more than
 * the protocol does). What survives a crash is exactly what the effects persisted and flushed:
 * `restore` (types.ts) rebuilds a machine from it.
 *
 * It never throws for anything a peer sends: a bad message ends in a `send` of a reject and,
 * when an honest peer could not have sent it, a `penalize`.
 */
import type { Message } from '../codec/messages.ts';
import { closeCooperatively, forceClose, onChain, onSubmitted, onTickChain } from './chain.ts';
import * as follower from './follower.ts';
import { onFundingTick } from './funding.ts';
import { forgetLearned } from './learned.ts';
import type { Effect, Input, Now } from './io.ts';
import * as leader from './leader.ts';
import * as opening from './opening.ts';
import { onAdoptionFlushed, onAdoptionVerified, onConnected, onState, onSync } from './sync.ts';
import { type Machine, isLeader, setRecord, token } from './types.ts';

export function step(m: Machine, input: Input, now: Now): Effect[] {
  const fx: Effect[] = [];
  switch (input.kind) {
    case 'message':
      onMessage(m, fx, input.message, now);
      break;
    case 'ops':
      if (isLeader(m)) leader.onOwnOps(m, fx, input.ops, now);
      else follower.onOwnOps(m, fx, input.ops, now);
      break;
    case 'close':
      closeCooperatively(m, fx, input.caller, now, input.direct ?? false);
      break;
    case 'force-close':
      forceClose(m, fx, input.caller, input.direct ?? false);
      break;
    case 'connected':
      onConnected(m, fx, input.peer, now);
      break;
    case 'disconnected':
      m.connected = false;
      m.peerLatest = undefined;
      break;
    case 'forget-learned':
      forgetLearned(m, fx, input.hashlocks);
      break;
    case 'peer-addresses':
      // Durable soon: after a restart on a new port, it is how we find the counterparty again.
      if (input.multiaddrs.join() !== m.rec.peer.multiaddrs.join()) {
        setRecord(m, fx, { peer: { ...m.rec.peer, multiaddrs: [...input.multiaddrs] } });
        fx.push({ kind: 'flush', token: token(m) });
      }
      break;
    case 'chain':
      onChain(m, fx, input.fact, now);
      break;
    case 'tick':
      onTick(m, fx, input.operationTimeoutMs, now);
      break;
    case 'signed':
      if (opening.isOpening(m, input.token)) opening.onOpeningSigned(m, fx, input.signature);
      else if (isLeader(m)) leader.onSigned(m, fx, input.token, input.signature, now);
      else follower.onSigned(m, fx, input.token, input.signature);
      break;
    case 'verified':
      if (opening.isOpening(m, input.token)) opening.onOpeningVerified(m, fx, input.ok);
      else if (m.adoption?.token === input.token) onAdoptionVerified(m, fx, input.ok);
      else if (isLeader(m)) leader.onVerified(m, fx, input.token, input.ok, now);
      else follower.onVerified(m, fx, input.token, input.ok, now);
      break;
    case 'flushed':
      if (opening.isOpening(m, input.token)) opening.onOpeningFlushed(m, fx, now);
      else if (m.adoption?.token === input.token) onAdoptionFlushed(m, fx, now);
      else if (isLeader(m)) leader.onFlushed(m, fx, input.token, now);
      else follower.onFlushed(m, fx, input.token, now);
      break;
    case 'decided':
      if (isLeader(m)) leader.onDecided(m, fx, input.token, input.refused, now);
      else follower.onDecided(m, fx, input.token, input.refused, now);
      break;
    case 'submitted':
      onSubmitted(m, fx, input.token, input.result, now);
      break;
  }
  return fx;
}

function onMessage(m: Machine, fx: Effect[], msg: Message, now: Now): void {
  switch (msg.type) {
    case 'sync':
      return onSync(m, fx, msg);
    case 'state':
      return onState(m, fx, msg);
    case 'open':
      return opening.onRepeatedOpen(m, fx);
    case 'open-accept':
      if (isLeader(m)) return opening.onOpenAccept(m, fx, msg);
      return follower.onMessage(m, fx, msg, now);
    default:
      if (isLeader(m)) return leader.onMessage(m, fx, msg, now);
      return follower.onMessage(m, fx, msg, now);
  }
}

function onTick(m: Machine, fx: Effect[], timeoutMs: number, now: Now): void {
  const limit = now.ms - timeoutMs;
  if (isLeader(m)) leader.expire(m, fx, limit);
  else follower.expire(m, fx, limit);
  onFundingTick(m, fx, now);
  onTickChain(m, fx, now);
  if (isLeader(m)) leader.pump(m, fx, now);
}
