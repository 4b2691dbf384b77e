/**
 * A restarted coordinator keeps watching (issue 16, item 1). Every part is a real process
 * started through the CLI: an EDR chain, `lanes coordinator start` and two `lanes node start`
 * daemons driven through `connect()`. The coordinator listens on `tcp/0` as `lanes testnet`
 * starts it; it restarts; alice pays bob more; bob goes offline; alice registers the state the
 * coordinator held before its restart. Before the fix the coordinator came back on a new port,
 * the nodes kept dialing the old one, and its watch of bob's channel stayed at that old state:
 * it let alice's stale state stand and concluded it. Now it comes back on its port, the nodes
 * re-send every watch on the new link, the watchtower answers with bob's latest state, and bob
 * is paid by that. While it is down, bob's node says so (`info().watchtower`, an event).
 */
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { createChainService } from '../../src/chain/chain-service.ts';
import { challengeItem, concludeItem } from '../../src/chain/encode.ts';
import { type ChannelParams, bytesToHex } from '../../src/core/index.ts';
import { readKeyFile } from '../../src/files/key-file.ts';
import { connect } from '../../src/sdk/connect.ts';
import type { LanesApi, LanesEvents, SignedStateJson } from '../../src/sdk/api.ts';
import { readSignedState } from '../../src/sdk/json.ts';
import { type CoordinatorProcess, spawnCoordinator } from '../helpers/coordinator-process.ts';
import { keygenFunded, spawnDaemon } from '../helpers/daemon-process.ts';
import { type LocalNet, localNet } from '../helpers/local-net.ts';
import { ETHER, eventually } from '../helpers/nodes.ts';

const BIN = new URL('../../bin/lanes.js', import.meta.url).pathname;
const run = promisify(execFile);
let net: LocalNet;
const daemons: ChildProcess[] = [];
const coordinators: CoordinatorProcess[] = [];
const apis: LanesApi[] = [];

test.after.always(async () => {
  for (const a of apis) await a.stop().catch(() => undefined);
  for (const d of daemons) if (d.exitCode === null && d.signalCode === null) d.kill('SIGKILL');
  await Promise.all(coordinators.map((c) => c.kill('SIGKILL')));
  await net?.stop();
});

interface Daemon {
  readonly child: ChildProcess;
  readonly api: LanesApi;
  stop(): Promise<void>;
}

async function startDaemon(dir: string, coordinator?: string): Promise<Daemon> {
  const d = await spawnDaemon(net, dir, coordinator === undefined ? [] : ['--coordinator', coordinator]);
  daemons.push(d.child);
  const api = await connect({ url: d.url, token: d.token });
  apis.push(api);
  return {
    child: d.child,
    api,
    async stop() {
      await api.stop().catch(() => undefined);
      await d.stop();
    },
  };
}

const keygen = (dir: string) => keygenFunded(net, dir);

function paramsOf(j: SignedStateJson): ChannelParams {
  const p = j.params;
  return {
    chainId: BigInt(p.chainId),
    adjudicator: p.adjudicator,
    participants: p.participants,
    assets: p.assets,
    challengeDuration: BigInt(p.challengeDuration),
    nonce: BigInt(p.nonce),
  };
}

test.before(async () => {
  net = await localNet();
});

