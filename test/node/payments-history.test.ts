/**
 * The payment history beyond what a node keeps in memory (payments-store.ts, ADR 0018 addendum
 * 2026-12-04), two nodes on lmdb and libp2p keeping only 3 final records in memory: an invoice
 * paid long ago is still refused (its record is read from disk), concurrent payments of one
 * invoice pay it once, `payments()` and `invoices()` page the history newest first, across a
 * restart, and an invoice long expired leaves memory but not the history.
 */
import test from 'ava';
import { InvalidArgumentError } from '../../src/core/errors.ts';
import { ETHER, type Network, converged, eventually, network } from '../helpers/nodes.ts';

let net: Network;
let channelId: `0x${string}`;
/** bob's clock runs this much ahead of real time (ms): set to make him think invoices expired long ago. */
let bobAhead = 0;
/** alice's, the same way (with bob's: both see a lock expire). */
let aliceAhead = 0;

test.before(async () => {
  net = await network(['alice', 'bob'], (name) => ({
    policies: { open: () => true },
    paymentsInMemory: 3,
    clock: name === 'bob' ? () => Date.now() + bobAhead : () => Date.now() + aliceAhead,
  }));
  const { alice, bob } = net.nodes;
  channelId = (await alice!.node.openChannel({ peer: bob!.multiaddr, deposit: [ETHER] })).id;
});

test.after.always(async () => {
  await net?.stop();
});

test.serial('an invoice paid before the node forgot its record is refused, from the record on disk', async (t) => {
  const { alice, bob } = net.nodes;
  const inv = await bob!.node.createInvoice({ amount: 1000n, memo: 'once' });
  t.like(await alice!.node.payInvoice(inv.invoice), { status: 'settled' });
  for (let i = 0; i < 6; i++) await alice!.node.sendPayment({ to: bob!.actor.address, amount: 1n + BigInt(i) });
  // What the payer's service holds: the newest 3 final records, no more (the rest is on disk).
  const held = (n: unknown) => (n as { payments_: { records: Map<string, unknown> } }).payments_.records.size;
  t.is(held(alice!.node), 3);
  t.is(held(bob!.node), 3);
  const before = (await alice!.node.channel(channelId)).balances[0]!.mine;
  await t.throwsAsync(alice!.node.payInvoice(inv.invoice), { instanceOf: InvalidArgumentError, message: /already paid/ });
  await converged(channelId, alice!, bob!);
  t.is((await alice!.node.channel(channelId)).balances[0]!.mine, before, 'nothing moved');
  t.like(
    (await bob!.node.invoices()).find((i) => i.paymentHash === inv.paymentHash),
    { status: 'paid', received: 1000n },
  );
});

test.serial('two payments of one invoice at once: one pays, the other is refused', async (t) => {
  const { alice, bob } = net.nodes;
  const inv = await bob!.node.createInvoice({ amount: 500n });
  const results = await Promise.allSettled([alice!.node.payInvoice(inv.invoice), alice!.node.payInvoice(inv.invoice)]);
  t.is(results.filter((r) => r.status === 'fulfilled').length, 1);
  const refused = results.find((r) => r.status === 'rejected');
  t.regex(String(refused?.reason), /being paid|already paid/);
  await converged(channelId, alice!, bob!);
  t.like(
    (await bob!.node.invoices()).find((i) => i.paymentHash === inv.paymentHash),
    { status: 'paid', received: 500n },
  );
});

