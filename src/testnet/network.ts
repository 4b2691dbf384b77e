/**
 * A local Lanes network in real processes: Hardhat's EDR node (or an existing chain: `chain`),
 * the contracts and test tokens deployed on it, a settlement coordinator and N node daemons, each
 * started through the `lanes` CLI exactly as a user would start it, all on 127.0.0.1.
 *
 * Every process is tracked by PID. `stop()` ends the nodes (SIGTERM: they finish in-flight
 * updates and flush), then the coordinator, then the chain, escalating to SIGKILL after a grace
 * period; if the controlling process exits any other way, the survivors are killed on its way out.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Address, Hex } from '../core/bytes.ts';
import { LanesError } from '../core/errors.ts';
import { createClients, type Clients } from '../chain/chain-service.ts';
import { deployAdjudicatorOnChain, verifyAdjudicator } from '../chain/deploy.ts';
import { DEV_KEYS, type LocalChain, startLocalChain } from '../chain/local-chain.ts';
import { type Funder, chainFunder, devChainFunder } from './funder.ts';
import { createKeyFile } from '../files/key-file.ts';
import { API_JSON, API_TOKEN } from '../files/daemon-files.ts';
import { COORDINATOR_JSON } from '../coordinator/daemon.ts';
import { peerRefFromPrivateKey } from '../p2p/peer.ts';
import { connect, type RemoteNode } from '../sdk/connect.ts';
import { NATIVE_ASSET } from '../core/bytes.ts';
import type { AssetSymbol } from './topology.ts';

const BIN = fileURLToPath(new URL('../../bin/lanes.js', import.meta.url));

/**
 * Signature worker threads per node when not chosen: one when every node can have a core of its
 * own, so its signatures run beside its event loop (two nodes on two cores: ~3.0k → 3.2-4.0k
 * co-signed updates/s, docs/performance.md); none when nodes outnumber cores, where a worker
 * only adds hand-offs and contention (four nodes on two cores: ~80-100k → ~72k payments/s).
 */
export function defaultSignerWorkers(nodes: number, cores: number = availableParallelism()): number {
  return nodes <= cores ? 1 : 0;
}

export interface TestnetOptions {
  /** Where every process keeps its data and log. */
  readonly dir: string;
  readonly nodes: number;
  /** Signature worker threads per node (default: {@link defaultSignerWorkers}). */
  readonly signerWorkers?: number;
  /** Daemons' log level (default warn). */
  readonly logLevel?: string;
  /** Serve the load generator on each node's control API. */
  readonly loadGenerator?: boolean;
  readonly coordinator?: { readonly maxBatch?: number; readonly maxDelayMs?: number; readonly payout?: 'transfer' | 'credit' };
  /** Ether and tokens (whole units) each node gets. */
  readonly fund?: { readonly ether?: bigint; readonly tokens?: bigint };
  /** Progress messages. */
  readonly onStep?: (message: string) => void;
  /** Run on an existing chain instead of starting EDR ({@link ExistingChain}). */
  readonly chain?: ExistingChain;
  /** Nodes join the channel graph (`--graph`): routed payments over public channels. */
  readonly graph?: boolean;
}

/**
 * An EVM chain that is already running (`lanes testnet --chain-rpc URL --funder-key F`). The
 * funder's account deploys the adjudicator (unless one is given) and the test tokens, and pays
 * every process: each node gets what it deposits plus {@link NODE_GAS_ETHER} for gas, the
 * coordinator {@link COORDINATOR_GAS_ETHER}. What is left in the nodes' accounts after the run
 * stays there (their keys are in the data directories).
 */
export interface ExistingChain {
  readonly rpcUrl: string;
  /** The funder's key (0x hex). */
  readonly funderKey: Hex;
  /** An adjudicator already deployed (`lanes deploy`): checked against this build instead of deploying one. */
  readonly adjudicator?: Address;
  /**
   * The chain's confirmation depth (default: the chain's, `defaultConfirmations`): the
   * adjudicator's deployment waits for it, and every node counts events only that deep
   * (`lanes node start --confirmations`). The coordinator follows the chain's default.
   */
  readonly confirmations?: number;
}

/** Wei each node gets for gas on an existing chain, beyond its deposits. */
export const NODE_GAS_ETHER = 10n ** 17n;
/** Wei the coordinator gets for gas on an existing chain. */
export const COORDINATOR_GAS_ETHER = 10n ** 18n / 2n;

export interface TestnetToken {
  readonly symbol: AssetSymbol;
  readonly name: string;
  readonly address: Address;
}

