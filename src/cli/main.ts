/**
 * The `lanes` command line: runs a node daemon and talks to it.
 *
 *   lanes keygen                                  create a node key
 *   lanes node start --chain-rpc URL --adjudicator ADDR
 *   lanes channel open --peer MULTIADDR --deposit 1eth
 *   lanes pay CHANNEL 0.01eth
 *   lanes withdraw [ASSET] [--to ADDRESS]        collect credited payouts from the adjudicator
 *
 * Client commands find the daemon through the data directory (--data-dir, default
 * ./lanes-data or $LANES_DATA_DIR), or through --rpc URL --token-file FILE.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Table from 'cli-table3';
import { Command, Option } from 'commander';
import { type Address, NATIVE_ASSET, bytesToHex, isAddress } from '../core/bytes.ts';
import { InvalidArgumentError, LanesError } from '../core/errors.ts';
import type { DaemonConfig } from '../daemon/daemon.ts';
import { readJsonFile } from '../files/json-file.ts';
import { createKeyFile, readKeyFile } from '../files/key-file.ts';
import type { OpenPolicy, SwapPolicy } from '../node/policy.ts';
import type { CloseResult } from '../sdk/api.ts';
import type { RemoteNode } from '../sdk/connect.ts';
import { OperationTimeoutError } from '../sdk/errors.ts';
import { daemon } from './client.ts';
import { channelDetails, channelTable, invoiceDetails, invoiceTable, paymentTable, paymentText, printJson } from './output.ts';
import { amountOf, assetBook, assetNamed, formatAmount, parseAmount, shortHex } from './units.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

interface Globals {
  dataDir: string;
  rpc?: string;
  tokenFile?: string;
  json?: boolean;
}

const program = new Command('lanes')
  .description('Lanes: payment and swap channels over libp2p, settled in batches on an EVM chain.')
  .version(pkg.version)
  .option('--data-dir <dir>', 'node data directory', process.env.LANES_DATA_DIR ?? './lanes-data')
  .option('--rpc <url>', 'the daemon control API URL (default: read from the data directory)')
  .option('--token-file <file>', 'the daemon API token file (default: <data-dir>/api.token)')
  .option('--json', 'print JSON for scripts')
  .showHelpAfterError('(add --help for usage)')
  .configureOutput({ outputError: (text, write) => write(text) });

function example(cmd: Command, ...lines: string[]): Command {
  return cmd.addHelpText('after', `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

function globals(cmd: Command): Globals {
  return cmd.optsWithGlobals<Globals>();
}

function asset(text: string | undefined): Address | undefined {
  if (text === undefined) return undefined;
  if (text.toLowerCase() === 'eth') return NATIVE_ASSET;
  const a = text.toLowerCase();
  if (!isAddress(a)) throw new InvalidArgumentError(`asset "${text}" must be "eth" or a 0x token address`);
  return a;
}

/** A command's `--timeout <seconds>`, in ms. */
function timeoutMs(cmd: Command): number | undefined {
  const v = cmd.opts<{ timeout?: string }>().timeout;
  if (v === undefined) return undefined;
  const seconds = Number(v);
  if (!(seconds > 0 && seconds <= 2_000_000)) throw new InvalidArgumentError(`--timeout must be a positive number of seconds, got "${v}"`);
  return Math.round(seconds * 1000);
}

/** Runs a client command against the daemon; prints JSON or text; turns errors into exit codes. */
function client<A extends unknown[]>(run: (node: RemoteNode, g: Globals, ...args: A) => Promise<{ json: unknown; text: string }>) {
  return async function (this: Command, ...args: A) {
    const g = globals(this);
    const t = timeoutMs(this);
    const node = await daemon({ ...g, ...(t === undefined ? {} : { timeoutMs: t }) });
    try {
      const out = await run(node, g, ...args);
      if (g.json) printJson(out.json);
      else process.stdout.write(out.text + '\n');
    } finally {
      await node.stop();
    }
  };
}

// ---------------------------------------------------------------------------------------------

example(
  program
    .command('keygen')
    .description('create a node key file (0600): the node address and libp2p identity')
    .option('--out <file>', 'where to write it (default: <data-dir>/node.key)')
    .action(async function (this: Command, o: { out?: string }) {
      const g = globals(this);
      const file = o.out ?? join(g.dataDir, 'node.key');
      if (!o.out) mkdirSync(g.dataDir, { recursive: true, mode: 0o700 });
      const key = createKeyFile(file);
      // libp2p's key code, for the peer id: loaded here only, so that client commands start fast.
      const { peerRefFromPrivateKey } = await import('../p2p/peer.ts');
      const peer = peerRefFromPrivateKey(key);
      key.fill(0);
      const result = { keyFile: file, address: peer.address, peerId: peer.peerId };
      if (g.json) printJson(result);
      else process.stdout.write(`wrote ${file}\naddress ${peer.address}\npeer id ${peer.peerId}\n`);
    }),
  'lanes keygen --out alice.key',
);

function confirmationsOption(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`--confirmations must be a whole number, got "${v}"`);
  return n;
}

example(
  program
    .command('deploy')
    .description('deploy the adjudicator on an EVM chain, wait until it is confirmed, and print its address')
    .option('--chain-rpc <url>', 'JSON-RPC URL of the chain')
    .option('--key-file <file>', 'the key (0x hex, mode 0600) that signs and pays for the deployment')
    .option('--confirmations <n>', 'blocks on top of the deployment before it counts (default: 0 on dev chains, 12 elsewhere)')
    .option('--timeout <seconds>', 'how long to wait for the confirmations', '600')
    .action(async function (this: Command, o: { chainRpc?: string; keyFile?: string; confirmations?: string; timeout: string }) {
      const g = globals(this);
      if (!o.chainRpc) throw new InvalidArgumentError('give --chain-rpc');
      if (!o.keyFile) throw new InvalidArgumentError('give --key-file (lanes keygen --out FILE makes one; fund its address first)');
      const timeout = Number(o.timeout);
      if (!(timeout > 0)) throw new InvalidArgumentError(`--timeout must be a positive number of seconds, got "${o.timeout}"`);
      const key = readKeyFile(o.keyFile);
      const privateKey = bytesToHex(key);
      key.fill(0);
      const { deployAdjudicatorOnChain } = await import('../chain/deploy.ts');
      const confirmations = confirmationsOption(o.confirmations);
      const d = await deployAdjudicatorOnChain({
        rpc: o.chainRpc,
        privateKey,
        ...(confirmations === undefined ? {} : { confirmations }),
        timeoutMs: timeout * 1000,
        onStep: (m) => process.stderr.write(`${m}\n`),
      });
      if (g.json)
        printJson({
          ...d,
          chainId: d.chainId.toString(),
          blockNumber: d.blockNumber.toString(),
          gasUsed: d.gasUsed.toString(),
        });
      else
        process.stdout.write(
          `adjudicator ${d.adjudicator}\nchain ${d.chainId}, block ${d.blockNumber} (${d.confirmations} confirmations), tx ${d.transactionHash}\ncode hash ${d.codeHash}\n`,
        );
    }),
  'lanes deploy --chain-rpc http://127.0.0.1:8545 --key-file deployer.key',
  'lanes deploy --chain-rpc https://rpc.example.org --key-file deployer.key --confirmations 3 --json',
);

const chainCmd = program.command('chain').description('the chain a node or coordinator runs on');

