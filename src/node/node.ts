/**
 * A Lanes node: the engine behind the {@link LanesApi}. Built by `createNode` (create-node.ts),
 * which supplies the ports; this class owns the channels and their lifecycle.
 */
import type { Logger } from 'pino';
import { type Address, type Bytes32, hexToBytes, isBytes32, keccak256Hex } from '../core/bytes.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import { publicKeyOfPeerId } from '../core/payments/peer-id.ts';
import type { Op } from '../core/ops.ts';
import type { PeerRef } from '../p2p/transport.ts';
import type {
  ChannelInfo,
  CloseParameters,
  CloseResult,
  CreditedBalance,
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
  WithdrawParameters,
  WithdrawResult,
} from '../sdk/api.ts';
import { type Effect, type Machine, isQuiet, restore } from '../core/channel/index.ts';
import { Callers } from './callers.ts';
import { Channel } from './channel.ts';
import type { ChainWatcher } from './chain-watcher.ts';
import { createChainWatcher } from './chain-watcher.ts';
import type { Context } from './context.ts';
import type { CoordinatorLink } from './coordinator-link.ts';
import { dispatch } from './dispatch.ts';
import {
  ChannelNotFoundError,
  ChannelNotOpenError,
  NodeStoppedError,
  OperationTimeoutError,
  PeerUnreachableError,
  RejectedError,
} from '../sdk/errors.ts';
import { type Shell, executeAll, runStep } from './executor.ts';
import { refreshDeposits } from './settlement.ts';
import { type ChannelHost, openChannel } from './opening.ts';
import { channelInfo, signedStateJson } from './views.ts';
import { type AutoWithdraw, Withdrawals } from './withdrawals.ts';
import { Payments } from './payments.ts';
import type {
  CreateInvoiceParameters,
  InvoiceInfo,
  PayInvoiceParameters,
  PaymentInfo,
  PaymentsFilter,
  InvoicesFilter,
  SendPaymentParameters,
} from '../sdk/payments.ts';
import { NodeMetrics, instrumentContext } from './metrics.ts';
import { Gauge } from 'prom-client';
import type { TransportDiagnostics } from '../p2p/libp2p-transport.ts';
import type { Transport } from '../p2p/transport.ts';
import type { GraphService } from './graph-service.ts';
import { type AssetInfo, NATIVE_INFO, assetInfo } from '../sdk/asset-info.ts';
import { DEFAULT_TIMING, type ForwardPolicy, type ForwardTiming, type OnionCurve } from '../core/forwarding/index.ts';
import { Forwarder, type Peeled } from './forwarder.ts';
import type { QuoteDesk } from './swap-quotes.ts';

/** How this node forwards on a channel it has announced no policy for (a private one). */
export const DEFAULT_FORWARD_POLICY: ForwardPolicy = {
  enabled: true,
  baseFee: 0n,
  feePpm: 0n,
  minAmount: 1n,
  maxAmount: (1n << 255n) - 1n,
  maxLocks: 483,
};

export interface NodeParts {
  readonly ctx: Context;
  readonly chainPollMs: number;
  /** Blocks on top of an event before it counts (docs/adr/0014). */
  readonly confirmations: number;
  /** Withdraw credited balances as soon as they are noticed. */
  readonly autoWithdraw?: AutoWithdraw;
  /** Releases what the composition root opened (signer, store), after the node stopped. */
  readonly release: () => Promise<void>;
  /** The x of the ECDH point of the node key and a peer's key, for keysend (src/core/payments/keysend.ts). */
  readonly keysendKey?: (peerPublicKey: Uint8Array) => Uint8Array;
  /** Opens a route onion's outer layer with the node key (src/core/forwarding/onion.ts); absent: no forwarding. */
  readonly peelOnion?: (onion: Uint8Array) => Peeled;
  /** Forwarding timing (ADR 0011; default DEFAULT_TIMING): the channel machines' settle margin is its registration margin. */
  readonly forwardTiming?: ForwardTiming;
  /** The curve operations of route onions (default noble's; create-node passes libsecp256k1's). */
  readonly onionCurve?: OnionCurve;
  /** How long a payment's onion key for a hop is reused (ms; PaymentHost.onionKeyReuseMs). */
  readonly onionKeyReuseMs?: number;
  /** Final payment records kept in memory (PaymentHost.finishedInMemory). */
  readonly paymentsInMemory?: number;
  /** Forwarding terms on channels without an announced policy (default DEFAULT_FORWARD_POLICY). */
  readonly forwardPolicy?: ForwardPolicy;
}