test('a restarted coordinator is found again, gets every watch again, and answers a stale state with the latest', async (t) => {
  const coordDir = net.tempDir('restart-coord');
  const coordinator = async () => {
    const c = await spawnCoordinator({ dataDir: coordDir, rpc: net.chain.rpcUrl, adjudicator: net.adjudicator, port: 0 });
    coordinators.push(c);
    await net.fund({ name: 'coordinator', address: c.address, privateKey: new Uint8Array(), publicKey: new Uint8Array() }, 100n);
    return c;
  };
  const first = await coordinator();
  const aliceDir = net.tempDir('restart-alice');
  const bobDir = net.tempDir('restart-bob');
  const aliceKey = await keygen(aliceDir);
  await keygen(bobDir);
  const alice = await startDaemon(aliceDir, first.multiaddr);
  let bob = await startDaemon(bobDir, first.multiaddr);
  const bobEvents: { unreachable: LanesEvents['watchtower-unreachable'][]; reachable: LanesEvents['watchtower-reachable'][] } = {
    unreachable: [],
    reachable: [],
  };
  bob.api.on('watchtower-unreachable', (e) => bobEvents.unreachable.push(e));
  bob.api.on('watchtower-reachable', (e) => bobEvents.reachable.push(e));
  await eventually(
    async () => (await bob.api.info()).watchtower,
    (w) => w?.reachable === true,
  );

  // A channel whose challenge period is under the watchtower's deadline margin: answered at once.
  const bobAddr = (await bob.api.info()).multiaddrs[0]!;
  const ch = await alice.api.openChannel({ peer: bobAddr, deposit: [10n * ETHER], challengeDuration: 30n });
  await alice.api.pay(ch.id, { amount: ETHER });
  const v1 = (await alice.api.channel(ch.id)).version;
  await eventually(
    async () => (await bob.api.channel(ch.id)).version,
    (v) => v === v1,
  );
  // The coordinator holds the watch of bob's version: it is what alice will register.
  await eventually(
    async () => (await first.status()).watched,
    (n) => n >= 1,
  );
  await new Promise((r) => setTimeout(r, 2500)); // watches go at most once a second
  const staleJson = await alice.api.signedState(ch.id);
  const stale = readSignedState(staleJson);

  // The coordinator restarts (as a supervisor would restart it), with the same data directory and `--listen …/tcp/0`.
  await first.kill('SIGTERM');
  await eventually(
    async () => (await bob.api.info()).watchtower,
    (w) => w?.reachable === false,
    15_000,
  );
  t.is(bobEvents.unreachable.length, 1, 'bob was told his watchtower is gone');
  const second = await coordinator();
  t.is(second.multiaddr, first.multiaddr, 'the coordinator came back where the nodes dial it');
  await eventually(
    async () => (await bob.api.info()).watchtower,
    (w) => w?.reachable === true,
    30_000,
  );
  t.is(bobEvents.reachable.length, 1, 'and told when it is back');

  // alice pays bob four more ether; the restarted coordinator must get the new states.
  for (let i = 0; i < 4; i++) await alice.api.pay(ch.id, { amount: ETHER });
  const latest = (await alice.api.channel(ch.id)).version;
  await eventually(
    async () => (await bob.api.channel(ch.id)).version,
    (v) => v === latest,
  );
  await new Promise((r) => setTimeout(r, 2500));

  // bob goes offline; alice stops her node and registers the old state, which favours her.
  await bob.stop();
  await alice.stop();
  const raw = await createChainService({
    rpc: net.chain.rpcUrl,
    privateKey: bytesToHex(readKeyFile(aliceKey.keyFile)),
    adjudicator: net.adjudicator,
    pollingIntervalMs: 20,
  });
  const params = paramsOf(staleJson);
  t.true((await raw.challengeBatch([challengeItem(params, stale)])).items[0]!.ok, 'alice registered the stale state');

  // The watchtower answers with bob's latest state, well inside the challenge period.
  await eventually(
    async () => (await raw.dispute(ch.id))?.version,
    (v) => v === latest,
    30_000,
  );
  t.pass('the watchtower answered with the latest state');

  // Past the challenge period the channel concludes with the latest state: bob is paid 5 ether.
  await net.increaseTime(120);
  bob = await startDaemon(bobDir, second.multiaddr);
  const closed = await eventually(
    async () => bob.api.channel(ch.id),
    (c) => c.status === 'closed',
    60_000,
  );
  t.is(closed.version, latest);
  t.is(closed.balances[0]!.mine, 5n * ETHER);
  await bob.stop();
});

