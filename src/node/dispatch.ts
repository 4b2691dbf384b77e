/**
 * Routes every message from the transport to the channel machine it belongs to (or, for an
 * `open`, to the open policy). Nothing a peer sends can crash the node: an undecodable frame and
 * a message about a channel the sender has no part in are answered with a typed `reject` (and
 * penalised when the sender must have known better); everything else is the machine's to judge.
 */
import type { Message } from '../core/codec/messages.ts';
import type { Result } from '../core/result.ts';
import type { PeerRef } from '../p2p/transport.ts';
import type { Context } from './context.ts';
import { type ChannelHost, onOpen } from './opening.ts';

const ZERO_ID = `0x${'00'.repeat(32)}` as const;

export function dispatch(ctx: Context, host: ChannelHost, from: PeerRef, result: Result<Message>, firstOpId: () => bigint): void {
  if (!result.ok) {
    ctx.log.info({ peer: from.peerId, detail: result.detail }, 'malformed message');
    ctx.transport.penalize(from.peerId, `malformed: ${result.detail}`);
    ctx.transport.send(from.peerId, { type: 'reject', channelId: ZERO_ID, reason: 'malformed', detail: result.detail.slice(0, 512) });
    return;
  }
  const msg = result.value;
  if (msg.type === 'open') {
    onOpen(ctx, host, from, msg, firstOpId).catch((e: unknown) => {
      ctx.log.error({ err: e, peer: from.peerId }, 'handling an open failed');
      ctx.transport.send(from.peerId, {
        type: 'reject',
        channelId: ZERO_ID,
        reason: 'internal',
        detail: 'the receiver failed to process the open',
      });
    });
    return;
  }
  const id = msg.type === 'state' ? msg.state.channelId : msg.channelId;
  const ch = ctx.channels.get(id);
  if (!ch || ch.record.peer.peerId !== from.peerId) {
    // Do not tell a stranger whether the channel exists; never answer a reject with a reject.
    if (msg.type !== 'reject')
      ctx.transport.send(from.peerId, { type: 'reject', channelId: id, reason: 'unknown-channel', detail: 'no such channel with you' });
    return;
  }
  if (!ch.machine.connected) ch.input({ kind: 'connected', peer: { peerId: from.peerId, publicKey: from.publicKey } });
  ch.input({ kind: 'message', message: msg });
}
