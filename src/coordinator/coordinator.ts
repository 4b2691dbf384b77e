/**
 * The settlement coordinator: turns the closes, disputes, conclusions and reveals of many
 * channels into few transactions, and watches the chain for stale states registered against
 * the channels it holds a newer state of (the watchtower).
 *
 *   node ──submit──▶ intake (signatures checked) ──▶ queue (lmdb, flushed) ──accepted──▶ node
 *   planner (pure) ──batches──▶ submitter (own nonces, signed + stored before broadcast)
 *   receipt ──per-item results──▶ node ;  chain events ──▶ watchtower ──▶ dispute + conclude
 *
 * Untrusted by design: it can only submit what participants signed, and nodes fall back to
 * submitting directly when it does not settle in time. And it is careful with its own gas: it
 * queues only items the chain can settle (admission.ts), at a rate per peer (rate-limit.ts),
 * and broadcasts only batches that pass their simulation (simulate.ts).
 */
import { join } from 'node:path';
import type { Stream, Connection } from '@libp2p/interface';
import type { Libp2p } from 'libp2p';
import type { Logger } from 'pino';
import type { EIP1193Provider } from 'viem';
import {
  type Clients,
  type ChainService,
  type ItemResult,
  type PayoutMode,
  chainServiceFromClients,
  createClients,
} from '../chain/chain-service.ts';
import {
  type FollowPosition,
  type FollowStep,
  REORG_WINDOW,
  checkConfirmations,
  defaultConfirmations,
  disputeAtFork,
  followStep,
} from '../chain/chain-follower.ts';
import type { ChainEvent } from '../chain/events.ts';
import type { LogFilter } from '../chain/log-reader.ts';
import { type Address, type Bytes32, type Hex, bytesToHex } from '../core/bytes.ts';
import { SETTLE_PROTOCOL, type SettleItem, type SettleMessage, type SettlementFailure } from '../core/codec/settle.ts';
import type { SignatureBackend } from '../core/crypto.ts';
import { bestBackend } from '../crypto/select-backend.ts';
import { createLibp2pNode } from '../p2p/libp2p-node.ts';
import { SettleStream } from '../p2p/settle-stream.ts';
import type { RejectReason } from '../core/result.ts';
import { admit, concludableAt, stateHashOf } from './admission.ts';
import { itemGas } from './gas.ts';
import { checkSubmission } from './intake.ts';
import { type CoordinatorMetrics, createMetrics } from './metrics.ts';
import { type BatchKind, type BatchPolicy, DEFAULT_POLICY, type QueuedItem, planBatches, splitReverted } from './planner.ts';
import { CoordinatorQueue } from './queue.ts';
import { type BucketPolicy, RateLimiter } from './rate-limit.ts';
import type { BatchRecord, ItemRecord } from './records.ts';
import { Submitter } from './submitter.ts';

export interface CoordinatorConfig {
  readonly dataDir: string;
  readonly chainRpc: string | EIP1193Provider;
  readonly adjudicator: Address;
  /** Pays the gas; also the coordinator's libp2p identity. */
  readonly privateKey: Uint8Array;
  readonly listen: readonly string[];
  readonly policy?: Partial<BatchPolicy>;
  readonly payout?: PayoutMode;
  /** Replace a transaction not mined after this long (default 15 s). */
  readonly replaceAfterMs?: number;
  readonly pollMs?: number;
  /** Blocks on top of an event before the watchtower acts on it (default per chain: 0 on dev chains, else 12; docs/adr/0014). */
  readonly confirmations?: number;
  /** Item submissions (close, dispute, conclude, reveal) per peer; watches get ten times as much. */
  readonly rateLimit?: BucketPolicy;
  /** Channels one peer may have watched (default 10,000). */
  readonly maxWatchesPerPeer?: number;
  readonly logger: Logger;
}

/** Per peer: 100 items a second sustained, bursts of 1,000 (a node closing all its channels). */
export const DEFAULT_RATE_LIMIT: BucketPolicy = { perSecond: 100, burst: 1_000 };

/** Reverts of a batch of its own after which an item is given up (one made for an offline node: more). */
const MAX_SOLO_REVERTS = 3;
const MAX_SOLO_REVERTS_PERSISTENT = 8;
/** Simulations failing alone after which an item made for an offline node is given up. */
const MAX_SIM_FAILURES_PERSISTENT = 100;

export interface CoordinatorStatus {
  readonly address: Address;
  readonly peerId: string;
  readonly multiaddrs: readonly string[];
  readonly nextNonce: string;
  /** Blocks on top of an event before the watchtower acts on it (configured, or the chain's default). */
  readonly confirmations: number;
  readonly queues: Record<string, { queued: number; submitted: number }>;
  readonly watched: number;
  readonly recentBatches: readonly {
    id: string;
    kind: BatchKind;
    items: number;
    nonce: string;
    transactionHash: Bytes32;
    transactions: number;
    status: BatchRecord['status'];
    gasUsed?: string;
    gasPerItem?: string;
    settled: number;
    failed: number;
  }[];
}

