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
 * submitting directly when it does not settle in time.
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
import type { ChainEvent } from '../chain/events.ts';
import { type Address, type Bytes32, type Hex, bytesToHex } from '../core/bytes.ts';
import { SETTLE_PROTOCOL, type SettleItem, type SettleMessage, type SettlementFailure } from '../core/codec/settle.ts';
import type { SignatureBackend } from '../core/crypto.ts';
import { bestBackend } from '../crypto/select-backend.ts';
import { createLibp2pNode } from '../p2p/libp2p-node.ts';
import { SettleStream } from '../p2p/settle-stream.ts';
import { checkSubmission } from './intake.ts';
import { type CoordinatorMetrics, createMetrics } from './metrics.ts';
import { type BatchKind, type BatchPolicy, DEFAULT_POLICY, type QueuedItem, planBatches } from './planner.ts';
import { CoordinatorQueue } from './queue.ts';
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
  readonly logger: Logger;
}

export interface CoordinatorStatus {
  readonly address: Address;
  readonly peerId: string;
  readonly multiaddrs: readonly string[];
  readonly nextNonce: string;
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

export async function startCoordinator(config: CoordinatorConfig): Promise<Coordinator> {
  const log = config.logger;
  const queue = await CoordinatorQueue.open(join(config.dataDir, 'queue'));
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

  const RETRYABLE: ReadonlySet<string> = new Set(['challenge-pending', 'not-challenged']);

  async function onMined(batch: BatchRecord, outcome: readonly ItemResult[] | 'reverted'): Promise<void> {
    const items = batch.itemIds.map((id) => queue.items.get(id)!);
    if (outcome === 'reverted') {
      log.warn({ batch: String(batch.id), kind: batch.kind }, 'batch reverted as a whole');
      for (const item of items) {
        if (item.attempts >= 3) finish(item, false, 'dropped', batch.receipt?.hash);
        else requeue(item);
      }
    } else {
      metrics.batchItems.observe({ kind: batch.kind }, items.length);
      if (batch.receipt) metrics.gasPerItem.observe({ kind: batch.kind }, Number(batch.receipt.gasUsed) / items.length);
      items.forEach((item, i) => {
        const r = outcome[i]!;
        if (r.ok) finish(item, true, undefined, batch.receipt?.hash);
        else if (RETRYABLE.has(r.reason) && item.attempts < 3) requeue(item);
        else finish(item, false, r.reason, batch.receipt?.hash);
      });
    }
    queue.prune(Date.now(), 3_600_000);
    await queue.flush();
    schedule(0);
  }

  function requeue(item: ItemRecord): void {
    item.status = 'queued';
    delete item.batchId;
    queue.putItem(item);
  }

  const submitter = new Submitter({
    clients,
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

  function active(kind: BatchKind, channelId: Bytes32 | undefined): ItemRecord | undefined {
    if (channelId === undefined) return undefined;
    for (const i of queue.items.values())
      if (i.kind === kind && i.channelId === channelId && (i.status === 'queued' || i.status === 'submitted')) return i;
    return undefined;
  }

  function enqueue(item: SettleItem, kind: BatchKind, gas: number, extra: Partial<ItemRecord> = {}): ItemRecord {
    const rec: ItemRecord = {
      id: queue.allocItemId(),
      kind,
      item,
      origins: [],
      status: 'queued',
      enqueuedAt: Date.now(),
      gas,
      attempts: 0,
      ...extra,
    };
    queue.putItem(rec);
    return rec;
  }

  async function onSubmit(peerId: string, stream: SettleStream, msg: Extract<SettleMessage, { type: 'submit' }>): Promise<void> {
    const check = checkSubmission(msg.item, { chainId: chain.chainId, adjudicator }, backend);
    if (!check.ok) {
      stream.send({ type: 'refused', requestId: msg.requestId, reason: check.reason, detail: check.detail.slice(0, 500) });
      return;
    }
    const { kind, channelId, version, gas } = check.value;
    if (kind === 'watch') {
      const item = msg.item as Extract<SettleItem, { kind: 'close' | 'dispute' | 'watch' }>;
      const known = queue.watches.get(channelId!);
      if (!known || known.signed.state.version < item.signed.state.version) {
        queue.putWatch({ channelId: channelId!, params: item.params, signed: item.signed, from: peerId, updatedAt: Date.now() });
        await queue.flush();
      }
      stream.send({ type: 'accepted', requestId: msg.requestId, itemId: 0n });
      return;
    }
    let rec = active(kind, channelId);
    if (rec && kind === 'dispute' && rec.status === 'queued' && version !== undefined && (rec.version ?? -1n) < version) {
      rec.item = msg.item; // a newer state replaces the queued one
      (rec as { version?: bigint }).version = version;
    }
    if (!rec) {
      const extra: Partial<ItemRecord> = {
        ...(channelId === undefined ? {} : { channelId }),
        ...(version === undefined ? {} : { version }),
      };
      if (kind === 'conclude') {
        const d = await chain.dispute(channelId!);
        if (d) extra.notBeforeChain = d.finalizesAt;
      }
      rec = enqueue(msg.item, kind, gas, extra);
    }
    rec.origins.push({ peerId, requestId: msg.requestId, delivered: false });
    queue.putItem(rec);
    await queue.flush(); // stored before accepted
    stream.send({ type: 'accepted', requestId: msg.requestId, itemId: rec.id });
    if (rec.result) deliver(rec);
    schedule(0);
  }

  // ---------------------------------------------------------------------------------------------
  // Planning: one tick at a time

  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  let again = false;

  function schedule(delayMs: number): void {
    if (stopped) return;
    if (ticking) {
      again = true;
      return;
    }
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      ticking = tick()
        .catch((e: unknown) => log.error({ err: e }, 'planning failed'))
        .finally(() => {
          ticking = undefined;
          if (again) {
            again = false;
            schedule(0);
          }
        });
    }, delayMs);
  }

  async function tick(): Promise<void> {
    const queued = [...queue.items.values()].filter((i) => i.status === 'queued');
    updateDepth();
    if (queued.length === 0) return;
    // Deadlines and waiting periods are chain time; the planner works in wall time.
    const now = Date.now();
    const chainMs = Number(await chain.timestamp()) * 1000;
    const offset = chainMs - now;
    const toPlan: QueuedItem[] = queued.map((i) => ({
      id: i.id,
      kind: i.kind,
      enqueuedAt: i.enqueuedAt,
      gas: i.gas,
      ...(i.deadlineChain === undefined ? {} : { deadline: Number(i.deadlineChain) * 1000 - offset }),
      ...(i.notBeforeChain === undefined ? {} : { notBefore: Number(i.notBeforeChain) * 1000 - offset + 1000 }),
    }));
    const plan = planBatches(toPlan, policy, now);
    for (const id of plan.oversize) finish(queue.items.get(id)!, false, 'dropped');
    for (const b of plan.batches) {
      if (stopped) return;
      await submitter.submit(
        b.kind,
        b.items.map((id) => queue.items.get(id)!),
        b.gas,
      );
    }
    updateDepth();
    // Chain time can jump (a local chain, or a long block gap): re-plan at least every second
    // while something waits for a challenge period.
    const waiting = queued.some((i) => i.notBeforeChain !== undefined);
    const next = plan.wakeAt === undefined ? (waiting ? now + 1000 : undefined) : waiting ? Math.min(plan.wakeAt, now + 1000) : plan.wakeAt;
    if (next !== undefined) schedule(Math.max(0, next - Date.now()));
  }

  function updateDepth(): void {
    for (const kind of BATCH_KINDS) for (const status of ['queued', 'submitted'] as const) metrics.queueDepth.set({ kind, status }, 0);
    for (const i of queue.items.values())
      if (i.status === 'queued' || i.status === 'submitted') metrics.queueDepth.inc({ kind: i.kind, status: i.status });
    metrics.watched.set(queue.watches.size);
  }

  // ---------------------------------------------------------------------------------------------
  // Watchtower

  async function onEvents(events: readonly ChainEvent[], next: bigint): Promise<void> {
    for (const e of events) {
      if (e.type === 'challenged') {
        const w = queue.watches.get(e.channelId);
        if (!w) continue;
        const ours = w.signed.state.version;
        if (ours > e.version) {
          log.warn(
            { channel: e.channelId, registered: String(e.version), ours: String(ours) },
            'stale state registered: answering with the newer one',
          );
          const existing = active('dispute', e.channelId);
          if (!existing)
            enqueue({ kind: 'dispute', params: w.params, signed: w.signed }, 'dispute', 70_000, {
              channelId: e.channelId,
              version: ours,
              deadlineChain: e.finalizesAt,
            });
        }
        if (ours >= e.version && !active('conclude', e.channelId)) {
          // Pay the channel out after the period even if its node stays offline.
          enqueue({ kind: 'conclude', params: w.params, state: w.signed.state }, 'conclude', 45_000, {
            channelId: e.channelId,
            version: ours,
            notBeforeChain: e.finalizesAt,
          });
        }
      } else if (e.type === 'closed' || e.type === 'concluded') {
        queue.deleteWatch(e.channelId);
        for (const i of queue.items.values()) {
          if (i.channelId === e.channelId && i.status === 'queued') finish(i, false, 'channel-closed', e.transactionHash);
        }
      }
    }
    queue.setCursor(next);
    await queue.flush();
    schedule(0);
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
  const from = queue.cursor ?? (await chain.blockNumber());
  if (queue.cursor === undefined) {
    queue.setCursor(from);
    await queue.flush();
  }
  const stopWatching = chain.watch({
    fromBlock: from,
    pollMs: config.pollMs ?? 200,
    onEvents,
    onError: (e) => log.warn({ err: e }, 'chain poll failed'),
  });
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
        queues,
        watched: queue.watches.size,
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
