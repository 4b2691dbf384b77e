/** Reporting a co-signed update to the application: events, and the watchtower's next update. */
import type { Op } from '../core/ops.ts';
import type { Channel } from './channel.ts';
import type { Context } from './context.ts';
import { assetOf } from './views.ts';

/** Called once a co-signed state carrying `ops` is durable. */
export function applied(ctx: Context, ch: Channel, ops: readonly Op[], version: bigint): void {
  if (ctx.settle) ctx.watchDirty.add(ch);
  ctx.events.emit('channel-updated', { channelId: ch.id, version, operations: ops.length });
  const wantPayments = ctx.events.wants('payment-received');
  const wantSwaps = ctx.events.wants('swap-executed');
  if (!wantPayments && !wantSwaps) return;
  for (const op of ops) {
    if (op.kind === 'pay' && op.by !== ch.self && wantPayments) {
      ctx.events.emit('payment-received', { channelId: ch.id, id: op.id, version, asset: assetOf(ch, op.asset), amount: op.amount });
    } else if (op.kind === 'swap' && wantSwaps) {
      const mine = op.by === ch.self;
      const give = { asset: assetOf(ch, op.giveAsset), amount: op.giveAmount };
      const take = { asset: assetOf(ch, op.takeAsset), amount: op.takeAmount };
      ctx.events.emit('swap-executed', {
        channelId: ch.id,
        version,
        gave: mine ? give : take,
        received: mine ? take : give,
        initiatedBy: mine ? 'me' : 'counterparty',
      });
    }
  }
}
