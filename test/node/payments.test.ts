/**
 * Invoices and payments through the embedded SDK (createNode), two nodes on lmdb and libp2p:
 * the typed methods, the `payment-settled` / `payment-failed` events, a payee that refuses a
 * lock (the payer's record fails with the reason and the hop), keysend, and records that survive
 * a restart.
 */
import test from 'ava';
import { hexToBytes, keccak256Hex } from '../../src/core/bytes.ts';
import { InvalidInvoiceError, PaymentFailedError } from '../../src/sdk/errors.ts';
import type { LanesEvents } from '../../src/sdk/api.ts';
import { ETHER, type Network, converged, eventually, network } from '../helpers/nodes.ts';

let net: Network;
/** bob's clock runs this much ahead of real time (ms): set to make him think an invoice expired. */
let bobAhead = 0;
let channelId: `0x${string}`;

test.before(async () => {
  net = await network(['alice', 'bob'], (name) => ({
    policies: { open: () => true },
    ...(name === 'bob' ? { clock: () => Date.now() + bobAhead } : {}),
  }));
  const { alice, bob } = net.nodes;
  const ch = await alice!.node.openChannel({ peer: bob!.multiaddr, deposit: [ETHER] });
  channelId = ch.id;
});

test.after.always(async () => {
  await net?.stop();
});

function collect<E extends keyof LanesEvents>(node: { on: (e: E, l: (p: LanesEvents[E]) => void) => () => void }, event: E) {
  const seen: LanesEvents[E][] = [];
  node.on(event, (p) => seen.push(p));
  return seen;
}

test.serial('payInvoice settles on both sides, with events, and the secret opens the hash', async (t) => {
  const { alice, bob } = net.nodes;
  const aliceSettled = collect(alice!.node, 'payment-settled');
  const bobSettled = collect(bob!.node, 'payment-settled');
  const inv = await bob!.node.createInvoice({ amount: 1000n, memo: 'tea' });
  t.is((await alice!.node.decodeInvoice(inv.invoice)).payee.address, bob!.actor.address);
  const paid = await alice!.node.payInvoice(inv.invoice);
  t.like(paid, { direction: 'out', status: 'settled', amount: 1000n, fee: 0n, paymentHash: inv.paymentHash });
  t.is(keccak256Hex(hexToBytes(paid.secret!)), inv.paymentHash);
  t.is(paid.route.length, 1);
  t.is(paid.route[0]!.channelId, channelId);
  await eventually(
    async () => bobSettled.length,
    (n) => n > 0,
  );
  t.like(bobSettled[0]!.payment, { direction: 'in', status: 'settled', amount: 1000n, paymentHash: inv.paymentHash });
  t.like(aliceSettled[0]!.payment, { direction: 'out', paymentHash: inv.paymentHash });
  await converged(channelId, alice!, bob!);
  const c = await alice!.node.channel(channelId);
  t.like(c.balances[0], { mine: ETHER - 1000n, theirs: 1000n, locked: 0n });
  t.like((await bob!.node.invoices())[0], { paymentHash: inv.paymentHash, status: 'paid', received: 1000n });
});

test.serial('a payee that refuses the lock: the payer fails with reason and hop, and gets the amount back', async (t) => {
  const { alice, bob } = net.nodes;
  const failed = collect(alice!.node, 'payment-failed');
  const inv = await bob!.node.createInvoice({ amount: 500n, expiresIn: 60 });
  const before = (await alice!.node.channel(channelId)).balances[0]!.mine;
  bobAhead = 120_000; // bob now sees his invoice as expired; alice does not
  try {
    const e = await t.throwsAsync(alice!.node.payInvoice(inv.invoice), { instanceOf: PaymentFailedError });
    t.like(e, { reason: 'cancelled', hop: 0, paymentHash: inv.paymentHash, code: 'PAYMENT_FAILED' });
  } finally {
    bobAhead = 0;
  }
  t.like(failed[0], { reason: 'cancelled', hop: 0 });
  t.like(failed[0]!.payment, { status: 'failed', paymentHash: inv.paymentHash });
  await converged(channelId, alice!, bob!);
  t.like((await alice!.node.channel(channelId)).balances[0], { mine: before, locked: 0n });
  const [record] = await alice!.node.payments({ status: 'failed' });
  t.like(record, { paymentHash: inv.paymentHash, failure: { reason: 'cancelled', hop: 0 } });
  const [received] = await bob!.node.payments({ direction: 'in', status: 'failed' });
  t.like(received, { paymentHash: inv.paymentHash, failure: { reason: 'unknown-payment' } });
});

test.serial('keysend, typed refusals, and records that survive a restart', async (t) => {
  const { alice, bob } = net.nodes;
  const sent = await alice!.node.sendPayment({ to: bob!.actor.address, amount: 77n });
  t.like(sent, { kind: 'keysend', status: 'settled', amount: 77n });
  await t.throwsAsync(alice!.node.payInvoice('lanes313371qqqqqq'), { instanceOf: InvalidInvoiceError });
  const own = await alice!.node.createInvoice({ amount: 1n });
  await t.throwsAsync(alice!.node.payInvoice(own.invoice), { message: /our own/ });
  await t.throwsAsync(alice!.node.sendPayment({ to: bob!.actor.address, amount: 10n * ETHER }), {
    instanceOf: PaymentFailedError,
    message: /no-route/,
  });

  const bobAgain = await bob!.restart();
  const aliceAgain = await alice!.restart();
  const received = await bobAgain.node.payments({ direction: 'in', status: 'settled' });
  t.true(received.some((p) => p.paymentHash === sent.paymentHash && p.kind === 'keysend'));
  t.is((await bobAgain.node.invoices()).filter((i) => i.status === 'paid').length, 1);
  const history = await aliceAgain.node.payments({ direction: 'out' });
  t.deepEqual(history.map((p) => p.status).sort(), ['failed', 'settled', 'settled']);
});
