/**
 * `lanes testnet up`: the testnet's network, kept running until Ctrl-C, for driving by hand.
 * Writes `network.json` in its directory with everything needed to reach each part; stops every
 * process it started on SIGINT or SIGTERM (and on error).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Bytes32 } from '../core/bytes.ts';
import { LanesError } from '../core/errors.ts';
import { writeFileAtomic } from '../files/atomic-file.ts';
import { COORDINATOR_JSON } from '../coordinator/daemon.ts';
import { API_JSON } from '../files/daemon-files.ts';
import { type Testnet, isRunning, startTestnet } from './network.ts';
import type { Progress } from './progress.ts';
import { type TopologyName, fundingFor, planChannels } from './topology.ts';

export const NETWORK_JSON = 'network.json';

export interface UpOptions {
  readonly dir: string;
  readonly nodes: number;
  readonly topology: TopologyName;
  readonly channelsPerLink: number;
  readonly swapRatio: number;
  readonly seed: number;
  /** Open the topology's channels (default true). */
  readonly channels: boolean;
  /** Whole units each side deposits per asset. */
  readonly deposit: bigint;
  readonly signerWorkers?: number;
  readonly logLevel?: string;
}

export interface NetworkJson {
  readonly pid: number;
  readonly chain: { readonly rpcUrl: string; readonly chainId: string; readonly pid: number };
  readonly contracts: { readonly adjudicator: string; readonly tokens: readonly { symbol: string; name: string; address: string }[] };
  readonly coordinator: {
    readonly address: string;
    readonly peerId: string;
    readonly multiaddr: string;
    readonly statusUrl: string;
    readonly dataDir: string;
    readonly logFile: string;
    readonly pid: number;
  };
  readonly nodes: readonly {
    readonly name: string;
    readonly address: string;
    readonly peerId: string;
    readonly multiaddr: string;
    readonly apiUrl: string;
    readonly tokenFile: string;
    readonly dataDir: string;
    readonly logFile: string;
    readonly pid: number;
  }[];
  readonly channels: readonly { id: Bytes32; leader: string; follower: string; kind: string; assets: readonly string[] }[];
}

/** Removes what an earlier `up` left in `dir` (only the parts it creates), unless it still runs. */
function clear(dir: string): void {
  const file = join(dir, NETWORK_JSON);
  if (existsSync(file)) {
    const pid = (JSON.parse(readFileSync(file, 'utf8')) as { pid?: number }).pid;
    if (pid !== undefined && pid !== process.pid && isRunning(pid))
      throw new LanesError(`a testnet is already running from ${dir} (pid ${pid})`, {
        code: 'TESTNET_RUNNING',
        details: 'stop it with Ctrl-C, or use another --dir',
      });
  }
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir)) {
    if (entry === NETWORK_JSON || entry === 'coordinator' || /^node-\d+$/.test(entry))
      rmSync(join(dir, entry), { recursive: true, force: true });
  }
}