test('a node that comes back to a channel settled with a stale state says what it lost', async (t) => {
  // No watchtower: bob is offline through the whole challenge period, and alice's stale state stands.
  const aliceDir = net.tempDir('loss-alice');
  const bobDir = net.tempDir('loss-bob');
  const aliceKey = await keygen(aliceDir);
  await keygen(bobDir);
  const alice = await startDaemon(aliceDir);
  let bob = await startDaemon(bobDir);
  const ch = await alice.api.openChannel({ peer: (await bob.api.info()).multiaddrs[0]!, deposit: [10n * ETHER], challengeDuration: 30n });
  await alice.api.pay(ch.id, { amount: ETHER });
  const staleJson = await alice.api.signedState(ch.id);
  for (let i = 0; i < 3; i++) await alice.api.pay(ch.id, { amount: ETHER });
  const latest = (await alice.api.channel(ch.id)).version;
  await eventually(
    async () => (await bob.api.channel(ch.id)).version,
    (v) => v === latest,
  );
  await bob.stop();
  await alice.stop();

  const raw = await createChainService({
    rpc: net.chain.rpcUrl,
    privateKey: bytesToHex(readKeyFile(aliceKey.keyFile)),
    adjudicator: net.adjudicator,
    pollingIntervalMs: 20,
  });
  const stale = readSignedState(staleJson);
  const params = paramsOf(staleJson);
  t.true((await raw.challengeBatch([challengeItem(params, stale)])).items[0]!.ok);
  await net.increaseTime(60);
  t.true((await raw.concludeBatch([concludeItem(params, stale.state)])).items[0]!.ok, 'alice concluded her stale state');

  bob = await startDaemon(bobDir);
  const closed = await eventually(
    async () => bob.api.channel(ch.id),
    (c) => c.status === 'closed',
    60_000,
  );
  t.deepEqual(closed.loss, {
    version: stale.state.version,
    latest,
    assets: [{ asset: params.assets[0]!, expected: 4n * ETHER, paid: ETHER }],
  });
  // And the CLI says so.
  const { stdout } = await run(process.execPath, [BIN, '--data-dir', bobDir, 'channel', 'show', ch.id]);
  t.regex(stdout, /LOSS +settled on-chain with version \d+, older than our latest \d+:\n +paid 1 ETH, our latest state gives us 4 ETH/);
  await bob.stop();
});

test('two nodes that both restart reach each other again, and pay at once', async (t) => {
  // issue 16, item 2: daemons on `tcp/0` used to pick new ports at each start, and each side
  // redialed only the addresses it last saw, so neither found the other.
  const aliceDir = net.tempDir('both-alice');
  const bobDir = net.tempDir('both-bob');
  await keygen(aliceDir);
  await keygen(bobDir);
  let alice = await startDaemon(aliceDir);
  let bob = await startDaemon(bobDir);
  const ch = await alice.api.openChannel({ peer: (await bob.api.info()).multiaddrs[0]!, deposit: [10n * ETHER] });
  await alice.api.pay(ch.id, { amount: ETHER });
  const before = { alice: (await alice.api.info()).multiaddrs, bob: (await bob.api.info()).multiaddrs };
  await Promise.all([alice.stop(), bob.stop()]);
  // Each with its own command line, bob first.
  bob = await startDaemon(bobDir);
  alice = await startDaemon(aliceDir);
  t.deepEqual((await alice.api.info()).multiaddrs, before.alice, 'alice listens where she did');
  t.deepEqual((await bob.api.info()).multiaddrs, before.bob, 'so does bob');
  await eventually(
    async () => (await alice.api.channel(ch.id)).counterparty.connected,
    (c) => c,
    20_000,
  );
  const paid = await alice.api.pay(ch.id, { amount: ETHER });
  const back = await bob.api.pay(ch.id, { amount: ETHER / 2n });
  t.true(paid.version > 0n && back.version > paid.version);
  await Promise.all([alice.stop(), bob.stop()]);
});