example(
  chainCmd
    .command('info')
    .description("show the chain id, the head, the confirmations used, and the adjudicator's code hash")
    .option('--chain-rpc <url>', 'JSON-RPC URL of the chain')
    .option('--adjudicator <address>', 'the LanesAdjudicator contract to check')
    .option('--confirmations <n>', 'the depth configured for this chain (default: 0 on dev chains, 12 elsewhere)')
    .action(async function (this: Command, o: { chainRpc?: string; adjudicator?: string; confirmations?: string }) {
      const g = globals(this);
      if (!o.chainRpc) throw new InvalidArgumentError('give --chain-rpc');
      const adjudicator = o.adjudicator?.toLowerCase();
      if (adjudicator !== undefined && !isAddress(adjudicator)) throw new InvalidArgumentError('--adjudicator must be a 0x address');
      const confirmations = confirmationsOption(o.confirmations);
      const { readChainInfo } = await import('../chain/deploy.ts');
      const info = await readChainInfo({
        rpc: o.chainRpc,
        ...(adjudicator === undefined ? {} : { adjudicator }),
        ...(confirmations === undefined ? {} : { confirmations }),
      });
      if (g.json)
        printJson({ ...info, chainId: info.chainId.toString(), head: info.head.toString(), headTimestamp: info.headTimestamp.toString() });
      else {
        const a = info.adjudicator;
        const lines = [
          `chain id       ${info.chainId}`,
          `head           ${info.head} (${new Date(Number(info.headTimestamp) * 1000).toISOString()})`,
          `confirmations  ${info.confirmations} (${info.confirmationsSource === 'default' ? 'the default for this chain' : 'configured'})`,
          ...(a
            ? [
                `adjudicator    ${a.address}`,
                `code hash      ${a.codeHash}`,
                `               ${a.matchesBuild ? 'this build of LanesAdjudicator' : a.deployed ? 'NOT this build of LanesAdjudicator' : 'no contract at this address'}`,
              ]
            : []),
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }
      if (info.adjudicator && !info.adjudicator.matchesBuild) process.exitCode = 1;
    }),
  'lanes chain info --chain-rpc http://127.0.0.1:8545 --adjudicator 0x5fbd…0aa3',
);

const node = program.command('node').description('run and inspect the node daemon');

interface StartOptions {
  config?: string;
  keyFile?: string;
  gasKeyFile?: string;
  metricsPort?: string;
  listen?: string[];
  chainRpc?: string;
  adjudicator?: string;
  coordinator?: string;
  apiHost?: string;
  apiPort?: string;
  logLevel?: string;
  maxDeposit?: string[];
  acceptChannels?: boolean;
  maxPendingChannels?: string;
  confirmations?: string;
  chainPollMs?: string;
  signerWorkers?: string;
  loadGenerator?: boolean;
  autoWithdraw?: string | boolean;
  graph?: boolean;
  bootstrap?: string[];
  feeBase?: string;
  feePpm?: string;
  swapPremiumPpm?: string;
  swapUpfrontPpm?: string;
  onionKeyReuseMs?: string;
}

/** `--graph`, `--bootstrap` and the config file's `graph` (flags win). */
function graphConfig(o: StartOptions, file: ConfigFile): Pick<DaemonConfig, 'graph'> {
  const fromFile = file.graph === true ? {} : typeof file.graph === 'object' && file.graph !== null ? file.graph : undefined;
  const bootstrap = o.bootstrap ?? fromFile?.bootstrap;
  if (bootstrap !== undefined)
    for (const b of bootstrap)
      if (typeof b !== 'string' || !b.startsWith('/') || !b.includes('/p2p/'))
        throw new InvalidArgumentError(`--bootstrap "${String(b)}" must be a multiaddr ending in /p2p/<peerId>`);
  const feeBase = o.feeBase ?? fromFile?.feeBase;
  const feePpm = o.feePpm ?? fromFile?.feePpm;
  if (feeBase !== undefined && !/^\d{1,78}$/.test(String(feeBase)))
    throw new InvalidArgumentError(`--fee-base "${String(feeBase)}" must be a whole number of base units`);
  if (feePpm !== undefined && !(/^\d{1,7}$/.test(String(feePpm)) && Number(feePpm) <= 1_000_000))
    throw new InvalidArgumentError(`--fee-ppm "${String(feePpm)}" must be a whole number from 0 to 1000000`);
  const premium = o.swapPremiumPpm ?? fromFile?.swapPremiumPpm;
  if (premium !== undefined && !(/^\d{1,7}$/.test(String(premium)) && Number(premium) <= 1_000_000))
    throw new InvalidArgumentError(`--swap-premium-ppm "${String(premium)}" must be a whole number from 0 to 1000000`);
  const upfront = o.swapUpfrontPpm ?? fromFile?.swapUpfrontPpm;
  if (upfront !== undefined && !(/^\d{1,7}$/.test(String(upfront)) && Number(upfront) <= 1_000_000))
    throw new InvalidArgumentError(`--swap-upfront-ppm "${String(upfront)}" must be a whole number from 0 to 1000000`);
  const reuse = o.onionKeyReuseMs ?? fromFile?.onionKeyReuseMs;
  if (reuse !== undefined && !(/^\d{1,7}$/.test(String(reuse)) && Number(reuse) <= 3_600_000))
    throw new InvalidArgumentError(`--onion-key-reuse-ms "${String(reuse)}" must be a whole number of ms from 0 to 3600000`);
  if (
    o.graph !== true &&
    bootstrap === undefined &&
    fromFile === undefined &&
    feeBase === undefined &&
    feePpm === undefined &&
    premium === undefined &&
    upfront === undefined &&
    reuse === undefined
  )
    return {};
  const syncIntervalMs = fromFile?.syncIntervalMs;
  if (syncIntervalMs !== undefined && !(Number.isInteger(syncIntervalMs) && syncIntervalMs >= 1000))
    throw new InvalidArgumentError(`graph.syncIntervalMs "${String(syncIntervalMs)}" must be a whole number of ms, at least 1000`);
  return {
    graph: {
      ...(bootstrap === undefined ? {} : { bootstrap }),
      ...(syncIntervalMs === undefined ? {} : { syncIntervalMs }),
      // What is not given takes the daemon's default.
      fees: { ...(feeBase === undefined ? {} : { base: BigInt(feeBase) }), ...(feePpm === undefined ? {} : { ppm: Number(feePpm) }) },
      ...(premium === undefined ? {} : { swapPremiumPpm: BigInt(premium) }),
      ...(upfront === undefined ? {} : { swapUpfrontPpm: BigInt(upfront) }),
      ...(reuse === undefined ? {} : { onionKeyReuseMs: Number(reuse) }),
    },
  };
}

interface ConfigFile {
  dataDir?: string;
  keyFile?: string;
  /** A separate key that sends transactions and pays gas (`--gas-key-file`). */
  gasKeyFile?: string;
  /** A loopback port for Prometheus metrics without the token (`--metrics-port`). */
  metricsPort?: number;
  listen?: string[];
  chainRpc?: string;
  adjudicator?: string;
  coordinator?: string;
  api?: { host?: string; port?: number };
  logLevel?: string;
  signerWorkers?: number;
  /** true, or the address to send withdrawals to. */
  autoWithdraw?: string | boolean;
  /** NodeConfig.limits.maxPendingChannelsPerPeer. */
  maxPendingChannels?: number;
  /** NodeConfig.confirmations. */
  confirmations?: number;
  /** NodeConfig.chainPollMs. */
  chainPollMs?: number;
  /** Join the channel graph (`--graph`); `bootstrap`: peers to find it from (`--bootstrap`). */
  graph?:
    | boolean
    | {
        bootstrap?: string[];
        feeBase?: string;
        feePpm?: number;
        syncIntervalMs?: number;
        swapPremiumPpm?: number;
        swapUpfrontPpm?: number;
        onionKeyReuseMs?: number;
      };
  /** NodeConfig.timeouts, in milliseconds. */
  timeouts?: unknown;
  policies?: {
    open?: { maxDeposit?: Record<string, string>; assets?: string[] };
    swap?: { pairs: { receive: string; give: string; minReceive: string; perGive: string; maxGive?: string }[] };
  };
}

function openPolicy(file: ConfigFile['policies'], flags: string[] | undefined): OpenPolicy | undefined {
  const max: Record<Address, bigint> = {};
  for (const [k, v] of Object.entries(file?.open?.maxDeposit ?? {})) max[asset(k)!] = parseAmount(v, `maxDeposit.${k}`);
  for (const f of flags ?? []) {
    const [k, v] = f.split('=');
    if (!k || !v) throw new InvalidArgumentError(`--max-deposit "${f}" must look like eth=1.5eth or 0xTOKEN=1000`);
    max[asset(k)!] = parseAmount(v, '--max-deposit');
  }
  const assets = file?.open?.assets?.map((a) => asset(a)!);
  if (Object.keys(max).length === 0 && !assets) return undefined;
  return { maxDeposit: max, ...(assets ? { assets } : {}) };
}

const TIMEOUTS = ['operationMs', 'openMs', 'chainMs', 'coordinatorMs'] as const;

/** The config file's `timeouts`: each a positive number of milliseconds. */
function timeouts(t: unknown): NonNullable<DaemonConfig['timeouts']> {
  if (t === null || typeof t !== 'object') throw new InvalidArgumentError('timeouts in the config file must be an object');
  const out: Partial<Record<(typeof TIMEOUTS)[number], number>> = {};
  for (const [k, v] of Object.entries(t)) {
    const key = TIMEOUTS.find((x) => x === k);
    if (key === undefined) throw new InvalidArgumentError(`timeouts.${k} is not a timeout (${TIMEOUTS.join(', ')})`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      throw new InvalidArgumentError(`timeouts.${k} must be a positive whole number of milliseconds`);
    out[key] = v;
  }
  return out;
}

function swapPolicy(file: ConfigFile['policies']): SwapPolicy | undefined {
  const pairs = file?.swap?.pairs;
  if (!pairs) return undefined;
  return {
    pairs: pairs.map((p) => ({
      receive: asset(p.receive)!,
      give: asset(p.give)!,
      minReceive: BigInt(p.minReceive),
      perGive: BigInt(p.perGive),
      ...(p.maxGive === undefined ? {} : { maxGive: BigInt(p.maxGive) }),
    })),
  };
}

example(
  node
    .command('start')
    .description('run a node and its control API until interrupted (Ctrl-C stops it cleanly)')
    .option('--config <file>', 'a JSON config file (flags override it)')
    .option('--key-file <file>', 'node key (default <data-dir>/node.key, created on first start)')
    .option('--gas-key-file <file>', 'a separate key that sends transactions and pays gas and deposits (default: the node key)')
    .option('--metrics-port <port>', 'also serve Prometheus metrics on this 127.0.0.1 port, without the token')
    .option('--listen <multiaddr...>', 'libp2p listen addresses (default /ip4/127.0.0.1/tcp/0)')
    .option('--chain-rpc <url>', 'JSON-RPC URL of the chain')
    .option('--adjudicator <address>', 'the LanesAdjudicator contract')
    .option('--coordinator <multiaddr>', 'the settlement coordinator to use')
    .option('--api-host <host>', 'control API host', '127.0.0.1')
    .option('--api-port <port>', 'control API port (0: any free port)', '0')
    .option('--accept-channels', 'accept channels others open that ask us to deposit nothing (by default a node accepts none)')
    .option('--max-pending-channels <n>', 'channels one peer may open with us that are not funded yet (default 16)')
    .option('--confirmations <n>', 'blocks on top of an event before it counts (default: 0 on dev chains, else 12)')
    .option('--chain-poll-ms <ms>', 'how often to ask the chain for new blocks (default 250; 1000-4000 for a public RPC)')
    .option('--max-deposit <asset=amount...>', 'accept channel opens that ask us to deposit up to this (e.g. eth=1eth)')
    .option('--signer-workers <n>', 'worker threads for signatures (0: main thread)')
    .option('--load-generator', 'serve the load generator on the control API (/v1/load), as the testnet does')
    .option(
      '--graph',
      'join the channel graph over gossipsub: pay nodes we have no channel with, forward payments, announce public channels',
    )
    .option('--bootstrap <multiaddr...>', 'peers to find the channel graph from (implies --graph)')
    .option('--fee-base <amount>', 'base fee to forward a payment over our public channels, in base units (default 0)')
    .option('--fee-ppm <n>', 'proportional forwarding fee, in millionths of the amount (default 100)')
    .option(
      '--swap-premium-ppm <n>',
      "routed swaps (the config file's policies.swap.pairs): a premium on every quote, in millionths of the amount in, paid only if the swap completes (default 0)",
    )
    .option(
      '--swap-upfront-ppm <n>',
      'routed swaps: a premium every quote asks to be paid before the swap, whatever it does then (a keysend to us), in millionths of the amount in: the price of the free option (default 0)',
    )
    .option(
      '--onion-key-reuse-ms <ms>',
      'our payments seal their onion layers to a hop with one key for this long: one ECDH per hop and window, not per payment; the hop can link the payments under one key (default 10000; 0: a fresh key per layer)',
    )
    .option('--auto-withdraw [address]', 'withdraw credited payouts as soon as they are noticed (to ADDRESS, default the node address)')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .action(async function (this: Command, o: StartOptions) {
      const g = globals(this);
      const file = (o.config ? readJsonFile(o.config, 'fix the config file, or leave out --config') : {}) as ConfigFile;
      const chainRpc = o.chainRpc ?? file.chainRpc;
      const adjudicator = o.adjudicator ?? file.adjudicator;
      if (!chainRpc) throw new InvalidArgumentError('give --chain-rpc (or chainRpc in the config file)');
      if (!adjudicator || !isAddress(adjudicator.toLowerCase()))
        throw new InvalidArgumentError('give --adjudicator with the contract address');
      const dataDir = (this.getOptionValueSource('dataDir') === 'default' && file.dataDir) || g.dataDir;
      const open = openPolicy(file.policies, o.maxDeposit) ?? (o.acceptChannels ? { maxDeposit: {} } : undefined);
      const swap = swapPolicy(file.policies);
      const workers = o.signerWorkers ?? file.signerWorkers;
      const maxPending = o.maxPendingChannels ?? file.maxPendingChannels;
      if (maxPending !== undefined && !/^\d{1,9}$/.test(String(maxPending)))
        throw new InvalidArgumentError(`--max-pending-channels "${String(maxPending)}" must be a whole number`);
      const confirmations = o.confirmations ?? file.confirmations;
      if (confirmations !== undefined && !/^\d{1,3}$/.test(String(confirmations)))
        throw new InvalidArgumentError(`--confirmations "${String(confirmations)}" must be a whole number of blocks`);
      const chainPollMs = o.chainPollMs ?? file.chainPollMs;
      if (chainPollMs !== undefined && !(/^\d{2,6}$/.test(String(chainPollMs)) && Number(chainPollMs) <= 600_000))
        throw new InvalidArgumentError(`--chain-poll-ms "${String(chainPollMs)}" must be a whole number of milliseconds, 10..600000`);
      const metricsPort = o.metricsPort ?? file.metricsPort;
      if (metricsPort !== undefined && !(/^\d{1,5}$/.test(String(metricsPort)) && Number(metricsPort) <= 65535))
        throw new InvalidArgumentError(`--metrics-port "${String(metricsPort)}" must be a port number`);
      const gasKeyFile = o.gasKeyFile ?? file.gasKeyFile;
      const autoWithdraw = o.autoWithdraw ?? file.autoWithdraw;
      const withdrawTo = typeof autoWithdraw === 'string' ? autoWithdraw.toLowerCase() : undefined;
      if (withdrawTo !== undefined && !isAddress(withdrawTo))
        throw new InvalidArgumentError(`--auto-withdraw "${String(autoWithdraw)}" must be a 0x address of 40 hex digits`);
      const config: DaemonConfig = {
        dataDir,
        listen: o.listen ?? file.listen ?? ['/ip4/127.0.0.1/tcp/0'],
        chainRpc,
        adjudicator: adjudicator.toLowerCase() as Address,
        apiHost: this.getOptionValueSource('apiHost') === 'default' ? (file.api?.host ?? o.apiHost!) : o.apiHost!,
        apiPort: Number(this.getOptionValueSource('apiPort') === 'default' ? (file.api?.port ?? o.apiPort) : o.apiPort),
        logLevel: o.logLevel ?? file.logLevel ?? 'info',
        ...((o.keyFile ?? file.keyFile) ? { keyFile: (o.keyFile ?? file.keyFile)! } : {}),
        ...(gasKeyFile ? { gasKeyFile } : {}),
        ...(metricsPort === undefined ? {} : { metricsPort: Number(metricsPort) }),
        ...((o.coordinator ?? file.coordinator) ? { coordinator: (o.coordinator ?? file.coordinator)! } : {}),
        ...(open || swap ? { policies: { ...(open ? { open } : {}), ...(swap ? { swap } : {}) } } : {}),
        ...(workers === undefined ? {} : { signerWorkers: Number(workers) }),
        ...(o.loadGenerator ? { loadGenerator: true } : {}),
        ...(autoWithdraw ? { autoWithdraw: withdrawTo === undefined ? {} : { to: withdrawTo } } : {}),
        ...(file.timeouts === undefined ? {} : { timeouts: timeouts(file.timeouts) }),
        ...(maxPending === undefined ? {} : { limits: { maxPendingChannelsPerPeer: Number(maxPending) } }),
        ...(confirmations === undefined ? {} : { confirmations: Number(confirmations) }),
        ...(chainPollMs === undefined ? {} : { chainPollMs: Number(chainPollMs) }),
        ...graphConfig(o, file),
      };
      // Loaded only here: client commands stay light (no libp2p, lmdb or viem to load).
      const { runDaemon } = await import('../daemon/daemon.ts');
      await runDaemon(config);
    }),
  'lanes node start --chain-rpc http://127.0.0.1:8545 --adjudicator 0x5fbd…0aa3 --listen /ip4/127.0.0.1/tcp/4001',
  'lanes --data-dir ./bob node start --config bob.json --max-deposit eth=2eth',
  'lanes node start --chain-rpc http://127.0.0.1:8545 --adjudicator 0x5fbd…0aa3 --auto-withdraw 0x7099…79c8',
  'lanes node start --chain-rpc http://127.0.0.1:8545 --adjudicator 0x5fbd…0aa3 --gas-key-file gas.key --metrics-port 9464',
);

example(
  node
    .command('info')
    .description("show the node's address, peer id, listen addresses and chain")
    .action(
      client(async (n) => {
        const i = await n.info();
        return {
          json: i,
          text: [
            `address    ${i.address}`,
            `peer id    ${i.peerId}`,
            ...i.multiaddrs.map((m) => `listening  ${m}`),
            `chain      ${i.chainId}, adjudicator ${i.adjudicator}`,
            ...(i.gasAccount ? [`gas        ${i.gasAccount} sends transactions and pays gas and deposits`] : []),
            `signer     ${i.signer}`,
            ...(i.watchtower
              ? [
                  i.watchtower.reachable
                    ? `watchtower ${i.watchtower.coordinator}`
                    : `watchtower UNREACHABLE since ${new Date(i.watchtower.since).toISOString()}: ${i.watchtower.coordinator}; stale states are answered only while this node runs`,
                ]
              : []),
            ...(i.assets ?? [])
              .filter((a) => a.asset !== NATIVE_ASSET)
              .map(
                (a) =>
                  `token      ${a.asset} ${a.symbol ?? '(no usable symbol)'}${a.decimals === undefined ? ', base units' : `, ${a.decimals} decimals`}`,
              ),
          ].join('\n'),
        };
      }),
    ),
  'lanes node info --json',
);

example(
  program
    .command('peer')
    .description('peers')
    .command('connect <multiaddr>')
    .description('connect to a peer')
    .action(
      client(async (n, _g, multiaddr: string) => {
        const p = await n.connect(multiaddr);
        return { json: p, text: `connected to ${p.address} (${p.peerId})` };
      }),
    ),
  'lanes peer connect /ip4/127.0.0.1/tcp/4001/p2p/16Uiu2HAm…',
);

const channel = program.command('channel').description('open, list, inspect and close channels');

example(
  channel
    .command('open')
    .description('open a channel with a peer (this node leads it) and wait until it is funded')
    .requiredOption('--peer <multiaddr>', "the counterparty's multiaddr (ending in /p2p/<peerId>)")
    .requiredOption('--deposit <amounts...>', 'what this node deposits, one amount per asset')
    .option('--asset <assets...>', 'the assets (eth or 0x token addresses; default eth)')
    .option('--counterparty-deposit <amounts...>', 'what the counterparty is asked to deposit, per asset')
    .option('--challenge-duration <seconds>', 'seconds a registered state can be answered', '3600')
    .option('--no-wait', 'return once both signed version 0, before the funding is on-chain')
    .option('--public', 'announce the channel over the channel graph once funded, so others route through it (needs node start --graph)')
    .action(
      client(
        async (
          n,
          _g,
          o: {
            peer: string;
            deposit: string[];
            asset?: string[];
            counterpartyDeposit?: string[];
            challengeDuration: string;
            wait: boolean;
            public?: boolean;
          },
        ) => {
          const book = await assetBook(n);
          const assets = o.asset ? o.asset.map((a) => asset(a)!) : [NATIVE_ASSET];
          // Each amount in its asset's units (or base units): `--asset eth 0xTOKEN --deposit 1eth 500tUSD`.
          const amounts = (list: string[], what: string) =>
            list.map((a, i) => (assets[i] === undefined ? parseAmount(a, what) : amountOf(book, a, [assets[i]!], assets[i], what).amount));
          const c = await n.openChannel({
            peer: o.peer,
            deposit: amounts(o.deposit, 'deposit'),
            ...(o.asset ? { assets } : {}),
            ...(o.counterpartyDeposit ? { counterpartyDeposit: amounts(o.counterpartyDeposit, 'counterparty deposit') } : {}),
            challengeDuration: BigInt(parseAmount(o.challengeDuration, 'challenge duration')),
            waitFor: o.wait ? 'open' : 'signed',
            ...(o.public ? { public: true } : {}),
          });
          return { json: c, text: `opened channel ${c.id} (${c.status})\n${channelDetails(c, await assetBook(n))}` };
        },
      ),
    ),
  'lanes channel open --peer /ip4/127.0.0.1/tcp/4002/p2p/16Uiu2HAm… --deposit 1eth --counterparty-deposit 0.5eth',
  'lanes channel open --peer … --asset eth 0xTOKEN --deposit 1eth 0 --counterparty-deposit 0 5000',
);

example(
  channel
    .command('list')
    .description('list channels')
    .action(
      client(async (n) => {
        const cs = await n.channels();
        return { json: cs, text: cs.length === 0 ? 'no channels' : channelTable(cs, await assetBook(n)) };
      }),
    ),
  'lanes channel list',
);

example(
  channel
    .command('show <channel>')
    .description('show one channel')
    .action(
      client(async (n, _g, id: string) => {
        const c = await n.channel(id.toLowerCase() as `0x${string}`);
        return { json: c, text: channelDetails(c, await assetBook(n)) };
      }),
    ),
  'lanes channel show 0x3f2a…',
);

example(
  channel
    .command('state <channel>')
    .description('the latest state signed by both, as JSON (for backups, audits and disputes)')
    .action(
      client(async (n, _g, id: string) => {
        const s = await n.signedState(id.toLowerCase() as `0x${string}`);
        return { json: s, text: JSON.stringify(s, null, 2) };
      }),
    ),
  'lanes channel state 0x3f2a… > channel-backup.json',
);

example(
  channel
    .command('close <channel>')
    .description('close a channel cooperatively (or with --force, without the counterparty) and wait for the payout')
    .option('--force', 'register the latest state on-chain and conclude after the challenge period')
    .option('--direct', 'submit to the chain directly, not through the configured coordinator')
    .option('--no-wait', 'return once the settlement is submitted (with --force: once the state is registered)')
    .option('--timeout <seconds>', "how long to wait for the daemon's answer; the close goes on in the daemon after", '120')
    .action(
      client(async (n, g, id: string, o: { force?: boolean; direct?: boolean; wait: boolean }) => {
        const channelId = id.toLowerCase() as `0x${string}`;
        const params = { mode: o.force ? ('force' as const) : ('cooperative' as const), ...(o.direct ? { direct: true } : {}) };
        let r: CloseResult;
        if (o.force) {
          // Registered first: the challenge period's end is known, and said, before the wait.
          r = await n.close(channelId, { ...params, waitFor: 'submitted' });
          if (o.wait && r.status !== 'closed') {
            if (!g.json && r.challengeEndsAt !== undefined)
              process.stderr.write(
                `registered version ${r.version} on-chain; the challenge period ends at ${isoTime(r.challengeEndsAt)}; waiting for the payout (Ctrl-C leaves the close to the daemon)\n`,
              );
            try {
              r = await n.close(channelId, { ...params, waitFor: 'closed' });
            } catch (e) {
              if (!(e instanceof OperationTimeoutError)) throw e;
              throw stillWaiting(channelId, (await n.channel(channelId)).challengeEndsAt ?? r.challengeEndsAt, e);
            }
          }
        } else r = await n.close(channelId, { ...params, waitFor: o.wait ? 'closed' : 'submitted' });
        const book = await assetBook(n);
        const credited = (r.credited ?? []).map(
          (c) => `\ncredited ${formatAmount(c.amount, c.asset, book)} on the adjudicator: lanes withdraw`,
        );
        const ends =
          r.challengeEndsAt === undefined
            ? ''
            : `\nthe challenge period ends at ${isoTime(r.challengeEndsAt)}; the daemon concludes the close then: check with lanes channel show ${channelId}`;
        return {
          json: r,
          text: `channel ${shortHex(r.channelId)} ${r.status} (${r.mode}${r.via ? `, via ${r.via}` : ''}, version ${r.version})${r.transactionHash ? `\ntransaction ${r.transactionHash}` : ''}${credited.join('')}${ends}`,
        };
      }),
    ),
  'lanes channel close 0x3f2a…',
  'lanes channel close 0x3f2a… --force',
  'lanes channel close 0x3f2a… --force --no-wait',
  'lanes channel close 0x3f2a… --direct',
);

const isoTime = (ms: number) => new Date(ms).toISOString();

/** A forced close whose wait ran out: it is not lost, the daemon concludes it after the challenge period. */
function stillWaiting(channelId: string, challengeEndsAt: number | undefined, cause: unknown): LanesError {
  const when = challengeEndsAt === undefined ? 'the challenge period ends' : `the challenge period ends at ${isoTime(challengeEndsAt)}`;
  return new LanesError(`still waiting: ${when}; the close goes on in the daemon`, {
    code: 'STILL_WAITING',
    details: `check with lanes channel show ${channelId}`,
    cause,
  });
}

example(
  program
    .command('pay [target] [amount]')
    .description(
      'pay a channel counterparty (CHANNEL AMOUNT: returns once a state carrying it is signed by both and stored), an invoice (lanes…), or an address (--to, keysend); those two return once the payee settled',
    )
    .option('--asset <asset>', 'eth, a token address or symbol (needed in a channel of several assets for base units)')
    .option('--to <address>', 'pay this address without an invoice (keysend: a channel peer, or any node the channel graph reaches)')
    .option('--amount <amount>', 'the amount, with --to or for an any-amount invoice')
    .option('--max-fee <amount>', 'the most to pay in routing fees, in the asset sent (default 1% of the amount, at least 1000 base units)')
    .option(
      '--pay-with <asset>',
      "pay in another asset than the payee receives (eth, a token address, or a symbol of this node's tokens): a routed swap, converted by a hub at its signed quote",
    )
    .option('--max-send <amount>', 'with --pay-with: the most to send in that asset (its units, or base units), rate and fees included')
    .action(
      client(async (n, _g, id: string | undefined, amount: string | undefined, o: PayFlags) => {
        if (o.to !== undefined || /^lanes/i.test(id ?? '')) return payInvoiceOrAddress(n, id, amount, o);
        if (id === undefined || amount === undefined)
          throw new InvalidArgumentError('give CHANNEL AMOUNT, an invoice, or --to ADDRESS --amount AMOUNT');
        const channelId = id.toLowerCase() as `0x${string}`;
        const [book, c] = await Promise.all([assetBook(n), n.channel(channelId)]);
        const p = amountOf(book, amount, c.assets, o.asset === undefined ? undefined : assetNamed(book, o.asset, c.assets));
        const r = await n.pay(channelId, { amount: p.amount, ...(p.asset ? { asset: p.asset } : {}) });
        return {
          json: r,
          text: `paid ${formatAmount(r.amount, r.asset, book)} in channel ${shortHex(r.channelId)} (version ${r.version})`,
        };
      }),
    ),
  'lanes pay 0x3f2a… 0.01eth',
  'lanes pay 0x3f2a… 10tUSD',
  'lanes pay lanes313371qq…',
  'lanes pay --to 0x7099…79c8 --amount 0.01eth',
  'lanes pay lanes313371qq… --pay-with eth --max-send 0.06eth',
);

interface PayFlags {
  asset?: string;
  to?: string;
  amount?: string;
  maxFee?: string;
  payWith?: string;
  maxSend?: string;
}

/** `lanes pay INVOICE [--amount A]` and `lanes pay --to ADDRESS --amount A` (docs/adr/0018). */
async function payInvoiceOrAddress(
  n: RemoteNode,
  target: string | undefined,
  amount: string | undefined,
  o: PayFlags,
): Promise<{ json: unknown; text: string }> {
  if (o.to !== undefined && target !== undefined && o.amount !== undefined)
    throw new InvalidArgumentError('give an invoice or --to, not both');
  const howMuch = o.amount ?? (o.to !== undefined ? (target ?? amount) : amount);
  const book = await assetBook(n);
  const known = book.assets();
  const payWith = o.payWith === undefined ? undefined : assetNamed(book, o.payWith, known, '--pay-with');
  if (o.maxSend !== undefined && payWith === undefined) throw new InvalidArgumentError('--max-send goes with --pay-with');
  // The asset the payee receives: --asset (keysend), or the invoice's (read only to parse --amount or --max-fee in its units).
  const received =
    o.to !== undefined
      ? o.asset === undefined
        ? NATIVE_ASSET
        : assetNamed(book, o.asset, known)
      : howMuch !== undefined || o.maxFee !== undefined
        ? (await n.decodeInvoice(target!)).asset
        : undefined;
  const inUnitsOf = (text: string, of: Address | undefined, what: string) =>
    book.parse(text, what, of === undefined ? undefined : [of]).amount;
  const limits = {
    // Fees are paid in the asset sent: the payee's, or --pay-with's.
    ...(o.maxFee === undefined ? {} : { maxFee: inUnitsOf(o.maxFee, payWith ?? received, '--max-fee') }),
    ...(payWith === undefined ? {} : { payWith }),
    ...(o.maxSend === undefined ? {} : { maxSend: inUnitsOf(o.maxSend, payWith, '--max-send') }),
  };
  const r =
    o.to !== undefined
      ? await n.sendPayment({
          to: o.to.toLowerCase() as Address,
          amount: inUnitsOf(howMuch ?? '', received, 'amount'),
          ...(received === NATIVE_ASSET ? {} : { asset: received! }),
          ...limits,
        })
      : await n.payInvoice(target!, { ...(howMuch === undefined ? {} : { amount: inUnitsOf(howMuch, received, 'amount') }), ...limits });
  return { json: r, text: paymentText(r, book) };
}

/** `--limit` and `--offset` of a listing, checked. */
function pageOf(o: { readonly limit: string; readonly offset: string }): { limit: number; offset: number } {
  for (const k of ['limit', 'offset'] as const)
    if (!/^[0-9]+$/.test(o[k])) throw new InvalidArgumentError(`--${k} must be a whole number, got "${o[k]}"`);
  const page = { limit: Number(o.limit), offset: Number(o.offset) };
  if (page.limit < 1 || page.limit > 10_000) throw new InvalidArgumentError(`--limit must be from 1 to 10000, got ${page.limit}`);
  return page;
}

/** `a` as one word for a POSIX shell. */
const shellWord = (a: string): string => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`);

/**
 * The page `o` asks of a listing, and the line that names the command for the next one (empty on
 * the last page): the command as it was typed, every option kept, at the next offset. `list` is
 * asked for one more than the page, to tell whether another follows.
 */
async function listPage<T>(
  o: { readonly limit: string; readonly offset: string },
  list: (q: { offset: number; limit: number }) => Promise<readonly T[]>,
): Promise<{ rows: readonly T[]; more: string }> {
  const page = pageOf(o);
  const got = await list({ offset: page.offset, limit: Math.min(page.limit + 1, 10_000) });
  if (got.length <= page.limit) return { rows: got, more: '' };
  const typed = process.argv.slice(2);
  const kept = typed.filter((a, i) => a !== '--offset' && typed[i - 1] !== '--offset' && !a.startsWith('--offset='));
  const next = ['lanes', ...kept, '--offset', String(page.offset + page.limit)].map(shellWord).join(' ');
  return { rows: got.slice(0, page.limit), more: `\n… more: ${next}` };
}

const invoice = program.command('invoice').description('create, decode and list invoices (docs/adr/0018)');

example(
  invoice
    .command('create')
    .description('issue an invoice signed by this node; its secret stays in the node store')
    .option('--amount <amount>', "the amount asked, in the asset's units (0.01eth, 10tUSD) or base units (default: any amount)")
    .option('--asset <asset>', "eth, a token address, or the symbol of a token of this node's channels", 'eth')
    .option('--memo <text>', 'what it is for (at most 639 bytes)')
    .option('--expires-in <seconds>', 'seconds it can be paid', '3600')
    .action(
      client(async (n, _g, o: { amount?: string; asset: string; memo?: string; expiresIn: string }) => {
        const book = await assetBook(n);
        const a = assetNamed(book, o.asset, book.assets());
        const r = await n.createInvoice({
          ...(o.amount === undefined ? {} : { amount: book.parse(o.amount, 'amount', [a]).amount }),
          asset: a,
          ...(o.memo === undefined ? {} : { memo: o.memo }),
          expiresIn: Number(o.expiresIn),
        });
        return { json: r, text: r.invoice };
      }),
    ),
  'lanes invoice create --amount 0.01eth --memo "coffee"',
  'lanes invoice create --asset tUSD --amount 25tUSD',
);

example(
  invoice
    .command('decode <invoice>')
    .description('check an invoice (checksum, signature, chain) and show what it asks')
    .action(
      client(async (n, _g, text: string) => {
        const [r, book] = await Promise.all([n.decodeInvoice(text), assetBook(n)]);
        return { json: r, text: invoiceDetails(r, book) };
      }),
    ),
  'lanes invoice decode lanes313371qq…',
);

example(
  invoice
    .command('list')
    .description('the invoices this node issued, newest first')
    .option('--limit <n>', 'most invoices to list (1 to 10000)', '100')
    .option('--offset <n>', 'invoices to skip first: the next page is --offset <offset + limit>', '0')
    .action(
      client(async (n, _g, o: { limit: string; offset: string }) => {
        const [{ rows, more }, book] = await Promise.all([listPage(o, (q) => n.invoices(q)), assetBook(n)]);
        return { json: rows, text: rows.length === 0 ? 'no invoices' : invoiceTable(rows, book) + more };
      }),
    ),
  'lanes invoice list',
  'lanes invoice list --limit 20 --offset 20',
);

example(
  program
    .command('payments')
    .description('payment history (made and received): status, route, fee, time')
    .addOption(new Option('--direction <direction>', 'only payments made (out) or received (in)').choices(['in', 'out']))
    .addOption(new Option('--status <status>', 'only payments in this status').choices(['pending', 'in-flight', 'settled', 'failed']))
    .option('--limit <n>', 'most payments to list, newest first (1 to 10000)', '100')
    .option('--offset <n>', 'matching payments to skip first: the next page is --offset <offset + limit>', '0')
    .action(
      client(
        async (
          n,
          _g,
          o: { direction?: 'in' | 'out'; status?: 'pending' | 'in-flight' | 'settled' | 'failed'; limit: string; offset: string },
        ) => {
          const filter = { ...(o.direction ? { direction: o.direction } : {}), ...(o.status ? { status: o.status } : {}) };
          const [{ rows, more }, book] = await Promise.all([listPage(o, (q) => n.payments({ ...filter, ...q })), assetBook(n)]);
          return { json: rows, text: rows.length === 0 ? 'no payments' : paymentTable(rows, book) + more };
        },
      ),
    ),
  'lanes payments',
  'lanes payments --direction out --status failed --json',
  'lanes payments --limit 50 --offset 100',
);

example(
  program
    .command('swap <channel>')
    .description('exchange one asset for another inside a channel, atomically, if the counterparty accepts the price')
    .requiredOption('--give <amount>', 'what this node gives')
    .requiredOption('--give-asset <asset>', 'eth or a token address')
    .requiredOption('--take <amount>', 'what this node receives')
    .requiredOption('--take-asset <asset>', 'eth or a token address')
    .option('--expires-in <seconds>', 'seconds the offer stays valid', '60')
    .action(
      client(async (n, _g, id: string, o: { give: string; giveAsset: string; take: string; takeAsset: string; expiresIn: string }) => {
        const channelId = id.toLowerCase() as `0x${string}`;
        const [book, c] = await Promise.all([assetBook(n), n.channel(channelId)]);
        const give = assetNamed(book, o.giveAsset, c.assets, '--give-asset');
        const take = assetNamed(book, o.takeAsset, c.assets, '--take-asset');
        const r = await n.swap(channelId, {
          give: { asset: give, amount: amountOf(book, o.give, c.assets, give, 'give').amount },
          take: { asset: take, amount: amountOf(book, o.take, c.assets, take, 'take').amount },
          expiresIn: Number(o.expiresIn),
        });
        return {
          json: r,
          text: `swapped ${formatAmount(r.give.amount, r.give.asset, book)} for ${formatAmount(r.take.amount, r.take.asset, book)} (version ${r.version})`,
        };
      }),
    ),
  'lanes swap 0x3f2a… --give 0.1eth --give-asset eth --take 250 --take-asset 0xTOKEN',
);

example(
  program
    .command('deposit <channel> <amount>')
    .description('top up a channel on-chain and wait until a co-signed state credits it')
    .option('--asset <asset>', 'eth or a token address')
    .action(
      client(async (n, _g, id: string, amount: string, o: { asset?: string }) => {
        const channelId = id.toLowerCase() as `0x${string}`;
        const [book, ch] = await Promise.all([assetBook(n), n.channel(channelId)]);
        const p = amountOf(book, amount, ch.assets, o.asset === undefined ? undefined : assetNamed(book, o.asset, ch.assets));
        const c = await n.deposit(channelId, { amount: p.amount, ...(p.asset ? { asset: p.asset } : {}) });
        const asset = p.asset ?? (c.assets.length === 1 ? c.assets[0] : undefined);
        return {
          json: c,
          text: `deposited ${asset === undefined ? amount : formatAmount(p.amount, asset, book)}\n${channelDetails(c, book)}`,
        };
      }),
    ),
  'lanes deposit 0x3f2a… 0.5eth',
);

example(
  program
    .command('withdraw [asset]')
    .description(
      "withdraw this node's credited balances from the adjudicator (payouts credited instead of paid: a credit-mode batch, or a payout our address refused); every asset with a balance unless one is named",
    )
    .option('--to <address>', 'where the funds go (default: the node address)')
    .action(
      client(async (n, _g, name: string | undefined, o: { to?: string }) => {
        const a = asset(name);
        const to = o.to?.toLowerCase();
        if (to !== undefined && !isAddress(to)) throw new InvalidArgumentError(`--to "${o.to}" must be a 0x address of 40 hex digits`);
        const r = await n.withdraw({ ...(a ? { asset: a } : {}), ...(to ? { to } : {}) });
        const book = await assetBook(n);
        const lines = r.withdrawals.map(
          (w) => `withdrew ${formatAmount(w.amount, w.asset, book)} to ${r.to}\ntransaction ${w.transactionHash}`,
        );
        return { json: r, text: lines.length === 0 ? 'nothing to withdraw' : lines.join('\n') };
      }),
    ),
  'lanes withdraw',
  'lanes withdraw eth --to 0x70997970c51812dc3a010c7d01b50e0d17dc79c8',
  'lanes withdraw 0xTOKEN --json',
);

example(
  program
    .command('withdrawable')
    .description("show this node's credited balances on the adjudicator, waiting for `lanes withdraw`")
    .action(
      client(async (n) => {
        const [b, book] = await Promise.all([n.withdrawable(), assetBook(n)]);
        const lines = b.map((x) => formatAmount(x.amount, x.asset, book));
        return { json: b, text: lines.length === 0 ? 'nothing to withdraw' : lines.join('\n') };
      }),
    ),
  'lanes withdrawable',
  'lanes withdrawable --json',
);

const coordinator = program.command('coordinator').description('the settlement coordinator: batched closes and disputes, and a watchtower');

example(
  coordinator
    .command('start')
    .description('run a coordinator until interrupted; nodes reach it at its multiaddr (lanes node start --coordinator …)')
    .option(
      '--key-file <file>',
      'the key that pays gas and is its libp2p identity (default <data-dir>/coordinator.key, created on first start)',
    )
    .option('--chain-rpc <url>', 'JSON-RPC URL of the chain')
    .option('--adjudicator <address>', 'the LanesAdjudicator contract')
    .option('--listen <multiaddr...>', 'libp2p listen addresses', ['/ip4/127.0.0.1/tcp/0'])
    .option('--http-host <host>', 'status and metrics host', '127.0.0.1')
    .option('--http-port <port>', 'status and metrics port (0: any free port)', '0')
    .option('--max-batch <n>', 'most items in one transaction', '100')
    .option('--max-delay-ms <ms>', 'longest an item waits for its batch to fill', '2000')
    .addOption(
      new Option('--payout <mode>', 'push payouts to recipients, or credit their withdrawable balances')
        .choices(['transfer', 'credit'])
        .default('transfer'),
    )
    .option('--replace-after-ms <ms>', 'replace a transaction not mined after this long', '15000')
    .option('--rate-limit <n>', 'item submissions a second per peer (bursts of 10 s worth)', '100')
    .option('--max-watches-per-peer <n>', 'channels one peer may have watched', '10000')
    .option('--confirmations <n>', 'blocks on top of an event before the watchtower acts on it (default: 0 on dev chains, else 12)')
    .option('--chain-poll-ms <ms>', 'how often to ask the chain for new blocks and receipts (default 200; 1000-4000 for a public RPC)')
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .action(async function (this: Command, o: Record<string, string | string[]>) {
      const g = globals(this);
      if (!o.chainRpc) throw new InvalidArgumentError('give --chain-rpc');
      const adjudicator = String(o.adjudicator ?? '').toLowerCase();
      if (!isAddress(adjudicator)) throw new InvalidArgumentError('give --adjudicator with the contract address');
      const confirmations = o.confirmations === undefined ? undefined : String(o.confirmations);
      if (confirmations !== undefined && !/^\d{1,9}$/.test(confirmations))
        throw new InvalidArgumentError(`--confirmations must be a whole number of blocks (0 or more), got "${confirmations}"`);
      const pollMs = o.chainPollMs === undefined ? undefined : String(o.chainPollMs);
      if (pollMs !== undefined && !(/^\d{2,6}$/.test(pollMs) && Number(pollMs) <= 600_000))
        throw new InvalidArgumentError(`--chain-poll-ms "${pollMs}" must be a whole number of milliseconds, 10..600000`);
      const { runCoordinatorDaemon } = await import('../coordinator/daemon.ts');
      await runCoordinatorDaemon({
        dataDir: g.dataDir,
        ...(o.keyFile ? { keyFile: String(o.keyFile) } : {}),
        chainRpc: String(o.chainRpc),
        adjudicator,
        listen: o.listen as string[],
        httpHost: String(o.httpHost),
        httpPort: Number(o.httpPort),
        policy: { maxItems: Number(o.maxBatch), maxDelayMs: Number(o.maxDelayMs) },
        payout: o.payout as 'transfer' | 'credit',
        replaceAfterMs: Number(o.replaceAfterMs),
        rateLimit: Number(o.rateLimit),
        maxWatchesPerPeer: Number(o.maxWatchesPerPeer),
        ...(confirmations === undefined ? {} : { confirmations: Number(confirmations) }),
        ...(pollMs === undefined ? {} : { pollMs: Number(pollMs) }),
        logLevel: String(o.logLevel),
      });
    }),
  'lanes --data-dir ./coordinator coordinator start --chain-rpc http://127.0.0.1:8545 --adjudicator 0x5fbd…0aa3',
);

example(
  coordinator
    .command('status')
    .description("show the coordinator's queues and recent batches")
    .option('--url <url>', 'its status URL (default: read from <data-dir>/coordinator.json)')
    .action(async function (this: Command, o: { url?: string }) {
      const g = globals(this);
      let url = o.url;
      if (!url) {
        const file = join(g.dataDir, 'coordinator.json');
        if (!existsSync(file))
          throw new LanesError(`no coordinator is running for data directory ${g.dataDir}`, {
            code: 'COORDINATOR_NOT_RUNNING',
            details: 'give --url or --data-dir',
          });
        url = (readJsonFile(file, 'the coordinator writes it at every start: restart it, or give --url') as { statusUrl: string })
          .statusUrl;
      }
      const res = await fetch(`${url.replace(/\/$/, '')}/status`).catch((e: unknown) => {
        throw new LanesError(`the coordinator at ${url} is not reachable`, { code: 'COORDINATOR_NOT_RUNNING', cause: e });
      });
      if (!/^application\/json\b/i.test(res.headers.get('content-type') ?? ''))
        throw new LanesError(`${url} is not a Lanes coordinator's status (got ${res.headers.get('content-type') ?? 'no content type'})`, {
          code: 'COORDINATOR_NOT_RUNNING',
          details: 'give --url or --data-dir',
        });
      const s = (await res.json()) as CoordinatorStatusJson;
      if (g.json) return printJson(s);
      const queues = new Table({ head: ['kind', 'queued', 'submitted'], style: { head: [], border: [] } });
      for (const [kind, q] of Object.entries(s.queues)) queues.push([kind, q.queued, q.submitted]);
      const batches = new Table({
        head: ['batch', 'kind', 'items', 'status', 'settled', 'failed', 'gas/item', 'tx'],
        style: { head: [], border: [] },
      });
      for (const b of s.recentBatches)
        batches.push([b.id, b.kind, b.items, b.status, b.settled, b.failed, b.gasPerItem ?? '', shortHex(b.transactionHash)]);
      process.stdout.write(
        `coordinator ${s.address} (${s.peerId})\n${s.multiaddrs.join('\n')}\nwatching ${s.watched} channels, next nonce ${s.nextNonce}\nconfirmations ${s.confirmations}\n${queues.toString()}\n${s.recentBatches.length ? batches.toString() : 'no batches yet'}\n`,
      );
    }),
  'lanes --data-dir ./coordinator coordinator status',
);