export async function testnetUp(
  o: UpOptions,
  progress: Progress,
): Promise<{ net: Testnet; readonly info: NetworkJson; stop(): Promise<void> }> {
  const dir = resolve(o.dir);
  clear(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const plans = o.channels
    ? planChannels({ nodes: o.nodes, topology: o.topology, channelsPerLink: o.channelsPerLink, swapRatio: o.swapRatio, seed: o.seed })
    : [];
  const net = await startTestnet({
    dir,
    nodes: o.nodes,
    fund: fundingFor(plans, o.nodes, o.deposit),
    loadGenerator: true,
    logLevel: o.logLevel ?? 'info',
    onStep: (m) => progress.step(m),
    ...(o.signerWorkers === undefined ? {} : { signerWorkers: o.signerWorkers }),
  });
  try {
    const opened: NetworkJson['channels'][number][] = [];
    if (plans.length > 0) {
      const bar = progress.bar('opening', plans.length, 'channels');
      for (const p of plans) {
        const deposit = p.assets.map(() => o.deposit * 10n ** 18n);
        const c = await net.nodes[p.leader]!.api.openChannel({
          peer: net.nodes[p.follower]!.multiaddr,
          assets: p.assets.map((s) => net.asset(s)),
          deposit,
          counterpartyDeposit: deposit,
          waitFor: 'open',
        });
        opened.push({ id: c.id, leader: net.nodes[p.leader]!.name, follower: net.nodes[p.follower]!.name, kind: p.kind, assets: p.assets });
        bar.update(opened.length);
      }
      bar.stop();
    }
    const info: NetworkJson = {
      pid: process.pid,
      // `up` always starts its own chain (an existing one is for `lanes testnet` only, for now).
      chain: { rpcUrl: net.chain.rpcUrl, chainId: net.chain.chainId.toString(), pid: net.chain.pid! },
      contracts: { adjudicator: net.adjudicator, tokens: net.tokens.map((t) => ({ symbol: t.symbol, name: t.name, address: t.address })) },
      coordinator: { ...net.coordinator },
      nodes: net.nodes.map((n) => ({
        name: n.name,
        address: n.address,
        peerId: n.peerId,
        multiaddr: n.multiaddr,
        apiUrl: n.apiUrl,
        tokenFile: n.tokenFile,
        dataDir: n.dataDir,
        logFile: n.logFile,
        pid: n.pid,
      })),
      channels: opened,
    };
    const file = join(dir, NETWORK_JSON);
    // Renamed into place, here and at each refresh: a reader never sees it half-written.
    writeFileAtomic(file, JSON.stringify(info, null, 2) + '\n', 0o644);
    // network.json stays current: a node or the coordinator restarted by hand (its own command
    // line, its own data directory) has a new pid and API URL, which its api.json or
    // coordinator.json says (issue 16).
    let current = info;
    const refresh = setInterval(() => {
      const next = refreshed(current);
      if (JSON.stringify(next) === JSON.stringify(current)) return;
      current = next;
      writeFileAtomic(file, JSON.stringify(current, null, 2) + '\n', 0o644);
    }, 1000);
    refresh.unref();
    return {
      net,
      get info() {
        return current;
      },
      async stop() {
        clearInterval(refresh);
        await net.stop();
        // Processes restarted by hand are not ours to manage, but they are this network's: stop them too.
        await stopStrays([current.coordinator.pid, ...current.nodes.map((n) => n.pid)].filter((pid) => !net.started().includes(pid)));
        rmSync(file, { force: true });
      },
    };
  } catch (e) {
    await net.stop();
    throw e;
  }
}

/** `info` with each daemon's pid, URLs and multiaddr as its own files say now. */
function refreshed(info: NetworkJson): NetworkJson {
  const read = <T>(path: string): T | undefined => {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as T;
    } catch {
      return undefined; // not there (stopped), or being written
    }
  };
  const c = read<{ pid: number; multiaddrs: string[]; statusUrl: string }>(join(info.coordinator.dataDir, COORDINATOR_JSON));
  return {
    ...info,
    coordinator:
      c === undefined || c.multiaddrs[0] === undefined
        ? info.coordinator
        : { ...info.coordinator, pid: c.pid, multiaddr: c.multiaddrs[0], statusUrl: c.statusUrl },
    nodes: info.nodes.map((n) => {
      const a = read<{ pid: number; url: string; multiaddrs: string[] }>(join(n.dataDir, API_JSON));
      return a === undefined || a.multiaddrs[0] === undefined ? n : { ...n, pid: a.pid, apiUrl: a.url, multiaddr: a.multiaddrs[0] };
    }),
  };
}

/** SIGTERM, then SIGKILL after 10 s, for processes this run did not start. */
async function stopStrays(pids: readonly number[]): Promise<void> {
  const alive = pids.filter(isRunning);
  for (const pid of alive) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  const deadline = Date.now() + 10_000;
  while (alive.some(isRunning) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of alive.filter(isRunning)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** What `lanes testnet up` prints once the network is up. */
export function describeNetwork(info: NetworkJson, dir: string): string {
  const lines = [
    `chain        ${info.chain.rpcUrl} (chain id ${info.chain.chainId})`,
    `adjudicator  ${info.contracts.adjudicator}`,
    ...info.contracts.tokens.map((t) => `${t.symbol.padEnd(12)} ${t.address} (${t.name})`),
    `coordinator  ${info.coordinator.multiaddr}`,
    `             status ${info.coordinator.statusUrl}/status`,
    '',
    ...info.nodes.flatMap((n) => [
      `${n.name.padEnd(12)} ${n.address}  peer ${n.peerId}`,
      `             ${n.multiaddr}`,
      `             api ${n.apiUrl}  token ${n.tokenFile}`,
      `             data ${n.dataDir}`,
    ]),
    '',
    `${info.channels.length} channels open${info.channels.length ? `; e.g. ${info.channels[0]!.id} (${info.channels[0]!.leader} ↔ ${info.channels[0]!.follower})` : ''}`,
    '',
    'Try:',
    `  lanes --data-dir ${info.nodes[0]!.dataDir} channel list`,
    ...(info.channels[0]
      ? [
          `  lanes --data-dir ${join(dir, info.channels[0].leader)} pay ${info.channels[0].id} 1000000000${info.channels[0].assets.length > 1 ? ` --asset ${info.channels[0].assets[0] === 'ETH' ? 'eth' : info.contracts.tokens.find((t) => t.symbol === info.channels[0]!.assets[0])?.address}` : ''}`,
        ]
      : []),
    '',
    `Everything above is in ${join(dir, NETWORK_JSON)}. Ctrl-C stops every process.`,
  ];
  return lines.join('\n');
}