test.serial('payments() pages the history newest first, from memory and disk, and after a restart', async (t) => {
  const { alice } = net.nodes;
  const all = await alice!.node.payments({ direction: 'out', limit: 1000 });
  t.is(all.length, 8, 'one invoice, six keysends, one more invoice (the refused calls wrote nothing)');
  t.deepEqual(
    all.map((p) => p.createdAt),
    [...all.map((p) => p.createdAt)].sort((a, b) => b - a),
    'newest first',
  );
  const pages = [
    ...(await alice!.node.payments({ direction: 'out', limit: 3 })),
    ...(await alice!.node.payments({ direction: 'out', limit: 3, offset: 3 })),
    ...(await alice!.node.payments({ direction: 'out', limit: 3, offset: 6 })),
  ];
  t.deepEqual(
    pages.map((p) => p.paymentHash),
    all.map((p) => p.paymentHash),
  );
  t.is((await alice!.node.payments({ direction: 'out', status: 'settled', limit: 2, offset: 7 })).length, 1);
  await t.throwsAsync(alice!.node.payments({ limit: 0 }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(alice!.node.payments({ limit: 10_001 }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(alice!.node.payments({ offset: -1 }), { instanceOf: InvalidArgumentError });
  const again = await alice!.restart();
  t.deepEqual(
    (await again.node.payments({ direction: 'out', limit: 1000 })).map((p) => p.paymentHash),
    all.map((p) => p.paymentHash),
  );
  t.is((await again.node.payments()).length, 8, 'the default page holds them all');
});

test.serial('invoices() pages newest first; paid ones leave memory, long expired ones too, and both stay listed', async (t) => {
  const { alice, bob } = net.nodes;
  const made = [];
  for (let i = 0; i < 5; i++) made.push(await bob!.node.createInvoice({ amount: 10n + BigInt(i), memo: `n${i}` }));
  for (const inv of made.slice(0, 4)) await alice!.node.payInvoice(inv.invoice);
  const invoicesHeld = (n: unknown) => (n as { payments_: { invoiceRecords: Map<string, unknown> } }).payments_.invoiceRecords.size;
  t.is(invoicesHeld(bob!.node), 4, 'the newest 3 paid and the open one');
  const all = await bob!.node.invoices({ limit: 1000 });
  t.is(all.length, 7, 'with the two of the tests before');
  t.deepEqual(
    all.slice(0, 5).map((i) => i.memo),
    ['n4', 'n3', 'n2', 'n1', 'n0'],
  );
  const pages = [...(await bob!.node.invoices({ limit: 4 })), ...(await bob!.node.invoices({ limit: 4, offset: 4 }))];
  t.deepEqual(
    pages.map((i) => i.paymentHash),
    all.map((i) => i.paymentHash),
  );
  t.like(await bob!.node.decodeInvoice(made[0]!.invoice), { status: 'paid', received: 10n }, 'read from disk');
  // Two hours later, at a start: the unpaid invoice (valid for an hour) is long expired.
  bobAhead = 2 * 3_600_000;
  const bobAgain = await bob!.restart();
  bobAhead = 0;
  t.is(invoicesHeld(bobAgain.node), 0);
  const listed = await bobAgain.node.invoices({ limit: 1 });
  t.like(listed[0], { paymentHash: made[4]!.paymentHash, status: 'open' });
  await t.throwsAsync(bobAgain.node.invoices({ limit: 0 }), { instanceOf: InvalidArgumentError });
});

test.serial('hold invoices settled long ago leave memory, and so does their release', async (t) => {
  const { alice, bob } = net.nodes;
  const svc = (n: unknown) =>
    (n as { payments_: { released: Set<string>; held: Map<string, unknown>; invoiceRecords: Map<string, unknown> } }).payments_;
  const bobSvc = svc(bob!.node);
  // bob restarted in the test before, on another port: alice dials him again.
  await alice!.node.connect(bob!.multiaddr);
  await eventually(
    () =>
      alice!.node.sendPayment({ to: bob!.actor.address, amount: 1n }).then(
        () => true,
        () => false,
      ),
    (ok) => ok,
  );
  for (let i = 0; i < 6; i++) {
    const inv = await bob!.node.createInvoice({ amount: 30n + BigInt(i), hold: true });
    const paying = alice!.node.payInvoice(inv.invoice);
    for (let waited = 0; !bobSvc.held.has(inv.paymentHash); waited += 10) {
      if (waited > 10_000) return t.fail('bob never held the lock');
      await new Promise((r) => setTimeout(r, 10));
    }
    await bob!.node.settleInvoice(inv.paymentHash);
    t.like(await paying, { status: 'settled' });
  }
  t.true(bobSvc.invoiceRecords.size <= 4, `bob holds ${bobSvc.invoiceRecords.size} invoices: the newest 3 paid, at most one open`);
  t.true(bobSvc.released.size <= 3, `bob remembers ${bobSvc.released.size} released hold invoices; only those in memory need it`);
});

test.serial('a hold invoice whose lock went back to its payer unsettled leaves memory once long expired', async (t) => {
  const { alice, bob } = net.nodes;
  const bobSvc = (bob!.node as unknown as { payments_: Record<string, unknown> }).payments_ as unknown as {
    held: Map<string, unknown>;
    invoiceRecords: Map<string, unknown>;
    dropExpiredInvoices(): void;
  };
  const inv = await bob!.node.createInvoice({ amount: 77n, hold: true, expiresIn: 60 });
  const paying = alice!.node.payInvoice(inv.invoice);
  paying.catch(() => undefined);
  await eventually(
    async () => bobSvc.held.has(inv.paymentHash),
    (h) => h,
  );
  // Nobody settles or cancels it. Both clocks pass the lock's expiry (10 min) and the invoice's
  // (1 min) by more than the hour an expired invoice stays: alice takes her lock back.
  aliceAhead = bobAhead = 2 * 3_600_000;
  try {
    await t.throwsAsync(paying);
    await eventually(
      async () => (await alice!.node.channel(channelId)).balances[0]!.locked,
      (l) => l === 0n,
    );
    bobSvc.dropExpiredInvoices(); // what the minute's check does
    t.false(bobSvc.invoiceRecords.has(inv.paymentHash), 'the invoice left memory');
    t.false(bobSvc.held.has(inv.paymentHash), 'and nothing is held for it');
    t.like((await bob!.node.invoices({ limit: 1 }))[0], { paymentHash: inv.paymentHash, status: 'expired' }, 'it stays listed');
  } finally {
    aliceAhead = bobAhead = 0;
  }
});
