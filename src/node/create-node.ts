/**
 * The composition root: the only place that knows every concrete class. It builds the ports
 * (lmdb store, libp2p transport, signer, viem chain service) unless they are injected, wires
 * them into a {@link Context}, and starts a {@link LanesNode}.
 */
import { createChainService } from '../chain/chain-service.ts';
import { checkConfirmations, defaultConfirmations } from '../chain/chain-follower.ts';
import { type Bytes32, type Hex, bytesToHex, hexToBytes } from '../core/bytes.ts';
import { isValidPrivateKey } from '../core/crypto.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import { createInlineSigner } from '../crypto/inline-signer.ts';
import { backendByName, bestBackend } from '../crypto/select-backend.ts';
import { createWorkerSigner } from '../crypto/worker-signer.ts';
import { type Logger, createLogger } from '../log/logger.ts';
import { createGraphGossip, graphTopic } from '../p2p/graph-gossip.ts';
import { createLibp2pTransport } from '../p2p/libp2p-transport.ts';
import { createSettleClient } from '../p2p/settle-client.ts';
import { openLmdbStore } from '../store/lmdb-store.ts';
import type { Channel } from './channel.ts';
import { type NodeConfig, resolveTimeouts } from './config.ts';
import { type Context, NodeEvents } from './context.ts';
import type { CoordinatorLink } from './coordinator-link.ts';
import { FatalNodeError } from '../sdk/errors.ts';
import { LanesNode } from './node.ts';
import { MAX_PENDING_PER_PEER } from './opening.ts';
import { type GraphOptions, GraphService } from './graph-service.ts';
import { keysendKey } from '../core/payments/keysend.ts';
import { NOBLE_CURVE, peelOnion } from '../core/forwarding/onion.ts';
import { nativeOnionCurve } from '../crypto/native-backend.ts';
import { cachingOnionCurve } from '../crypto/onion-cache.ts';
import { QuoteDesk, swapOffersOf } from './swap-quotes.ts';

/** The store's meta key of the saved channel graph (graph-service.ts). */
const GRAPH_META_KEY = 'graph';

/**
 * Creates and starts a node.
 *
 * @example
 * const node = await createNode({
 *   privateKey: '0x…',                       // 32-byte secp256k1 key: address and libp2p identity
 *   dataDir: './data/alice',
 *   chain: { rpc: 'http://127.0.0.1:8545', adjudicator: '0x…' },
 * });
 * console.log((await node.info()).multiaddrs);
 */
