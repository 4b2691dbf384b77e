/**
 * `lanes node start`: a node with its control API, run until SIGINT or SIGTERM.
 *
 * Files in the data directory (0700, made so at every start; one another user owns is refused:
 * src/files/data-dir.ts):
 *   node.key    the node key (unless --key-file names another), 0600
 *   store/      the lmdb store
 *   api.token   a new random token at every start, 0600
 *   api.json    { url, pid, address, peerId, multiaddrs }: how clients find the daemon; removed on a clean stop
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Address } from '../core/bytes.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { startControlServer, type ControlServer } from '../api/control-server.ts';
import { loadRoutes } from '../api/load-routes.ts';
import { LoadGenerator } from '../load/load-generator.ts';
import { createNode } from '../node/create-node.ts';
import type { NodeConfig } from '../node/config.ts';
import type { LanesNode } from '../node/node.ts';
import type { OpenPolicy, SwapPolicy } from '../node/policy.ts';
import { API_JSON, API_TOKEN } from '../files/daemon-files.ts';
import { prepareDataDir } from '../files/data-dir.ts';
import { writeFileAtomic } from '../files/atomic-file.ts';
import { loadOrCreateKey, readKeyFile } from '../files/key-file.ts';
import { bytesToHex } from '../core/bytes.ts';
import { type MetricsServer, startMetricsServer } from '../api/metrics-server.ts';
import { octal } from '../files/permissions.ts';
import { onStopSignal } from '../runtime/stop-signals.ts';
import { rememberListen, stickyListen } from '../files/listen-ports.ts';

export interface DaemonConfig {
  readonly dataDir: string;
  readonly keyFile?: string;
  /**
   * A key that sends the node's transactions and pays their gas (and its deposits), instead of
   * the node key, which then only signs states (`--gas-key-file`; docs/adr/0016). Never created:
   * it must hold ETH.
   */
  readonly gasKeyFile?: string;
  /** Serve Prometheus metrics on this loopback port too, without the token (`--metrics-port`). */
  readonly metricsPort?: number;
  readonly listen: readonly string[];
  readonly chainRpc: string;
  readonly adjudicator: Address;
  /** The settlement coordinator's multiaddr: closes and disputes go through it; its watchtower watches our channels. */
  readonly coordinator?: string;
  readonly apiHost: string;
  readonly apiPort: number;
  readonly logLevel: string;
  readonly policies?: { readonly open?: OpenPolicy; readonly swap?: SwapPolicy };
  readonly signerWorkers?: number;
  /** Serve the load generator's routes (/v1/load): for the testnet and benchmarks. */
  readonly loadGenerator?: boolean;
  /** Withdraw credited balances as soon as they are noticed (NodeConfig.autoWithdraw). */
  readonly autoWithdraw?: { readonly to?: Address };
  /** NodeConfig.timeouts (the config file's `timeouts`). */
  readonly timeouts?: NodeConfig['timeouts'];
  /** NodeConfig.limits (`--max-pending-channels`, the config file's `maxPendingChannels`). */
  readonly limits?: NodeConfig['limits'];
  /** NodeConfig.confirmations (`--confirmations`, the config file's `confirmations`). */
  readonly confirmations?: number;
  /** NodeConfig.chainPollMs (`--chain-poll-ms`, the config file's `chainPollMs`). */
  readonly chainPollMs?: number;
  /** Run graph gossip (routed payments, public channels: ADR 0017, 0019), from these bootstrap peers. */
  readonly graph?: {
    readonly bootstrap?: readonly string[];
    /** What we charge to forward over our public channels (default: no base fee, 100 ppm). */
    readonly fees?: { readonly base?: bigint; readonly ppm?: number };
    /** GraphOptions.syncIntervalMs: how often lost gossip is repaired from each peer. */
    readonly syncIntervalMs?: number;
    /** GraphOptions.swapPremiumPpm: what our routed-swap quotes add (ADR 0012). */
    readonly swapPremiumPpm?: bigint;
    /** GraphOptions.swapUpfrontPpm: what our routed-swap quotes ask upfront (ADR 0012). */
    readonly swapUpfrontPpm?: bigint;
    /** GraphOptions.onionKeyReuseMs: how long our onion key for a hop is reused (ADR 0021). */
    readonly onionKeyReuseMs?: number;
  };
}

export interface Daemon {
  readonly node: LanesNode;
  readonly url: string;
  readonly log: Logger;
  stop(): Promise<void>;
}

export { API_JSON, API_TOKEN };

/** What a daemon charges to forward over its public channels unless told otherwise: 0.01%, no base fee. */
export const DEFAULT_FEES = { base: 0n, ppm: 100 } as const;

/** Loopback, on the port this data directory's daemon had last time (else a free one). */
const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0'];

