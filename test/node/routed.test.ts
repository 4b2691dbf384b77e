/**
 * Routed payments through the embedded SDK: four nodes on lmdb and libp2p in a line
 * alice — bob — carol — dave, public channels announced over graph gossip, fees set by the
 * forwarders. alice pays dave (invoice and keysend), the forwarders earn exactly their fees, a
 * failure at a hop comes back to the payer with the hop and the reason, and nobody's money moves.
 * The same in separate OS processes: test/node/routed-processes.test.ts.
 */
import test from 'ava';
import type { Bytes32 } from '../../src/core/bytes.ts';
import type { AssetPolicy } from '../../src/core/routing/types.ts';
import { PaymentFailedError } from '../../src/sdk/errors.ts';
import { ETHER, type Network, type TestNode, eventually, network } from '../helpers/nodes.ts';

const FEE: AssetPolicy = { feeBase: 10n, feePpm: 1000, minAmount: 1n, maxAmount: 10n ** 24n };

let net: Network;
/** dave's clock runs this much ahead (ms): set to make him think an invoice expired. */
let daveAhead = 0;
const ids: Record<string, Bytes32> = {};

async function mine(n: TestNode, id: Bytes32): Promise<bigint> {
  return (await n.node.channel(id)).balances[0]!.mine;
}

test.before(async () => {
  net = await network(['alice', 'bob', 'carol', 'dave'], (name) => ({
    policies: { open: () => true },
    graph: {},
    ...(name === 'dave' ? { clock: () => Date.now() + daveAhead } : {}),
  }));
  const { alice, bob, carol, dave } = net.nodes as Record<string, TestNode>;
  const line: [TestNode, TestNode, string][] = [
    [alice!, bob!, 'ab'],
    [bob!, carol!, 'bc'],
    [carol!, dave!, 'cd'],
  ];
  for (const [from, to, name] of line) {
    const ch = await from.node.openChannel({ peer: to.multiaddr, deposit: [10n * ETHER] });
    ids[name] = ch.id;
  }
  for (const [from, , name] of line) {
    const r = await from.node.graph!.announceWhenOpen(ids[name]!, { everyMs: 200 });
    if (!r.ok) throw new Error(`announcing ${name}: ${r.detail}`);
  }
  for (const [from, , name] of line.slice(1)) {
    const r = await from.node.graph!.setPolicy(ids[name]!, { policies: [FEE] });
    if (!r.ok) throw new Error(`policy of ${name}: ${r.detail}`);
  }
  // alice's graph holds the route once both forwarders' policies reached her.
  await eventually(
    async () => [ids.bc!, ids.cd!].map((id) => alice!.node.graph!.graph.channel(id)?.updates.some((u) => u !== undefined)),
    (v) => v.every(Boolean),
    20_000,
  );
});

test.after.always(async () => {
  await net?.stop();
});

test.serial('alice pays dave over three channels: each forwarder earns its fee, dave gets the amount', async (t) => {
  const { alice, bob, carol, dave } = net.nodes as Record<string, TestNode>;
  const before = {
    a: await mine(alice!, ids.ab!),
    bIn: await mine(bob!, ids.ab!),
    bOut: await mine(bob!, ids.bc!),
    cIn: await mine(carol!, ids.bc!),
    cOut: await mine(carol!, ids.cd!),
    d: await mine(dave!, ids.cd!),
  };
  const forwarded: unknown[] = [];
  bob!.node.on('payment-forwarded', (e) => forwarded.push(e));
  const amount = 1_000_000n;
  const inv = await dave!.node.createInvoice({ amount, memo: 'routed' });
  const paid = await alice!.node.payInvoice(inv.invoice);
  t.is(paid.status, 'settled');
  t.is(paid.route.length, 3);
  const carolFee = 10n + (amount * 1000n) / 1_000_000n;
  const bobFee = 10n + ((amount + carolFee) * 1000n) / 1_000_000n;
  t.is(paid.fee, carolFee + bobFee);
  t.is(paid.route[0]!.amount, amount + carolFee + bobFee);
  await eventually(
    async () => [await mine(dave!, ids.cd!), await mine(bob!, ids.ab!), await mine(carol!, ids.bc!)],
    ([d, b, c]) => d === before.d + amount && b === before.bIn + amount + carolFee + bobFee && c === before.cIn + amount + carolFee,
  );
  t.is(await mine(alice!, ids.ab!), before.a - amount - carolFee - bobFee);
  t.is((await mine(bob!, ids.ab!)) - before.bIn - (before.bOut - (await mine(bob!, ids.bc!))), bobFee, 'bob nets his fee');
  t.is((await mine(carol!, ids.bc!)) - before.cIn - (before.cOut - (await mine(carol!, ids.cd!))), carolFee, 'carol nets hers');
  // bob settles upstream as soon as carol reveals; he reports the forward once his outgoing lock
  // has left the co-signed state, which may come after the balances above.
  await eventually(
    async () => forwarded.length,
    (n) => n > 0,
  );
  t.like(forwarded[0], { paymentHash: inv.paymentHash, fee: bobFee });
  t.like((await dave!.node.invoices())[0], { status: 'paid', received: amount });
});

test.serial('keysend over a route: the payer chooses the secret, the payee finds it in its layer', async (t) => {
  const { alice, dave } = net.nodes as Record<string, TestNode>;
  const before = await mine(dave!, ids.cd!);
  const paid = await alice!.node.sendPayment({ to: dave!.actor.address, amount: 5000n });
  t.is(paid.status, 'settled');
  t.is(paid.route.length, 3);
  await eventually(
    () => mine(dave!, ids.cd!),
    (d) => d === before + 5000n,
  );
});

test.serial('a payee that refuses: the payer learns the hop and the reason, and every lock goes back', async (t) => {
  const { alice, bob, carol, dave } = net.nodes as Record<string, TestNode>;
  const before = [await mine(alice!, ids.ab!), await mine(bob!, ids.bc!), await mine(carol!, ids.cd!)];
  const inv = await dave!.node.createInvoice({ amount: 2000n, expiresIn: 60 });
  daveAhead = 120_000; // dave now sees his invoice as expired; alice does not
  try {
    const e = await t.throwsAsync(alice!.node.payInvoice(inv.invoice), { instanceOf: PaymentFailedError });
    t.like(e, { reason: 'unknown-payment', hop: 3, paymentHash: inv.paymentHash });
  } finally {
    daveAhead = 0;
  }
  await eventually(
    async () => [await mine(alice!, ids.ab!), await mine(bob!, ids.bc!), await mine(carol!, ids.cd!)],
    (now) => now[0] === before[0] && now[1] === before[1] && now[2] === before[2],
  );
  const [record] = await alice!.node.payments({ status: 'failed' });
  t.like(record, { paymentHash: inv.paymentHash, failure: { reason: 'unknown-payment', hop: 3 } });
});

test.serial('no route: the payer says why, and nothing is locked', async (t) => {
  const { alice, carol } = net.nodes as Record<string, TestNode>;
  const failed = await t.throwsAsync(alice!.node.sendPayment({ to: carol!.actor.address, amount: 10n ** 30n }), {
    instanceOf: PaymentFailedError,
  });
  t.like(failed, { reason: 'no-route' });
});
