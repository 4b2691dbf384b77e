/**
 * Per-peer limits of a coordinator process: a rate limit on submissions (a token bucket per
 * peer id) and a cap on the channels a peer may have watched. Both refuse with 'policy' and a
 * reason, per peer: another peer is not affected.
 */
import test from 'ava';
import type { Libp2p } from 'libp2p';
import { type ChainService, createChainService } from '../../src/chain/chain-service.ts';
import { type ChannelParams, NATIVE_ASSET, bytesToHex } from '../../src/core/index.ts';
import { createSettleClient, type SettleClient } from '../../src/p2p/settle-client.ts';
import { createLibp2pNode } from '../../src/p2p/libp2p-node.ts';
import { actor } from '../helpers/actors.ts';
import { sign, stateOf } from '../helpers/chain.ts';
import { type CoordinatorProcess, spawnCoordinator } from '../helpers/coordinator-process.ts';
import { type LocalNet, freePort, localNet } from '../helpers/local-net.ts';

let net: LocalNet;
let coord: CoordinatorProcess;
const peers: Libp2p[] = [];
const clients: SettleClient[] = [];
const ann = actor('limits-ann');
const ben = actor('limits-ben');

test.before(async () => {
  net = await localNet();
  coord = await spawnCoordinator({
    dataDir: net.tempDir('coord'),
    rpc: net.chain.rpcUrl,
    adjudicator: net.adjudicator,
    port: await freePort(),
    args: ['--rate-limit', '1', '--max-watches-per-peer', '2'],
  });
  await net.fund(ann, 100n);
});

test.after.always(async () => {
  for (const c of clients) c.close();
  await Promise.all(peers.map((p) => p.stop()));
  await coord?.kill('SIGKILL');
  await net?.stop();
});

async function client(name: string): Promise<SettleClient> {
  const libp2p = await createLibp2pNode({ privateKey: actor(name).privateKey, listen: ['/ip4/127.0.0.1/tcp/0'], dialTimeoutMs: 5000 });
  await libp2p.start();
  peers.push(libp2p);
  const c = createSettleClient({ libp2p, coordinator: coord.multiaddr });
  clients.push(c);
  return c;
}

let annService: ChainService | undefined;
async function annChain(): Promise<ChainService> {
  annService ??= await createChainService({
    rpc: net.chain.rpcUrl,
    privateKey: bytesToHex(ann.privateKey),
    adjudicator: net.adjudicator,
    pollingIntervalMs: 20,
  });
  return annService;
}

let channelNonce = BigInt(Date.now()) * 10n;
/** A fresh channel between ann and ben that ann funds with `wei`. */
async function annFunds(wei: bigint): Promise<ChannelParams> {
  const p: ChannelParams = {
    chainId: 31337n,
    adjudicator: net.adjudicator,
    participants: [ann.address, ben.address],
    assets: [NATIVE_ASSET],
    challengeDuration: 600n,
    nonce: channelNonce++,
  };
  await (await annChain()).deposit(p, 0, 0, wei);
  return p;
}

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (e: unknown) => `${(e as { reason?: string }).reason}: ${(e as Error).message}`,
  );

test.serial('a peer over its rate is refused, with the reason; other peers are not', async (t) => {
  const fast = await client('limits-fast');
  const junk = (i: number) => fast.submit({ kind: 'reveal', secrets: [`0x${i.toString(16).padStart(64, '0')}`] });
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => outcome(junk(i + 1))));
  const limited = answers.filter((a) => /^policy: .*rate/.test(a));
  t.true(limited.length >= 5, `refused for its rate: ${limited.length} of 20`);
  t.true(answers.filter((a) => a.startsWith('unknown-lock')).length >= 5, 'the burst was let in (and refused on its merits)');
  const other = await client('limits-other');
  t.regex(
    await outcome(other.submit({ kind: 'reveal', secrets: [`0x${'01'.repeat(32)}`] })),
    /^unknown-lock/,
    'another peer has its own bucket',
  );
});

test.serial('a peer may have only so many channels watched: a new one over the cap is refused, updates are not', async (t) => {
  const chans: ChannelParams[] = [];
  for (let i = 0; i < 3; i++) chans.push(await annFunds(10n));
  const watcher = await client('limits-watcher');
  const w = (p: ChannelParams, version: bigint) =>
    watcher.submit({ kind: 'watch', params: p, signed: sign(p, stateOf(p, version, [6n, 4n]), [ann, ben]) });
  t.is(await outcome(w(chans[0]!, 1n)), 'accepted');
  t.is(await outcome(w(chans[1]!, 1n)), 'accepted');
  t.regex(await outcome(w(chans[2]!, 1n)), /^policy: .*watch limit/);
  t.is(await outcome(w(chans[0]!, 2n)), 'accepted', 'an update of a watched channel');
  t.is((await coord.status()).watched, 2);
  const other = await client('limits-other-watcher');
  t.is(
    await outcome(
      other.submit({ kind: 'watch', params: chans[2]!, signed: sign(chans[2]!, stateOf(chans[2]!, 1n, [6n, 4n]), [ann, ben]) }),
    ),
    'accepted',
    'the cap is per peer',
  );
});

test.serial(
  'disputes of one channel without end (both keys in one hand): a newer one replaces the queued one, and the channel has a budget',
  async (t) => {
    const svc = await annChain();
    const p = await annFunds(1n); // one wei: all it takes
    // The coordinator pays the gas.
    await net.fund({ name: 'coordinator', address: coord.address, privateKey: new Uint8Array(), publicKey: new Uint8Array() }, 10n);
    const id = (await import('../../src/core/index.ts')).channelId(p);
    const answers: string[] = [];
    for (let v = 1; v <= 30; v++) {
      // A peer id per few submissions: the per-peer rate limit is no defence here.
      const c = await client(`limits-junk-${Math.floor(v / 5)}-${Date.now()}`);
      answers.push(await outcome(c.submit({ kind: 'dispute', params: p, signed: sign(p, stateOf(p, BigInt(v), [1n, 0n]), [ann, ben]) })));
    }
    const accepted = answers.filter((a) => a === 'accepted').length;
    t.true(accepted <= 16, `at most the channel's budget accepted: ${accepted}`);
    t.true(
      answers.some((a) => /^policy: .*over 16 closes and disputes of this channel in an hour/.test(a)),
      'the rest refused, with the reason',
    );
    // Wait for the queue to drain, then count what reached the chain.
    await new Promise((r) => setTimeout(r, 6_000));
    const { events } = await svc.events(0n, await svc.blockNumber());
    const registered = events.filter((e) => e.type === 'challenged' && 'channelId' in e && e.channelId === id).length;
    t.true(
      registered >= 1 && registered <= 6,
      `a newer dispute took the place of the queued one: ${registered} on-chain of ${accepted} accepted`,
    );
  },
);
