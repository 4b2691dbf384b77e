/**
 * Routed payments over 3-hop routes (issue 14): four node processes in a line
 * alice — bob — carol — dave on libp2p over TCP and an EDR chain process, public channels
 * funded on both sides, announced over graph gossip; bob and carol forward for a fee.
 *
 *   idle      one keysend at a time alice → dave: latency p50/p99 of a payment on an idle network;
 *   loaded    alice → dave and dave → alice at once, `--concurrency` payments in flight each:
 *             routed payments/s (aggregate), success rate, p50/p99.
 *
 *   node scripts/bench-routed.ts [--seconds 8] [--concurrency 64] [--idle 200] [--json]
 *
 * Every payment is a real routed keysend: a route from the payer's graph, an onion (one ECDH per
 * hop for the payer, one per hop to peel), three locks and three settles co-signed on three
 * channels, and the payer's and payee's records on disk.
 */
import { parseArgs } from 'node:util';
import { createClients, deployAdjudicator } from '../src/chain/chain-service.ts';
import { DEV_KEYS, startLocalChain } from '../src/chain/local-chain.ts';
import type { Bytes32 } from '../src/core/bytes.ts';
import type { ChannelInfo } from '../src/sdk/api.ts';
import { actor } from '../test/helpers/actors.ts';
import { freePort, keyHex } from '../test/helpers/local-net.ts';
import { type ProcessNode, spawnNode } from '../test/helpers/process-node.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '64' },
    idle: { type: 'string', default: '200' },
    json: { type: 'boolean', default: false },
  },
});
const log = (m: string) => process.stderr.write(`${m}\n`);
const ETHER = 10n ** 18n;
const NAMES = ['alice', 'bob', 'carol', 'dave'] as const;
const actors = NAMES.map((n) => actor(n));

