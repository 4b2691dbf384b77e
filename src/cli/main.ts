/**
 * The `lanes` command line: runs a node daemon and talks to it.
 *
 *   lanes keygen                                  create a node key
 *   lanes node start --chain-rpc URL --adjudicator ADDR
 *   lanes channel open --peer MULTIADDR --deposit 1eth
 *   lanes pay CHANNEL 0.01eth
 *
 * Client commands find the daemon through the data directory (--data-dir, default
 * ./lanes-data or $LANES_DATA_DIR), or through --rpc URL --token-file FILE.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Table from 'cli-table3';
import { Command, Option } from 'commander';
import { type Address, NATIVE_ASSET, isAddress } from '../core/bytes.ts';
import { InvalidArgumentError, LanesError } from '../core/errors.ts';
import type { DaemonConfig } from '../daemon/daemon.ts';
import { createKeyFile } from '../daemon/key-file.ts';
import type { OpenPolicy, SwapPolicy } from '../node/policy.ts';
import { peerRefFromPrivateKey } from '../p2p/peer.ts';
import type { RemoteNode } from '../sdk/connect.ts';
import { daemon } from './client.ts';
import { channelDetails, channelTable, printJson } from './output.ts';
import { formatAmount, parseAmount, shortHex } from './units.ts';

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

/** Runs a client command against the daemon; prints JSON or text; turns errors into exit codes. */
function client<A extends unknown[]>(run: (node: RemoteNode, g: Globals, ...args: A) => Promise<{ json: unknown; text: string }>) {
  return async function (this: Command, ...args: A) {
    const g = globals(this);
    const node = await daemon(g);
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
    .action(function (this: Command, o: { out?: string }) {
      const g = globals(this);
      const file = o.out ?? join(g.dataDir, 'node.key');
      if (!o.out) mkdirSync(g.dataDir, { recursive: true, mode: 0o700 });
      const key = createKeyFile(file);
      const peer = peerRefFromPrivateKey(key);
      key.fill(0);
      const result = { keyFile: file, address: peer.address, peerId: peer.peerId };
      if (g.json) printJson(result);
      else process.stdout.write(`wrote ${file}\naddress ${peer.address}\npeer id ${peer.peerId}\n`);
    }),
  'lanes keygen --out alice.key',
);

const node = program.command('node').description('run and inspect the node daemon');

interface StartOptions {
  config?: string;
  keyFile?: string;
  listen?: string[];
  chainRpc?: string;
  adjudicator?: string;
  coordinator?: string;
  apiHost?: string;
  apiPort?: string;
  logLevel?: string;
  maxDeposit?: string[];
  signerWorkers?: string;
}

interface ConfigFile {
  dataDir?: string;
  keyFile?: string;
  listen?: string[];
  chainRpc?: string;
  adjudicator?: string;
  coordinator?: string;
  api?: { host?: string; port?: number };
  logLevel?: string;
  signerWorkers?: number;
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
    .option('--listen <multiaddr...>', 'libp2p listen addresses (default /ip4/127.0.0.1/tcp/0)')
    .option('--chain-rpc <url>', 'JSON-RPC URL of the chain')
    .option('--adjudicator <address>', 'the LanesAdjudicator contract')
    .option('--coordinator <multiaddr>', 'the settlement coordinator to use')
    .option('--api-host <host>', 'control API host', '127.0.0.1')
    .option('--api-port <port>', 'control API port (0: any free port)', '0')
    .option('--max-deposit <asset=amount...>', 'accept channel opens that ask us to deposit up to this (e.g. eth=1eth)')
    .option('--signer-workers <n>', 'worker threads for signatures (0: main thread)')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .action(async function (this: Command, o: StartOptions) {
      const g = globals(this);
      const file: ConfigFile = o.config ? (JSON.parse(readFileSync(o.config, 'utf8')) as ConfigFile) : {};
      const chainRpc = o.chainRpc ?? file.chainRpc;
      const adjudicator = o.adjudicator ?? file.adjudicator;
      if (!chainRpc) throw new InvalidArgumentError('give --chain-rpc (or chainRpc in the config file)');
      if (!adjudicator || !isAddress(adjudicator.toLowerCase()))
        throw new InvalidArgumentError('give --adjudicator with the contract address');
      const dataDir = (this.getOptionValueSource('dataDir') === 'default' && file.dataDir) || g.dataDir;
      const open = openPolicy(file.policies, o.maxDeposit);
      const swap = swapPolicy(file.policies);
      const workers = o.signerWorkers ?? file.signerWorkers;
      const config: DaemonConfig = {
        dataDir,
        listen: o.listen ?? file.listen ?? ['/ip4/127.0.0.1/tcp/0'],
        chainRpc,
        adjudicator: adjudicator.toLowerCase() as Address,
        apiHost: this.getOptionValueSource('apiHost') === 'default' ? (file.api?.host ?? o.apiHost!) : o.apiHost!,
        apiPort: Number(this.getOptionValueSource('apiPort') === 'default' ? (file.api?.port ?? o.apiPort) : o.apiPort),
        logLevel: o.logLevel ?? file.logLevel ?? 'info',
        ...((o.keyFile ?? file.keyFile) ? { keyFile: (o.keyFile ?? file.keyFile)! } : {}),
        ...((o.coordinator ?? file.coordinator) ? { coordinator: (o.coordinator ?? file.coordinator)! } : {}),
        ...(open || swap ? { policies: { ...(open ? { open } : {}), ...(swap ? { swap } : {}) } } : {}),
        ...(workers === undefined ? {} : { signerWorkers: Number(workers) }),
      };
      // Loaded only here: client commands stay light (no libp2p, lmdb or viem to load).
      const { runDaemon } = await import('../daemon/daemon.ts');
      await runDaemon(config);
    }),
  'lanes node start --chain-rpc http://127.0.0.1:8545 --adjudicator 0x5fbd…0aa3 --listen /ip4/127.0.0.1/tcp/4001',
  'lanes --data-dir ./bob node start --config bob.json --max-deposit eth=2eth',
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
            `signer     ${i.signer}`,
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
          },
        ) => {
          const c = await n.openChannel({
            peer: o.peer,
            deposit: o.deposit.map((a) => parseAmount(a, 'deposit')),
            ...(o.asset ? { assets: o.asset.map((a) => asset(a)!) } : {}),
            ...(o.counterpartyDeposit
              ? { counterpartyDeposit: o.counterpartyDeposit.map((a) => parseAmount(a, 'counterparty deposit')) }
              : {}),
            challengeDuration: BigInt(parseAmount(o.challengeDuration, 'challenge duration')),
            waitFor: o.wait ? 'open' : 'signed',
          });
          return { json: c, text: `opened channel ${c.id} (${c.status})\n${channelDetails(c)}` };
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
        return { json: cs, text: cs.length === 0 ? 'no channels' : channelTable(cs) };
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
        return { json: c, text: channelDetails(c) };
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
    .option('--no-wait', 'return once the settlement is submitted')
    .action(
      client(async (n, _g, id: string, o: { force?: boolean; direct?: boolean; wait: boolean }) => {
        const r = await n.close(id.toLowerCase() as `0x${string}`, {
          mode: o.force ? 'force' : 'cooperative',
          waitFor: o.wait ? 'closed' : 'submitted',
          ...(o.direct ? { direct: true } : {}),
        });
        return {
          json: r,
          text: `channel ${shortHex(r.channelId)} ${r.status} (${r.mode}${r.via ? `, via ${r.via}` : ''}, version ${r.version})${r.transactionHash ? `\ntransaction ${r.transactionHash}` : ''}`,
        };
      }),
    ),
  'lanes channel close 0x3f2a…',
  'lanes channel close 0x3f2a… --force',
  'lanes channel close 0x3f2a… --direct',
);