/** How often every channel machine gets a tick: retries, conclusions, timeouts (ms). */
const TICK_MS = 1000;
/** How often the watchtower link is probed (and brought back up when it is down). */
const WATCHTOWER_PROBE_MS = 2000;

export class LanesNode implements LanesApi, ChannelHost {
  private readonly ctx: Context;
  private readonly parts: NodeParts;
  private readonly withdrawals: Withdrawals;
  private readonly payments_: Payments;
  /** Routed locks through this node (forwarder.ts); absent when the node cannot peel onions. */
  readonly forwarder: Forwarder | undefined;
  /** The forwarding timing rules (registration margin, route window, longest expiry): ADR 0011. */
  readonly timing: ForwardTiming;
  private readonly callers = new Callers();
  private readonly shell: Shell;
  private watcher: ChainWatcher | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private watcherSync: NodeJS.Timeout | undefined;
  private sendingWatches = false;
  /** The watchtower (coordinator) link as last probed, and since when (unix ms). */
  private watchtower: { reachable: boolean; since: number } | undefined;
  private watchtowerProbe: NodeJS.Timeout | undefined;
  private reconnector: NodeJS.Timeout | undefined;
  private stopping = false;
  private stopped = false;
  /** Operation ids: distinct across restarts (time-based), with the participant's parity. */
  private opCounter: bigint;
  /** Our operations waiting for the next microtask, per channel: they share one input. */
  private readonly outbox = new Map<Channel, { op: Op; caller: number }[]>();
  /** Prometheus metrics of this node (src/node/metrics.ts): served by the daemon at /metrics. */
  readonly metrics: NodeMetrics;
  /** The channel graph and pathfinder, when the node runs graph gossip (`createNode({ graph })`, ADR 0017). */
  graph: GraphService | undefined;
  /** Routed swaps this node quotes and converts (swap-quotes.ts): set by createNode when its swap policy has pairs and it runs graph gossip. */
  quoteDesk: QuoteDesk | undefined;
  /** Each token's symbol and decimals as shown, read once (ADR 0016). */
  private readonly assetInfos = new Map<Address, Promise<AssetInfo>>();

  constructor(parts: NodeParts) {
    this.parts = parts;
    this.metrics = new NodeMetrics(parts.ctx);
    peerTableGauge(this.metrics, parts.ctx.transport);
    this.ctx = instrumentContext(parts.ctx, this.metrics);
    this.withdrawals = new Withdrawals(this.ctx, parts.autoWithdraw);
    this.opCounter = BigInt(parts.ctx.clock()) << 20n;
    this.shell = { ctx: this.ctx, callers: this.callers, chainTime: () => this.watcher?.chainTime() };
    this.timing = parts.forwardTiming ?? DEFAULT_TIMING;
    const peel = parts.peelOnion;
    this.forwarder =
      peel === undefined
        ? undefined
        : new Forwarder({
            ctx: parts.ctx,
            submit: (ch, op) => this.submit(ch, op),
            nextOpId: (ch) => this.nextOpId(ch),
            peel,
            policy: (ch, assetIndex) => this.forwardPolicy(ch, assetIndex),
            timing: this.timing,
            register: (secrets, o) => this.registerSecrets(secrets, o?.direct === true),
            ownsLock: (channelId, lockId) => this.payments_.ownsLock(channelId, lockId),
            ownHashlocks: () => this.payments_.unsettledHashlocks(),
            quotes: {
              check: (q) => this.quoteDesk?.check(q) ?? 'not-ours',
              use: (q) => this.quoteDesk?.use(q),
              unrevealed: (q, heldMs) => this.quoteDesk?.unrevealed(q, heldMs),
            },
          });
    this.payments_ = new Payments({
      ctx: parts.ctx,
      submit: (ch, op) => this.submit(ch, op),
      nextOpId: (ch) => this.nextOpId(ch),
      ...(parts.keysendKey ? { keysendKey: parts.keysendKey } : {}),
      ...(this.forwarder ? { forwarder: this.forwarder } : {}),
      graph: () => this.graph,
      settleMargin: this.timing.registrationMargin,
      ...(parts.onionCurve ? { onionCurve: parts.onionCurve } : {}),
      ...(parts.onionKeyReuseMs === undefined ? {} : { onionKeyReuseMs: parts.onionKeyReuseMs }),
      ...(parts.paymentsInMemory === undefined ? {} : { finishedInMemory: parts.paymentsInMemory }),
      prepaid: (nonce, asset, amount) => {
        if (this.quoteDesk?.prepaid(nonce, asset, amount))
          this.log.debug({ nonce, asset, amount: amount.toString() }, "a swap quote's upfront premium arrived");
      },
    });
  }