export interface Coordinator {
  readonly address: Address;
  readonly peerId: string;
  multiaddrs(): string[];
  status(): CoordinatorStatus;
  readonly metrics: CoordinatorMetrics;
  stop(): Promise<void>;
}

const BATCH_KINDS: readonly BatchKind[] = ['close', 'dispute', 'conclude', 'reveal'];
/** The position of a registration read again after a reorg (from the contract's storage, not a log). */
const REREAD = { blockHash: `0x${'00'.repeat(32)}`, transactionHash: `0x${'00'.repeat(32)}`, logIndex: 0 } as const;

export async function startCoordinator(config: CoordinatorConfig): Promise<Coordinator> {
  const log = config.logger;
  // Before anything is opened: a bad limit is a configuration error (RangeError).
  const rate = config.rateLimit ?? DEFAULT_RATE_LIMIT;
  const itemLimiter = new RateLimiter(rate);
  const watchLimiter = new RateLimiter({ perSecond: rate.perSecond * 10, burst: rate.burst * 10 });
  const queue = await CoordinatorQueue.open(join(config.dataDir, 'queue'), {
    ...(config.maxWatchesPerPeer === undefined ? {} : { maxWatchesPerPeer: config.maxWatchesPerPeer }),
  });
  const clients: Clients = await createClients({
    rpc: config.chainRpc,
    privateKey: bytesToHex(config.privateKey) as Hex,
    pollingIntervalMs: config.pollMs ?? 200,
  });
  const adjudicator = config.adjudicator.toLowerCase() as Address;
  const chain: ChainService = chainServiceFromClients(clients, adjudicator);
  const backend: SignatureBackend = bestBackend();
  const policy: BatchPolicy = { ...DEFAULT_POLICY, ...config.policy, baseGas: { ...DEFAULT_POLICY.baseGas, ...config.policy?.baseGas } };
  const metrics = createMetrics();
  const streams = new Map<string, SettleStream>();
  let stopped = false;

  // ---------------------------------------------------------------------------------------------
  // Results back to the nodes that asked

  function deliver(item: ItemRecord): void {
    if (!item.result) return;
    let changed = false;
    for (const o of item.origins) {
      if (o.delivered) continue;
      const s = streams.get(o.peerId);
      const msg: SettleMessage = {
        type: 'result',
        requestId: o.requestId,
        itemId: item.id,
        ok: item.result.ok,
        ...(item.result.reason === undefined ? {} : { reason: item.result.reason }),
        ...(item.result.transactionHash === undefined ? {} : { transactionHash: item.result.transactionHash }),
      };
      if (s?.send(msg)) {
        o.delivered = true;
        changed = true;
      }
    }
    if (changed) queue.putItem(item);
  }

  function finish(item: ItemRecord, ok: boolean, reason?: SettlementFailure, tx?: Bytes32): void {
    item.status = ok ? 'settled' : 'failed';
    item.result = { ok, ...(reason === undefined ? {} : { reason }), ...(tx === undefined ? {} : { transactionHash: tx }), at: Date.now() };
    queue.putItem(item);
    metrics.items.inc({ kind: item.kind, outcome: ok ? 'settled' : (reason ?? 'failed') });
    metrics.requestToReceipt.observe({ kind: item.kind }, (Date.now() - item.enqueuedAt) / 1000);
    deliver(item);
  }

  // ---------------------------------------------------------------------------------------------
  // Receipts

  const RETRYABLE: ReadonlySet<string> = new Set(['challenge-pending', 'not-challenged', 'locks-pending']);

  /** Made for a node that may be offline (the watchtower's), or due by a deadline: never given up lightly. */
  const persistent = (i: ItemRecord) => i.deadlineChain !== undefined || i.watchtower === true;

  async function onMined(batch: BatchRecord, outcome: readonly ItemResult[] | 'reverted' | 'dropped'): Promise<void> {
    const items = batch.itemIds.map((id) => queue.items.get(id)!);
    if (outcome === 'dropped') {
      for (const item of items) if (item.status === 'submitted' && item.batchId === batch.id) requeue(item);
      schedule(0);
    } else if (outcome === 'reverted') {
      log.warn({ batch: String(batch.id), kind: batch.kind, items: items.length }, 'batch reverted as a whole');
      metrics.reverted.inc({ kind: batch.kind });
      if (items.length === 1) onSoloRevert(items[0]!, batch.receipt?.hash);
      else {
        // Never the same companions again: whatever made it revert, its items are split.
        for (const group of splitReverted(items.map((i) => ({ id: i.id, urgent: i.deadlineChain !== undefined })))) {
          const g = queue.allocGroupId();
          for (const id of group) {
            const item = queue.items.get(id)!;
            item.group = g;
            requeue(item);
          }
        }
      }
    } else {
      metrics.batchItems.observe({ kind: batch.kind }, items.length);
      if (batch.receipt) metrics.gasPerItem.observe({ kind: batch.kind }, Number(batch.receipt.gasUsed) / items.length);
      items.forEach((item, i) => {
        const r = outcome[i]!;
        if (r.ok) finish(item, true, undefined, batch.receipt?.hash);
        else if (RETRYABLE.has(r.reason) && item.attempts < 3) {
          item.retryAt = Date.now() + backoff(item.attempts); // not in the very next block
          requeue(item);
        } else finish(item, false, r.reason, batch.receipt?.hash);
      });
    }
    queue.prune(Date.now(), 3_600_000);
    await queue.flush();
    schedule(0);
  }

  /** An item alone in a batch that reverted: its own failure. Retried with more gas, a few times. */
  function onSoloRevert(item: ItemRecord, tx: Bytes32 | undefined): void {
    item.reverts = (item.reverts ?? 0) + 1;
    if (item.reverts >= (persistent(item) ? MAX_SOLO_REVERTS_PERSISTENT : MAX_SOLO_REVERTS)) finish(item, false, 'dropped', tx);
    else {
      item.retryAt = Date.now() + backoff(item.reverts);
      requeue(item);
    }
  }

  /**
   * An item whose simulation reverts with no companion. Nothing was spent; an ordinary item is
   * given up at once (its node submits it directly and sees why), one made for an offline node or
   * due by a deadline is retried alone, spaced out, for as long as it may still succeed.
   */
  function onSimulationFailed(item: ItemRecord, reason: string): void {
    metrics.simulationFailures.inc({ kind: item.kind });
    item.simFailures = (item.simFailures ?? 0) + 1;
    if (!persistent(item) || item.simFailures >= MAX_SIM_FAILURES_PERSISTENT) {
      log.warn({ item: String(item.id), kind: item.kind, reason }, 'item reverts even alone: dropped');
      finish(item, false, 'dropped');
      return;
    }
    item.group = queue.allocGroupId(); // alone from now on
    item.retryAt = Date.now() + backoff(item.simFailures);
    queue.putItem(item);
  }

  const backoff = (n: number) => Math.min(60_000, 1000 * 2 ** Math.max(0, n - 1));

  function requeue(item: ItemRecord): void {
    item.status = 'queued';
    delete item.batchId;
    queue.putItem(item);
  }

  const confirmations = checkConfirmations(config.confirmations ?? defaultConfirmations(chain.chainId));
  const submitter = new Submitter({
    clients,
    confirmations,
    adjudicator,
    queue,
    log,
    payout: config.payout ?? 'transfer',
    replaceAfterMs: config.replaceAfterMs ?? 15_000,
    pollMs: config.pollMs ?? 200,
    onMined,
    onReplaced: () => metrics.replacements.inc(),
  });

  // ---------------------------------------------------------------------------------------------
  // Intake

  /**
   * The queued or in-flight item for this kind, channel and state, if any. Two submissions are one
   * item only if they settle the very same state: a newer dispute is its own item, with its own
   * result, whatever older one is queued or in flight.
   */
  function active(kind: BatchKind, channelId: Bytes32 | undefined, stateHash: Bytes32 | undefined): ItemRecord | undefined {
    if (channelId === undefined || stateHash === undefined) return undefined;
    for (const i of queue.items.values())
      if (i.kind === kind && i.channelId === channelId && i.stateHash === stateHash && (i.status === 'queued' || i.status === 'submitted'))
        return i;
    return undefined;
  }

  /** A queued (not yet sent) item of this kind and channel with another state than `stateHash`. */
  function queuedOther(kind: BatchKind, channelId: Bytes32, stateHash: Bytes32 | undefined): ItemRecord | undefined {
    for (const i of queue.items.values())
      if (i.kind === kind && i.channelId === channelId && i.status === 'queued' && i.stateHash !== stateHash) return i;
    return undefined;
  }

  /**
   * Closes and disputes peers submitted, per channel, in the last hour (ms): an honest channel
   * needs a few in its life. Each costs the coordinator gas, and two keys of one cheap channel
   * could sign states without end (ADR 0005, addendum of 2026-12-07).
   */
  const perChannel = new Map<Bytes32, number[]>();
  const CHANNEL_ITEMS_PER_HOUR = 16;
  function channelBudget(channelId: Bytes32, now: number): boolean {
    const recent = (perChannel.get(channelId) ?? []).filter((at) => now - at < 3_600_000);
    if (recent.length >= CHANNEL_ITEMS_PER_HOUR) {
      perChannel.set(channelId, recent);
      return false;
    }
    recent.push(now);
    perChannel.set(channelId, recent);
    if (perChannel.size > 100_000) for (const [id, ats] of perChannel) if (ats.every((at) => now - at >= 3_600_000)) perChannel.delete(id);
    return true;
  }

  function enqueue(item: SettleItem, kind: BatchKind, extra: Partial<ItemRecord> = {}): ItemRecord {
    const rec: ItemRecord = {
      id: queue.allocItemId(),
      kind,
      item,
      origins: [],
      status: 'queued',
      enqueuedAt: Date.now(),
      gas: itemGas(item),
      attempts: 0,
      ...extra,
    };
    queue.putItem(rec);
    return rec;
  }

  /**
   * A newer dispute of a channel takes the place of the older ones still queued: it would make
   * them fail on-chain (`stale-version`) anyway, after costing gas. It inherits their deadline and
   * the watchtower's reliance; their requesters hear that a newer state was registered instead.
   */
  function supersede(newer: ItemRecord, channelId: Bytes32): void {
    for (const i of [...queue.items.values()]) {
      if (i === newer || i.kind !== 'dispute' || i.channelId !== channelId || i.status !== 'queued') continue;
      if ((i.version ?? -1n) >= (newer.version ?? -1n)) continue;
      if (i.deadlineChain !== undefined && (newer.deadlineChain === undefined || i.deadlineChain < newer.deadlineChain))
        newer.deadlineChain = i.deadlineChain;
      if (i.watchtower) newer.watchtower = true;
      queue.putItem(newer);
      log.info({ channel: channelId, older: String(i.version), newer: String(newer.version) }, 'a newer dispute replaces a queued one');
      finish(i, false, 'stale-version');
    }
  }

  const stateOfItem = (item: SettleItem) =>
    item.kind === 'reveal' ? undefined : item.kind === 'conclude' ? item.state : item.signed.state;

  async function onSubmit(peerId: string, stream: SettleStream, msg: Extract<SettleMessage, { type: 'submit' }>): Promise<void> {
    const refuse = (reason: RejectReason, detail: string) => {
      metrics.refusals.inc({ reason });
      stream.send({ type: 'refused', requestId: msg.requestId, reason, detail: detail.slice(0, 500) });
    };
    // Before anything costs us: a signature check, a chain read, a write.
    const taken = (msg.item.kind === 'watch' ? watchLimiter : itemLimiter).take(peerId, Date.now());
    if (!taken.ok) return refuse('policy', `rate limited: retry in ${taken.retryAfterMs} ms`);
    const check = checkSubmission(msg.item, { chainId: chain.chainId, adjudicator }, backend);
    if (!check.ok) return refuse(check.reason, check.detail);
    const { kind, channelId, version } = check.value;
    if (kind === 'watch') return onWatch(peerId, stream, msg, channelId!, version!, refuse);
    const state = stateOfItem(msg.item);
    const stateHash = state && stateHashOf(state);
    let rec = active(kind, channelId, stateHash);
    if (!rec && (kind === 'close' || kind === 'dispute') && channelId !== undefined) {
      // One queued close or dispute per channel: a newer dispute takes the place of an older one
      // not sent yet (below), anything else waits for the one queued.
      const other = queuedOther(kind, channelId, stateHash);
      if (other && kind === 'close') return refuse('policy', 'a close of this channel is queued already: one at a time');
      if (other && (other.version ?? -1n) >= (version ?? -1n))
        return refuse('stale-version', `a dispute of this channel at version ${String(other.version)} is queued already`);
    }
    if (!rec) {
      const admitted = await admit(msg.item, chain, queue);
      if (!admitted.ok) return refuse(admitted.reason, admitted.detail);
      // Counted once admitted: refusals cost us a chain read, not gas. (The watchtower's own
      // answers are not submitted here and never counted.)
      if ((kind === 'close' || kind === 'dispute') && channelId !== undefined && !channelBudget(channelId, Date.now()))
        return refuse('policy', `over ${CHANNEL_ITEMS_PER_HOUR} closes and disputes of this channel in an hour`);
      rec =
        active(kind, channelId, stateHash) ?? // the same item may have come in while we read the chain
        enqueue(admitted.value.item, kind, {
          ...(channelId === undefined ? {} : { channelId }),
          ...(version === undefined ? {} : { version }),
          ...(stateHash === undefined ? {} : { stateHash }),
          ...(admitted.value.notBeforeChain === undefined ? {} : { notBeforeChain: admitted.value.notBeforeChain }),
        });
      if (kind === 'dispute' && channelId !== undefined) supersede(rec, channelId);
    }
    rec.origins.push({ peerId, requestId: msg.requestId, delivered: false });
    queue.putItem(rec);
    await queue.flush(); // stored before accepted
    stream.send({ type: 'accepted', requestId: msg.requestId, itemId: rec.id });
    if (rec.result) deliver(rec);
    schedule(0);
  }

  async function onWatch(
    peerId: string,
    s: SettleStream,
    msg: Extract<SettleMessage, { type: 'submit' }>,
    channelId: Bytes32,
    version: bigint,
    refuse: (reason: RejectReason, detail: string) => void,
  ): Promise<void> {
    const item = msg.item as Extract<SettleItem, { kind: 'close' | 'dispute' | 'watch' }>;
    const accept = () => s.send({ type: 'accepted', requestId: msg.requestId, itemId: 0n });
    if ((queue.watch(channelId)?.version ?? -1n) >= version) return void accept();
    if (!queue.watch(channelId)) {
      // A new record costs disk: only for a channel that exists on-chain (and so cost a deposit).
      const admitted = await admit(item, chain, queue);
      if (!admitted.ok) return refuse(admitted.reason, admitted.detail);
      if ((queue.watch(channelId)?.version ?? -1n) >= version) return void accept();
    }
    const put = queue.putWatch({ channelId, params: item.params, signed: item.signed, from: peerId, updatedAt: Date.now() });
    if (!put.ok) return refuse(put.reason, put.detail);
    await queue.flush(); // stored before accepted
    accept();
    void answerStanding(channelId, version).catch((err: unknown) =>
      log.warn({ err, channel: channelId }, 'reading the registration of a newly watched state failed'),
    );
  }

  /**
   * A watch newer than a registration already on-chain (registered before the watch came, or
   * before this coordinator followed the chain) is answered as if the Challenged event came now:
   * the follower saw that event with nothing to answer it with, and will not see it again. Read
   * `confirmations` deep, as the follower would have.
   */
  async function answerStanding(channelId: Bytes32, version: bigint): Promise<void> {
    const head = await chain.blockNumber();
    const at = confirmations > 0 && head >= BigInt(confirmations) ? head - BigInt(confirmations) : undefined;
    const d = await chain.dispute(channelId, at);
    if (!d || d.version >= version || (await chain.timestamp()) >= d.finalizesAt) return;
    log.warn(
      { channel: channelId, registered: String(d.version), watched: String(version) },
      'a state older than the one just watched is registered',
    );
    await onRegistered(channelId, d, at ?? head);
    schedule(0);
  }

  // ---------------------------------------------------------------------------------------------
  // Planning: one tick at a time

  let timer: NodeJS.Timeout | undefined;
  let timerAt = Number.POSITIVE_INFINITY;
  let ticking: Promise<void> | undefined;
  let again = false;

  /** Plans in `delayMs` at the latest (an earlier wake-up already set stands). */
  function schedule(delayMs: number): void {
    if (stopped) return;
    if (ticking) {
      again = true; // plan again as soon as this tick is done
      return;
    }
    const at = Date.now() + delayMs;
    if (timer && timerAt <= at) return;
    if (timer) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => {
      timer = undefined;
      timerAt = Number.POSITIVE_INFINITY;
      let failed = false;
      ticking = tick()
        .catch((e: unknown) => {
          log.error({ err: e }, 'planning failed');
          failed = true;
          return undefined;
        })
        .then((wakeAt) => {
          ticking = undefined;
          if (again) {
            again = false;
            schedule(0);
          } else if (failed)
            schedule(1000); // an RPC failure: nothing was refused, try again
          else if (wakeAt !== undefined) schedule(Math.max(0, wakeAt - Date.now()));
        });
    }, delayMs);
  }

  /** Plans and submits what is due; returns when to plan again (wall ms), if anything waits. */
  async function tick(): Promise<number | undefined> {
    const queued = [...queue.items.values()].filter((i) => i.status === 'queued');
    updateDepth();
    if (queued.length === 0) return undefined;
    // Deadlines and waiting periods are chain time; the planner works in wall time.
    const now = Date.now();
    const chainNow = await chain.timestamp();
    const offset = Number(chainNow) * 1000 - now;
    const live: ItemRecord[] = [];
    for (const i of queued) {
      // Past its challenge period a dispute can no longer land: not a wei of gas on it.
      if (i.kind === 'dispute' && i.deadlineChain !== undefined && chainNow >= i.deadlineChain) finish(i, false, 'challenge-expired');
      else live.push(i);
    }
    const toPlan: QueuedItem[] = live.map((i) => {
      // Chain time moves only with blocks: once the latest block is past an item's wait it is
      // eligible (and has waited since it was queued); converting that moment to wall time
      // would put it at "now" at every plan, and it would never be due.
      const waits = i.notBeforeChain !== undefined && chainNow < i.notBeforeChain;
      const notBefore = Math.max(waits ? Number(i.notBeforeChain) * 1000 - offset + 1000 : 0, i.retryAt ?? 0);
      return {
        id: i.id,
        kind: i.kind,
        enqueuedAt: i.enqueuedAt,
        gas: i.gas,
        ...(i.deadlineChain === undefined ? {} : { deadline: Number(i.deadlineChain) * 1000 - offset }),
        ...(notBefore > 0 ? { notBefore } : {}),
        ...(i.group === undefined ? {} : { group: i.group }),
      };
    });
    const plan = planBatches(toPlan, policy, now);
    for (const id of plan.oversize) finish(queue.items.get(id)!, false, 'dropped');
    for (const b of plan.batches) {
      if (stopped) return undefined;
      const out = await submitter.submit(
        b.kind,
        b.items.map((id) => queue.items.get(id)!),
        b.gas,
      );
      for (const f of out.refused) onSimulationFailed(f.item, f.reason);
    }
    await queue.flush();
    updateDepth();
    // Chain time can jump (a local chain, or a long block gap): re-plan at least every second
    // while something waits for a challenge period.
    const waiting = live.some((i) => i.notBeforeChain !== undefined);
    return plan.wakeAt === undefined ? (waiting ? now + 1000 : undefined) : waiting ? Math.min(plan.wakeAt, now + 1000) : plan.wakeAt;
  }

  function updateDepth(): void {
    for (const kind of BATCH_KINDS) for (const status of ['queued', 'submitted'] as const) metrics.queueDepth.set({ kind, status }, 0);
    for (const i of queue.items.values())
      if (i.status === 'queued' || i.status === 'submitted') metrics.queueDepth.inc({ kind: i.kind, status: i.status });
    metrics.watched.set(queue.watchCount);
  }

  // ---------------------------------------------------------------------------------------------
  // Watchtower

  /**
   * The chain, followed with `confirmations` blocks on top (src/chain/chain-follower.ts, docs/adr/0014):
   * the watched channels' events and those of channels with items, read in bounded ranges.
   */
  const followFilter = (): LogFilter => {
    const ids = new Set<Bytes32>(queue.watchedIds());
    for (const i of queue.items.values()) if (i.channelId && (i.status === 'queued' || i.status === 'submitted')) ids.add(i.channelId);
    return { channelEvents: ids.size > 0 ? ['Closed', 'Challenged', 'Concluded'] : [], channelIds: [...ids] };
  };

  async function followOnce(): Promise<boolean> {
    const step = await followStep(chain, queue.follow!, { confirmations, window: REORG_WINDOW, filter: followFilter });
    if (step.kind === 'idle') return true;
    if (step.kind === 'reorg') await onReorg(step);
    else await onEvents(step.events, step.position);
    return step.kind === 'events' && step.caughtUp;
  }

  /**
   * A reorg removed blocks whose events the watchtower acted on. A removed registration (the
   * cheater's, or an answer) is read again at the fork: a stale state still registered there and
   * older than the watched one is answered again, before its deadline.
   */
  async function onReorg(step: Extract<FollowStep, { kind: 'reorg' }>): Promise<void> {
    log.warn({ fork: String(step.fork), removed: step.removed.length, deep: step.deep }, 'a reorg removed blocks the watchtower had read');
    const recheck = new Set<Bytes32>();
    for (const e of step.removed) {
      if (e.type === 'challenged') recheck.add(e.channelId);
      else if (e.type === 'closed' || e.type === 'concluded')
        log.error(
          { channel: e.channelId, tx: e.transactionHash },
          'a settlement was removed by a reorg: its watch is gone until the node sends it again',
        );
    }
    for (const channelId of recheck) {
      const w = queue.watch(channelId);
      const d = w
        ? await disputeAtFork(chain.dispute.bind(chain), channelId, step.fork, (err) =>
            log.warn({ err, channel: channelId }, 'the chain has no state at the fork (pruned?): reading the latest registration'),
          )
        : undefined;
      if (!w || !d || d.version >= w.version) continue;
      await onRegistered(channelId, d, step.fork);
    }
    queue.setFollow(step.position);
    await queue.flush();
    schedule(0);
  }

  /** Watchtower answers whose transaction is `confirmations` deep (checked no more). */
  const confirmedAnswers = new Set<bigint>();

  /**
   * A watchtower answer settles with its receipt, before its block is confirmed: a reorg may drop
   * it then, before the follower even reads the block. So each settled answer is looked up until
   * its block is deep enough; one whose transaction is gone is broadcast again as it was signed,
   * or, when that fails, queued again with its deadline, unless the chain holds the state (or a
   * newer one) already.
   */
  async function recheckAnswers(): Promise<void> {
    let head: bigint | undefined;
    for (const i of [...queue.items.values()]) {
      const tx = i.result?.transactionHash;
      if (i.kind !== 'dispute' || !i.watchtower || i.status !== 'settled' || !tx || !i.channelId || confirmedAnswers.has(i.id)) continue;
      const w = queue.watch(i.channelId);
      if (!w || w.version !== i.version) {
        confirmedAnswers.add(i.id); // the watch moved on (or is gone): a newer state is its business
        continue;
      }
      head ??= await chain.blockNumber();
      const mined = await chain.transactionBlock(tx);
      if (mined !== undefined) {
        // Deep enough, and read by the follower: a reorg that drops it now is the follower's to
        // see (its kept blocks hold that one). Before the follower read the block, nothing else
        // would notice it gone (with 0 confirmations the answer is "deep enough" at once).
        if (mined + BigInt(confirmations) <= head && queue.follow !== undefined && queue.follow.next > mined) confirmedAnswers.add(i.id);
        continue;
      }
      // The very transaction goes again (what a node does with a reorg's transactions; anvil drops
      // them): same nonce, so the nonces after it are not left behind a gap.
      const sent = [...queue.batches.values()].flatMap((b) => b.txs).find((x) => x.hash === tx);
      if (sent) {
        try {
          await clients.publicClient.sendRawTransaction({ serializedTransaction: sent.raw });
          log.warn({ channel: i.channelId, tx }, 'a watchtower answer was dropped by a reorg: sent again');
          continue;
        } catch (err) {
          log.warn({ err, channel: i.channelId, tx }, 'sending a dropped watchtower answer again failed: queueing it again');
        }
      }
      confirmedAnswers.add(i.id);
      const registered = await chain.dispute(i.channelId);
      if (registered === undefined || registered.version >= w.version || active('dispute', i.channelId, i.stateHash)) continue;
      const rec = await queue.loadWatch(i.channelId);
      if (!rec) continue;
      log.warn({ channel: i.channelId, tx, version: String(i.version) }, 'a watchtower answer was dropped by a reorg: answering again');
      enqueue({ kind: 'dispute', params: rec.params, signed: rec.signed }, 'dispute', {
        channelId: i.channelId,
        version: rec.signed.state.version,
        stateHash: stateHashOf(rec.signed.state),
        ...(i.deadlineChain === undefined ? {} : { deadlineChain: i.deadlineChain }),
        watchtower: true,
      });
      schedule(0);
    }
  }

  async function onEvents(events: readonly ChainEvent[], next: FollowPosition): Promise<void> {
    for (const e of events) {
      if (e.type === 'challenged') await onChallenged(e);
      else if (e.type === 'closed' || e.type === 'concluded') {
        queue.deleteWatch(e.channelId);
        for (const i of queue.items.values()) {
          if (i.channelId === e.channelId && i.status === 'queued') finish(i, false, 'channel-closed', e.transactionHash);
        }
      }
    }
    queue.setFollow(next);
    await queue.flush();
    schedule(0);
  }

  /**
   * A state was registered. Queued disputes that are not newer than it can no longer land; and if
   * the watchtower holds a newer state of the channel, that state is answered with, with the
   * challenge deadline, whatever else is queued for the channel (an older dispute queued by the
   * cheater herself included), and concluded after the period.
   */
  /** A registration read again from the chain (not from its event), handled as its Challenged event. */
  function onRegistered(channelId: Bytes32, d: { version: bigint; finalizesAt: bigint }, blockNumber: bigint): Promise<void> {
    return onChallenged({ type: 'challenged', channelId, version: d.version, finalizesAt: d.finalizesAt, ...REREAD, blockNumber });
  }

  async function onChallenged(e: Extract<ChainEvent, { type: 'challenged' }>): Promise<void> {
    let registered: Awaited<ReturnType<ChainService['dispute']>> | null = null;
    for (const i of queue.items.values()) {
      if (i.kind !== 'dispute' || i.channelId !== e.channelId || i.status !== 'queued' || (i.version ?? -1n) > e.version) continue;
      registered ??= await chain.dispute(e.channelId);
      const same = registered !== undefined && registered.version === i.version && registered.stateHash.toLowerCase() === i.stateHash;
      finish(i, same, same ? undefined : 'stale-version', e.transactionHash); // the very state is registered: done
    }
    const w = queue.watch(e.channelId);
    if (!w || w.version < e.version) return;
    const rec = await queue.loadWatch(e.channelId);
    if (!rec) return;
    const ours = rec.signed.state;
    const stateHash = stateHashOf(ours);
    if (ours.version > e.version) {
      log.warn(
        { channel: e.channelId, registered: String(e.version), ours: String(ours.version) },
        'stale state registered: answering with the newer one',
      );
      const queuedAlready = active('dispute', e.channelId, stateHash);
      if (queuedAlready) {
        // Someone queued this very state (the cheater herself, or a node that then went offline):
        // it now has a deadline, and the watchtower relies on it, so it is the watchtower's answer
        // too: retried while it can succeed, and looked up again after its receipt (recheckAnswers).
        if (queuedAlready.deadlineChain === undefined || queuedAlready.deadlineChain > e.finalizesAt)
          queuedAlready.deadlineChain = e.finalizesAt;
        queuedAlready.watchtower = true;
        queue.putItem(queuedAlready);
      } else {
        enqueue({ kind: 'dispute', params: rec.params, signed: rec.signed }, 'dispute', {
          channelId: e.channelId,
          version: ours.version,
          stateHash,
          deadlineChain: e.finalizesAt,
          watchtower: true,
        });
      }
    }
    if (!active('conclude', e.channelId, stateHash)) {
      // Pay the channel out after the period even if its node stays offline.
      enqueue({ kind: 'conclude', params: rec.params, state: ours }, 'conclude', {
        channelId: e.channelId,
        version: ours.version,
        stateHash,
        notBeforeChain: concludableAt(e.finalizesAt),
        watchtower: true,
      });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // libp2p

  const libp2p: Libp2p = await createLibp2pNode({ privateKey: config.privateKey, listen: config.listen, dialTimeoutMs: 10_000 });
  await libp2p.handle(
    SETTLE_PROTOCOL,
    (stream: Stream, connection: Connection) => {
      const peerId = connection.remotePeer.toString();
      const s: SettleStream = new SettleStream(stream, {
        message: (r) => {
          if (!r.ok) {
            log.info({ peer: peerId, detail: r.detail }, 'malformed settle message');
            s.abort(new Error('malformed settle message'));
            return;
          }
          if (r.value.type === 'submit') {
            void onSubmit(peerId, s, r.value).catch((e: unknown) => {
              log.error({ err: e, peer: peerId }, 'submission failed');
              s.send({
                type: 'refused',
                requestId: (r.value as { requestId: bigint }).requestId,
                reason: 'internal',
                detail: 'the coordinator failed to store the item',
              });
            });
          }
        },
        close: () => {
          if (streams.get(peerId) === s) streams.delete(peerId);
        },
      });
      streams.set(peerId, s);
      // Results that finished while this node was away.
      for (const i of queue.items.values()) if (i.result && i.origins.some((o) => o.peerId === peerId && !o.delivered)) deliver(i);
    },
    { maxInboundStreams: 16, maxOutboundStreams: 4 },
  );
  await libp2p.start();

  await submitter.start();
  if (queue.follow === undefined) {
    const head = await chain.blockNumber();
    queue.setFollow({ next: queue.cursor ?? (head > BigInt(confirmations) ? head - BigInt(confirmations) : 0n), blocks: [] });
    await queue.flush();
  }
  let following: Promise<void> = Promise.resolve();
  let followTimer: NodeJS.Timeout | undefined;
  const follow = () => {
    if (stopped) return;
    following = (async () => {
      while (!stopped && !(await followOnce()));
      if (!stopped) await recheckAnswers();
    })().catch((e: unknown) => log.warn({ err: e }, 'chain poll failed'));
    void following.finally(() => {
      if (!stopped) followTimer = setTimeout(follow, config.pollMs ?? 200);
    });
  };
  followTimer = setTimeout(follow, 0);
  const stopWatching = () => {
    if (followTimer) clearTimeout(followTimer);
  };
  schedule(0);
  const address = clients.account.address.toLowerCase() as Address;
  log.info({ address, peerId: libp2p.peerId.toString(), multiaddrs: libp2p.getMultiaddrs().map(String) }, 'coordinator started');

  return {
    address,
    peerId: libp2p.peerId.toString(),
    multiaddrs: () => libp2p.getMultiaddrs().map(String),
    metrics,
    status(): CoordinatorStatus {
      const queues: CoordinatorStatus['queues'] = {};
      for (const kind of BATCH_KINDS) queues[kind] = { queued: 0, submitted: 0 };
      for (const i of queue.items.values()) if (i.status === 'queued' || i.status === 'submitted') queues[i.kind]![i.status]++;
      const recent = [...queue.batches.values()].sort((a, b) => (a.id < b.id ? 1 : -1)).slice(0, 20);
      return {
        address,
        peerId: libp2p.peerId.toString(),
        multiaddrs: libp2p.getMultiaddrs().map(String),
        nextNonce: queue.nextNonce.toString(),
        confirmations,
        queues,
        watched: queue.watchCount,
        recentBatches: recent.map((b) => {
          const items = b.itemIds.map((id) => queue.items.get(id));
          return {
            id: b.id.toString(),
            kind: b.kind,
            items: b.itemIds.length,
            nonce: b.nonce.toString(),
            transactionHash: (b.receipt?.hash ?? b.txs.at(-1)!.hash) as Bytes32,
            transactions: b.txs.length,
            status: b.status,
            ...(b.receipt
              ? { gasUsed: b.receipt.gasUsed.toString(), gasPerItem: (b.receipt.gasUsed / BigInt(b.itemIds.length)).toString() }
              : {}),
            settled: items.filter((i) => i?.status === 'settled').length,
            failed: items.filter((i) => i?.status === 'failed').length,
          };
        }),
      };
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      stopWatching();
      await following;
      await ticking;
      await submitter.stop();
      for (const s of streams.values()) s.close();
      await libp2p.stop();
      await queue.flush().catch(() => undefined);
      await queue.close();
      log.info('coordinator stopped');
    },
  };
}