interface CoordinatorStatusJson {
  address: string;
  peerId: string;
  multiaddrs: string[];
  nextNonce: string;
  confirmations: number;
  watched: number;
  queues: Record<string, { queued: number; submitted: number }>;
  recentBatches: {
    id: string;
    kind: string;
    items: number;
    status: string;
    settled: number;
    failed: number;
    gasPerItem?: string;
    transactionHash: string;
  }[];
}

const testnet = program
  .command('testnet')
  .description('a local network in real processes (chain, coordinator, nodes): measure it, or keep it up');

function intOption(v: string, name: string, min = 0): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be a whole number of at least ${min}, got "${v}"`);
  return n;
}

function topologyOptions(cmd: Command): Command {
  return cmd
    .option('--nodes <n>', 'node processes', '4')
    .addOption(new Option('--topology <shape>', 'how nodes are linked').choices(['star', 'ring', 'mesh']).default('ring'))
    .option('--channels-per-link <n>', 'channels between each linked pair', '2')
    .option('--swap-ratio <r>', 'share of swap channels (two assets), 0 to 1', '0.25')
    .option('--seed <n>', 'seed of the random mesh', '1')
    .option('--deposit <units>', 'whole ETH or tokens each side deposits per asset', '100')
    .option('--signer-workers <n>', 'signature worker threads per node (default: 1 if every node can have a core, else 0)')
    .option('--dir <dir>', 'data directories and logs');
}

interface TopologyFlags {
  nodes: string;
  topology: 'star' | 'ring' | 'mesh';
  channelsPerLink: string;
  swapRatio: string;
  seed: string;
  deposit: string;
  signerWorkers?: string;
  dir?: string;
  logLevel?: string;
}

function topologyFlags(o: TopologyFlags) {
  const swapRatio = Number(o.swapRatio);
  if (!(swapRatio >= 0 && swapRatio <= 1)) throw new InvalidArgumentError('--swap-ratio must be between 0 and 1');
  return {
    nodes: intOption(o.nodes, '--nodes', 2),
    topology: o.topology,
    channelsPerLink: intOption(o.channelsPerLink, '--channels-per-link', 1),
    swapRatio,
    seed: intOption(o.seed, '--seed'),
    deposit: BigInt(intOption(o.deposit, '--deposit', 1)),
    ...(o.signerWorkers === undefined ? {} : { signerWorkers: intOption(o.signerWorkers, '--signer-workers') }),
  };
}

example(
  topologyOptions(
    testnet
      .command('run', { isDefault: true })
      .description(
        'start a network, open channels, run payments and swaps on every node at once, close everything through the coordinator, check the chain, and report (exits non-zero if a check fails)',
      ),
  )
    .option('--duration <seconds>', 'how long the load runs', '20')
    .addOption(
      new Option(
        '--workload <kind>',
        'direct: payments and swaps inside each channel; routed: keysends between nodes with no channel, routed through the others (8 nodes, 16 in flight per node unless given)',
      )
        .choices(['direct', 'routed'])
        .default('direct'),
    )
    .option('--warmup <seconds>', 'the first part of the load, left out of the measured figures', '2')
    .option('--concurrency <n>', 'operations each node keeps in flight per channel (closed loop)', '128')
    .option('--rate <n>', 'open loop instead: operations per second per channel per node')
    .option('--amount <amount>', 'per payment and per swap leg (base units, or e.g. 1gwei)', '1gwei')
    .option('--swap-every <n>', 'in swap channels, every n-th operation is a swap (0: payments only)', '10')
    .option('--repeat <n>', 'loads to run one after the other on the same channels; the report shows the median', '1')
    .option('--warmup-runs <n>', 'loads to run first and leave out of the report', '0')
    .option('--out <dir>', 'where report.json and report.html go (default ./reports/testnet-<time>)')
    .option('--keep', 'keep the data directories and logs of a passing run')
    .option('--chain-rpc <url>', 'run on this existing chain instead of starting one (needs --funder-key)')
    .option('--funder-key <file>', 'key file (0600) of the account that deploys and funds everything on --chain-rpc')
    .option('--adjudicator <address>', 'on --chain-rpc: use this adjudicator (lanes deploy) instead of deploying one')
    .option('--confirmations <n>', "on --chain-rpc: the chain's confirmation depth, for the deployment and every node")
    .addOption(
      new Option('--log-level <level>', "the daemons' log level (in their log files)")
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('warn'),
    )
    .action(async function (this: Command, o: TopologyFlags & Record<string, string | boolean | undefined>) {
      const g = globals(this);
      const chain = existingChain(o);
      const { runTestnet } = await import('../testnet/run.ts');
      const { createProgress } = await import('../testnet/progress.ts');
      const out = o.out ? String(o.out) : join('reports', `testnet-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      const routed = o.workload === 'routed';
      const given = (name: string) => this.getOptionValueSource(name) !== 'default';
      const report = await runTestnet(
        {
          ...topologyFlags({ ...o, ...(routed && !given('nodes') ? { nodes: '8' } : {}) }),
          ...(routed ? { workload: 'routed' as const, swapRatio: 0 } : {}),
          durationMs: intOption(String(o.duration), '--duration', 1) * 1000,
          warmupMs: Math.round(Number(o.warmup) * 1000),
          concurrency: routed && !given('concurrency') ? 16 : intOption(String(o.concurrency), '--concurrency', 1),
          ...(o.rate === undefined ? {} : { rate: intOption(String(o.rate), '--rate', 1) }),
          amount: parseAmount(String(o.amount), '--amount'),
          swapEvery: intOption(String(o.swapEvery), '--swap-every'),
          repetitions: intOption(String(o.repeat), '--repeat', 1),
          warmupRuns: intOption(String(o.warmupRuns), '--warmup-runs'),
          out,
          ...(o.dir ? { dir: String(o.dir) } : {}),
          keep: o.keep === true,
          logLevel: String(o.logLevel),
          ...(chain ? { chain } : {}),
        },
        createProgress({ quiet: g.json === true }),
      );
      if (g.json) printJson(report);
      else {
        const { summaryText } = await import('../testnet/summary.ts');
        process.stdout.write(summaryText(report) + '\n');
      }
      if (!report.ok) process.exitCode = 1;
    }),
  'lanes testnet',
  'lanes testnet --nodes 6 --topology mesh --duration 30 --concurrency 64',
  'lanes testnet --topology star --rate 2000 --json > report.json',
  'lanes testnet --workload routed --nodes 8 --topology ring --duration 20',
  'lanes testnet --chain-rpc http://127.0.0.1:8545 --funder-key funder.key --nodes 2 --duration 5 --deposit 1',
);

