/**
 * Routes every message from the transport to the protocol step it belongs to. Nothing a peer
 * sends can crash the node: undecodable frames, unknown channels, messages a role does not
 * accept and failing steps all end in a typed `reject` to the sender (and a penalty when the
 * sender must have known better); only a failed durable write stops the node.
 */
import type { Message } from '../core/codec/messages.ts';
import type { Result } from '../core/result.ts';
import type { PeerRef } from '../p2p/transport.ts';
import type { Channel } from './channel.ts';
import type { Context } from './context.ts';
import { FatalNodeError } from './errors.ts';
import { onOpsRejected, onPropose } from './follower.ts';
import { onCountersign, onProposalRejected, onRequest } from './leader.ts';
import { onOpen, onOpenAccept, onOpenRejected } from './opening.ts';
import { onState, onSync } from './sync.ts';

const ZERO_ID = `0x${'00'.repeat(32)}` as const;

export function dispatch(ctx: Context, from: PeerRef, result: Result<Message>): void {
  if (!result.ok) {
    ctx.log.info({ peer: from.peerId, detail: result.detail }, 'malformed message');
    ctx.transport.penalize(from.peerId, `malformed: ${result.detail}`);
    ctx.transport.send(from.peerId, { type: 'reject', channelId: ZERO_ID, reason: 'malformed', detail: result.detail.slice(0, 512) });
    return;
  }
  const msg = result.value;
  const step = route(ctx, from, msg);
  if (step) step.catch((e: unknown) => failed(ctx, from, msg, e));
}

function route(ctx: Context, from: PeerRef, msg: Message): Promise<void> | undefined {
  if (msg.type === 'open') return onOpen(ctx, from, msg);
  const id = msg.type === 'state' ? msg.state.channelId : msg.channelId;
  const ch = ctx.channels.get(id);
  if (!ch || ch.record.peer.peerId !== from.peerId) {
    // Do not tell a stranger whether the channel exists; never answer a reject with a reject.
    if (msg.type !== 'reject')
      ctx.transport.send(from.peerId, { type: 'reject', channelId: id, reason: 'unknown-channel', detail: 'no such channel with you' });
    return undefined;
  }
  ch.peer ??= from;
  switch (msg.type) {
    case 'open-accept':
      return ch.isLeader ? onOpenAccept(ctx, ch, msg) : wrongRole(ctx, ch, msg);
    case 'request':
      return ch.isLeader ? onRequest(ctx, ch, msg) : wrongRole(ctx, ch, msg);
    case 'close':
      return ch.isLeader
        ? onRequest(ctx, ch, { type: 'request', channelId: ch.id, ops: [{ kind: 'finalize', id: msg.id, by: ch.counterparty }] })
        : wrongRole(ctx, ch, msg);
    case 'propose':
      return ch.isLeader ? wrongRole(ctx, ch, msg) : onPropose(ctx, ch, msg);
    case 'countersign':
      return ch.isLeader ? onCountersign(ctx, ch, msg) : wrongRole(ctx, ch, msg);
    case 'reject':
      if (msg.version !== undefined) return ch.isLeader ? onProposalRejected(ctx, ch, { ...msg, version: msg.version }) : undefined;
      if (msg.ops !== undefined) {
        if (!ch.isLeader) onOpsRejected(ch, { ...msg, ops: msg.ops });
        return undefined;
      }
      return ch.isLeader ? onOpenRejected(ctx, ch, msg) : undefined;
    case 'sync':
      onSync(ctx, ch, msg);
      return undefined;
    case 'state':
      return onState(ctx, ch, msg);
  }
}

/** A message the receiver's role never accepts (a follower proposing, a leader countersigning...). */
function wrongRole(ctx: Context, ch: Channel, msg: Message): Promise<void> {
  ctx.transport.penalize(ch.record.peer.peerId, `${msg.type} from the wrong participant`);
  ctx.transport.send(ch.record.peer.peerId, {
    type: 'reject',
    channelId: ch.id,
    ...(msg.type === 'propose' ? { version: msg.version } : {}),
    reason: 'not-authorized',
    detail: `participant ${ch.counterparty} may not send ${msg.type}`,
  });
  return Promise.resolve();
}

function failed(ctx: Context, from: PeerRef, msg: Message, e: unknown): void {
  if (e instanceof FatalNodeError) return; // already stopping the node
  ctx.log.error({ err: e, peer: from.peerId, type: msg.type }, 'message handling failed');
  const channelId = msg.type === 'state' ? msg.state.channelId : msg.type === 'open' ? ZERO_ID : msg.channelId;
  if (msg.type !== 'reject')
    ctx.transport.send(from.peerId, {
      type: 'reject',
      channelId,
      reason: 'internal',
      detail: 'the receiver failed to process the message',
    });
}
