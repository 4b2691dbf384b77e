/**
 * Follows the adjudicator's events for this node's channels and hands them to the channel
 * machines as facts: deposits (funding, top-ups), registered states (with the registered state
 * itself, read from the challenge's calldata, when it is newer than ours), closes and
 * conclusions. After a transaction that settled one of our channels, deferred a payout to us or
 * withdrew ours, it has our credited balances checked (a settlement may credit us rather than pay
 * us).
 *
 * The position is saved only after every channel has taken in the batch's facts and their writes
 * are durable, so the cursor never passes an event whose handling is not on disk: a restarted
 * node replays what it missed (every fact is idempotent in the machine).
 */
import type { ChainEvent } from '../chain/events.ts';
import type { Address, Bytes32 } from '../core/bytes.ts';
import type { ChainFact } from '../core/channel/io.ts';
import { participantIndex } from '../core/params.ts';
import type { CreditedBalance } from '../sdk/api.ts';
import type { Channel } from './channel.ts';
import type { Context } from './context.ts';

const CURSOR_KEY = 'chain-cursor';

export interface ChainWatcher {
  /** Processes everything up to the chain head once; resolves when done. */
  catchUp(): Promise<void>;
  start(): void;
  /** Stops polling and waits for the batch of events in progress, if any. */
  stop(): Promise<void>;
  /** The latest block's timestamp seen (unix seconds). */
  chainTime(): bigint | undefined;
}

export interface WatcherHooks {
  /**
   * A transaction that may have changed our account's balances on the adjudicator: it settled
   * `channels` of ours, deferred a payout to us, or withdrew ours. Called once per transaction
   * after its events were applied and before the position is saved; resolves to what it
   * credited us, per asset.
   */
  onAccountActivity(tx: Bytes32, channels: readonly Channel[], assets: ReadonlySet<Address>): Promise<readonly CreditedBalance[]>;
}

/** A transaction of the current batch that touched our account, and the channels waiting to hear what it credited. */
interface Touched {
  readonly channels: Channel[];
  readonly assets: Set<Address>;
  readonly waiting: ((credited: readonly CreditedBalance[]) => void)[];
}

export async function createChainWatcher(ctx: Context, pollMs: number, hooks: WatcherHooks): Promise<ChainWatcher> {
  const saved = await ctx.store.getMeta(CURSOR_KEY);
  let cursor = saved ? BigInt(new TextDecoder().decode(saved)) : await ctx.chain.blockNumber();
  let stopWatching: (() => void) | undefined;
  let clockTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let chainTime: bigint | undefined;
  /** The batch being handled: stop() waits for it, so nothing is written after the store closes. */
  let busy: Promise<void> = Promise.resolve();

  async function handle(events: readonly ChainEvent[], next: bigint): Promise<void> {
    const touched = new Map<Bytes32, Touched>();
    const touch = (tx: Bytes32): Touched => {
      let t = touched.get(tx);
      if (!t) touched.set(tx, (t = { channels: [], assets: new Set(), waiting: [] }));
      return t;
    };
    const self = ctx.transport.self.address;
    const fed = new Set<Channel>();
    for (const e of events) {
      if (e.type === 'payout-deferred' || e.type === 'withdrawn') {
        if (e.account === self) touch(e.transactionHash).assets.add(e.asset);
        continue;
      }
      if (!('channelId' in e)) continue;
      const ch = ctx.channels.get(e.channelId);
      if (!ch) continue;
      if (e.type === 'closed' || e.type === 'concluded') {
        // A credit-mode batch leaves no event of its own: check the channel's assets afterwards.
        // The promise is in place before the channel's status changes, for close() to await.
        const t = touch(e.transactionHash);
        t.channels.push(ch);
        for (const asset of ch.record.params.assets) t.assets.add(asset);
        ch.credited = new Promise((resolve) => t.waiting.push(resolve));
        ch.settlementTx = e.transactionHash;
      }
      const fact = await factOf(ch, e);
      if (!fact) continue;
      ch.input({ kind: 'chain', fact });
      fed.add(ch);
    }
    for (const [tx, t] of touched) {
      const credited = await hooks.onAccountActivity(tx, t.channels, t.assets).catch((err: unknown) => {
        ctx.log.warn({ err, tx }, 'reading our credited balances failed; the next settlement checks again');
        return [];
      });
      for (const resolve of t.waiting) resolve(credited);
    }
    // Every channel took in its facts (their writes are issued): now the position may move.
    await Promise.all([...fed].map((ch) => ch.idle()));
    cursor = next;
    ctx.store.putMeta(CURSOR_KEY, new TextEncoder().encode(cursor.toString()));
    await ctx.flush();
  }

  async function factOf(ch: Channel, e: ChainEvent): Promise<ChainFact | undefined> {
    switch (e.type) {
      case 'deposited': {
        const participant = participantIndex(ch.record.params, e.participant);
        const asset = ch.record.params.assets.indexOf(e.asset);
        if (participant === undefined || asset < 0) return undefined;
        return { kind: 'deposited', deposit: { asset, participant, amount: e.amount, holdingsAfter: e.holdingsAfter } };
      }
      case 'challenged': {
        ch.settlementTx = e.transactionHash;
        // A state newer than ours (the counterparty registered a proposal of ours it never
        // countersigned back): its calldata carries it, so we can conclude it ourselves.
        const newer = (ch.latest?.state.version ?? -1n) < e.version;
        const signed = newer
          ? await ctx.chain.registeredState(e.transactionHash, ch.record.params).catch((err: unknown) => {
              ctx.channelLog(ch).warn({ err }, 'reading the registered state from the chain failed');
              return undefined;
            })
          : undefined;
        return {
          kind: 'challenged',
          version: e.version,
          finalizesAt: e.finalizesAt,
          transactionHash: e.transactionHash,
          ...(signed ? { signed } : {}),
        };
      }
      case 'closed': {
        // A final state newer than ours was closed (the counterparty countersigned a final state
        // of ours and submitted it): its calldata carries it, to make it our latest too.
        const newer = (ch.latest?.state.version ?? -1n) < e.version;
        const signed = newer ? await ctx.chain.closedState(e.transactionHash, ch.record.params).catch(() => undefined) : undefined;
        return { kind: 'settled', how: 'closed', version: e.version, transactionHash: e.transactionHash, ...(signed ? { signed } : {}) };
      }
      case 'concluded':
        return { kind: 'settled', how: e.type, version: e.version, transactionHash: e.transactionHash };
      default:
        return undefined;
    }
  }

  async function readClock(): Promise<void> {
    try {
      chainTime = await ctx.chain.timestamp();
    } catch (err) {
      ctx.log.debug({ err }, 'reading the chain time failed');
    }
  }

  return {
    async catchUp() {
      await readClock();
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
      // Chain time matters for disputes only; read it once a second while one is open.
      const tick = () => {
        const disputed = [...ctx.channels.values()].some((ch) => ch.record.status === 'disputed');
        void (disputed ? readClock() : Promise.resolve()).finally(() => {
          if (!stopped) clockTimer = setTimeout(tick, Math.max(pollMs, 1000)).unref();
        });
      };
      clockTimer = setTimeout(tick, pollMs).unref();
    },
    async stop() {
      stopped = true;
      stopWatching?.();
      if (clockTimer) clearTimeout(clockTimer);
      await busy.catch(() => undefined);
    },
    chainTime: () => chainTime,
  };
}
