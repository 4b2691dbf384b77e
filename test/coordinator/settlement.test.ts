/**
 * Settlement through a coordinator process, with node processes and a real EDR node: many
 * channels closed in a handful of transactions, junk refused at the door, a batch where the
 * chain refuses some items, and the fallback to direct submission when the coordinator is down.
 */
import test from 'ava';
import { type ChannelParams, NATIVE_ASSET, bytesToHex, channelId, nobleBackend, signState } from '../../src/core/index.ts';
import { createChainService } from '../../src/chain/chain-service.ts';
import { createLibp2pNode } from '../../src/p2p/libp2p-node.ts';
import { createSettleClient } from '../../src/p2p/settle-client.ts';
import type { ChannelInfo, CloseResult } from '../../src/sdk/api.ts';
import { type Actor, actor } from '../helpers/actors.ts';
import { type CoordinatorProcess, spawnCoordinator } from '../helpers/coordinator-process.ts';
import { type LocalNet, freePort, keyHex, localNet } from '../helpers/local-net.ts';
import { type ProcessNode, spawnNode } from '../helpers/process-node.ts';

const ETHER = 10n ** 18n;
const NAMES = ['ann', 'ben', 'cat', 'dan'] as const;
let net: LocalNet;
let coord: CoordinatorProcess;
const nodes: Record<string, ProcessNode> = {};
const actors: Record<string, Actor> = {};

test.before(async () => {
  net = await localNet();
  coord = await spawnCoordinator({
    dataDir: net.tempDir('coord'),
    rpc: net.chain.rpcUrl,
    adjudicator: net.adjudicator,
    port: await freePort(),
    args: ['--max-delay-ms', '1500'],
  });
  await net.fund({ name: 'coordinator', address: coord.address, privateKey: new Uint8Array(), publicKey: new Uint8Array() }, 1000n);
  for (const name of NAMES) {
    actors[name] = actor(`coord-test-${name}`);
    await net.fund(actors[name]!, 1000n);
    nodes[name] = await spawnNode({
      privateKey: keyHex(actors[name]!),
      dataDir: net.tempDir(name),
      rpc: net.chain.rpcUrl,
      adjudicator: net.adjudicator,
      acceptOpens: true,
      maxPendingChannels: 32, // 27 opens to one peer at once
      port: await freePort(),
      coordinator: coord.multiaddr,
    });
  }
});

test.after.always(async () => {
  await Promise.all(Object.values(nodes).map((n) => n.kill('SIGKILL')));
  await coord?.kill('SIGKILL');
  await net?.stop();
});

test.serial('108 channels among four nodes close through the coordinator in a handful of transactions', async (t) => {
  const PER = 27;
  const opened: { leader: string; follower: string; ch: ChannelInfo; paid: bigint }[] = [];
  await Promise.all(
    NAMES.map(async (leader, i) => {
      const follower = NAMES[(i + 1) % NAMES.length]!;
      const chans = await Promise.all(
        Array.from({ length: PER }, () =>
          nodes[leader]!.call<ChannelInfo>('openChannel', { peer: nodes[follower]!.info.multiaddrs[0], deposit: [ETHER] }),
        ),
      );
      for (const [k, ch] of chans.entries()) {
        const paid = BigInt(k + 1) * 10n ** 15n;
        await nodes[leader]!.call('pay', ch.id, { amount: paid });
        opened.push({ leader, follower, ch, paid });
      }
    }),
  );
  t.is(opened.length, 108);
  // Nodes pay no more gas from here on: the coordinator pays for the closes.
  const before = Object.fromEntries(await Promise.all(NAMES.map(async (n) => [n, await net.ethBalance(actors[n]!.address)] as const)));
  const results = await Promise.all(opened.map((o) => nodes[o.leader]!.call<CloseResult>('close', o.ch.id)));
  const off = results.filter((r) => r.status !== 'closed' || r.via !== 'coordinator');
  t.deepEqual(off.slice(0, 3), [], `${off.length} closes did not go through the coordinator`);
  const txs = new Set(results.map((r) => r.transactionHash));
  t.log(`108 closes in ${txs.size} transactions`);
  t.true(txs.size <= 6, `${txs.size} transactions`);
  const expected: Record<string, bigint> = Object.fromEntries(NAMES.map((n) => [n, 0n]));
  for (const o of opened) {
    expected[o.leader] = expected[o.leader]! + ETHER - o.paid;
    expected[o.follower] = expected[o.follower]! + o.paid;
  }
  let total = 0n;
  for (const n of NAMES) {
    const got = (await net.ethBalance(actors[n]!.address)) - before[n]!;
    t.is(got, expected[n]!, `${n}'s payout equals its final balances`);
    total += got;
  }
  t.is(total, 108n * ETHER, 'everything deposited was paid out');
  const status = await coord.status();
  t.true(status.recentBatches.some((b) => b.kind === 'close' && b.items > 20));
  const metrics = await (await fetch(`${coord.statusUrl}/metrics`)).text();
  t.regex(metrics, /lanes_coordinator_items_total\{kind="close",outcome="settled"\} 108/);
  t.regex(metrics, /lanes_coordinator_batch_items_count\{kind="close"\} [1-6]\b/);
});

