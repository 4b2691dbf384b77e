/**
 * A Lanes node: the engine behind the {@link LanesApi}. Built by `createNode` (create-node.ts),
 * which supplies the ports; this class owns the channels and their lifecycle.
 */
import type { Logger } from 'pino';
import { type Address, type Bytes32, isBytes32 } from '../core/bytes.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import type { Op } from '../core/ops.ts';
import type { PeerRef } from '../p2p/transport.ts';
import type {
  ChannelInfo,
  CloseParameters,
  CloseResult,
  LanesApi,
  LanesEventName,
  LanesEvents,
  NodeInfo,
  OpenChannelParameters,
  PayParameters,
  PaymentResult,
  PeerInfo,
  SignedStateJson,
  SwapParameters,
  SwapResult,
} from '../sdk/api.ts';
import { Channel } from './channel.ts';
import type { ChainWatcher } from './chain-watcher.ts';
import { createChainWatcher } from './chain-watcher.ts';
import type { Context } from './context.ts';
import { dispatch } from './dispatch.ts';
import {
  ChannelNotFoundError,
  ChannelNotOpenError,
  NodeStoppedError,
  OperationTimeoutError,
  PeerUnreachableError,
  RejectedError,
} from './errors.ts';
import { submitAsFollower } from './follower.ts';
import { schedule, submitAsLeader } from './leader.ts';
import { ensureDeposited, openChannel, refreshFunding } from './opening.ts';
import { closeByForce, closeCooperatively } from './settlement.ts';
import { onConnected } from './sync.ts';
import { channelInfo, signedStateJson } from './views.ts';

export interface NodeParts {
  readonly ctx: Context;
  readonly chainPollMs: number;
  /** Releases what the composition root opened (signer, store), after the node stopped. */
  readonly release: () => Promise<void>;
}

export class LanesNode implements LanesApi {
  private readonly ctx: Context;
  private readonly parts: NodeParts;
  private watcher: ChainWatcher | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private watcherSync: NodeJS.Timeout | undefined;
  private sendingWatches = false;
  private reconnector: NodeJS.Timeout | undefined;
  private stopping = false;
  private stopped = false;

  constructor(parts: NodeParts) {
    this.parts = parts;
    this.ctx = parts.ctx;
  }

  get log(): Logger {
    return this.ctx.log;
  }

  /** Loads channels, catches up with the chain, starts the transport and reconnects to peers. */
  async start(): Promise<void> {
    const { ctx } = this;
    for (const stored of await ctx.store.load()) {
      let record = stored.record;
      // As leader we may have signed, and sent, proposals up to the lease that we never stored:
      // skip them all, so that no version is ever signed twice (ADR 0006).
      if (record.self === 0 && record.versionLease > record.burnedVersion) record = { ...record, burnedVersion: record.versionLease };
      const ch = new Channel(record, stored.latest);
      ctx.channels.set(ch.id, ch);
    }
    ctx.transport.on('message', (from, message) => dispatch(ctx, from, message));
    ctx.transport.on('connected', (peer) => {
      onConnected(ctx, peer);
      // identify answers within milliseconds of the connection: record where the peer listens.
      setTimeout(() => {
        if (!this.stopping) this.rememberAddresses();
      }, 300).unref();
      ctx.events.emit('peer-connected', { peerId: peer.peerId, address: peer.address });
    });
    ctx.transport.on('disconnected', (peer) => ctx.events.emit('peer-disconnected', { peerId: peer.peerId, address: peer.address }));
    await ctx.transport.start();
    this.watcher = await createChainWatcher(ctx, this.parts.chainPollMs, (ch, fact) => void this.creditTopUp(ch, fact));
    await this.watcher.catchUp();
    this.watcher.start();
    for (const ch of ctx.channels.values()) if (ch.record.status === 'funding') void ensureDeposited(ctx, ch);
    this.sweeper = setInterval(() => {
      if (!this.stopping) this.expireOperations();
    }, 1000).unref();
    this.reconnector = setInterval(() => {
      if (!this.stopping) void this.reconnect();
    }, 5000).unref();
    if (ctx.settle) {
      // The coordinator's watchtower gets every channel's latest co-signed state, at most once
      // a second per channel, so it can answer a stale state while this node is offline.
      for (const ch of ctx.channels.values()) ctx.watchDirty.add(ch);
      this.watcherSync = setInterval(() => {
        if (!this.stopping) void this.sendWatches();
      }, 1000).unref();
    }
    void this.reconnect();
    ctx.log.info({ address: ctx.transport.self.address, peerId: ctx.transport.self.peerId, channels: ctx.channels.size }, 'node started');
  }

  // ---------------------------------------------------------------------------------------------
  // API