/** `--chain-rpc URL --funder-key F [--adjudicator A] [--confirmations N]` of `lanes testnet`, checked. */
function existingChain(o: Record<string, string | boolean | undefined>) {
  if (o.chainRpc === undefined) {
    for (const flag of ['funderKey', 'adjudicator', 'confirmations'])
      if (o[flag] !== undefined)
        throw new InvalidArgumentError(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --chain-rpc`);
    return undefined;
  }
  if (o.funderKey === undefined) throw new InvalidArgumentError('--chain-rpc needs --funder-key: the account that pays for the testnet');
  const adjudicator = o.adjudicator === undefined ? undefined : String(o.adjudicator).toLowerCase();
  if (adjudicator !== undefined && !isAddress(adjudicator)) throw new InvalidArgumentError('--adjudicator must be a 0x address');
  const confirmations = confirmationsOption(o.confirmations === undefined ? undefined : String(o.confirmations));
  const key = readKeyFile(String(o.funderKey));
  const funderKey = bytesToHex(key);
  key.fill(0);
  return {
    rpcUrl: String(o.chainRpc),
    funderKey,
    ...(adjudicator === undefined ? {} : { adjudicator }),
    ...(confirmations === undefined ? {} : { confirmations }),
  };
}

example(
  topologyOptions(testnet.command('up').description('start a network and keep it running until Ctrl-C; writes network.json'))
    .option('--no-channels', 'start the nodes without opening channels')
    .addOption(
      new Option('--log-level <level>', "the daemons' log level (in their log files)")
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .action(async function (this: Command, o: TopologyFlags & { channels: boolean }) {
      const g = globals(this);
      const { testnetUp, describeNetwork } = await import('../testnet/up.ts');
      const { createProgress } = await import('../testnet/progress.ts');
      const { onStopSignal } = await import('../runtime/stop-signals.ts');
      const dir = o.dir ?? join('.lanes', 'testnet');
      // A stop signal while the network starts ends this process at once: the exit hooks kill
      // what was started (nothing of value is in it yet). Once up, a signal stops it cleanly.
      let stopNow = (signal: string): void => {
        process.stderr.write(`\n${signal}: stopping what was started…\n`);
        process.exit(130);
      };
      const stopSignals = onStopSignal((signal) => stopNow(signal));
      const progress = createProgress({ quiet: g.json === true });
      const up = await testnetUp({ ...topologyFlags(o), dir, channels: o.channels, logLevel: String(o.logLevel) }, progress);
      progress.close();
      if (g.json) printJson(up.info);
      else process.stdout.write(describeNetwork(up.info, dir) + '\n');
      await new Promise<void>((resolveStop) => {
        const shutdown = (signal: string) => {
          process.stderr.write(`\n${signal}: stopping every process…\n`);
          void up.stop().then(resolveStop, resolveStop);
        };
        stopNow = shutdown;
      });
      stopSignals();
      process.stderr.write('stopped\n');
    }),
  'lanes testnet up',
  'lanes testnet up --nodes 3 --topology star --dir ./my-testnet',
);

// ---------------------------------------------------------------------------------------------

program.parseAsync(process.argv).catch((e: unknown) => {
  const json = program.opts<Globals>().json;
  if (e instanceof LanesError) {
    process.stderr.write(`lanes: ${e.shortMessage}${e.details ? `\n  ${e.details}` : ''}\n`);
    if (json) printJson({ error: e.toJSON() });
  } else {
    process.stderr.write(`lanes: ${e instanceof Error ? e.message : String(e)}\n`);
    if (json) printJson({ error: { code: 'ERROR', message: e instanceof Error ? e.message : String(e) } });
  }
  process.exitCode = 1;
});