const quantile = (xs: readonly number[], q: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

const chain = await startLocalChain();
const root = mkdtempSync(join(tmpdir(), 'lanes-bench-routed-'));
const nodes: ProcessNode[] = [];
try {
  const deployer = await createClients({ rpc: chain.rpcUrl, privateKey: DEV_KEYS[0], pollingIntervalMs: 20 });
  const adjudicator = await deployAdjudicator(deployer);
  for (const a of actors)
    await deployer.publicClient.request({
      method: 'hardhat_setBalance' as never,
      params: [a.address, `0x${(1000n * ETHER).toString(16)}`] as never,
    });
  for (const [i, a] of actors.entries())
    nodes.push(
      await spawnNode({
        port: await freePort(),
        privateKey: keyHex(a),
        dataDir: mkdtempSync(join(root, `${NAMES[i]}-`)),
        rpc: chain.rpcUrl,
        adjudicator,
        acceptOpens: true,
        graph: true,
        // The node's own default, and no JSON line per payment event: the bench measures the
        // nodes, not its fixture (lines were ~2% of each end's CPU, 50 ms polls ~3% of each node).
        chainPollMs: 250,
        quietPayments: true,
      }),
    );
  const ids: Bytes32[] = [];
  for (let i = 0; i < 3; i++) {
    const ch = await nodes[i]!.call<ChannelInfo>('openChannel', {
      peer: nodes[i + 1]!.info.multiaddrs[0],
      deposit: [100n * ETHER],
      counterpartyDeposit: [100n * ETHER],
    });
    ids.push(ch.id);
  }
  for (let i = 0; i < 3; i++) await nodes[i]!.call('announce', ids[i]);
  const policy = { feeBase: 1000n, feePpm: 100, minAmount: 1n, maxAmount: 10n ** 24n };
  // Both directions of the middle channels forward: bob and carol each announce theirs.
  await nodes[1]!.call('setPolicy', ids[1], policy);
  await nodes[2]!.call('setPolicy', ids[2], policy);
  await nodes[1]!.call('setPolicy', ids[0], policy);
  await nodes[2]!.call('setPolicy', ids[1], policy);
  for (const [n, want] of [
    [0, [ids[1], ids[2]]],
    [3, [ids[0], ids[1]]],
  ] as const) {
    for (let i = 0; !(await nodes[n]!.call<boolean>('graphHas', want)); i++) {
      if (i > 600) throw new Error('the graph did not reach the payers');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const amount = 10n ** 12n;
  log('… warm-up');
  await nodes[0]!.call('routedStream', actors[3]!.address, amount, { count: 200, concurrency: 8 });
  log(`… idle: ${args.idle} payments alice → dave, one at a time`);
  const idle = await nodes[0]!.call<{ latencies: number[]; settled: number; failed: number }>('routedStream', actors[3]!.address, amount, {
    count: Number(args.idle),
    concurrency: 1,
  });
  const ms = Number(args.seconds) * 1000;
  const concurrency = Number(args.concurrency);
  log(`… loaded: alice → dave and dave → alice, ${concurrency} in flight each, ${args.seconds} s`);
  // How many learned secrets a forwarder holds in its records under load (each record write
  // encodes them all): sampled on bob.
  let learnedMax = 0;
  // Co-signed updates per channel over the load (from bob's and carol's views): how many
  // payments' operations each update carries is what batching buys.
  const versions = async () =>
    Promise.all(ids.map((id, i) => nodes[i === 0 ? 1 : i]!.call<ChannelInfo>('channel', id).then((c) => BigInt(c.version))));
  const v0 = await versions();
  // Each node's store flushes over the load: how long a durable write takes (every co-signed
  // update waits for some in series on both sides).
  const flushes = async () =>
    Promise.all(
      nodes.map(async (n) => {
        const text = await n.call<string>('metricsText');
        const num = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
        return { sum: num('lanes_node_store_flush_duration_seconds_sum'), count: num('lanes_node_store_flush_duration_seconds_count') };
      }),
    );
  const f0 = await flushes();
  const sampler = setInterval(() => {
    void nodes[1]!.call<number>('learnedHeld').then(
      (n) => (learnedMax = Math.max(learnedMax, n)),
      () => {},
    );
  }, 250);
  const [ad, da] = await Promise.all([
    nodes[0]!.call<{ latencies: number[]; settled: number; failed: number; seconds: number; reasons: Record<string, number> }>(
      'routedStream',
      actors[3]!.address,
      amount,
      { ms, concurrency },
    ),
    nodes[3]!.call<{ latencies: number[]; settled: number; failed: number; seconds: number; reasons: Record<string, number> }>(
      'routedStream',
      actors[0]!.address,
      amount,
      { ms, concurrency },
    ),
  ]);
  clearInterval(sampler);
  const v1 = await versions();
  const updates = v1.map((v, i) => Number(v - v0[i]!));
  const f1 = await flushes();
  const flushMs = f1.map((f, i) => ({
    perSecond: (f.count - f0[i]!.count) / (ms / 1000),
    meanMs: (1000 * (f.sum - f0[i]!.sum)) / Math.max(1, f.count - f0[i]!.count),
  }));
  log(`… bob held up to ${learnedMax} learned secrets in his channel records`);
  const lat = [...ad.latencies, ...da.latencies];
  const settled = ad.settled + da.settled;
  const failed = ad.failed + da.failed;
  const seconds = Math.max(ad.seconds, da.seconds);
  const result = {
    hops: 3,
    idle: { payments: idle.settled, failed: idle.failed, p50Ms: quantile(idle.latencies, 0.5), p99Ms: quantile(idle.latencies, 0.99) },
    loaded: {
      concurrencyPerPayer: concurrency,
      paymentsPerSecond: settled / seconds,
      successRate: settled / Math.max(1, settled + failed),
      failures: { ...ad.reasons, ...da.reasons },
      p50Ms: quantile(lat, 0.5),
      p99Ms: quantile(lat, 0.99),
      /** Co-signed updates on each of the three channels over the load, and the operations (a lock and a settle per payment) one carried on average. */
      updatesPerChannel: updates,
      opsPerUpdate: updates.map((u) => (2 * settled) / Math.max(1, u)),
      /** Each node's (alice, bob, carol, dave) store flushes over the load: how many per second, and their mean duration. */
      flushes: flushMs,
    },
    targets: { paymentsPerSecond: 20_000, p99Ms: 100, idleP50Ms: 20 },
  };
  if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    const f = (x: number) => x.toFixed(1);
    log(`routed, 3 hops, idle:   p50 ${f(result.idle.p50Ms)} ms, p99 ${f(result.idle.p99Ms)} ms (target p50 ≤ 20 ms)`);
    log(
      `routed, 3 hops, loaded: ${Math.round(result.loaded.paymentsPerSecond)} payments/s, success ${(100 * result.loaded.successRate).toFixed(2)}%, p50 ${f(result.loaded.p50Ms)} ms, p99 ${f(result.loaded.p99Ms)} ms (target ≥ 20,000/s, p99 ≤ 100 ms)`,
    );
    log(
      `  co-signed updates per channel: ${updates.map((u) => u.toLocaleString('en-US')).join(', ')} (${result.loaded.opsPerUpdate.map((x) => x.toFixed(1)).join(', ')} operations each)`,
    );
    log(
      `  store flushes (alice, bob, carol, dave): ${flushMs.map((f) => `${Math.round(f.perSecond)}/s of ${f.meanMs.toFixed(1)} ms`).join(', ')}`,
    );
  }
} finally {
  await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
  await chain.stop();
  rmSync(root, { recursive: true, force: true });
}
