/**
 * The payer's record of a payment whose lock is co-signed: `in-flight` in memory at once, on
 * disk only once it has been in flight for a while (payments.ts, IN_FLIGHT_WRITE_MS). Most
 * payments end sooner and write one record less; a slow one (here: a hold invoice the payee sits
 * on) still reaches the disk as in flight, and its final record replaces it.
 */
import test from 'ava';
import type { Bytes32 } from '../../src/core/bytes.ts';
import { type PaymentRecord, decodePaymentRecord } from '../../src/core/payments/record.ts';
import { paymentKey } from '../../src/node/payments-store.ts';
import { type MemoryStore, createMemoryStore } from '../../src/store/memory-store.ts';
import { ETHER, type Network, type TestNode, eventually, network } from '../helpers/nodes.ts';

let net: Network;
const store: MemoryStore = createMemoryStore();

test.before(async () => {
  net = await network(['alice', 'bob'], (name) => ({
    policies: { open: () => true },
    ...(name === 'alice' ? { store } : {}),
  }));
});

test.after.always(async () => {
  await net?.stop();
});

/**
 * alice's record of `hash` as written to her store (it becomes durable with her next flush, as
 * every record write not followed by a flush of its own).
 */
async function onDisk(hash: Bytes32): Promise<PaymentRecord['status'] | undefined> {
  const bytes = await store.getMeta(paymentKey('out', hash));
  if (bytes === undefined) return undefined;
  const r = decodePaymentRecord(bytes);
  if (!r.ok) throw new Error(r.detail);
  return r.value.status;
}

test.serial('a payment in flight is written as such once it has lasted, and its settled record replaces it', async (t) => {
  const { alice, bob } = net.nodes as Record<string, TestNode>;
  const ch = await alice!.node.openChannel({ peer: bob!.multiaddr, deposit: [ETHER] });
  const inv = await bob!.node.createInvoice({ amount: 1000n, hold: true });
  const paying = alice!.node.payInvoice(inv.invoice);
  paying.catch(() => undefined);
  const hash = inv.paymentHash;
  // The lock is co-signed (bob holds it): in flight in alice's memory at once.
  await eventually(
    async () => (await alice!.node.payments()).find((p) => p.paymentHash === hash)?.status,
    (s) => s === 'in-flight',
  );
  t.is(await onDisk(hash), 'pending', 'on disk: the record written before the lock, nothing more yet');
  await eventually(
    async () => onDisk(hash),
    (s) => s === 'in-flight',
    6_000,
  );
  await bob!.node.settleInvoice(hash);
  t.is((await paying).status, 'settled');
  t.is(await onDisk(hash), 'settled');
  t.is((await alice!.node.channel(ch.id)).balances[0]!.mine, ETHER - 1000n);
});