  get log(): Logger {
    return this.ctx.log;
  }

  /** A fresh range of operation ids for a channel machine's own operations. */
  private firstOpId(): bigint {
    this.opCounter += 1n << 20n;
    return this.opCounter;
  }

  private nextOpId(ch: Channel): bigint {
    return (++this.opCounter << 1n) | BigInt(ch.self);
  }

  /**
   * Our forwarding terms for one asset of a channel: the policy our channel update announces
   * when the channel is public, else the node's default.
   */
  private forwardPolicy(ch: Channel, assetIndex: number): ForwardPolicy {
    const fallback = this.parts.forwardPolicy ?? DEFAULT_FORWARD_POLICY;
    if (this.forwarder?.enabled === false) return { ...fallback, enabled: false };
    const update = this.graph?.graph.channel(ch.id)?.updates[ch.self];
    const p = update?.policies[assetIndex];
    if (!update || !p) return fallback;
    return {
      enabled: update.enabled,
      baseFee: p.feeBase,
      feePpm: BigInt(p.feePpm),
      minAmount: p.minAmount,
      maxAmount: p.maxAmount,
      maxLocks: update.maxLocks,
    };
  }

  /**
   * Registers secrets on-chain for the forwarder: through the coordinator (batched) when there is
   * one and not `direct`, else (or when the coordinator does not) with our own transactions. The
   * coordinator gets every chunk of 256 at once, not one after another: each may wait out its
   * timeout, and a registration has a deadline. Our own transactions go one at a time (one key,
   * one nonce sequence).
   */
  private async registerSecrets(secrets: readonly Bytes32[], direct = false): Promise<void> {
    const { ctx } = this;
    const chunks: Bytes32[][] = [];
    for (let i = 0; i < secrets.length; i += 256) chunks.push(secrets.slice(i, i + 256));
    const settle = ctx.settle;
    const done = settle && !direct ? await Promise.all(chunks.map((c) => this.registerThroughCoordinator(settle, c))) : [];
    for (const [k, chunk] of chunks.entries()) {
      if (done[k] === true) continue;
      // Not for secrets on-chain already (a coordinator that refused them as registered, or a
      // registration checked again: forwarder.ts).
      const on = await Promise.all(chunk.map((x) => ctx.chain.revealedAt(keccak256Hex(hexToBytes(x))).catch(() => 0n)));
      const missing = chunk.filter((_, i) => on[i] === 0n);
      if (missing.length > 0) await ctx.chain.revealSecrets(missing);
    }
  }