  async info(): Promise<NodeInfo> {
    this.live();
    const { ctx } = this;
    return {
      address: ctx.transport.self.address,
      peerId: ctx.transport.self.peerId,
      multiaddrs: ctx.transport.multiaddrs(),
      chainId: ctx.chain.chainId,
      adjudicator: ctx.chain.adjudicator,
      signer: ctx.signer.description,
    };
  }

  async connect(multiaddr: string): Promise<PeerInfo> {
    this.live();
    if (typeof multiaddr !== 'string' || !multiaddr.includes('/p2p/'))
      throw new InvalidArgumentError('multiaddr must end in /p2p/<peerId>');
    const peer = await this.ctx.transport.connect(multiaddr).catch((e: unknown) => {
      throw new PeerUnreachableError(multiaddr, { cause: e });
    });
    return { peerId: peer.peerId, address: peer.address, connected: true };
  }

  async openChannel(p: OpenChannelParameters): Promise<ChannelInfo> {
    this.live();
    const { peer, multiaddrs } = await this.resolvePeer(p.peer);
    const ch = await openChannel(this.ctx, peer, multiaddrs, p);
    return this.info_(ch);
  }

  async deposit(channelId: Bytes32, p: { asset?: Address; amount: bigint }): Promise<ChannelInfo> {
    this.live();
    const ch = await this.open(channelId);
    const asset = this.assetIndex(ch, p.asset);
    this.positive(p.amount);
    await this.ctx.chain.deposit(ch.record.params, asset, ch.self, p.amount);
    // The watcher sees the deposit and credits it (creditTopUp); wait for the co-signed state.
    const target = (ch.latest ? ch.latest.state.balances[asset]![ch.self] : 0n) + p.amount;
    const deadline = this.ctx.clock() + this.ctx.timeouts.chainMs;
    while ((ch.latest?.state.balances[asset]?.[ch.self] ?? 0n) < target) {
      if (this.ctx.clock() > deadline) throw new OperationTimeoutError('crediting the deposit', true);
      await new Promise((r) => setTimeout(r, 100));
    }
    return this.info_(ch);
  }

  async pay(channelId: Bytes32, p: PayParameters): Promise<PaymentResult> {
    this.live();
    const maybe = this.open(channelId);
    const ch = maybe instanceof Channel ? maybe : await maybe;
    const asset = this.assetIndex(ch, p.asset);
    this.positive(p.amount);
    const held = ch.latest?.state.balances[asset]?.[ch.self] ?? 0n;
    if (held < p.amount) throw new RejectedError('insufficient-balance', `this node holds ${held}, pays ${p.amount}`);
    const op: Op = { kind: 'pay', id: this.ctx.nextOpId(ch), by: ch.self, asset, amount: p.amount };
    const version = await this.submit(ch, op);
    return { channelId: ch.id, id: op.id, version, asset: ch.record.params.assets[asset]!, amount: p.amount };
  }

  async swap(channelId: Bytes32, p: SwapParameters): Promise<SwapResult> {
    this.live();
    const ch = await this.open(channelId);
    const give = this.assetIndex(ch, p.give?.asset);
    const take = this.assetIndex(ch, p.take?.asset);
    if (give === take) throw new InvalidArgumentError('a swap exchanges two different assets');
    this.positive(p.give.amount);
    this.positive(p.take.amount);
    const expiresIn = p.expiresIn ?? 60;
    if (!Number.isInteger(expiresIn) || expiresIn <= 0)
      throw new InvalidArgumentError('expiresIn must be a positive whole number of seconds');
    const op: Op = {
      kind: 'swap',
      id: this.ctx.nextOpId(ch),
      by: ch.self,
      giveAsset: give,
      giveAmount: p.give.amount,
      takeAsset: take,
      takeAmount: p.take.amount,
      expiry: this.ctx.now() + BigInt(expiresIn),
    };
    const version = await this.submit(ch, op);
    return { channelId: ch.id, id: op.id, version, give: { ...p.give }, take: { ...p.take } };
  }

  async close(channelId: Bytes32, p: CloseParameters = {}): Promise<CloseResult> {
    this.live();
    const ch = this.channel_(channelId);
    const mode = p.mode ?? 'cooperative';
    if (mode !== 'cooperative' && mode !== 'force') throw new InvalidArgumentError('mode must be cooperative or force');
    return mode === 'force' ? closeByForce(this.ctx, ch, p) : closeCooperatively(this.ctx, ch, p);
  }

  async channels(): Promise<ChannelInfo[]> {
    this.live();
    return [...this.ctx.channels.values()].map((ch) => this.info_(ch));
  }

  async channel(channelId: Bytes32): Promise<ChannelInfo> {
    this.live();
    return this.info_(this.channel_(channelId));
  }