/** A channel between two test keys, funded, with states the test signs itself. */
async function rawChannel(a: Actor, b: Actor, deposit: bigint | undefined): Promise<ChannelParams> {
  const params: ChannelParams = {
    chainId: 31337n,
    adjudicator: net.adjudicator,
    participants: [a.address, b.address],
    assets: [NATIVE_ASSET],
    challengeDuration: 600n,
    nonce: BigInt(Date.now()) + BigInt(Math.floor(Math.random() * 1e6)),
  };
  if (deposit !== undefined) {
    const svc = await createChainService({
      rpc: net.chain.rpcUrl,
      privateKey: bytesToHex(a.privateKey),
      adjudicator: net.adjudicator,
      pollingIntervalMs: 20,
    });
    await svc.deposit(params, 0, 0, deposit);
  }
  return params;
}

function finalState(params: ChannelParams, balances: [bigint, bigint], signers: [Actor, Actor], version = 7n) {
  const state = { channelId: channelId(params), version, balances: [balances] as const, locks: [], isFinal: true };
  return {
    state,
    signatures: [
      signState(nobleBackend, params, state, signers[0].privateKey),
      signState(nobleBackend, params, state, signers[1].privateKey),
    ] as [Uint8Array, Uint8Array],
  };
}

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (e: unknown) => (e as { reason?: string }).reason,
  );

test.serial('junk is refused at the door, before any gas is spent', async (t) => {
  const eve = actor('coord-eve');
  const fay = actor('coord-fay');
  const mal = actor('coord-mal');
  await net.fund(eve, 10n);
  const libp2p = await createLibp2pNode({ privateKey: mal.privateKey, listen: ['/ip4/127.0.0.1/tcp/0'], dialTimeoutMs: 5000 });
  await libp2p.start();
  const client = createSettleClient({ libp2p, coordinator: coord.multiaddr });
  try {
    const funded = await rawChannel(eve, fay, ETHER);
    const empty = await rawChannel(mal, fay, undefined); // made up by mal, never funded
    t.is(
      await refusal(client.submit({ kind: 'close', params: funded, signed: finalState(funded, [0n, ETHER], [eve, mal]) })),
      'wrong-signer',
    );
    t.is(
      await refusal(client.submit({ kind: 'close', params: empty, signed: finalState(empty, [1n, 1n], [mal, fay]) })),
      'unknown-channel',
    );
    t.is(
      await refusal(client.submit({ kind: 'dispute', params: empty, signed: finalState(empty, [1n, 1n], [mal, fay]) })),
      'unknown-channel',
    );
    t.is(
      await refusal(client.submit({ kind: 'close', params: funded, signed: finalState(funded, [ETHER, ETHER], [eve, fay]) })),
      'deposit-exceeds-holdings',
      'pays out more than the channel holds',
    );
    t.is(
      await refusal(client.submit({ kind: 'conclude', params: funded, state: finalState(funded, [ETHER, 0n], [eve, fay]).state })),
      'state-mismatch',
      'never challenged: nothing to conclude',
    );
    t.is(
      await refusal(client.submit({ kind: 'reveal', secrets: [`0x${'ab'.repeat(32)}`] })),
      'unknown-lock',
      'a secret no watched lock needs',
    );
  } finally {
    client.close();
    await libp2p.stop();
  }
});

test.serial('a batch with items the chain refuses settles the others and reports each result', async (t) => {
  const eve = actor('coord-eve');
  const fay = actor('coord-fay');
  const gus = actor('coord-gus');
  await net.fund(eve, 10n);
  const libp2p = await createLibp2pNode({ privateKey: gus.privateKey, listen: ['/ip4/127.0.0.1/tcp/0'], dialTimeoutMs: 5000 });
  await libp2p.start();
  const client = createSettleClient({ libp2p, coordinator: coord.multiaddr });
  try {
    const one = await rawChannel(eve, fay, ETHER);
    const two = await rawChannel(eve, fay, ETHER);
    // Two final states of one channel (a node that finalised twice): the second finds it closed.
    const items = await Promise.all([
      client.submit({ kind: 'close', params: one, signed: finalState(one, [ETHER / 4n, (3n * ETHER) / 4n], [eve, fay]) }),
      client.submit({ kind: 'close', params: one, signed: finalState(one, [ETHER / 2n, ETHER / 2n], [eve, fay], 8n) }),
      client.submit({ kind: 'close', params: two, signed: finalState(two, [ETHER, 0n], [eve, fay]) }),
    ]);
    t.is(new Set(items.map((i) => i.itemId)).size, 3, 'three items: two states of one channel are two items');
    const results = await Promise.all(items.map((i) => i.result));
    t.deepEqual(results.map((r) => (r.ok ? 'ok' : r.reason)).sort(), ['channel-closed', 'ok', 'ok']);
    t.true(results[0]!.ok !== results[1]!.ok, 'exactly one state of the channel was paid out');
    t.is(new Set(results.map((r) => r.transactionHash)).size, 1, 'all three were one transaction');
  } finally {
    client.close();
    await libp2p.stop();
  }
});

test.serial('with the coordinator down, a node closes directly', async (t) => {
  const ch = await nodes.ann!.call<ChannelInfo>('openChannel', { peer: nodes.ben!.info.multiaddrs[0], deposit: [ETHER] });
  await coord.kill('SIGTERM');
  const r = await nodes.ann!.call<CloseResult>('close', ch.id);
  t.is(r.status, 'closed');
  t.is(r.via, 'direct');
});
