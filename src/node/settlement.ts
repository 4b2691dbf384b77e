/**
 * Taking a channel to the chain: cooperative close (a final state both signed, paid out at
 * once), forced close (register our latest co-signed state, conclude after the challenge
 * period), the answer to a stale state registered against us, and conclusion.
 */
import { challengeItem, closeItem, concludeItem } from '../chain/encode.ts';
import type { Bytes32 } from '../core/bytes.ts';
import type { SettleItem } from '../core/codec/settle.ts';
import type { ChannelStatus, CloseParameters, CloseResult } from '../sdk/api.ts';
import type { Channel } from './channel.ts';
import type { Context } from './context.ts';
import { ChannelNotOpenError, OperationTimeoutError, RejectedError } from './errors.ts';
import { submitAsFollower } from './follower.ts';
import { submitAsLeader } from './leader.ts';

function result(ch: Channel, mode: 'cooperative' | 'force'): CloseResult {
  return {
    channelId: ch.id,
    mode,
    version: ch.latest?.state.version ?? 0n,
    ...(ch.settlementTx === undefined ? {} : { transactionHash: ch.settlementTx }),
    status: ch.record.status,
    ...(ch.settledVia === undefined ? {} : { via: ch.settledVia }),
  };
}

/**
 * Hands an item to the coordinator and waits until `done` holds or its result is known. Returns
 * true when the coordinator handled it, false when the node should submit directly (no
 * coordinator, unreachable, refused, too slow, or it gave up). A failure the chain reported
 * (the adjudicator's reason) is thrown: submitting directly would fail the same way.
 */
async function viaCoordinator(ctx: Context, ch: Channel, item: SettleItem, done: ChannelStatus[]): Promise<boolean> {
  if (!ctx.settle) return false;
  try {
    const { result } = await ctx.settle.submit(item);
    ctx.channelLog(ch).info({ kind: item.kind }, 'queued at the coordinator');
    const outcome = await Promise.race([
      ch.waitForStatus(done, ctx.timeouts.coordinatorMs, () => new OperationTimeoutError('the coordinator', false)).then(() => undefined),
      result,
    ]);
    if (outcome && !outcome.ok) {
      if (outcome.reason === 'dropped') return false;
      if (outcome.reason !== 'channel-closed')
        throw new RejectedError('internal', `the adjudicator refused the ${item.kind}: ${outcome.reason}`);
    }
    if (outcome?.transactionHash) ch.settlementTx = outcome.transactionHash;
    ch.settledVia = 'coordinator';
    return true;
  } catch (e) {
    if (e instanceof RejectedError && e.reason === 'internal') throw e;
    ctx.channelLog(ch).warn({ err: e, kind: item.kind }, 'the coordinator did not settle it: submitting directly');
    return false;
  }
}

async function setStatus(ctx: Context, ch: Channel, status: Channel['record']['status'], note?: string): Promise<void> {
  ch.record = { ...ch.record, status, ...(note === undefined ? {} : { note }) };
  ctx.store.putRecord(ch.record);
  await ctx.flush();
  ch.settleWaiters();
}

/** Agrees a final state with the counterparty, then pays it out on-chain. */
export async function closeCooperatively(ctx: Context, ch: Channel, p: CloseParameters): Promise<CloseResult> {
  if (ch.record.status === 'closed') return result(ch, 'cooperative');
  if (!ch.latest?.state.isFinal) {
    if (ch.record.status !== 'open') throw new ChannelNotOpenError(ch.id, ch.record.status);
    const op = { kind: 'finalize' as const, id: ctx.nextOpId(ch), by: ch.self };
    await (ch.isLeader ? submitAsLeader(ctx, ch, op) : submitAsFollower(ctx, ch, op));
  }
  await settleFinal(ctx, ch, p.direct ?? false);
  if ((p.waitFor ?? 'closed') === 'closed') {
    await ch.waitForStatus(['closed'], ctx.timeouts.chainMs, () => new OperationTimeoutError('waiting for the close on-chain', true));
  }
  return result(ch, 'cooperative');
}

/** Submits the final state's payout. Either side may; a second submission fails harmlessly. */
export async function settleFinal(ctx: Context, ch: Channel, direct = false): Promise<void> {
  const final = ch.latest;
  if (!final?.state.isFinal || ch.record.status === 'closed') return;
  if (!direct && (await viaCoordinator(ctx, ch, { kind: 'close', params: ch.record.params, signed: final }, ['closed']))) return;
  ch.settledVia = 'direct';
  const receipt = await ctx.chain.closeBatch([closeItem(ch.record.params, final)]);
  const item = receipt.items[0]!;
  if (!item.ok && item.reason !== 'channel-closed') {
    throw new RejectedError('internal', `the adjudicator refused the close: ${item.reason}`);
  }
  ch.settlementTx = receipt.hash;
  ctx.channelLog(ch).info({ tx: receipt.hash, gas: String(receipt.gasUsed) }, 'cooperative close submitted');
}