example(
  program
    .command('pay <channel> <amount>')
    .description('pay the counterparty; returns once a state carrying the payment is signed by both and stored')
    .option('--asset <asset>', 'eth or a token address (needed in a channel of several assets)')
    .action(
      client(async (n, _g, id: string, amount: string, o: { asset?: string }) => {
        const a = asset(o.asset);
        const r = await n.pay(id.toLowerCase() as `0x${string}`, { amount: parseAmount(amount), ...(a ? { asset: a } : {}) });
        return { json: r, text: `paid ${formatAmount(r.amount, r.asset)} in channel ${shortHex(r.channelId)} (version ${r.version})` };
      }),
    ),
  'lanes pay 0x3f2a… 0.01eth',
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
        const r = await n.swap(id.toLowerCase() as `0x${string}`, {
          give: { asset: asset(o.giveAsset)!, amount: parseAmount(o.give, 'give') },
          take: { asset: asset(o.takeAsset)!, amount: parseAmount(o.take, 'take') },
          expiresIn: Number(o.expiresIn),
        });
        return {
          json: r,
          text: `swapped ${formatAmount(r.give.amount, r.give.asset)} for ${formatAmount(r.take.amount, r.take.asset)} (version ${r.version})`,
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
        const a = asset(o.asset);
        const c = await n.deposit(id.toLowerCase() as `0x${string}`, { amount: parseAmount(amount), ...(a ? { asset: a } : {}) });
        return { json: c, text: `deposited ${amount}\n${channelDetails(c)}` };
      }),
    ),
  'lanes deposit 0x3f2a… 0.5eth',
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
        url = (JSON.parse(readFileSync(file, 'utf8')) as { statusUrl: string }).statusUrl;
      }
      const res = await fetch(`${url.replace(/\/$/, '')}/status`).catch((e: unknown) => {
        throw new LanesError(`the coordinator at ${url} is not reachable`, { code: 'COORDINATOR_NOT_RUNNING', cause: e });
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
        `coordinator ${s.address} (${s.peerId})\n${s.multiaddrs.join('\n')}\nwatching ${s.watched} channels, next nonce ${s.nextNonce}\n${queues.toString()}\n${s.recentBatches.length ? batches.toString() : 'no batches yet'}\n`,
      );
    }),
  'lanes --data-dir ./coordinator coordinator status',
);

interface CoordinatorStatusJson {
  address: string;
  peerId: string;
  multiaddrs: string[];
  nextNonce: string;
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
