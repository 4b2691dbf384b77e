/**
 * A payer's lock that the counterparty never countersigned back (it holds our signature on the
 * proposal), whose secret it registered on-chain before the expiry. It can enforce the proposal
 * at close, and the payee revealed: the payment is paid. Before, the payer's sweep called it
 * failed at the expiry without reading the registry, and the user could pay again. Mallory (a
 * real libp2p peer signing what the test tells her) against a real node on lmdb and EDR.
 */
import test from 'ava';
import { NATIVE_ASSET, type Message, type Op, type ProposeMessage } from '../../src/core/index.ts';
import { paymentHashOf } from '../../src/core/payments/invoice.ts';
import { keysendKey, keysendSecret } from '../../src/core/payments/keysend.ts';
import { actor } from '../helpers/actors.ts';
import { type Mallory, inNetwork, mallory } from '../helpers/mallory.ts';
import { ETHER, type Network, eventually, network } from '../helpers/nodes.ts';

let net: Network;
let m: Mallory;
const malloryKey = actor('unseen-lock-mallory');
/** bob's clock runs this much ahead (ms). */
let bobAhead = 0;

test.before(async () => {
  net = await network(['bob'], () => ({ policies: { open: () => true }, clock: () => Date.now() + bobAhead }));
  m = await mallory(inNetwork(net), malloryKey);
});

test.after.always(async () => {
  await m?.stop();
  await net?.stop();
});

const isPropose = (x: Message): x is ProposeMessage => x.type === 'propose';

test('a lock never countersigned back whose secret was registered in time: the payment is paid, not failed', async (t) => {
  const bob = net.nodes.bob!;
  const from = m.inbox.length;
  const opening = bob.node.openChannel({ peer: m.multiaddrs()[0]!, deposit: [5n * ETHER], challengeDuration: 600n, waitFor: 'signed' });
  await m.follow(bob, from);
  const ch = await opening;
  await eventually(
    () => bob.node.channel(ch.id).then((c) => c.status),
    (s) => s === 'open',
  );
  t.is((await m.chain.holdings(ch.id, NATIVE_ASSET)).amount, 5n * ETHER);
  const before = m.inbox.length;
  const paying = bob.node.sendPayment({ to: malloryKey.address, amount: ETHER }).then(
    (p) => p,
    (e: unknown) => e,
  );
  const p1 = await m.next(isPropose, before);
  const lockOp = p1.ops.find((o): o is Extract<Op, { kind: 'lock' }> => o.kind === 'lock');
  if (!lockOp) return t.fail('bob proposes the keysend lock');
  // Mallory keeps her countersignature, derives the keysend preimage, and registers it before the
  // expiry: bob's signed proposal is hers to enforce at close.
  const secret = keysendSecret(keysendKey(malloryKey.privateKey, bob.actor.publicKey), ch.id, lockOp.lock.id);
  t.is(paymentHashOf(secret), lockOp.lock.hashlock);
  await m.chain.revealSecrets([secret]);
  bobAhead = Number(lockOp.lock.expiry) * 1000 - Date.now() + 2_000; // past the expiry, by bob's clock
  const r = await Promise.race([paying, new Promise((resolve) => setTimeout(() => resolve('still pending'), 15_000))]);
  t.false(r instanceof Error, `not reported failed (the user would pay again): ${r instanceof Error ? r.message : ''}`);
  t.like(r, { status: 'settled' });
});