/** Registers our latest co-signed state on-chain; the channel concludes after the challenge period. */
export async function closeByForce(ctx: Context, ch: Channel, p: CloseParameters): Promise<CloseResult> {
  if (ch.record.status === 'closed') return result(ch, 'force');
  const latest = ch.latest;
  if (!latest || ch.record.status === 'proposed' || ch.record.status === 'rejected') throw new ChannelNotOpenError(ch.id, ch.record.status);
  const queued =
    !p.direct && (await viaCoordinator(ctx, ch, { kind: 'dispute', params: ch.record.params, signed: latest }, ['disputed', 'closed']));
  if (queued) ch.registeredByUs = true;
  else await register(ctx, ch, 'force');
  if ((p.waitFor ?? 'closed') === 'closed') {
    await ch.waitForStatus(
      ['closed'],
      ctx.timeouts.chainMs + Number(ch.record.params.challengeDuration) * 1000,
      () => new OperationTimeoutError('waiting for the forced close to conclude', true),
    );
  }
  return result(ch, 'force');
}

/** Registers (or answers with) our latest state. */
async function register(ctx: Context, ch: Channel, why: 'force' | 'answer'): Promise<Bytes32> {
  const latest = ch.latest!;
  const receipt = await ctx.chain.challengeBatch([challengeItem(ch.record.params, latest)]);
  const item = receipt.items[0]!;
  if (!item.ok && !(why === 'answer' && item.reason === 'stale-version')) {
    throw new RejectedError('internal', `the adjudicator refused the state: ${item.reason}`);
  }
  ch.settlementTx = receipt.hash;
  ch.settledVia = 'direct';
  ch.registeredByUs = true;
  if (ch.record.status !== 'disputed') await setStatus(ctx, ch, 'disputed');
  ctx.channelLog(ch).info({ tx: receipt.hash, version: String(latest.state.version), why }, 'state registered on-chain');
  return receipt.hash;
}

/** A state was registered for one of our channels: answer it if ours is newer. */
export async function onChallenged(ctx: Context, ch: Channel, version: bigint, finalizesAt: bigint): Promise<void> {
  ch.finalizesAt = finalizesAt;
  if ((ch.latest?.state.version ?? -1n) !== version) ch.registeredByUs = false;
  if (ch.record.status !== 'disputed' && ch.record.status !== 'closed') {
    await setStatus(ctx, ch, 'disputed');
    ctx.events.emit('channel-closing', { channelId: ch.id, mode: 'challenged', version });
  }
  const ours = ch.latest?.state.version ?? -1n;
  if (ours > version) {
    ctx.channelLog(ch).warn({ registered: String(version), ours: String(ours) }, 'stale state registered against us: answering');
    await register(ctx, ch, 'answer');
    ctx.events.emit('stale-state-answered', { channelId: ch.id, registered: version, answered: ours });
  }
}

/** How long the side that did not register a state lets the other conclude first. */
export const CONCLUDE_GRACE_MS = 10_000;

/**
 * Pays out a challenged channel once its period is over, if we hold the registered state. The
 * side that registered it concludes at once; the other steps in after a grace period, so the
 * two do not both pay for the same conclusion.
 */
export async function concludeIfDue(ctx: Context, ch: Channel, chainTime: bigint, registered: bigint): Promise<void> {
  if (ch.record.status !== 'disputed' || ch.finalizesAt === undefined || chainTime < ch.finalizesAt) return;
  ch.dueSince ??= ctx.clock();
  if (!ch.registeredByUs && ctx.clock() < ch.dueSince + CONCLUDE_GRACE_MS) return;
  const latest = ch.latest;
  if (!latest || latest.state.version !== registered) return; // the other side holds it and concludes
  if (ctx.settle) {
    // Ask the coordinator once; conclude directly only if it has not done so in time.
    if (ch.concludeRequestedAt === undefined) {
      ch.concludeRequestedAt = ctx.clock();
      const queued = await ctx.settle.submit({ kind: 'conclude', params: ch.record.params, state: latest.state }).then(
        () => true,
        () => false,
      );
      if (queued) return;
    } else if (ctx.clock() < ch.concludeRequestedAt + ctx.timeouts.coordinatorMs) {
      return;
    }
  }
  const receipt = await ctx.chain.concludeBatch([concludeItem(ch.record.params, latest.state)]);
  const item = receipt.items[0]!;
  if (!item.ok && item.reason !== 'channel-closed' && item.reason !== 'not-challenged') {
    ctx.channelLog(ch).warn({ reason: item.reason }, 'conclude refused');
    return;
  }
  ch.settlementTx = receipt.hash;
  ctx.channelLog(ch).info({ tx: receipt.hash }, 'concluded');
}

/** The chain paid the channel out. */
export async function onSettled(ctx: Context, ch: Channel, version: bigint, tx: Bytes32): Promise<void> {
  if (ch.record.status === 'closed') return;
  ch.settlementTx = tx;
  await setStatus(ctx, ch, 'closed');
  for (const p of ch.queue.splice(0)) if (p.origin === 'self') p.reject(new RejectedError('closed', 'the channel closed'));
  for (const [id, p] of ch.requested) {
    ch.requested.delete(id);
    p.reject(new RejectedError('closed', 'the channel closed'));
  }
  ctx.events.emit('channel-closed', { channelId: ch.id, version, transactionHash: tx });
}
