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
 *
 * Confirmations and reorgs (docs/adr/0014): the chain is followed by src/chain/chain-follower.ts,
 * which hands over an event only once `confirmations` blocks are on top of it, reads the logs
 * of our channels, our hashlocks and our account in bounded ranges, and reports a reorg of blocks
 * whose events were already handed over (only possible with 0 confirmations, or a reorg deeper
 * than the depth). What such a reorg removed is handled here ({@link undo}): a removed
 * registration (a stale state, or our answer to it) makes the channel's dispute be read again from
 * the chain at the fork, so an answer the reorg dropped is sent again before the deadline; a
 * removed deposit that is mined again (same transaction) is not counted twice; one that is not,
 * and a removed close, conclusion or unlock, cannot be undone here (the machine has no fact for
 * it) and is reported loudly.
 */
import {
  type FollowPosition,
  type FollowStep,
  REORG_WINDOW,
  decodeJson,
  disputeAtFork,
  encodeJson,
  followStep,
} from '../chain/chain-follower.ts';
import type { ChainEvent } from '../chain/events.ts';
import type { ChannelEventName, LogFilter } from '../chain/log-reader.ts';
import type { Address, Bytes32 } from '../core/bytes.ts';
import type { ChainFact } from '../core/channel/io.ts';
import { participantIndex } from '../core/params.ts';
import type { CreditedBalance } from '../sdk/api.ts';
import type { Channel } from './channel.ts';
import type { Context } from './context.ts';

/** The position before confirmations: the next block to read, in decimal (still read on start). */
const CURSOR_KEY = 'chain-cursor';
/** What the watcher keeps: the follower's position and the deposits a reorg removed ({@link Saved}). */
const FOLLOW_KEY = 'chain-follow';

const CHANNEL_EVENTS: readonly ChannelEventName[] = ['Deposited', 'Closed', 'Challenged', 'Concluded', 'ItemFailed', 'Unlocked'];
const ZERO_HASH = `0x${'00'.repeat(32)}` as const;

type Deposited = Extract<ChainEvent, { type: 'deposited' }>;

interface Saved {
  readonly position: FollowPosition;
  /**
   * Deposits the machines took in that a reorg removed, kept for the reorg window: the same
   * deposit mined again (same transaction) lands at other holdings, and would otherwise be
   * counted a second time (the machine knows a deposit by its holdings after it).
   */
  readonly removed: readonly Deposited[];
}

export interface WatcherOptions {
  readonly pollMs: number;
  /** Blocks on top of an event's block before it counts (0: at once, dev chains). */
  readonly confirmations: number;
  /** Blocks below the confirmed head kept to undo a reorg (default {@link REORG_WINDOW}). */
  readonly window?: number;
}

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
  /** A hash-lock secret was registered on-chain at chain time `at` (routing learns secrets this way too). */
  onSecretRevealed?(hashlock: Bytes32, secret: Bytes32, at: bigint): void;
}

/** Whether the channel holds, or concluded with, a lock on `hashlock`. */
function hasHashlock(ch: Channel, hashlock: Bytes32): boolean {
  const has = (locks: readonly { readonly hashlock: Bytes32 }[] | undefined) => locks?.some((l) => l.hashlock === hashlock) ?? false;
  return has(ch.latest?.state.locks) || has(ch.record.concludedLocks?.state.locks) || has(ch.record.dispute?.state?.locks);
}

/** A transaction of the current batch that touched our account, and the channels waiting to hear what it credited. */
interface Touched {
  readonly channels: Channel[];
  readonly assets: Set<Address>;
  readonly waiting: ((credited: readonly CreditedBalance[]) => void)[];
}

