/**
 * Credited balances: whoever submits a close chooses the payout mode for everyone in it. Mallory
 * (a leader without a node) agrees final states with real nodes, then submits them herself in
 * `credit` mode, so the nodes' payouts land in their withdrawable balances with no event of
 * their own. The nodes notice, report, remember across restarts, and withdraw.
 */
import test from 'ava';
import { pino } from 'pino';
import { closeItem } from '../../src/chain/encode.ts';
import { type Address, NATIVE_ASSET, channelId } from '../../src/core/index.ts';
import type { LanesEvents } from '../../src/sdk/api.ts';
import { mallory } from '../helpers/actors.ts';
import { ETHER, type Network, type TestNode, eventually, network } from '../helpers/nodes.ts';
import { type RawLeader, rawLeader } from '../helpers/raw-leader.ts';

let net: Network;
let m: RawLeader;
const SINK = '0x00000000000000000000000000000000005e1f01' as Address;
/** bob's log lines, across his restarts. */
const bobLog: { msg: string; amount?: string; channels?: string[] }[] = [];
const credited = (id: string) => bobLog.filter((l) => l.msg.startsWith('payout credited') && l.channels?.includes(id));

test.before(async () => {
  net = await network(['bob', 'dora'], (name) => ({
    policies: { open: () => true },
    ...(name === 'dora' ? { autoWithdraw: { to: SINK } } : {}),
    ...(name === 'bob' ? { logger: pino({ level: 'info' }, { write: (line: string) => void bobLog.push(JSON.parse(line)) }) } : {}),
  }));
  await net.chain.setBalance(mallory.address, 1000n * ETHER);
  m = await rawLeader(net, mallory);
});

test.after.always(async () => {
  await m?.stop();
  await net?.stop();
});

/**
 * Mallory opens a channel with `node` (depositing 2 ETH), pays it `amount` in a final state both
 * sign; `settle` runs once that state is agreed and submits it in credit mode.
 */
async function creditedClose(node: () => TestNode, amount: bigint, beforeSettling?: () => Promise<void>): Promise<`0x${string}`> {
  const { params, v0 } = await m.propose(node(), [[2n * ETHER, 0n]]);
  await m.chain.deposit(params, 0, 0, 2n * ETHER);
  const id = channelId(params);
  await eventually(
    () => node().node.channel(id),
    (c) => c.status === 'open',
  );
  const final = await m.update(node(), params, v0, [
    { kind: 'pay', id: 2n, by: 0, asset: 0, amount },
    { kind: 'finalize', id: 4n, by: 0 },
  ]);
  await eventually(
    () => node().node.channel(id),
    (c) => c.status === 'closing',
  );
  await beforeSettling?.();
  const r = await m.chain.closeBatch([closeItem(params, final)], 'credit');
  if (!r.items[0]!.ok) throw new Error('the close failed');
  return id;
}

test.serial('a credit-mode close someone else submits is noticed: an event and a withdrawable balance', async (t) => {
  const bob = net.nodes.bob!;
  const events: LanesEvents['balance-credited'][] = [];
  bob.node.on('balance-credited', (e) => events.push(e));
  t.deepEqual(await bob.node.withdrawable(), []);
  const id = await creditedClose(() => net.nodes.bob!, ETHER / 2n);
  await eventually(
    async () => events.length,
    (n) => n === 1,
  );
  t.deepEqual(events[0], {
    asset: NATIVE_ASSET,
    amount: ETHER / 2n,
    total: ETHER / 2n,
    transactionHash: events[0]!.transactionHash,
    channelIds: [id],
  });
  t.is((await bob.node.channel(id)).status, 'closed');
  t.deepEqual(await bob.node.withdrawable(), [{ asset: NATIVE_ASSET, amount: ETHER / 2n }]);
});

test.serial('credits made while the node was offline are found on restart, and none is reported twice', async (t) => {
  // Closed while bob is down: his restarted watcher replays the close and finds the credit.
  const id = await creditedClose(
    () => net.nodes.bob!,
    ETHER / 4n,
    () => net.nodes.bob!.node.stop(),
  );
  const bob = await net.nodes.bob!.restart();
  t.deepEqual(
    credited(id).map((l) => l.amount),
    [String(ETHER / 4n)],
    'noticed (and logged) during the catch-up, as its own credit',
  );
  t.deepEqual(await bob.node.withdrawable(), [{ asset: NATIVE_ASSET, amount: ETHER / 2n + ETHER / 4n }]);
  const events: LanesEvents['balance-credited'][] = [];
  const lines = bobLog.length;
  const again = await bob.restart();
  again.node.on('balance-credited', (e) => events.push(e));
  await eventually(
    async () => bobLog.slice(lines).some((l) => l.msg.includes('waits to be withdrawn')),
    (logged) => logged,
  );
  t.false(
    bobLog.slice(lines).some((l) => l.msg.startsWith('payout credited')),
    'a credit already reported is not reported again',
  );
  // Withdraw everything to bob's own address: one transaction for the one asset.
  const before = await net.ethBalance(again.actor.address);
  const r = await again.node.withdraw();
  t.deepEqual(
    r.withdrawals.map((w) => [w.asset, w.amount]),
    [[NATIVE_ASSET, ETHER / 2n + ETHER / 4n]],
  );
  t.is(r.to, again.actor.address);
  const gained = (await net.ethBalance(again.actor.address)) - before;
  t.true(gained > ETHER / 2n + ETHER / 4n - ETHER / 100n && gained < ETHER / 2n + ETHER / 4n, `bob gained ${gained}`);
  t.deepEqual(await again.node.withdrawable(), []);
  await t.throwsAsync(again.node.withdraw({ asset: NATIVE_ASSET }), { code: 'NOTHING_TO_WITHDRAW' });
  // The next credit is reported as itself, not together with what was withdrawn.
  await creditedClose(() => net.nodes.bob!, ETHER / 8n);
  await eventually(
    async () => events.length,
    (n) => n === 1,
  );
  t.like(events[0], { amount: ETHER / 8n, total: ETHER / 8n });
});

test.serial('a node with autoWithdraw withdraws a credit as soon as it notices it', async (t) => {
  await creditedClose(() => net.nodes.dora!, ETHER);
  await eventually(
    () => net.ethBalance(SINK),
    (b) => b === ETHER,
  );
  t.deepEqual(await net.nodes.dora!.node.withdrawable(), []);
});