  /** True when the coordinator reports the chunk registered within its timeout. */
  private async registerThroughCoordinator(settle: CoordinatorLink, chunk: readonly Bytes32[]): Promise<boolean> {
    const { ctx } = this;
    try {
      const { result } = await settle.submit({ kind: 'reveal', secrets: chunk });
      // A registration has a deadline: a coordinator that takes it and goes quiet is not waited for.
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        result,
        new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ctx.timeouts.coordinatorMs))),
      ]);
      clearTimeout(timer);
      if (r?.ok) return true;
      if (r === undefined) ctx.log.warn('the coordinator did not register the secrets in time: registering them directly');
      else ctx.log.warn({ reason: r.reason }, 'the coordinator did not register the secrets: registering them directly');
    } catch (e) {
      ctx.log.warn({ err: e }, 'the coordinator is unreachable: registering the secrets directly');
    }
    return false;
  }

  /** Registers a channel and executes its machine's first effects (ChannelHost). */
  adopt(machine: Machine, effects: readonly Effect[]): Channel {
    machine.settleMargin = this.timing.registrationMargin;
    const ch = new Channel(machine, (c, input) => runStep(this.shell, c, input));
    this.ctx.channels.set(ch.id, ch);
    executeAll(this.shell, ch, effects);
    return ch;
  }

  /** Loads channels, catches up with the chain, starts the transport and reconnects to peers. */
  async start(): Promise<void> {
    const { ctx } = this;
    for (const stored of await ctx.store.load()) {
      const machine = restore(stored.record, stored.latest, {
        selfKey: ctx.transport.self.publicKey,
        firstOpId: this.firstOpId(),
        settleMargin: this.timing.registrationMargin,
      });
      const ch = new Channel(machine, (c, input) => runStep(this.shell, c, input));
      ctx.channels.set(ch.id, ch);
    }
    ctx.transport.on('message', (from, message) => dispatch(ctx, this, from, message, () => this.firstOpId()));
    ctx.transport.on('connected', (peer) => {
      for (const ch of ctx.channels.values()) {
        if (ch.record.peer.peerId === peer.peerId)
          ch.input({ kind: 'connected', peer: { peerId: peer.peerId, publicKey: peer.publicKey } });
      }
      // identify answers within milliseconds of the connection: record where the peer listens.
      setTimeout(() => {
        if (!this.stopping) this.rememberAddresses(peer.peerId);
      }, 300).unref();
      ctx.events.emit('peer-connected', { peerId: peer.peerId, address: peer.address });
    });
    ctx.transport.on('disconnected', (peer) => {
      // Before the transport forgets where a peer that dialed us listens (strangers are not kept).
      this.rememberAddresses(peer.peerId);
      for (const ch of ctx.channels.values()) if (ch.record.peer.peerId === peer.peerId) ch.input({ kind: 'disconnected' });
      ctx.events.emit('peer-disconnected', { peerId: peer.peerId, address: peer.address });
    });
    await ctx.transport.start();
    await this.withdrawals.load();
    await this.payments_.start();
    this.forwarder?.start();
    this.watcher = await createChainWatcher(
      ctx,
      { pollMs: this.parts.chainPollMs, confirmations: this.parts.confirmations },
      {
        onAccountActivity: (tx, channels, assets) => this.withdrawals.settled(tx, channels, assets),
        onSecretRevealed: (hashlock, secret, at) => this.forwarder?.learn(hashlock, secret, at),
      },
    );
    await this.watcher.catchUp();
    await this.rebuildDisputes();
    this.watcher.start();
    void this.withdrawals.report().catch((err: unknown) => ctx.log.warn({ err }, 'reading credited balances failed'));
    this.tick();
    this.ticker = setInterval(() => {
      if (!this.stopping) this.tick();
    }, TICK_MS).unref();
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
      void this.probeWatchtower();
      this.watchtowerProbe = setInterval(() => {
        if (!this.stopping) void this.probeWatchtower();
      }, WATCHTOWER_PROBE_MS).unref();
    }
    void this.reconnect();
    ctx.log.info({ address: ctx.transport.self.address, peerId: ctx.transport.self.peerId, channels: ctx.channels.size }, 'node started');
  }

  /**
   * A disputed channel's registered state, as the chain has it now: the record keeps it across
   * restarts, and this refreshes it (a conclusion or an answer may have happened while we were away;
   * the event catch-up delivers those too).
   */
  private async rebuildDisputes(): Promise<void> {
    for (const ch of this.ctx.channels.values()) {
      if (ch.record.status !== 'disputed') continue;
      const d = await this.ctx.chain.dispute(ch.id).catch(() => undefined);
      if (!d || (ch.record.dispute?.version === d.version && ch.record.dispute.finalizesAt === d.finalizesAt)) continue;
      ch.input({
        kind: 'chain',
        fact: { kind: 'challenged', version: d.version, finalizesAt: d.finalizesAt, transactionHash: `0x${'00'.repeat(32)}` },
      });
    }
  }

  private tick(): void {
    const operationTimeoutMs = this.ctx.timeouts.operationMs;
    for (const ch of this.ctx.channels.values()) {
      if ((ch.record.status === 'closed' && !ch.record.concludedLocks) || ch.record.status === 'rejected') continue;
      // A quiet machine's tick does nothing (src/core/channel/quiet.ts; the protocol fuzzer
      // checks it): with many idle channels, ticking them all cost a core.
      if (!ch.busy && isQuiet(ch.machine)) continue;
      ch.input({ kind: 'tick', operationTimeoutMs });
    }
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
      ...(ctx.chain.account === ctx.transport.self.address ? {} : { gasAccount: ctx.chain.account }),
      assets: await this.assetInfosOfChannels(),
      ...(ctx.settle
        ? {
            watchtower: {
              coordinator: ctx.settle.coordinator,
              reachable: this.watchtower?.reachable ?? ctx.settle.reachable(),
              since: this.watchtower?.since ?? Date.now(),
            },
          }
        : {}),
    };
  }

  /**
   * Probes the watchtower link, and raises the alarm while it is down: a warning in the log, the
   * `watchtower-unreachable` event, and `info().watchtower.reachable` false (issue 16). While it
   * is down, a counterparty that registers a stale state is answered only by this node itself.
   */
  private async probeWatchtower(): Promise<void> {
    const { ctx } = this;
    if (!ctx.settle) return;
    const reachable = await ctx.settle.probe();
    if (this.stopping) return;
    const was = this.watchtower;
    if (was?.reachable === reachable) return;
    const now = Date.now();
    this.watchtower = { reachable, since: now };
    if (!reachable) {
      ctx.log.warn(
        { coordinator: ctx.settle.coordinator },
        'the watchtower is unreachable: stale states are answered only while this node runs',
      );
      ctx.events.emit('watchtower-unreachable', { coordinator: ctx.settle.coordinator, since: now });
    } else if (was !== undefined) {
      ctx.log.info({ coordinator: ctx.settle.coordinator, downForMs: now - was.since }, 'the watchtower is reachable again');
      ctx.events.emit('watchtower-reachable', { coordinator: ctx.settle.coordinator, downForMs: now - was.since });
    }
  }

  /**
   * ETH and every token of this node's channels and of its policies (the pairs it swaps, the
   * deposits it accepts), as shown (a token's answers read once).
   */
  private async assetInfosOfChannels(): Promise<AssetInfo[]> {
    const tokens = new Set<Address>();
    for (const ch of this.ctx.channels.values()) for (const a of ch.record.params.assets) tokens.add(a);
    const { open, swap } = this.ctx.policies;
    if (swap !== undefined && typeof swap !== 'function') for (const p of swap.pairs) tokens.add(p.receive).add(p.give);
    if (open !== undefined && typeof open !== 'function') {
      for (const a of Object.keys(open.maxDeposit ?? {})) tokens.add(a as Address);
      for (const a of open.assets ?? []) tokens.add(a);
    }
    tokens.delete(NATIVE_INFO.asset);
    return [NATIVE_INFO, ...(await Promise.all([...tokens].map((t) => this.tokenInfo(t))))];
  }

  /**
   * A token as shown: its symbol and decimals read once; while the chain cannot be reached (or
   * takes over 5 s) it is shown by address in base units, and read again next time.
   */
  private async tokenInfo(token: Address): Promise<AssetInfo> {
    let read = this.assetInfos.get(token);
    if (!read) {
      read = Promise.resolve()
        .then(() => this.ctx.chain.tokenMetadata(token))
        .then((said) => assetInfo(token, said));
      this.assetInfos.set(token, read);
      read.catch(() => this.assetInfos.delete(token));
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<AssetInfo>((resolve) => (timer = setTimeout(() => resolve(assetInfo(token)), 5000)));
    try {
      return await Promise.race([read.catch(() => assetInfo(token)), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async connect(multiaddr: string): Promise<PeerInfo> {
    this.live();
    if (typeof multiaddr !== 'string' || !multiaddr.includes('/p2p/'))
      throw new InvalidArgumentError('multiaddr must end in /p2p/<peerId>');
    const peer = await this.ctx.transport.connect(multiaddr).catch((e: unknown) => {
      throw e instanceof InvalidArgumentError ? e : new PeerUnreachableError(multiaddr, { cause: e });
    });
    return { peerId: peer.peerId, address: peer.address, connected: true };
  }

  async openChannel(p: OpenChannelParameters): Promise<ChannelInfo> {
    this.live();
    if (Array.isArray(p.deposit))
      for (const [i, amount] of p.deposit.entries())
        if (typeof amount === 'bigint' && amount > 0n) await this.affordable(p.assets?.[i] ?? NATIVE_INFO.asset, amount);
    const { peer, multiaddrs } = await this.resolvePeer(p.peer);
    const ch = await openChannel(this.ctx, this, peer, multiaddrs, p, this.firstOpId());
    // A public channel is announced once both sides see it funded (in the background: ADR 0017).
    if (p.public === true) {
      if (this.graph) this.graph.announceWhenOpen(ch.id);
      else
        this.ctx.log.warn({ channel: ch.id }, 'a public channel on a node without graph gossip is not announced (start it with --graph)');
    }
    return this.info_(ch);
  }

  async deposit(channelId: Bytes32, p: { asset?: Address; amount: bigint }): Promise<ChannelInfo> {
    this.live();
    const ch = await this.open(channelId);
    const asset = this.assetIndex(ch, p.asset);
    this.positive(p.amount);
    await this.affordable(ch.record.params.assets[asset]!, p.amount);
    await this.ctx.chain.deposit(ch.record.params, asset, ch.self, p.amount);
    // The leader credits the deposit once its chain watcher sees it: wait for the co-signed state.
    const target = (ch.latest ? ch.latest.state.balances[asset]![ch.self] : 0n) + p.amount;
    const deadline = this.ctx.clock() + this.ctx.timeouts.chainMs;
    while ((ch.latest?.state.balances[asset]?.[ch.self] ?? 0n) < target) {
      if (this.ctx.clock() > deadline) throw new OperationTimeoutError('crediting the deposit', true);
      await new Promise((r) => setTimeout(r, 100));
    }
    return this.info_(ch);
  }

  pay(channelId: Bytes32, p: PayParameters): Promise<PaymentResult> {
    return this.metrics.time(this.metrics.payments, this.metrics.paymentSeconds, () => this.pay_(channelId, p));
  }

  private async pay_(channelId: Bytes32, p: PayParameters): Promise<PaymentResult> {
    this.live();
    const maybe = this.open(channelId);
    const ch = maybe instanceof Channel ? maybe : await maybe;
    const asset = this.assetIndex(ch, p.asset);
    this.positive(p.amount);
    const held = ch.latest?.state.balances[asset]?.[ch.self] ?? 0n;
    if (held < p.amount) throw new RejectedError('insufficient-balance', `this node holds ${held}, pays ${p.amount}`);
    const op: Op = { kind: 'pay', id: this.nextOpId(ch), by: ch.self, asset, amount: p.amount };
    const version = await this.submit(ch, op);
    return { channelId: ch.id, id: op.id, version, asset: ch.record.params.assets[asset]!, amount: p.amount };
  }

  swap(channelId: Bytes32, p: SwapParameters): Promise<SwapResult> {
    return this.metrics.time(this.metrics.swaps, this.metrics.swapSeconds, () => this.swap_(channelId, p));
  }

  private async swap_(channelId: Bytes32, p: SwapParameters): Promise<SwapResult> {
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
      id: this.nextOpId(ch),
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
    const { id, result } = this.callers.create();
    ch.input({ kind: mode === 'force' ? 'force-close' : 'close', caller: id, direct: p.direct ?? false });
    const version = await result;
    if (mode === 'force' && p.waitFor === 'submitted') {
      // Registered once the chain shows it: then the challenge period's end is known.
      await ch.waitForStatus(
        ['disputed', 'closed'],
        this.ctx.timeouts.chainMs,
        () => new OperationTimeoutError('waiting for the forced close to be registered on-chain', true),
      );
    }
    if ((p.waitFor ?? 'closed') === 'closed') {
      const extra = mode === 'force' ? Number(ch.record.params.challengeDuration) * 1000 : 0;
      await ch.waitForStatus(
        ['closed'],
        this.ctx.timeouts.chainMs + extra,
        () =>
          new OperationTimeoutError(mode === 'force' ? 'waiting for the forced close to conclude' : 'waiting for the close on-chain', true),
      );
    }
    const credited = ch.record.status === 'closed' && ch.credited ? await ch.credited : [];
    return {
      channelId: ch.id,
      mode,
      version,
      ...(ch.settlementTx === undefined ? {} : { transactionHash: ch.settlementTx }),
      status: ch.record.status,
      ...(ch.settledVia === undefined ? {} : { via: ch.settledVia }),
      ...(credited.length === 0 ? {} : { credited }),
      ...(ch.record.status === 'disputed' && ch.record.dispute ? { challengeEndsAt: Number(ch.record.dispute.finalizesAt) * 1000 } : {}),
    };
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

  async withdrawable(): Promise<CreditedBalance[]> {
    this.live();
    return this.withdrawals.withdrawable();
  }

  async withdraw(p: WithdrawParameters = {}): Promise<WithdrawResult> {
    this.live();
    return this.withdrawals.withdraw(p);
  }

  async createInvoice(p?: CreateInvoiceParameters): Promise<InvoiceInfo> {
    this.live();
    return this.payments_.createInvoice(p);
  }

  async decodeInvoice(invoice: string): Promise<InvoiceInfo> {
    this.live();
    return this.payments_.decodeInvoice(invoice);
  }

  async invoices(filter?: InvoicesFilter): Promise<InvoiceInfo[]> {
    this.live();
    return this.payments_.invoices(filter);
  }

  /** Settles the locks held for a hold invoice (`createInvoice({ hold: true })`). Embedded SDK only, for now. */
  async settleInvoice(paymentHash: Bytes32): Promise<InvoiceInfo> {
    this.live();
    return this.payments_.settleInvoice(paymentHash);
  }

  /** Pauses (false) or resumes forwarding: while paused, routed locks through this node fail with `channel-disabled`. */
  async setForwarding(enabled: boolean): Promise<void> {
    this.live();
    if (this.forwarder) this.forwarder.enabled = enabled === true;
  }

  /** What this node forwarded: counts, and fees earned per asset. */
  async forwardingStats(): Promise<{ forwarded: number; failed: number; registered: number; fees: Record<Address, bigint> }> {
    const s = this.forwarder?.stats;
    return {
      forwarded: s?.forwarded ?? 0,
      failed: s?.failed ?? 0,
      registered: s?.registered ?? 0,
      fees: Object.fromEntries(s?.feesEarned ?? []) as Record<Address, bigint>,
    };
  }

  /** Gives back the locks held for a hold invoice. Embedded SDK only, for now. */
  async cancelInvoice(paymentHash: Bytes32): Promise<void> {
    this.live();
    return this.payments_.cancelInvoice(paymentHash);
  }

  async payInvoice(invoice: string, p?: PayInvoiceParameters): Promise<PaymentInfo> {
    this.live();
    return this.payments_.payInvoice(invoice, p);
  }

  async sendPayment(p: SendPaymentParameters): Promise<PaymentInfo> {
    this.live();
    return this.payments_.sendPayment(p);
  }

  async payments(filter?: PaymentsFilter): Promise<PaymentInfo[]> {
    this.live();
    return this.payments_.payments(filter);
  }

  on<E extends LanesEventName>(event: E, listener: (payload: LanesEvents[E]) => void): () => void {
    return this.ctx.events.on(event, listener);
  }

  /**
   * Stops cleanly: refuses new calls, gives updates in flight a moment to complete, fails what is
   * left, flushes the store and closes the transport, chain watcher and signer.
   */
  async stop(graceMs = 2000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.ticker);
    clearInterval(this.reconnector);
    clearInterval(this.watchtowerProbe);
    clearInterval(this.watcherSync);
    this.graph?.stop();
    await this.watcher?.stop();
    this.payments_.stop();
    this.forwarder?.stop();
    await this.withdrawals.close();
    const { ctx } = this;
    const busy = () =>
      [...ctx.channels.values()].some((ch) => ch.machine.proposal || ch.machine.incoming || ch.machine.completing.length > 0);
    const deadline = Date.now() + graceMs;
    while (busy() && Date.now() < deadline && !this.stopped) await new Promise((r) => setTimeout(r, 20));
    this.stopped = true;
    this.callers.failAll(new NodeStoppedError());
    await Promise.all([...ctx.channels.values()].map((ch) => ch.idle()));
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

  /** Hands one of our operations to the channel's machine; resolves with the version that carries it. */
  private submit(ch: Channel, op: Op): Promise<bigint> {
    const { id, result } = this.callers.create();
    let batch = this.outbox.get(ch);
    if (!batch) {
      batch = [];
      this.outbox.set(ch, batch);
      // Operations of one tick share one input: one request, or one proposal.
      queueMicrotask(() => {
        const ops = this.outbox.get(ch) ?? [];
        this.outbox.delete(ch);
        ch.input({ kind: 'ops', ops });
      });
    }
    batch.push({ op, caller: id });
    return result;
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

  /** Records where connected peers (or one of them) listen (learned through identify), to redial them later. */
  private rememberAddresses(peerId?: string): void {
    const { ctx } = this;
    for (const ch of ctx.channels.values()) {
      if (ch.record.status === 'closed' || ch.record.status === 'rejected') continue;
      if (peerId !== undefined && ch.record.peer.peerId !== peerId) continue;
      const addrs = ctx.transport.peerAddresses(ch.record.peer.peerId);
      if (addrs.length === 0 || addrs.join() === ch.record.peer.multiaddrs.join()) continue;
      ch.input({ kind: 'peer-addresses', multiaddrs: addrs });
    }
  }

  /**
   * Refuses a deposit the paying account cannot cover: a clear refusal (422), and nothing sent
   * to the chain (an unaffordable value can make a dev chain exit on `eth_estimateGas`). When the
   * balance cannot be read, the chain call decides.
   */
  private async affordable(asset: Address, amount: bigint): Promise<void> {
    const held = await this.ctx.chain.walletBalance(asset).catch(() => undefined);
    if (held === undefined || held >= amount) return;
    const what = asset === NATIVE_INFO.asset ? 'wei' : `base units of ${asset}`;
    throw new RejectedError(
      'insufficient-balance',
      `the account ${this.ctx.chain.account} holds ${held} ${what}; the deposit needs ${amount}${asset === NATIVE_INFO.asset ? ' and gas' : ''}`,
    );
  }

  private async resolvePeer(peer: string): Promise<{ peer: PeerRef; multiaddrs: string[] }> {
    if (typeof peer !== 'string' || peer.length === 0) throw new InvalidArgumentError('peer must be a multiaddr or a peer id');
    if (peer.includes('/p2p/')) {
      const ref = await this.ctx.transport.connect(peer).catch((e: unknown) => {
        throw e instanceof InvalidArgumentError ? e : new PeerUnreachableError(peer, { cause: e });
      });
      return { peer: ref, multiaddrs: [peer] };
    }
    if (this.ctx.transport.isConnected(peer)) {
      for (const ch of this.ctx.channels.values()) {
        if (ch.record.peer.peerId === peer && ch.machine.peer) {
          const key = ch.machine.peer;
          const address = ch.record.params.participants[ch.counterparty];
          return { peer: { peerId: key.peerId, publicKey: key.publicKey, address }, multiaddrs: [...ch.record.peer.multiaddrs] };
        }
      }
    }
    if (publicKeyOfPeerId(peer) === undefined)
      throw new InvalidArgumentError(`peer must be a multiaddr ending in /p2p/<peerId>, or a peer id: got ${peer.slice(0, 200)}`);
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
    return refreshDeposits(this.ctx, ch)
      .then(() => ch.idle())
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

/**
 * `lanes_node_p2p_peer_entries{table}`: what the transport holds per peer (libp2p's peer store,
 * connections, links, announced addresses, penalties), when it can tell (the libp2p one). Each is
 * bounded however many strangers come and go (issue 16); the gauge shows it.
 */
function peerTableGauge(metrics: NodeMetrics, transport: Transport): void {
  const t = transport as Transport & { diagnostics?: () => Promise<TransportDiagnostics> };
  if (typeof t.diagnostics !== 'function') return;
  const read = t.diagnostics.bind(t);
  new Gauge({
    name: 'lanes_node_p2p_peer_entries',
    help: 'Entries the p2p layer holds about peers, by table (peerStore, connections, links, addressBook, penalties)',
    labelNames: ['table'],
    registers: [metrics.registry],
    async collect() {
      const d = await read();
      for (const [table, n] of Object.entries(d)) this.set({ table }, n as number);
    },
  });
}
