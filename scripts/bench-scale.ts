/**
 * The "scale" scenario (issue 15): how opening time, restart time and memory grow with the
 * number of channels a node holds.
 *
 *   open      `startTestnet` (an automining EDR chain, a coordinator, 2 node daemons through the
 *             `lanes` CLI); node-0 opens channels to node-1 through `connect()`, both sides
 *             depositing, `--open-concurrency` opens in flight (the follower takes at most 16
 *             unfunded channels per peer: `--max-pending-channels`), each waited for until open on
 *             both sides. Only counts up to `--open-max` are opened on-chain (2026-12-03: 1,000 in 8.7 s,
 *             10,000 in 63 s; 100,000 would take over 10 minutes and two nodes of ~1.2 GiB each,
 *             so it is not a default); the time to each count is reported.
 *   restart   for every count: a fresh data directory whose lmdb store gets `count` open channel
 *             records and their latest co-signed states (version 1, signed by both keys) written
 *             directly with the store's own writer (src/store/lmdb-store.ts) — not opened on-chain.
 *             The counterparty is a key that is never online. Then `lanes node start` on the same
 *             chain: started once (a first start from that store), stopped, and started again: the
 *             restart. Each time: spawn → the control API answers `info()`; RSS once it idles (2 s)
 *             and its peak (VmHWM); then how long listing every channel takes, and that all are there.
 *
 * Targets: 1,000 channels open in ≤ 20 s; a node with 100,000 channels restarts in ≤ 5 s and holds
 * them in ≤ 2 GiB RSS.
 *
 *   node scripts/bench-scale.ts [--counts 1000,10000,100000] [--open-max 1000] [--open-concurrency 16] [--json]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Address, type Bytes32, NATIVE_ASSET } from '../src/core/bytes.ts';
import { type ChannelParams, channelId } from '../src/core/params.ts';
import type { ChannelState } from '../src/core/state.ts';
import { signState } from '../src/core/validate.ts';
import { bestBackend } from '../src/crypto/select-backend.ts';
import { API_JSON, API_TOKEN } from '../src/files/daemon-files.ts';
import { createKeyFile, generateKey } from '../src/files/key-file.ts';
import { peerRefFromPrivateKey } from '../src/p2p/peer.ts';
import type { ChannelInfo } from '../src/sdk/api.ts';
import { connect } from '../src/sdk/connect.ts';
import { RejectedError } from '../src/sdk/errors.ts';
import { openLmdbStore } from '../src/store/lmdb-store.ts';
import { createClients, deployAdjudicator } from '../src/chain/chain-service.ts';
import { DEV_KEYS, startLocalChain } from '../src/chain/local-chain.ts';

const { values: args } = parseArgs({
  options: {
    counts: { type: 'string', default: '1000,10000,100000' },
    'open-max': { type: 'string', default: '1000' },
    'open-concurrency': { type: 'string', default: '64' },
    json: { type: 'boolean', default: false },
  },
});
const counts = args.counts
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isSafeInteger(n) && n > 0)
  .sort((a, b) => a - b);
const openMax = Number(args['open-max']);
const openConcurrency = Number(args['open-concurrency']);
const log = (m: string) => process.stderr.write(`${m}\n`);
const BIN = fileURLToPath(new URL('../bin/lanes.js', import.meta.url));
const ETHER = 10n ** 18n;
const TARGETS = { open1kSeconds: 20, restart100kSeconds: 5, rss100kBytes: 2 * 1024 ** 3 };

/** VmRSS and VmHWM of a process, bytes. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

const root = mkdtempSync(join(tmpdir(), 'lanes-bench-scale-'));
log(`… scale: counts ${counts.join(', ')}; opened on-chain up to ${openMax}, ${openConcurrency} in flight`);
const chain = await startLocalChain();
const deployer = await createClients({ rpc: chain.rpcUrl, privateKey: DEV_KEYS[0], pollingIntervalMs: 20 });
const adjudicator = await deployAdjudicator(deployer);
const running: { stop(): Promise<void> }[] = [];
let failed = false;
try {
  // ---------------------------------------------------------------------------------------------
  // Opening on-chain, between two daemons of their own.
  const toOpen = counts.filter((c) => c <= openMax);
  const open: { channels: number; seconds: number; perSecond: number }[] = [];
  let openRefusals = 0;
  let openTransactions = 0;
  if (toOpen.length > 0) {
    const total = toOpen.at(-1)!;
    const daemon = async (name: string, extra: string[]) => {
      const dataDir = join(root, name);
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const key = createKeyFile(join(dataDir, 'node.key'));
      const address = peerRefFromPrivateKey(key).address;
      key.fill(0);
      await deployer.publicClient.request({
        method: 'hardhat_setBalance' as never,
        params: [address, `0x${(1_000_000n * ETHER).toString(16)}`] as never,
      });
      const n = await startNode(dataDir, extra);
      running.push(n);
      return { ...n, multiaddr: (await n.api.info()).multiaddrs[0]! };
    };
    const opener = await daemon('opener', []);
    const acceptor = await daemon('acceptor', [
      '--max-deposit',
      'eth=1eth',
      '--max-pending-channels',
      String(Math.max(16, 2 * openConcurrency)),
    ]);
    const blockBefore = await deployer.publicClient.getBlockNumber();
    const ids: Bytes32[] = [];
    let next = 0;
    let done = 0;
    let refusedPending = 0;
    const t0 = performance.now();
    const marks = new Set(toOpen);
    log(`… opening ${total} channels between two daemons`);
    await Promise.all(
      Array.from({ length: Math.min(openConcurrency, total) }, async () => {
        while (next < total) {
          next++;
          let ch: ChannelInfo | undefined;
          while (ch === undefined) {
            try {
              ch = await opener.api.openChannel({
                peer: acceptor.multiaddr,
                deposit: [ETHER / 1000n],
                counterpartyDeposit: [ETHER / 1000n],
                waitFor: 'open',
              });
            } catch (e) {
              // The follower still counts channels as funding that the opener sees open already.
              if (!(e instanceof RejectedError) || !e.shortMessage.includes('wait for funding')) throw e;
              refusedPending++;
              await new Promise((r) => setTimeout(r, 20));
            }
          }
          ids.push(ch.id);
          done++;
          if (marks.has(done)) {
            const seconds = (performance.now() - t0) / 1000;
            open.push({ channels: done, seconds, perSecond: done / seconds });
            log(`  ${done} open on the opener after ${seconds.toFixed(1)} s`);
          }
          if (done % 100 === 0 && !marks.has(done)) log(`  ${done} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
        }
      }),
    );
    // Open counts once the follower has them open too.
    for (;;) {
      const states = await acceptor.api.channels();
      const openOnBoth = new Set(states.filter((x) => x.status === 'open').map((x) => x.id));
      if (ids.every((id) => openOnBoth.has(id))) break;
      if (performance.now() - t0 > 3600_000) throw new Error('the follower never saw every channel open');
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - t0) / 1000;
    open.at(-1)!.seconds = Math.max(open.at(-1)!.seconds, seconds);
    open.at(-1)!.perSecond = total / open.at(-1)!.seconds;
    openRefusals = refusedPending;
    // Automine: one block per transaction.
    openTransactions = Number((await deployer.publicClient.getBlockNumber()) - blockBefore);
    log(
      `  ${total} open on both sides after ${seconds.toFixed(1)} s, ${openTransactions} transactions (${refusedPending} opens refused for the pending limit and retried)`,
    );
    for (const n of running.splice(0)) await n.stop();
  }

  // ---------------------------------------------------------------------------------------------
  // Restart and memory, from records written into the store.
  const backend = bestBackend();
  const restart: {
    channels: number;
    writeSeconds: number;
    storeBytes: number;
    firstStartSeconds: number;
    restartSeconds: number;
    rssBytes: number;
    peakRssBytes: number;
    listSeconds: number;
    listed: number;
  }[] = [];
  for (const count of counts) {
    const dataDir = join(root, `node-${count}`);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const key = createKeyFile(join(dataDir, 'node.key'));
    const self = peerRefFromPrivateKey(key);
    const peerKey = generateKey();
    const peer = peerRefFromPrivateKey(peerKey);
    log(`… ${count} channels: writing records and states into ${dataDir}/store`);
    const tw = performance.now();
    const store = await openLmdbStore({ path: join(dataDir, 'store') });
    const deposit = ETHER / 1000n;
    for (let i = 0; i < count; i++) {
      const params: ChannelParams = {
        chainId: BigInt(chain.chainId),
        adjudicator,
        participants: [self.address, peer.address],
        assets: [NATIVE_ASSET as Address],
        challengeDuration: 3600n,
        nonce: BigInt(i + 1),
      };
      const id = channelId(params);
      const state: ChannelState = { channelId: id, version: 1n, balances: [[deposit - 1000n, deposit + 1000n]], locks: [], isFinal: false };
      store.putRecord({
        id,
        params,
        self: 0,
        peer: { peerId: peer.peerId, multiaddrs: [`/ip4/127.0.0.1/tcp/9/p2p/${peer.peerId}`] },
        status: 'open',
        deposits: [[deposit, deposit]],
        depositFacts: [
          { asset: 0, participant: 0, amount: deposit, holdingsAfter: deposit },
          { asset: 0, participant: 1, amount: deposit, holdingsAfter: 2n * deposit },
        ],
        burnedVersion: 0n,
        versionLease: 64n,
        nextOpId: 2n,
        createdAt: Date.now(),
      });
      store.putState(id, { state, signatures: [signState(backend, params, state, key), signState(backend, params, state, peerKey)] });
      if (i % 5000 === 4999) await store.flush();
    }
    await store.flush();
    await store.close();
    key.fill(0);
    const writeSeconds = (performance.now() - tw) / 1000;
    const storeBytes = duBytes(join(dataDir, 'store'));
    const first = await startNode(dataDir, []);
    await first.stop();
    const again = await startNode(dataDir, []);
    await new Promise((r) => setTimeout(r, 2000));
    const mem = memoryOf(again.pid);
    const tl = performance.now();
    const listed = (await again.api.channels()).length;
    const listSeconds = (performance.now() - tl) / 1000;
    await again.stop();
    if (listed !== count) throw new Error(`the node lists ${listed} channels, not ${count}`);
    restart.push({
      channels: count,
      writeSeconds,
      storeBytes,
      firstStartSeconds: first.seconds,
      restartSeconds: again.seconds,
      rssBytes: mem.rss,
      peakRssBytes: mem.peak,
      listSeconds,
      listed,
    });
    log(
      `  first start ${first.seconds.toFixed(2)} s, restart ${again.seconds.toFixed(2)} s, RSS ${mib(mem.rss)} (peak ${mib(mem.peak)}), listing ${listSeconds.toFixed(2)} s`,
    );
    rmSync(dataDir, { recursive: true, force: true });
  }

  // ---------------------------------------------------------------------------------------------
  const open1k = open.find((o) => o.channels === 1000);
  const r100k = restart.find((r) => r.channels === 100_000);
  const targets = [
    {
      target: '1,000 channels between two nodes open in ≤ 20 s on EDR',
      measured: open1k?.seconds,
      goal: TARGETS.open1kSeconds,
      met: open1k ? open1k.seconds <= TARGETS.open1kSeconds : undefined,
    },
    {
      target: 'a node with 100,000 channels restarts in ≤ 5 s',
      measured: r100k?.restartSeconds,
      goal: TARGETS.restart100kSeconds,
      met: r100k ? r100k.restartSeconds <= TARGETS.restart100kSeconds : undefined,
    },
    {
      target: 'a node holds 100,000 channels in ≤ 2 GiB RSS',
      measured: r100k?.rssBytes,
      goal: TARGETS.rss100kBytes,
      met: r100k ? Math.max(r100k.rssBytes, r100k.peakRssBytes) <= TARGETS.rss100kBytes : undefined,
    },
  ];
  const result = {
    method: {
      open: `on-chain through the daemons (EDR, automine), ${openConcurrency} opens in flight, both sides deposit; counts up to ${openMax}`,
      restart:
        'records and co-signed states written directly into a fresh lmdb store (not opened on-chain), counterparty offline; restart = spawn of `lanes node start` until info() answers, second start of that store',
    },
    open,
    openRefusedForPendingLimit: openRefusals,
    openTransactions,
    restart,
    targets,
  };
  if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    console.log('\nscale: opening on-chain (EDR automine, through the daemons)');
    for (const o of open)
      console.log(
        `  ${o.channels.toLocaleString('en-US').padStart(7)} channels open in ${o.seconds.toFixed(1)} s (${o.perSecond.toFixed(1)}/s)`,
      );
    if (counts.some((c) => c > openMax)) console.log(`  above ${openMax.toLocaleString('en-US')}: not opened on-chain`);
    console.log('scale: restart and memory (records written straight into the store)');
    for (const r of restart)
      console.log(
        `  ${r.channels.toLocaleString('en-US').padStart(7)} channels: restart ${r.restartSeconds.toFixed(2)} s (first start ${r.firstStartSeconds.toFixed(2)} s), RSS ${mib(r.rssBytes)} (peak ${mib(r.peakRssBytes)}), store ${mib(r.storeBytes)}, listing all ${r.listSeconds.toFixed(2)} s`,
      );
    for (const t of targets) {
      const status = t.met === undefined ? 'n/a   ' : t.met ? 'met   ' : 'MISSED';
      const shown =
        t.measured === undefined
          ? 'not measured at this count'
          : t.target.includes('RSS')
            ? `${mib(t.measured)} of ${mib(t.goal)}`
            : `${t.measured.toFixed(2)} s of ${t.goal} s`;
      console.log(`  ${status} ${t.target}: ${shown}`);
    }
  }
} catch (e) {
  failed = true;
  throw e;
} finally {
  for (const n of running) await n.stop().catch(() => undefined);
  await chain.stop();
  if (!failed) rmSync(root, { recursive: true, force: true });
  else log(`data and logs kept in ${root}`);
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 1024 ** 2).toLocaleString('en-US')} MiB`;
}

/** Bytes the files of a directory take on disk (lmdb's data file is sparse: its size is not its use). */
function duBytes(dir: string): number {
  let sum = 0;
  for (const name of readdirSync(dir)) {
    const st = statSync(join(dir, name));
    if (st.isFile()) sum += st.blocks * 512;
  }
  return sum;
}