export async function createChainWatcher(ctx: Context, options: number | WatcherOptions, hooks: WatcherHooks): Promise<ChainWatcher> {
  const o: WatcherOptions = typeof options === 'number' ? { pollMs: options, confirmations: 0 } : options;
  const { pollMs, confirmations } = o;
  const window = o.window ?? REORG_WINDOW;
  let saved: Saved = await load();
  let pollTimer: NodeJS.Timeout | undefined;
  let clockTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let chainTime: bigint | undefined;
  /** The batch being handled: stop() waits for it, so nothing is written after the store closes. */
  let busy: Promise<void> = Promise.resolve();

  async function load(): Promise<Saved> {
    const follow = await ctx.store.getMeta(FOLLOW_KEY);
    if (follow) return decodeJson<Saved>(follow);
    const cursor = await ctx.store.getMeta(CURSOR_KEY);
    const head = cursor ? undefined : await ctx.chain.blockNumber();
    const next = cursor ? BigInt(new TextDecoder().decode(cursor)) : head! - BigInt(confirmations);
    return { position: { next: next < 0n ? 0n : next, blocks: [] }, removed: [] };
  }

  /** Saves where we are, once what came before it is durable. */
  async function save(next: Saved): Promise<void> {
    saved = next;
    ctx.store.putMeta(FOLLOW_KEY, encodeJson(saved));
    await ctx.flush();
  }

  /** What to read: our channels' events (a closed one's only while it has locks to unlock), their hashlocks, our account. */
  function filter(): LogFilter {
    const ids: Bytes32[] = [];
    const hashlocks = new Set<Bytes32>();
    for (const ch of ctx.channels.values()) {
      const st = ch.record.status;
      if (st === 'rejected' || (st === 'closed' && !ch.record.concludedLocks)) continue;
      ids.push(ch.id);
      for (const s of [ch.latest?.state, ch.record.concludedLocks?.state, ch.record.dispute?.state])
        for (const l of s?.locks ?? []) hashlocks.add(l.hashlock);
    }
    return {
      channelEvents: ids.length > 0 ? CHANNEL_EVENTS : [],
      channelIds: ids,
      hashlocks: [...hashlocks],
      account: ctx.transport.self.address,
    };
  }

  /** One step of the follower: new confirmed events handled, or a reorg undone; true when caught up. */
  async function poll(): Promise<boolean> {
    const step: FollowStep = await followStep(ctx.chain, saved.position, { confirmations, window, filter });
    if (step.kind === 'idle') return true;
    if (step.kind === 'reorg') {
      await undo(step);
      return false;
    }
    const floor = step.position.next - BigInt(window) - BigInt(confirmations);
    await handle(redelivered(step.events), { position: step.position, removed: saved.removed.filter((d) => d.blockNumber >= floor) });
    return step.caughtUp;
  }

  /**
   * Drops a deposit mined again after a reorg removed it, when its machine took it in already
   * (at other holdings: the machine would count it twice).
   */
  function redelivered(events: readonly ChainEvent[]): ChainEvent[] {
    if (saved.removed.length === 0) return [...events];
    return events.filter((e) => {
      if (e.type !== 'deposited') return true;
      const again = saved.removed.find(
        (r) =>
          r.transactionHash === e.transactionHash &&
          r.channelId === e.channelId &&
          r.asset === e.asset &&
          r.participant === e.participant &&
          r.amount === e.amount,
      );
      if (!again || again.holdingsAfter === e.holdingsAfter) return true; // a replay of the same fact: harmless
      ctx.log.info({ channel: e.channelId, tx: e.transactionHash }, 'a deposit a reorg removed was mined again: counted once');
      return false;
    });
  }

  /**
   * A reorg removed blocks whose events the machines took in (newest first in `step.removed`).
   * The follower reads the chain again from the fork on and hands over what is there now.
   */
  async function undo(step: Extract<FollowStep, { kind: 'reorg' }>): Promise<void> {
    const log = ctx.log.child({ fork: String(step.fork), removed: step.removed.length });
    if (step.deep) log.error('a reorg went deeper than the reorg window: what it removed before the window cannot be undone');
    else log.warn('a reorg removed blocks whose events were handled: undoing them');
    const disputes = new Set<Channel>();
    const removed: Deposited[] = [];
    for (const e of step.removed) {
      if (e.type === 'secret-revealed') {
        log.warn({ hashlock: e.hashlock }, 'a secret registration was removed by a reorg: a lock that relies on it may not unlock');
        continue;
      }
      if (!('channelId' in e)) continue;
      const ch = ctx.channels.get(e.channelId);
      if (!ch) continue;
      const clog = ctx.channelLog(ch);
      switch (e.type) {
        case 'challenged':
          disputes.add(ch);
          break;
        case 'deposited':
          removed.push(e);
          clog.warn({ tx: e.transactionHash }, 'a deposit the channel counted was removed by a reorg');
          break;
        case 'closed':
        case 'concluded':
        case 'unlocked':
          // The machine has no fact to reopen a channel or un-pay a lock (docs/adr/0014).
          clog.error(
            { tx: e.transactionHash, event: e.type },
            'a settlement the channel took in was removed by a reorg; it holds until mined again',
          );
          break;
        default:
      }
    }
    // The dispute as the chain has it at the fork: what the machine answers from now on. An answer
    // of ours that the reorg dropped leaves the stale registration in place, which the machine then
    // answers again (the chain's deadline bounds it); a registration mined again is handed over again.
    for (const ch of disputes) {
      if (ch.record.status === 'closed') continue;
      const d = await disputeAtFork(ctx.chain.dispute.bind(ctx.chain), ch.id, step.fork, (err) =>
        ctx.channelLog(ch).warn({ err }, 'the chain has no state at the fork (pruned?): reading the latest registration'),
      );
      const mine = ch.record.dispute;
      if (d === undefined) {
        if (mine)
          ctx.channelLog(ch).error({ registered: String(mine.version) }, 'the registration the channel answers was removed by a reorg');
        continue;
      }
      if (mine?.version === d.version && mine.finalizesAt === d.finalizesAt) continue;
      ctx
        .channelLog(ch)
        .warn({ registered: String(d.version), was: String(mine?.version ?? -1n) }, 'the dispute after the reorg: answering it again');
      ch.input({ kind: 'chain', fact: { kind: 'challenged', version: d.version, finalizesAt: d.finalizesAt, transactionHash: ZERO_HASH } });
      await ch.idle();
    }
    await save({ position: step.position, removed: [...saved.removed, ...removed] });
  }

  async function handle(events: readonly ChainEvent[], next: Saved): Promise<void> {
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
      if (e.type === 'secret-revealed') {
        // Keyed by hashlock, not by channel: every channel with a lock on it hears of it.
        const at = await blockTime(e.blockNumber);
        for (const ch of ctx.channels.values()) {
          if (!hasHashlock(ch, e.hashlock)) continue;
          ch.input({ kind: 'chain', fact: { kind: 'secret-revealed', hashlock: e.hashlock, secret: e.secret, at } });
          fed.add(ch);
        }
        hooks.onSecretRevealed?.(e.hashlock, e.secret, at);
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
    await save(next);
  }

  /** Block timestamps, for when a secret was registered (a lock's outcome depends on it). */
  const blockTimes = new Map<bigint, bigint>();
  async function blockTime(block: bigint): Promise<bigint> {
    let t = blockTimes.get(block);
    if (t === undefined) {
      t = await ctx.chain.blockTimestamp(block);
      if (blockTimes.size > 1024) blockTimes.clear();
      blockTimes.set(block, t);
    }
    return t;
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
        // countersigned back): its calldata carries it, so we can conclude it ourselves. An older
        // one: what it pays us, should it stand (the channel's loss, if no one answers it).
        const other = (ch.latest?.state.version ?? -1n) !== e.version;
        const registered = other
          ? await ctx.chain.registeredState(e.transactionHash, ch.record.params, e.version).catch((err: unknown) => {
              ctx.channelLog(ch).warn({ err }, 'reading the registered state from the chain failed');
              return undefined;
            })
          : undefined;
        return {
          kind: 'challenged',
          version: e.version,
          finalizesAt: e.finalizesAt,
          transactionHash: e.transactionHash,
          ...(registered ? { registered } : {}),
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
      case 'unlocked':
        return { kind: 'unlocked', index: e.index };
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
      while (!stopped && !(await poll()));
    },
    start() {
      const loop = () => {
        if (stopped) return;
        busy = (async () => {
          // Read on until caught up (a long absence is many bounded reads), then wait for blocks.
          while (!stopped && !(await poll()));
        })().catch((err: unknown) => ctx.log.warn({ err }, 'chain poll failed; retrying'));
        void busy.finally(() => {
          if (!stopped) pollTimer = setTimeout(loop, pollMs);
        });
      };
      pollTimer = setTimeout(loop, 0);
      // Chain time matters for disputes only; read it once a second while one is open.
      const tick = () => {
        let disputed = false;
        for (const ch of ctx.channels.values())
          if (ch.record.status === 'disputed') {
            disputed = true;
            break;
          }
        void (disputed ? readClock() : Promise.resolve()).finally(() => {
          if (!stopped) clockTimer = setTimeout(tick, Math.max(pollMs, 1000)).unref();
        });
      };
      clockTimer = setTimeout(tick, pollMs).unref();
    },
    async stop() {
      stopped = true;
      if (pollTimer) clearTimeout(pollTimer);
      if (clockTimer) clearTimeout(clockTimer);
      await busy.catch(() => undefined);
    },
    chainTime: () => chainTime,
  };
}
