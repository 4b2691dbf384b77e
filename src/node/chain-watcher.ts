/**
 * Follows the adjudicator's events for this node's channels: deposits (funding, top-ups),
 * challenges (answered with our newer state when the registered one is stale), conclusions
 * and closes. The position is persisted after each batch of events, so a restarted node
 * replays what it missed; every handler is idempotent.
 */
import type { ChainEvent } from '../chain/events.ts';
import { participantIndex } from '../core/params.ts';
import { totals } from '../core/state.ts';
import type { Channel } from './channel.ts';
import type { Context } from './context.ts';
import { schedule } from './leader.ts';
import { concludeIfDue, onChallenged, onSettled, settleFinal } from './settlement.ts';
import { markOpen } from './opening.ts';

const CURSOR_KEY = 'chain-cursor';

export interface ChainWatcher {
  /** Processes everything up to the chain head once; resolves when done. */
  catchUp(): Promise<void>;
  start(): void;
  /** Stops polling and waits for the batch of events in progress, if any. */
  stop(): Promise<void>;
}

export async function createChainWatcher(
  ctx: Context,
  pollMs: number,
  onOwnDeposit: (ch: Channel, fact: { asset: number; amount: bigint; holdingsAfter: bigint }) => void,
): Promise<ChainWatcher> {
  const saved = await ctx.store.getMeta(CURSOR_KEY);
  let cursor = saved ? BigInt(new TextDecoder().decode(saved)) : await ctx.chain.blockNumber();
  const registered = new Map<`0x${string}`, bigint>();
  let stopWatching: (() => void) | undefined;
  let concludeTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** The batch being handled: stop() waits for it, so nothing is written after the store closes. */
  let busy: Promise<void> = Promise.resolve();

  async function handle(events: readonly ChainEvent[], next: bigint): Promise<void> {
    for (const e of events) {
      if (!('channelId' in e)) continue;
      const ch = ctx.channels.get(e.channelId);
      if (!ch) continue;
      await ch
        .run(() => apply(ch, e))
        .catch((err: unknown) => ctx.channelLog(ch).error({ err, event: e.type }, 'chain event handling failed'));
    }
    cursor = next;
    ctx.store.putMeta(CURSOR_KEY, new TextEncoder().encode(cursor.toString()));
    await ctx.flush();
  }

  async function apply(ch: Channel, e: ChainEvent): Promise<void> {
    switch (e.type) {
      case 'deposited': {
        const participant = participantIndex(ch.record.params, e.participant);
        const asset = ch.record.params.assets.indexOf(e.asset);
        if (participant === undefined || asset < 0) return;
        if (ch.record.depositFacts.some((f) => f.asset === asset && f.holdingsAfter === e.holdingsAfter)) return; // a replay
        const fact = { asset, participant, amount: e.amount, holdingsAfter: e.holdingsAfter };
        ch.record = { ...ch.record, depositFacts: [...ch.record.depositFacts, fact] };
        ctx.store.putRecord(ch.record);
        if (ch.record.status === 'funding' && isFunded(ch)) {
          await markOpen(ctx, ch);
          if (ch.isLeader) schedule(ctx, ch);
        } else if (ch.record.status === 'open' && participant === ch.self && isTopUp(ch, fact)) {
          await ctx.flush();
          onOwnDeposit(ch, fact);
        }
        return;
      }
      case 'challenged':
        registered.set(ch.id, e.version);
        return onChallenged(ctx, ch, e.version, e.finalizesAt);
      case 'closed':
      case 'concluded':
        registered.delete(ch.id);
        return onSettled(ctx, ch, e.version, e.transactionHash);
      default:
        return;
    }
  }

  async function concludeDue(): Promise<void> {
    if (registered.size === 0 || stopped) return;
    const now = await ctx.chain.timestamp();
    for (const [id, version] of registered) {
      const ch = ctx.channels.get(id);
      if (ch)
        await ch
          .run(() => concludeIfDue(ctx, ch, now, version))
          .catch((err: unknown) => ctx.channelLog(ch).error({ err }, 'conclude failed'));
    }
  }

  return {
    async catchUp() {
      const { events, nextBlock } = await ctx.chain.events(cursor);
      await handle(events, nextBlock);
    },
    start() {
      stopWatching = ctx.chain.watch({
        fromBlock: cursor,
        pollMs,
        onEvents: (events, next) => {
          if (stopped) return;
          busy = handle(events, next);
          return busy;
        },
        onError: (err) => ctx.log.warn({ err }, 'chain poll failed; retrying'),
      });
      const tick = () => {
        concludeDue()
          .catch((err: unknown) => ctx.log.warn({ err }, 'conclude check failed'))
          .finally(() => {
            if (concludeTimer) concludeTimer = setTimeout(tick, Math.max(pollMs, 500)).unref();
          });
      };
      concludeTimer = setTimeout(tick, pollMs).unref();
      // Final states agreed while we were away still need paying out.
      for (const ch of ctx.channels.values()) {
        if (ch.record.status === 'closing' && ch.latest?.state.isFinal) void ch.run(() => settleFinal(ctx, ch)).catch(() => undefined);
      }
    },
    async stop() {
      stopped = true;
      stopWatching?.();
      if (concludeTimer) clearTimeout(concludeTimer);
      concludeTimer = undefined;
      await busy.catch(() => undefined);
    },
  };
}

/** Every asset holds at least what version 0 allocates. */
function isFunded(ch: Channel): boolean {
  const v0 = ch.record.deposits.map(([a, b]) => a + b);
  const held = ch.record.params.assets.map((_, i) =>
    ch.record.depositFacts.filter((f) => f.asset === i).reduce((m, f) => (f.holdingsAfter > m ? f.holdingsAfter : m), 0n),
  );
  return v0.every((need, i) => held[i]! >= need);
}

/** A deposit beyond what the latest state already accounts for: a top-up to credit. */
function isTopUp(ch: Channel, fact: { asset: number; holdingsAfter: bigint }): boolean {
  const state = ch.latest?.state;
  return state !== undefined && fact.holdingsAfter > (totals(state)[fact.asset] ?? 0n);
}