export interface TestnetNode {
  readonly index: number;
  readonly name: string;
  readonly pid: number;
  readonly address: Address;
  readonly peerId: string;
  readonly multiaddr: string;
  readonly apiUrl: string;
  readonly tokenFile: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** The node's control API, through the SDK's remote client. */
  readonly api: RemoteNode;
  /** An authenticated request to the control API (for routes beyond the SDK: /v1/load). */
  request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
}

export interface TestnetCoordinator {
  readonly pid: number;
  readonly address: Address;
  readonly peerId: string;
  readonly multiaddr: string;
  readonly statusUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
}

export interface Testnet {
  readonly dir: string;
  /** The chain; `pid` only when the testnet started it. */
  readonly chain: { readonly rpcUrl: string; readonly chainId: bigint; readonly pid?: number };
  readonly adjudicator: Address;
  readonly tokens: readonly TestnetToken[];
  readonly coordinator: TestnetCoordinator;
  readonly nodes: readonly TestnetNode[];
  /** The deployer's viem clients (the chain's first dev account, or the funder on an existing chain). */
  readonly clients: Clients;
  /** Address of an asset symbol. */
  asset(symbol: AssetSymbol): Address;
  /** PIDs of every process still running. */
  pids(): number[];
  /** PIDs of every process it started (the chain first). */
  started(): number[];
  /** A process that exited while it should not have (checked by the run). */
  crashed(): string | undefined;
  stop(): Promise<void>;
}

export const TOKENS: readonly { symbol: AssetSymbol; name: string }[] = [
  { symbol: 'tUSD', name: 'Lanes Test Dollar' },
  { symbol: 'tEUR', name: 'Lanes Test Euro' },
];

/** Children this process started and has not seen exit: killed if it exits first. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  stop(graceMs: number): Promise<void>;
}

function spawnManaged(name: string, args: readonly string[], logFile: string, onUnexpectedExit: (why: string) => void): Managed {
  installExitHook();
  const log = openSync(logFile, 'a');
  // LANES_TESTNET_NODE_ARGS: extra Node options for every process (e.g. "--cpu-prof
  // --cpu-prof-dir=/tmp/prof", which NODE_OPTIONS does not allow).
  const nodeArgs = (process.env.LANES_TESTNET_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], {
    stdio: ['ignore', log, log],
    env: { ...process.env, NO_COLOR: '1' },
  });
  closeSync(log);
  live.add(child);
  let stopping = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      if (!stopping) onUnexpectedExit(`${name} exited (${signal ?? `code ${code}`}); see ${logFile}`);
      resolve();
    }),
  );
  return {
    name,
    child,
    exited,
    async stop(graceMs) {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Waits for a daemon's JSON file (api.json, coordinator.json) written by the given PID. */
