/**
 * Funding order (docs/adr/0008): an underfunded channel concludes paying participant 0 first, so
 * the follower (participant 1) deposits only once the leader's whole version-0 share is on-chain.
 * Mallory leads channels with bob over the real wire protocol (no node of her own) and decides
 * when, or whether, she deposits; bob is a real node on a real chain.
 */
import test from 'ava';
import { type Address, type ChannelParams, NATIVE_ASSET, channelId } from '../../src/core/index.ts';
import { mallory } from '../helpers/actors.ts';
import { ETHER, type Network, eventually, network } from '../helpers/nodes.ts';
import { type RawLeader, rawLeader } from '../helpers/raw-leader.ts';

let net: Network;
let m: RawLeader;
/** A channel mallory proposed and never funds: bob must never put money into it. */
let abandoned: ChannelParams;

/** Long enough for bob to have seen and acted on anything: 20 of his chain polls. */
const SETTLE_MS = 1000;

const propose = async (deposits: [bigint, bigint][], assets?: readonly Address[]) =>
  (await m.propose(net.nodes.bob!, deposits, assets)).params;
const held = (params: ChannelParams, asset: Address = NATIVE_ASSET) => m.chain.holdings(channelId(params), asset).then((h) => h.amount);
const status = (params: ChannelParams) => net.nodes.bob!.node.channel(channelId(params)).then((c) => c.status);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.before(async () => {
  net = await network(['bob'], () => ({ policies: { open: () => true } }));
  await net.chain.setBalance(mallory.address, 1000n * ETHER);
  await net.mint(mallory.address, 1000n * ETHER);
  m = await rawLeader(net, mallory);
  abandoned = await propose([[5n * ETHER, 3n * ETHER]]);
});

test.after.always(async () => {
  await m?.stop();
  await net?.stop();
});

test.serial('the follower deposits only once the leader has deposited its whole share', async (t) => {
  const params = await propose([[2n * ETHER, ETHER]]);
  await pause(SETTLE_MS);
  t.is(await held(params), 0n, 'bob deposits nothing while the leader has deposited nothing');
  t.is(await status(params), 'funding');
  await m.chain.deposit(params, 0, 0, ETHER);
  await pause(SETTLE_MS);
  t.is(await held(params), ETHER, 'half of the leader share is not enough');
  await m.chain.deposit(params, 0, 0, ETHER);
  await eventually(
    () => held(params),
    (h) => h === 3n * ETHER,
  );
  await eventually(
    () => status(params),
    (s) => s === 'open',
  );
  t.pass();
});

test.serial('in a channel of two assets the follower waits until the leader has funded both', async (t) => {
  const assets = [NATIVE_ASSET, net.token];
  const params = await propose(
    [
      [ETHER, ETHER / 2n],
      [100n * ETHER, 50n * ETHER],
    ],
    assets,
  );
  await m.chain.deposit(params, 0, 0, ETHER);
  await m.chain.deposit(params, 1, 0, 40n * ETHER);
  await pause(SETTLE_MS);
  t.deepEqual([await held(params, NATIVE_ASSET), await held(params, net.token)], [ETHER, 40n * ETHER], 'bob deposited neither asset');
  await m.chain.deposit(params, 1, 0, 60n * ETHER);
  await eventually(
    () => status(params),
    (s) => s === 'open',
  );
  t.deepEqual([await held(params, NATIVE_ASSET), await held(params, net.token)], [ETHER + ETHER / 2n, 150n * ETHER]);
});

test.serial('when the leader deposits nothing, the follower deposits at once', async (t) => {
  const params = await propose([[0n, 2n * ETHER]]);
  await eventually(
    () => status(params),
    (s) => s === 'open',
  );
  t.is(await held(params), 2n * ETHER);
});

test.serial('a follower restarted while waiting deposits when it finds the leader share on-chain', async (t) => {
  const params = await propose([[ETHER, ETHER / 4n]]);
  await pause(SETTLE_MS / 2);
  t.is(await held(params), 0n);
  await net.nodes.bob!.node.stop();
  await m.chain.deposit(params, 0, 0, ETHER); // while bob is offline: he learns it from the chain on start
  await net.nodes.bob!.restart();
  await eventually(
    () => status(params),
    (s) => s === 'open',
  );
  t.is(await held(params), ETHER + ETHER / 4n);
});

test.serial('a leader that never deposits never gets the follower to deposit: nothing of his is stuck', async (t) => {
  // Every test above took its time; the abandoned channel has been waiting all along, across a restart.
  t.is(await held(abandoned), 0n);
  t.is(await status(abandoned), 'funding');
});