/** `lanes node start` on a data directory: timed from spawn until the control API answers. */
async function startNode(
  dataDir: string,
  extra: readonly string[],
): Promise<{ pid: number; seconds: number; api: Awaited<ReturnType<typeof connect>>; stop(): Promise<void> }> {
  const t0 = performance.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      BIN,
      '--data-dir',
      dataDir,
      'node',
      'start',
      '--chain-rpc',
      chain.rpcUrl,
      '--adjudicator',
      adjudicator,
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--log-level',
      'warn',
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NO_COLOR: '1' } },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const file = join(dataDir, API_JSON);
    let url: string | undefined;
    while (url === undefined) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`lanes node start exited (${child.exitCode ?? child.signalCode})`);
      if (performance.now() - t0 > 600_000) throw new Error('lanes node start did not start within 600 s');
      if (existsSync(file)) {
        try {
          const j = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; url: string };
          if (j.pid === child.pid) url = j.url;
        } catch {
          // being written
        }
      }
      if (url === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    const api = await connect({ url, token: readFileSync(join(dataDir, API_TOKEN), 'utf8').trim(), timeoutMs: 600_000 });
    const seconds = (performance.now() - t0) / 1000;
    return {
      pid: child.pid!,
      seconds,
      api,
      async stop() {
        await api.stop();
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.kill('SIGTERM');
        await exited;
        clearTimeout(timer);
      },
    };
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
}