export async function startDaemon(config: DaemonConfig): Promise<Daemon> {
  const storeDir = join(config.dataDir, 'store');
  const fresh = { dataDir: !existsSync(config.dataDir), store: !existsSync(storeDir) };
  const { previousMode } = prepareDataDir(config.dataDir);
  const log = createLogger({ level: config.logLevel, name: 'lanes' });
  if (previousMode !== undefined) {
    log.warn({ dataDir: config.dataDir, mode: octal(previousMode) }, 'the data directory was open to other users: made it 0700');
  }
  const keyFile = config.keyFile ?? join(config.dataDir, 'node.key');
  const { key, created } = loadOrCreateKey(keyFile);
  /** A start that fails (the chain unreachable, a port taken) leaves the data directory as it found it. */
  const undoStart = () => {
    if (fresh.store) rmSync(storeDir, { recursive: true, force: true });
    if (created) rmSync(keyFile, { force: true });
    if (fresh.dataDir && readdirSync(config.dataDir).length === 0) rmdirSync(config.dataDir);
  };
  let gasKey: Uint8Array | undefined;
  let node: LanesNode;
  try {
    gasKey = config.gasKeyFile === undefined ? undefined : readKeyFile(config.gasKeyFile);
    node = await startNode(config, key, gasKey, log);
  } catch (e) {
    key.fill(0);
    gasKey?.fill(0);
    undoStart();
    throw e;
  }
  key.fill(0);
  gasKey?.fill(0);
  if (created) log.info({ keyFile }, 'created a new node key');
  rememberListen(config.dataDir, (await node.info()).multiaddrs);
  const token = randomBytes(32).toString('hex');
  const tokenFile = join(config.dataDir, API_TOKEN);
  rmSync(tokenFile, { force: true });
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600, flag: 'wx' });
  let server: ControlServer;
  const generator = config.loadGenerator ? new LoadGenerator(node) : undefined;
  try {
    server = await startControlServer({
      api: node,
      token,
      host: config.apiHost,
      port: config.apiPort,
      logger: log,
      metrics: node.metrics,
      ...(generator ? { extend: loadRoutes(generator) } : {}),
    });
  } catch (e) {
    await node.stop();
    throw e;
  }
  let metricsServer: MetricsServer | undefined;
  if (config.metricsPort !== undefined) {
    try {
      metricsServer = await startMetricsServer({ source: node.metrics, port: config.metricsPort });
    } catch (e) {
      await server.close().catch(() => undefined);
      await node.stop();
      throw e;
    }
    log.info({ metrics: metricsServer.url }, 'serving metrics');
  }
  const info = await node.info();
  const apiJson = join(config.dataDir, API_JSON);
  // Renamed into place: a reader (the CLI, a supervisor) sees the old file or the whole new one.
  writeFileAtomic(
    apiJson,
    JSON.stringify(
      { url: server.url, pid: process.pid, address: info.address, peerId: info.peerId, multiaddrs: info.multiaddrs },
      null,
      2,
    ) + '\n',
  );
  log.info({ api: server.url, address: info.address, multiaddrs: info.multiaddrs }, 'daemon ready');
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('stopping: finishing in-flight updates');
      generator?.close();
      await metricsServer?.close().catch(() => undefined);
      await server.close().catch(() => undefined);
      await node.stop();
      rmSync(apiJson, { force: true });
      log.info('stopped cleanly');
      log.flush();
    })());
  return { node, url: server.url, log, stop };
}

/** The node of a daemon, on its data directory's store. */
async function startNode(config: DaemonConfig, key: Uint8Array, gasKey: Uint8Array | undefined, log: Logger): Promise<LanesNode> {
  return createNode({
    privateKey: key,
    dataDir: join(config.dataDir, 'store'),
    listen: await stickyListen(config.dataDir, config.listen ?? DEFAULT_LISTEN),
    chain: {
      rpc: config.chainRpc,
      adjudicator: config.adjudicator,
      ...(gasKey === undefined ? {} : { privateKey: bytesToHex(gasKey) }),
    },
    logger: log,
    ...(config.policies ? { policies: config.policies } : {}),
    ...(config.signerWorkers === undefined ? {} : { signer: { workers: config.signerWorkers } }),
    ...(config.coordinator === undefined ? {} : { coordinator: config.coordinator }),
    ...(config.autoWithdraw === undefined ? {} : { autoWithdraw: config.autoWithdraw }),
    ...(config.timeouts === undefined ? {} : { timeouts: config.timeouts }),
    ...(config.limits === undefined ? {} : { limits: config.limits }),
    ...(config.confirmations === undefined ? {} : { confirmations: config.confirmations }),
    ...(config.chainPollMs === undefined ? {} : { chainPollMs: config.chainPollMs }),
    ...(config.graph === undefined
      ? {}
      : {
          graph: {
            ...(config.graph.bootstrap ? { bootstrap: config.graph.bootstrap } : {}),
            ...(config.graph.syncIntervalMs === undefined ? {} : { syncIntervalMs: config.graph.syncIntervalMs }),
            ...(config.graph.swapPremiumPpm === undefined ? {} : { swapPremiumPpm: config.graph.swapPremiumPpm }),
            ...(config.graph.swapUpfrontPpm === undefined ? {} : { swapUpfrontPpm: config.graph.swapUpfrontPpm }),
            ...(config.graph.onionKeyReuseMs === undefined ? {} : { onionKeyReuseMs: config.graph.onionKeyReuseMs }),
            defaultPolicy: {
              feeBase: config.graph.fees?.base ?? DEFAULT_FEES.base,
              feePpm: config.graph.fees?.ppm ?? DEFAULT_FEES.ppm,
              minAmount: 1n,
              maxAmount: 2n ** 256n - 1n,
            },
          },
        }),
  });
}

/** Runs the daemon until SIGINT/SIGTERM, then stops it cleanly and exits. */
export async function runDaemon(config: DaemonConfig): Promise<void> {
  const daemon = await startDaemon(config);
  process.stdout.write(`lanes node running: api ${daemon.url}\n`);
  const shutdown = (signal: string) => {
    daemon.log.info({ signal }, 'signal received');
    daemon.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        daemon.log.error({ err: e }, 'unclean stop');
        process.exit(1);
      },
    );
  };
  onStopSignal(shutdown, (signal) => daemon.log.info({ signal }, 'already stopping'));
}
