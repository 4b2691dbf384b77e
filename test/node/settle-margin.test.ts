/**
 * A lock to us with less time left than the channel machine's settle margin (the registration
 * margin, 120 s) plus SETTLE_MARGIN is refused at once (`expiry-too-soon`). Before, the payee
 * took such a lock, its own machine refused the settle as too late, and the secret was
 * registered on-chain at the payee's cost: a peer could have it pay that gas lock after lock.
 * Here bob's clock runs 500 s ahead, so alice's 600 s lock has 100 s left for him.
 */
import test from 'ava';
import { createPublicClient, custom } from 'viem';
import { LanesAdjudicatorAbi } from '../../src/chain/artifacts/LanesAdjudicator.ts';
import { PaymentFailedError } from '../../src/sdk/errors.ts';
import { ETHER, type Network, type TestNode, network } from '../helpers/nodes.ts';

let net: Network;

test.before(async () => {
  net = await network(['alice', 'bob'], (name) => ({
    policies: { open: () => true },
    ...(name === 'bob' ? { clock: () => Date.now() + 500_000 } : {}),
  }));
});

test.after.always(async () => {
  await net?.stop();
});

test('a lock too close to its expiry to settle off-chain is refused up front, and nothing is registered', async (t) => {
  const { alice, bob } = net.nodes as Record<string, TestNode>;
  const ch = await alice!.node.openChannel({ peer: bob!.multiaddr, deposit: [ETHER] });
  const inv = await bob!.node.createInvoice({ amount: 1000n });
  const err = await t.throwsAsync(alice!.node.payInvoice(inv.invoice), { instanceOf: PaymentFailedError });
  t.is((err as PaymentFailedError).reason, 'cancelled', 'bob gave the lock back at once (a direct lock carries no reason)');
  t.is((await alice!.node.channel(ch.id)).balances[0]!.mine, ETHER, 'the amount is back');
  await new Promise((r) => setTimeout(r, 3_000)); // a sweep or two of bob's forwarder
  const revealedAt = await createPublicClient({ transport: custom(net.provider) }).readContract({
    address: net.adjudicator,
    abi: LanesAdjudicatorAbi,
    functionName: 'revealedAt',
    args: [inv.paymentHash],
  });
  t.is(revealedAt, 0n, 'the secret was never registered (no gas spent on it)');
});
