/**
 * Taking a channel to the chain for its machine (docs/adr/0005, 0009): deposits go straight to
 * the adjudicator; closes, disputes and conclusions go through the settlement coordinator when
 * one is configured (batched with other channels' items) and straight to the adjudicator when it
 * is not, cannot take them, or does not settle them in time. The machine learns the outcome as a
 * `submitted` input; what the chain finally did reaches it as a chain fact.
 */
import { challengeItem, closeItem, concludeItem, unlockItem } from '../chain/encode.ts';
import type { Submission, SubmissionResult } from '../core/channel/io.ts';
import type { SettleItem } from '../core/codec/settle.ts';
import { participantIndex } from '../core/params.ts';
import type { Channel } from './channel.ts';
import type { Context } from './context.ts';

/** Submits for the channel; never throws (a failure is a result the machine retries on). */
export async function submit(ctx: Context, ch: Channel, s: Submission): Promise<SubmissionResult> {
  try {
    switch (s.kind) {
      case 'deposit':
        return await deposit(ctx, ch, s.amounts);
      case 'close':
        return await settle(ctx, ch, s.direct ? undefined : { kind: 'close', params: ch.record.params, signed: s.signed }, () =>
          ctx.chain.closeBatch([closeItem(ch.record.params, s.signed)]),
        );
      case 'dispute': {
        // An answer with a deadline closer than the coordinator's patience goes straight to the chain.
        const now = await ctx.chain.timestamp().catch(() => undefined);
        const tight = s.deadline !== undefined && now !== undefined && Number(s.deadline - now) * 1000 < ctx.timeouts.coordinatorMs * 2;
        return await settle(ctx, ch, tight || s.direct ? undefined : { kind: 'dispute', params: ch.record.params, signed: s.signed }, () =>
          ctx.chain.challengeBatch([challengeItem(ch.record.params, s.signed)]),
        );
      }
      case 'conclude':
        return await settle(ctx, ch, { kind: 'conclude', params: ch.record.params, state: s.state }, () =>
          ctx.chain.concludeBatch([concludeItem(ch.record.params, s.state)]),
        );
      case 'unlock': {
        // Straight to the chain, all of the channel's due locks in one batch (no deadline: each
        // lock's outcome is fixed already). `Unlocked` facts tell the machine what was paid.
        const receipt = await ctx.chain.unlockBatch(s.indexes.map((i) => unlockItem(ch.record.params, s.state, i)));
        const failed = receipt.items.find((r) => !r.ok);
        ctx.channelLog(ch).info({ tx: receipt.hash, locks: s.indexes.length, failed: failed ? failed.reason : undefined }, 'unlocked');
        return failed && !failed.ok
          ? { ok: false, reason: failed.reason, transactionHash: receipt.hash }
          : { ok: true, transactionHash: receipt.hash };
      }
    }
  } catch (e) {
    ctx.channelLog(ch).warn({ err: e, kind: s.kind }, 'submission failed');
    return { ok: false, reason: 'error' };
  }
}

async function deposit(ctx: Context, ch: Channel, amounts: readonly bigint[]): Promise<SubmissionResult> {
  let tx: `0x${string}` | undefined;
  for (const [i, amount] of amounts.entries()) {
    if (amount === 0n) continue;
    ctx.channelLog(ch).info({ asset: ch.record.params.assets[i], amount: String(amount) }, 'depositing');
    tx = (await ctx.chain.deposit(ch.record.params, i, ch.self, amount)).hash;
  }
  return { ok: true, ...(tx === undefined ? {} : { transactionHash: tx }) };
}

/**
 * Through the coordinator if it takes the item and settles it within `coordinatorMs`; otherwise
 * directly. A refusal the chain itself gave (the adjudicator's reason) is final: submitting
 * directly would fail the same way.
 */
async function settle(
  ctx: Context,
  ch: Channel,
  item: SettleItem | undefined,
  direct: () => Promise<{ hash: `0x${string}`; items: readonly ({ ok: true } | { ok: false; reason: string })[] }>,
): Promise<SubmissionResult> {
  if (item && ctx.settle) {
    try {
      const { result } = await ctx.settle.submit(item);
      ctx.channelLog(ch).info({ kind: item.kind }, 'queued at the coordinator');
      const outcome = await Promise.race([
        result,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), ctx.timeouts.coordinatorMs).unref()),
      ]);
      if (outcome && (outcome.ok || outcome.reason !== 'dropped')) {
        ch.settledVia = 'coordinator';
        if (outcome.transactionHash) ch.settlementTx = outcome.transactionHash;
        return {
          ok: outcome.ok,
          ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
          ...(outcome.transactionHash === undefined ? {} : { transactionHash: outcome.transactionHash }),
        };
      }
      ctx.channelLog(ch).warn({ kind: item.kind }, 'the coordinator did not settle it in time: submitting directly');
    } catch (e) {
      ctx.channelLog(ch).warn({ err: e, kind: item.kind }, 'the coordinator did not take it: submitting directly');
    }
  }
  const receipt = await direct();
  const r = receipt.items[0]!;
  ch.settledVia = 'direct';
  ch.settlementTx = receipt.hash;
  ctx.channelLog(ch).info({ tx: receipt.hash, ok: r.ok, ...(r.ok ? {} : { reason: r.reason }) }, 'submitted directly');
  return r.ok ? { ok: true, transactionHash: receipt.hash } : { ok: false, reason: r.reason, transactionHash: receipt.hash };
}

/** Reads the channel's deposits from the chain and feeds the ones the machine has not seen. */
export async function refreshDeposits(ctx: Context, ch: Channel): Promise<void> {
  try {
    const { events } = await ctx.chain.depositsOf(ch.id);
    for (const e of events) {
      if (e.type !== 'deposited' || e.channelId !== ch.id) continue;
      const participant = participantIndex(ch.record.params, e.participant);
      const asset = ch.record.params.assets.indexOf(e.asset);
      if (participant === undefined || asset < 0) continue;
      ch.input({
        kind: 'chain',
        fact: { kind: 'deposited', deposit: { asset, participant, amount: e.amount, holdingsAfter: e.holdingsAfter } },
      });
    }
  } catch (e) {
    ctx.channelLog(ch).warn({ err: e }, 'reading the channel deposits failed');
  }
}
