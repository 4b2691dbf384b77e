/**
 * `lanes coordinator start`: the coordinator with its status and metrics HTTP endpoint
 * (127.0.0.1 by default: GET /status as JSON, GET /metrics in Prometheus text format), run
 * until SIGINT or SIGTERM. Writes `coordinator.json` (multiaddrs, status URL, gas address)
 * to its data directory for clients and nodes; removes it on a clean stop.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { PayoutMode } from '../chain/chain-service.ts';
import type { Address } from '../core/bytes.ts';
import { jsonify } from '../sdk/json.ts';
import { prepareDataDir } from '../files/data-dir.ts';
import { loadOrCreateKey } from '../files/key-file.ts';
import { writeFileAtomic } from '../files/atomic-file.ts';
import { createLogger } from '../log/logger.ts';
import { onStopSignal } from '../runtime/stop-signals.ts';
import { rememberListen, stickyListen } from '../files/listen-ports.ts';
import { checkConfirmations } from '../chain/chain-follower.ts';
import { type Coordinator, startCoordinator } from './coordinator.ts';
import type { BatchPolicy } from './planner.ts';

export const COORDINATOR_JSON = 'coordinator.json';

export interface CoordinatorDaemonConfig {
  readonly dataDir: string;
  readonly keyFile?: string;
  readonly chainRpc: string;
  readonly adjudicator: Address;
  readonly listen: readonly string[];
  readonly httpHost: string;
  readonly httpPort: number;
  readonly policy?: Partial<BatchPolicy>;
  readonly payout?: PayoutMode;
  readonly replaceAfterMs?: number;
  /** Item submissions per second per peer (bursts of ten seconds' worth). */
  readonly rateLimit?: number;
  readonly maxWatchesPerPeer?: number;
  /** Blocks on top of an event before the watchtower acts on it (`--confirmations`; default: 0 on dev chains, else 12). */
  readonly confirmations?: number;
  /** How often to poll the chain (`--chain-poll-ms`; CoordinatorConfig.pollMs, default 200). */
  readonly pollMs?: number;
  readonly logLevel: string;
}

export async function startCoordinatorDaemon(
  c: CoordinatorDaemonConfig,
): Promise<{ coordinator: Coordinator; statusUrl: string; stop(): Promise<void> }> {
  if (c.confirmations !== undefined) checkConfirmations(c.confirmations); // before anything is made on disk
  prepareDataDir(c.dataDir); // 0700 at every start, as the node daemon's
  const log = createLogger({ level: c.logLevel, name: 'lanes-coordinator' });
  const { key } = loadOrCreateKey(c.keyFile ?? join(c.dataDir, 'coordinator.key'));
  const coordinator = await startCoordinator({
    dataDir: c.dataDir,
    chainRpc: c.chainRpc,
    adjudicator: c.adjudicator,
    privateKey: key,
    listen: await stickyListen(c.dataDir, c.listen),
    logger: log,
    ...(c.policy ? { policy: c.policy } : {}),
    ...(c.payout ? { payout: c.payout } : {}),
    ...(c.replaceAfterMs === undefined ? {} : { replaceAfterMs: c.replaceAfterMs }),
    ...(c.rateLimit === undefined ? {} : { rateLimit: { perSecond: c.rateLimit, burst: Math.max(1, Math.round(c.rateLimit * 10)) } }),
    ...(c.maxWatchesPerPeer === undefined ? {} : { maxWatchesPerPeer: c.maxWatchesPerPeer }),
    ...(c.confirmations === undefined ? {} : { confirmations: c.confirmations }),
    ...(c.pollMs === undefined ? {} : { pollMs: c.pollMs }),
  });
  key.fill(0);
  rememberListen(c.dataDir, coordinator.multiaddrs());
  const http = Fastify({ logger: false });
  http.get('/status', async (_req, reply) =>
    reply.header('content-type', 'application/json').send(JSON.stringify(jsonify(coordinator.status()))),
  );
  http.get('/metrics', async (_req, reply) =>
    reply.header('content-type', coordinator.metrics.registry.contentType).send(await coordinator.metrics.registry.metrics()),
  );
  const statusUrl = await http.listen({ host: c.httpHost, port: c.httpPort });
  const file = join(c.dataDir, COORDINATOR_JSON);
  // Renamed into place: a reader polling for it (the CLI, the testnet) never sees it half-written.
  writeFileAtomic(
    file,
    JSON.stringify(
      { multiaddrs: coordinator.multiaddrs(), statusUrl, address: coordinator.address, peerId: coordinator.peerId, pid: process.pid },
      null,
      2,
    ) + '\n',
  );
  log.info({ statusUrl, multiaddrs: coordinator.multiaddrs() }, 'coordinator ready');
  let stopping: Promise<void> | undefined;
  return {
    coordinator,
    statusUrl,
    stop: () =>
      (stopping ??= (async () => {
        await http.close();
        await coordinator.stop();
        rmSync(file, { force: true });
        log.flush();
      })()),
  };
}

export async function runCoordinatorDaemon(c: CoordinatorDaemonConfig): Promise<void> {
  const d = await startCoordinatorDaemon(c);
  process.stdout.write(
    `lanes coordinator running: ${d.coordinator.multiaddrs()[0]}\nstatus ${d.statusUrl}/status, metrics ${d.statusUrl}/metrics\n` +
      `confirmations ${d.coordinator.status().confirmations}\n`,
  );
  const shutdown = () =>
    void d.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  onStopSignal(shutdown);
}