  async signedState(channelId: Bytes32): Promise<SignedStateJson> {
    this.live();
    const json = signedStateJson(this.channel_(channelId));
    if (!json) throw new ChannelNotOpenError(channelId, 'not co-signed yet');
    return json;
  }

  on<E extends LanesEventName>(event: E, listener: (payload: LanesEvents[E]) => void): () => void {
    return this.ctx.events.on(event, listener);
  }

  /**
   * Stops cleanly: refuses new calls, fails what was never sent, gives proposals in flight a
   * moment to complete, flushes the store and closes the transport, chain watcher and signer.
   */
  async stop(graceMs = 2000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.sweeper);
    clearInterval(this.reconnector);
    clearInterval(this.watcherSync);
    await this.watcher?.stop();
    const { ctx } = this;
    for (const ch of ctx.channels.values()) {
      for (const p of ch.queue.splice(0)) if (p.origin === 'self') p.reject(new NodeStoppedError());
      for (const [id, p] of ch.requested) {
        ch.requested.delete(id);
        p.reject(new NodeStoppedError());
      }
    }
    const deadline = Date.now() + graceMs;
    while ([...ctx.channels.values()].some((ch) => ch.inflight) && Date.now() < deadline && !this.stopped) {
      await new Promise((r) => setTimeout(r, 20));
    }
    this.stopped = true;
    await Promise.all([...ctx.channels.values()].map((ch) => ch.run(() => undefined)));
    await ctx.store.flush().catch(() => undefined);
    await ctx.transport.stop().catch(() => undefined);
    await this.parts.release();
    ctx.log.info('node stopped');
  }

  /** Called by the composition root's fatal handler. */
  markStopped(): void {
    this.stopped = true;
    this.stopping = true;
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  private submit(ch: Channel, op: Op): Promise<bigint> {
    return ch.isLeader ? submitAsLeader(this.ctx, ch, op) : submitAsFollower(this.ctx, ch, op);
  }

  /** Our own deposit after opening: credit it in a co-signed state (in chain order). */
  private async creditTopUp(ch: Channel, fact: { asset: number; amount: bigint; holdingsAfter: bigint }): Promise<void> {
    if (this.stopping) return;
    const op: Op = {
      kind: 'deposit',
      id: this.ctx.nextOpId(ch),
      by: ch.self,
      asset: fact.asset,
      amount: fact.amount,
      holdingsAfter: fact.holdingsAfter,
    };
    // The counterparty may not have seen the deposit yet: retry a few times.
    for (let attempt = 0; attempt < 10 && !this.stopping; attempt++) {
      try {
        await this.submit(ch, { ...op, id: attempt === 0 ? op.id : this.ctx.nextOpId(ch) });
        return;
      } catch (e) {
        if (!(e instanceof RejectedError) || e.reason !== 'deposit-exceeds-holdings') {
          this.ctx.channelLog(ch).warn({ err: e }, 'crediting a top-up failed');
          return;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private expireOperations(): void {
    const { ctx } = this;
    const limit = ctx.clock() - ctx.timeouts.operationMs;
    for (const ch of ctx.channels.values()) {
      let expired = 0;
      while (ch.queue.length > expired && ch.queue[expired]!.since < limit) expired++;
      for (const p of ch.queue.splice(0, expired)) {
        if (p.origin === 'self') p.reject(new OperationTimeoutError(`${p.op.kind} ${p.op.id}`, false));
      }
      if (ch.inflight && ch.inflight.pending[0] && ch.inflight.pending[0].since < limit) {
        for (const p of ch.inflight.pending) if (p.origin === 'self') p.reject(new OperationTimeoutError(`${p.op.kind} ${p.op.id}`, true));
      }
      if (ch.requested.size > 0) {
        void ch.run(() => {
          for (const [id, p] of ch.requested) {
            if (p.since >= limit) break; // insertion order: the rest are newer
            ch.requested.delete(id);
            p.reject(new OperationTimeoutError(`${p.op.kind} ${id}`, false));
          }
        });
      }
      if (ch.isLeader) schedule(ctx, ch);
    }
  }

  private async reconnect(): Promise<void> {
    const { ctx } = this;
    this.rememberAddresses();
    const wanted = new Map<string, readonly string[]>();
    for (const ch of ctx.channels.values()) {
      if (ch.record.status === 'closed' || ch.record.status === 'rejected') continue;
      if (ctx.transport.isConnected(ch.record.peer.peerId)) continue;
      if (ch.record.peer.multiaddrs.length > 0) wanted.set(ch.record.peer.peerId, ch.record.peer.multiaddrs);
    }
    for (const [, addrs] of wanted) {
      for (const addr of addrs) {
        if (this.stopping) return;
        try {
          await ctx.transport.connect(addr, { signal: AbortSignal.timeout(5000) });
          break;
        } catch {
          // try the next address, or again later
        }
      }
    }
  }

  /**
   * Sends the coordinator the latest co-signed state of every channel that changed, all at once
   * (the coordinator verifies and stores them as they come and its answers share writes), so a
   * thousand channels cost a few round trips, not a thousand.
   */
  private async sendWatches(): Promise<void> {
    const { ctx } = this;
    if (this.sendingWatches || !ctx.settle || ctx.watchDirty.size === 0) return;
    this.sendingWatches = true;
    try {
      const settle = ctx.settle;
      const sends: Promise<unknown>[] = [];
      for (const ch of [...ctx.watchDirty]) {
        ctx.watchDirty.delete(ch);
        const live = ch.record.status === 'open' || ch.record.status === 'closing' || ch.record.status === 'disputed';
        if (!live || !ch.latest) continue;
        sends.push(
          settle.submit({ kind: 'watch', params: ch.record.params, signed: ch.latest }).catch(() => {
            ctx.watchDirty.add(ch); // next time
          }),
        );
      }
      await Promise.all(sends);
    } finally {
      this.sendingWatches = false;
    }
  }

  /** Records where connected peers listen (learned through identify), to redial them later. */
  private rememberAddresses(): void {
    const { ctx } = this;
    let changed = false;
    for (const ch of ctx.channels.values()) {
      if (ch.record.status === 'closed' || ch.record.status === 'rejected') continue;
      const addrs = ctx.transport.peerAddresses(ch.record.peer.peerId);
      if (addrs.length === 0 || addrs.join() === ch.record.peer.multiaddrs.join()) continue;
      ch.record = { ...ch.record, peer: { ...ch.record.peer, multiaddrs: addrs } };
      ctx.store.putRecord(ch.record);
      changed = true;
    }
    if (changed) void ctx.flush().catch(() => undefined);
  }

  private async resolvePeer(peer: string): Promise<{ peer: PeerRef; multiaddrs: string[] }> {
    if (typeof peer !== 'string' || peer.length === 0) throw new InvalidArgumentError('peer must be a multiaddr or a peer id');
    if (peer.includes('/p2p/')) {
      const ref = await this.ctx.transport.connect(peer).catch((e: unknown) => {
        throw new PeerUnreachableError(peer, { cause: e });
      });
      return { peer: ref, multiaddrs: [peer] };
    }
    for (const ch of this.ctx.channels.values()) {
      if (ch.record.peer.peerId === peer && ch.peer && this.ctx.transport.isConnected(peer))
        return { peer: ch.peer, multiaddrs: [...ch.record.peer.multiaddrs] };
    }
    throw new PeerUnreachableError(peer, { details: 'connect to it by multiaddr first' });
  }

  private channel_(channelId: Bytes32): Channel {
    if (!isBytes32(channelId))
      throw new InvalidArgumentError(`channel id must be 0x and 64 lowercase hex digits, got ${String(channelId).slice(0, 80)}`);
    const ch = this.ctx.channels.get(channelId);
    if (!ch) throw new ChannelNotFoundError(channelId);
    return ch;
  }

  /** The channel, if open. Synchronous on the common path: payments pay no extra await. */
  private open(channelId: Bytes32): Channel | Promise<Channel> {
    const ch = this.channel_(channelId);
    if (ch.record.status === 'open') return ch;
    if (ch.record.status !== 'funding') throw new ChannelNotOpenError(channelId, ch.record.status);
    // The chain watcher may not have seen the last deposit yet: ask the chain.
    return ch
      .run(() => refreshFunding(this.ctx, ch))
      .then(() => {
        if (ch.record.status !== 'open') throw new ChannelNotOpenError(channelId, ch.record.status);
        return ch;
      });
  }

  private assetIndex(ch: Channel, asset: Address | undefined): number {
    const assets = ch.record.params.assets;
    if (asset === undefined) {
      if (assets.length === 1) return 0;
      throw new InvalidArgumentError(`this channel holds ${assets.length} assets: name one (${assets.join(', ')})`);
    }
    const i = assets.indexOf(String(asset).toLowerCase() as Address);
    if (i < 0) throw new RejectedError('unknown-asset', `${asset} is not an asset of channel ${ch.id}`);
    return i;
  }

  private positive(amount: unknown): void {
    if (typeof amount !== 'bigint' || amount <= 0n)
      throw new InvalidArgumentError(`amount must be a positive bigint, got ${String(amount)}`);
  }

  private info_(ch: Channel): ChannelInfo {
    return channelInfo(ch, this.ctx.transport.isConnected(ch.record.peer.peerId));
  }

  private live(): void {
    if (this.stopping) throw new NodeStoppedError();
  }
}