async function waitForFile<T extends { pid: number }>(file: string, m: Managed, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (m.child.exitCode !== null || m.child.signalCode !== null) throw new LanesError(`${m.name} exited before it was ready`);
    if (existsSync(file)) {
      try {
        const j = JSON.parse(readFileSync(file, 'utf8')) as T;
        if (j.pid === m.child.pid) return j;
      } catch {
        // being written
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new LanesError(`${m.name} did not start within ${timeoutMs / 1000} s`);
}

export async function startTestnet(o: TestnetOptions): Promise<Testnet> {
  const step = o.onStep ?? (() => undefined);
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  let crash: string | undefined;
  const managed: Managed[] = [];
  const nodes: TestnetNode[] = [];
  let chain: LocalChain | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      for (const n of nodes) await n.api.stop().catch(() => undefined);
      // Nodes first (they may still talk to the coordinator), then the coordinator, then the chain.
      const ordered = [...managed].reverse();
      const nodeProcs = ordered.filter((m) => m.name.startsWith('node'));
      await Promise.all(nodeProcs.map((m) => m.stop(10_000)));
      for (const m of ordered.filter((x) => !x.name.startsWith('node'))) await m.stop(10_000);
      await chain?.stop(5_000);
    })());
  const onCrash = (why: string) => {
    crash ??= why;
  };
  const startedPids = () => [...(chain ? [chain.pid] : []), ...managed.map((m) => m.child.pid!)];
  try {
    let rpcUrl: string;
    let clients: Clients;
    let funder: Funder;
    let adjudicator: Address;
    if (o.chain) {
      rpcUrl = o.chain.rpcUrl;
      clients = await createClients({ rpc: rpcUrl, privateKey: o.chain.funderKey, pollingIntervalMs: 100 });
      funder = chainFunder(clients);
      step(`on chain ${clients.chain.id} at ${rpcUrl}, funded by ${funder.address}`);
      await checkFunder(clients, o);
      if (o.chain.adjudicator) {
        await verifyAdjudicator(rpcUrl, o.chain.adjudicator);
        adjudicator = o.chain.adjudicator;
        step(`using the adjudicator at ${adjudicator}`);
      } else {
        step('deploying the adjudicator');
        adjudicator = (
          await deployAdjudicatorOnChain({
            rpc: rpcUrl,
            privateKey: o.chain.funderKey,
            ...(o.chain.confirmations === undefined ? {} : { confirmations: o.chain.confirmations }),
            pollingIntervalMs: 100,
            onStep: step,
          })
        ).adjudicator;
      }
    } else {
      step('starting the chain (Hardhat EDR)');
      chain = await startLocalChain();
      rpcUrl = chain.rpcUrl;
      clients = await createClients({ rpc: rpcUrl, privateKey: DEV_KEYS[0], pollingIntervalMs: 20 });
      funder = devChainFunder(clients);
      step('deploying the adjudicator');
      adjudicator = (await deployAdjudicatorOnChain({ rpc: rpcUrl, privateKey: DEV_KEYS[0], confirmations: 0, pollingIntervalMs: 20 }))
        .adjudicator;
    }
    step('deploying the test tokens');
    const tokens: TestnetToken[] = await Promise.all(
      TOKENS.map(async (t) => ({ ...t, address: await funder.deployToken(t.name, t.symbol) })),
    );
    const { ether, tokenUnits, coordinatorEther } = fundingWei(o);
    const fund = (who: Address, withTokens: boolean, wei = ether) =>
      funder.fund(who, wei, withTokens ? tokens.map((t) => ({ token: t.address, amount: tokenUnits })) : []);

    step('starting the coordinator');
    const coordDir = join(o.dir, 'coordinator');
    mkdirSync(coordDir, { recursive: true, mode: 0o700 });
    const coordLog = join(coordDir, 'coordinator.log');
    const coordProc = spawnManaged(
      'coordinator',
      [
        '--data-dir',
        coordDir,
        'coordinator',
        'start',
        '--chain-rpc',
        rpcUrl,
        '--adjudicator',
        adjudicator,
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--max-batch',
        String(o.coordinator?.maxBatch ?? 100),
        '--max-delay-ms',
        String(o.coordinator?.maxDelayMs ?? 1000),
        '--payout',
        o.coordinator?.payout ?? 'transfer',
        '--log-level',
        o.logLevel ?? 'warn',
      ],
      coordLog,
      onCrash,
    );
    managed.push(coordProc);
    const cj = await waitForFile<{ pid: number; multiaddrs: string[]; statusUrl: string; address: Address; peerId: string }>(
      join(coordDir, COORDINATOR_JSON),
      coordProc,
      60_000,
    );
    await fund(cj.address.toLowerCase() as Address, false, coordinatorEther);
    const coordinator: TestnetCoordinator = {
      pid: coordProc.child.pid!,
      address: cj.address.toLowerCase() as Address,
      peerId: cj.peerId,
      multiaddr: cj.multiaddrs[0]!,
      statusUrl: cj.statusUrl,
      dataDir: coordDir,
      logFile: coordLog,
    };

    step(`funding and starting ${o.nodes} nodes`);
    const symbols: Record<string, Address> = Object.fromEntries(tokens.map((t) => [t.symbol, t.address]));
    const pairs = [NATIVE_ASSET, ...tokens.map((t) => t.address)];
    // Every node trades any pair of the testnet's assets one for one.
    const swapPolicy = {
      pairs: pairs.flatMap((receive) =>
        pairs.filter((give) => give !== receive).map((give) => ({ receive, give, minReceive: '1', perGive: '1' })),
      ),
    };
    const starts = Array.from({ length: o.nodes }, async (_, index) => {
      const name = `node-${index}`;
      const dataDir = join(o.dir, name);
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const keyFile = join(dataDir, 'node.key');
      const key = existsSync(keyFile) ? undefined : createKeyFile(keyFile);
      const address = key ? peerRefFromPrivateKey(key).address : undefined;
      key?.fill(0);
      const configFile = join(dataDir, 'config.json');
      writeFileSync(
        configFile,
        JSON.stringify(
          {
            policies: {
              open: {
                // A testnet: match whatever the opener deposits, up to what the node was funded with.
                maxDeposit: {
                  eth: ether.toString(),
                  ...Object.fromEntries(tokens.map((t) => [t.address, tokenUnits.toString()])),
                },
              },
              swap: swapPolicy,
            },
            // A small network that starts at once: lost gossip is repaired within seconds.
            ...(o.graph ? { graph: { syncIntervalMs: 5_000 } } : {}),
          },
          null,
          2,
        ),
      );
      const logFile = join(dataDir, 'node.log');
      const proc = spawnManaged(
        name,
        [
          '--data-dir',
          dataDir,
          'node',
          'start',
          '--config',
          configFile,
          '--chain-rpc',
          rpcUrl,
          '--adjudicator',
          adjudicator,
          '--coordinator',
          coordinator.multiaddr,
          '--listen',
          '/ip4/127.0.0.1/tcp/0',
          '--log-level',
          o.logLevel ?? 'warn',
          '--signer-workers',
          String(o.signerWorkers ?? defaultSignerWorkers(o.nodes)),
          // The chain's depth, for the nodes' chain watchers too (ADR 0014); unset, each uses the chain's default.
          ...(o.chain?.confirmations === undefined ? [] : ['--confirmations', String(o.chain.confirmations)]),
          ...(o.loadGenerator ? ['--load-generator'] : []),
          ...(o.graph ? ['--graph'] : []),
        ],
        logFile,
        onCrash,
      );
      managed.push(proc);
      const aj = await waitForFile<{ pid: number; url: string; address: Address; peerId: string; multiaddrs: string[] }>(
        join(dataDir, API_JSON),
        proc,
        90_000,
      );
      if (address && aj.address !== address) throw new LanesError(`${name} runs with an unexpected key`);
      await fund(aj.address, true);
      const tokenFile = join(dataDir, API_TOKEN);
      const token = readFileSync(tokenFile, 'utf8').trim();
      const api = await connect({ url: aj.url, token, timeoutMs: 600_000 });
      const base = aj.url.replace(/\/$/, '');
      const node: TestnetNode = {
        index,
        name,
        pid: proc.child.pid!,
        address: aj.address,
        peerId: aj.peerId,
        multiaddr: aj.multiaddrs[0]!,
        apiUrl: aj.url,
        tokenFile,
        dataDir,
        logFile,
        api,
        async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
          const res = await fetch(`${base}${path}`, {
            method,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          });
          const text = await res.text();
          if (!res.ok) throw new LanesError(`${name}: ${method} ${path} failed (HTTP ${res.status})`, { details: text.slice(0, 500) });
          return JSON.parse(text) as T;
        },
      };
      nodes[index] = node;
      return node;
    });
    await Promise.all(starts);
    return {
      dir: o.dir,
      chain: { rpcUrl, chainId: BigInt(clients.chain.id), ...(chain ? { pid: chain.pid } : {}) },
      adjudicator,
      tokens,
      coordinator,
      nodes,
      clients,
      asset: (symbol) => (symbol === 'ETH' ? NATIVE_ASSET : symbols[symbol]!),
      pids: () => startedPids().filter(isRunning),
      started: startedPids,
      crashed: () => crash,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** What each process gets, in wei: on an existing chain only what it needs ({@link ExistingChain}). */
function fundingWei(o: TestnetOptions): { ether: bigint; tokenUnits: bigint; coordinatorEther: bigint } {
  const unit = 10n ** 18n;
  const tokenUnits = (o.fund?.tokens ?? 1_000_000n) * unit;
  if (!o.chain) {
    const ether = (o.fund?.ether ?? 10_000n) * unit;
    return { ether, tokenUnits, coordinatorEther: ether };
  }
  return { ether: (o.fund?.ether ?? 0n) * unit + NODE_GAS_ETHER, tokenUnits, coordinatorEther: COORDINATOR_GAS_ETHER };
}

/** Refuses to start when the funder cannot pay for every process (a clear error, not a failed transfer later). */
async function checkFunder(clients: Clients, o: TestnetOptions): Promise<void> {
  const { ether, coordinatorEther } = fundingWei(o);
  // Deployments and funding transactions: a few million gas at the chain's price, with room.
  const gasPrice = await clients.publicClient.getGasPrice();
  const need = ether * BigInt(o.nodes) + coordinatorEther + gasPrice * 12_000_000n * 2n;
  const has = await clients.publicClient.getBalance({ address: clients.account.address });
  if (has < need)
    throw new LanesError(`the funder ${clients.account.address.toLowerCase()} has ${has} wei; this testnet needs ${need}`, {
      code: 'FUNDER_UNDERFUNDED',
      details: 'fund it, or ask for less: --nodes, --channels-per-link, --deposit',
    });
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