export async function createNode(config: NodeConfig & { readonly graph?: GraphOptions }): Promise<LanesNode> {
  const privateKey = typeof config.privateKey === 'string' ? hexToBytes(config.privateKey) : new Uint8Array(config.privateKey);
  if (!isValidPrivateKey(privateKey)) throw new InvalidArgumentError('privateKey must be a valid 32-byte secp256k1 key');
  const log: Logger =
    config.logger && 'child' in config.logger
      ? config.logger
      : createLogger({ level: (config.logger as { level?: string } | undefined)?.level ?? 'info' });
  const maxPending = config.limits?.maxPendingChannelsPerPeer;
  if (maxPending !== undefined && (!Number.isSafeInteger(maxPending) || maxPending < 0))
    throw new InvalidArgumentError('limits.maxPendingChannelsPerPeer must be a non-negative integer');
  if (config.paymentsInMemory !== undefined && !(Number.isSafeInteger(config.paymentsInMemory) && config.paymentsInMemory >= 0))
    throw new InvalidArgumentError('paymentsInMemory must be a non-negative integer');
  if (!config.store && !config.dataDir) throw new InvalidArgumentError('give a dataDir (or a store)');
  const chainPollMs = config.chainPollMs ?? 250;
  if (!Number.isSafeInteger(chainPollMs) || chainPollMs < 10 || chainPollMs > 600_000)
    throw new InvalidArgumentError('chainPollMs must be a whole number of milliseconds, 10..600000');
  if (!config.chainService && !config.chain) throw new InvalidArgumentError('give a chain ({ rpc, adjudicator }) or a chainService');
  if (config.graph !== undefined && config.transport) throw new InvalidArgumentError('graph gossip needs the libp2p transport');
  // The chain first: a node that cannot reach it writes nothing (no store/) and listens on nothing.
  const chain =
    config.chainService ??
    (await createChainService({
      rpc: config.chain!.rpc,
      adjudicator: config.chain!.adjudicator.toLowerCase() as Hex,
      privateKey: config.chain!.privateKey ?? (bytesToHex(privateKey) as Hex),
      pollingIntervalMs: Math.max(20, Math.round(chainPollMs / 5)),
      ...(config.confirmations === undefined ? {} : { confirmations: checkConfirmations(config.confirmations) }),
    }));
  const backendChoice = config.signer?.backend ?? 'auto';
  const backend = backendChoice === 'auto' ? bestBackend() : backendByName(backendChoice);
  const workers = config.signer?.workers ?? 0;
  const signer =
    config.signerImpl ??
    (workers > 0
      ? await createWorkerSigner({ privateKey, backend: backend.name === 'native' ? 'native' : 'noble', workers })
      : createInlineSigner(privateKey, backend));
  const store = config.store ?? (await openLmdbStore({ path: config.dataDir! }));
  let libp2pTransport: Awaited<ReturnType<typeof createLibp2pTransport>> | undefined;
  try {
    libp2pTransport = config.transport
      ? undefined
      : await createLibp2pTransport({
          privateKey,
          listen: [...(config.listen ?? ['/ip4/127.0.0.1/tcp/0'])],
          ...(config.graph === undefined ? {} : { gossip: true }),
        });
  } catch (e) {
    // A listen address in use: what this call opened is closed again.
    if (!config.store) await store.close().catch(() => undefined);
    if (!config.signerImpl) await signer.close().catch(() => undefined);
    throw e;
  }
  const transport = config.transport ?? libp2pTransport!;
  const confirmations = checkConfirmations(config.confirmations ?? defaultConfirmations(chain.chainId));
  const clock = config.clock ?? Date.now;
  // Operation ids: distinct across restarts (seeded by the clock), parity = our participant index.
  let opCounter = BigInt(clock()) << 20n;
  const channelLogs = new WeakMap<Channel, Logger>();
  let fatalOnce = false;

  if (config.coordinator && !libp2pTransport) throw new InvalidArgumentError('a coordinator needs the libp2p transport');
  // The coordinator link over this node's own libp2p (the engine sees only the port).
  const settle: CoordinatorLink | undefined =
    config.coordinator && libp2pTransport
      ? createSettleClient({
          libp2p: libp2pTransport.libp2p,
          coordinator: config.coordinator,
          // Every new link (the first, and after the coordinator or the link came back) gets every
          // channel's latest state again: a restarted coordinator may hold older ones (issue 16).
          onOpen: () => {
            for (const ch of ctx.channels.values()) ctx.watchDirty.add(ch);
          },
        })
      : undefined;

  const ctx: Context = {
    store,
    transport,
    signer,
    backend,
    chain,
    log,
    events: new NodeEvents(),
    clock,
    policies: config.policies ?? {},
    timeouts: resolveTimeouts(config.timeouts),
    limits: { maxPendingChannelsPerPeer: config.limits?.maxPendingChannelsPerPeer ?? MAX_PENDING_PER_PEER },
    channels: new Map<Bytes32, Channel>(),
    nextOpId: (ch) => (++opCounter << 1n) | BigInt(ch.self),
    channelLog(ch) {
      let l = channelLogs.get(ch);
      if (!l) {
        l = log.child({ channel: ch.id, peer: ch.record.peer.peerId }) as Logger;
        channelLogs.set(ch, l);
      }
      return l;
    },
    fatal(what, error) {
      if (fatalOnce) return;
      fatalOnce = true;
      log.fatal({ err: error, what }, 'stopping the node: it cannot continue safely');
      node.markStopped();
      void node.stop(0).catch(() => undefined);
    },
    async flush() {
      try {
        await store.flush();
      } catch (e) {
        ctx.fatal('durable write failed', e);
        throw new FatalNodeError('durable write failed', e);
      }
    },
    now: () => BigInt(Math.floor(clock() / 1000)),
    ...(settle ? { settle } : {}),
    watchDirty: new Set(),
  };

  // libsecp256k1's ECDH for route onions when the addon loads (46× noble's), computed once per
  // ephemeral key and hop (onion session keys, ADR 0021), not once per payment.
  const onionCurve = cachingOnionCurve(nativeOnionCurve() ?? NOBLE_CURVE);
  const node: LanesNode = new LanesNode({
    ctx,
    chainPollMs,
    confirmations,
    ...(config.autoWithdraw === undefined ? {} : { autoWithdraw: config.autoWithdraw }),
    keysendKey: (peerPublicKey) => keysendKey(privateKey, peerPublicKey),
    peelOnion: (onion) => peelOnion(onion, privateKey, onionCurve),
    onionCurve,
    ...(config.graph?.onionKeyReuseMs === undefined ? {} : { onionKeyReuseMs: config.graph.onionKeyReuseMs }),
    ...(config.paymentsInMemory === undefined ? {} : { paymentsInMemory: config.paymentsInMemory }),
    release: async () => {
      settle?.close();
      await signer.close();
      await store.close();
    },
  });
  await node.start();
  if (config.graph !== undefined && libp2pTransport) {
    // The channel graph (ADR 0017): gossip on this node's libp2p, checked against the chain port.
    const { libp2p } = libp2pTransport;
    const gossip = createGraphGossip({
      libp2p,
      topic: graphTopic(chain.chainId, chain.adjudicator),
      maxSyncMessages: 4 * (config.graph.capacity?.maxChannels ?? 200_000),
      ...(config.graph.syncIntervalMs === undefined ? {} : { syncIntervalMs: config.graph.syncIntervalMs }),
      onError: (what, err) => log.debug({ err, what }, 'graph gossip'),
    });
    const domain = { chainId: chain.chainId, adjudicator: chain.adjudicator };
    // Routed swaps (ADR 0012): the pairs of our swap policy, quoted on request and announced.
    const offers = swapOffersOf(config.policies?.swap);
    if (offers.length > 0) {
      const desk = new QuoteDesk({
        self: transport.self.address,
        domain,
        backend,
        sign: (digest) => signer.sign(digest),
        now: ctx.now,
        nowMs: clock,
        offers,
        timing: node.timing,
        ...(config.graph.swapPremiumPpm === undefined ? {} : { premiumPpm: config.graph.swapPremiumPpm }),
        ...(config.graph.swapUpfrontPpm === undefined ? {} : { upfrontPpm: config.graph.swapUpfrontPpm }),
      });
      gossip.serveQuotes((from, data) => desk.answer(from, data));
      node.quoteDesk = desk;
    }
    const graph = new GraphService(
      {
        gossip,
        chain,
        domain,
        backend,
        sign: (digest) => signer.sign(digest),
        self: transport.self.address,
        selfPeer: () => ({ peerId: libp2p.peerId.toString(), multiaddrs: libp2p.getMultiaddrs().map(String) }),
        persist: { load: () => store.getMeta(GRAPH_META_KEY), save: (data) => store.putMeta(GRAPH_META_KEY, data) },
        now: ctx.now,
        clockMs: clock,
        log: log.child({ part: 'graph' }) as Logger,
        ownChannel: (id) => {
          const ch = ctx.channels.get(id);
          return ch && { params: ch.record.params, status: ch.record.status, peerId: ch.record.peer.peerId };
        },
      },
      { ...config.graph, node: { ...config.graph.node, swaps: offers } },
    );
    await graph.start();
    node.graph = graph;
  }
  return node;
}
