/** Sending to a channel's counterparty, and the reasons that count as misbehaviour. */
import type { Message } from '../core/codec/messages.ts';
import type { RejectReason } from '../core/result.ts';
import type { Channel } from './channel.ts';
import type { Context } from './context.ts';

/** Sends to the channel's counterparty; false when it is not connected (the message is dropped). */
export function sendTo(ctx: Context, ch: Channel, message: Message): boolean {
  return ctx.transport.send(ch.record.peer.peerId, message);
}

/** Reasons an honest peer never causes: they count against the sender. */
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

/** Tells the peer its requested operations were refused. */
export function rejectOps(ctx: Context, ch: Channel, ids: readonly bigint[], reason: RejectReason, detail: string): void {
  if (ids.length === 0) return;
  sendTo(ctx, ch, { type: 'reject', channelId: ch.id, ops: ids, reason, detail: detail.slice(0, 512) });
}
