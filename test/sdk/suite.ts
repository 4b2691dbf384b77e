/**
 * One suite for the LanesApi, run against the embedded node (createNode) and the remote client
 * (connect to a daemon process): the same calls must behave the same way.
 */
import test from 'ava';
import {
  type Address,
  ChannelNotFoundError,
  type LanesError,
  NATIVE_ASSET,
  NothingToWithdrawError,
  OperationTimeoutError,
  RejectedError,
} from '../../src/index.ts';
import type { LanesApi, LanesEvents } from '../../src/sdk/api.ts';

export interface SdkWorld {
  readonly alice: LanesApi;
  readonly bob: LanesApi;
  readonly bobMultiaddr: string;
  /** A node that waits only a second or so for a counterparty to accept an open (timeouts.openMs). */
  readonly carol: LanesApi;
  /** A peer that links up but never answers (test/helpers/mute-peer.ts). */
  readonly muteMultiaddr: string;
  /** A token bob sells for ETH at 1 ETH per 1,000 tokens (at least). */
  readonly token: Address;
  ethBalance(who: Address): Promise<bigint>;
  /** Makes an address refuse ETH pushes (a 7702-delegated EOA whose code rejects ETH), or accept them again. */
  refuseEth(who: Address, refuse: boolean): Promise<void>;
  teardown(): Promise<void>;
}

const ETHER = 10n ** 18n;

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not met');
}

export function runSdkSuite(title: string, setup: () => Promise<SdkWorld>): void {
  let w: SdkWorld;
  test.before(async () => {
    w = await setup();
  });
  test.after.always(async () => {
    await w?.teardown();
  });

  test.serial(`${title}: info names the node, its addresses and its chain`, async (t) => {
    const i = await w.alice.info();
    t.regex(i.address, /^0x[0-9a-f]{40}$/);
    t.true(i.multiaddrs.every((m) => m.includes(`/p2p/${i.peerId}`)));
    t.is(typeof i.chainId, 'bigint');
  });

  test.serial(`${title}: open, pay both ways, events, the signed state, close`, async (t) => {
    const received: LanesEvents['payment-received'][] = [];
    const off = w.bob.on('payment-received', (e) => received.push(e));
    await new Promise((r) => setTimeout(r, 200)); // let a remote event stream connect
    const peer = await w.alice.connect(w.bobMultiaddr);
    t.is(peer.address, (await w.bob.info()).address);
    const ch = await w.alice.openChannel({ peer: w.bobMultiaddr, deposit: [ETHER], counterpartyDeposit: [ETHER / 2n] });
    t.is(ch.status, 'open');
    t.is(ch.kind, 'payment');
    const p = await w.alice.pay(ch.id, { amount: ETHER / 10n });
    t.is(p.amount, ETHER / 10n);
    t.is(typeof p.version, 'bigint');
    await w.bob.pay(ch.id, { amount: ETHER / 20n });
    const a = await until(
      () => w.alice.channel(ch.id),
      (c) => c.balances[0]!.mine === ETHER - ETHER / 10n + ETHER / 20n,
    );
    const b = await until(
      () => w.bob.channel(ch.id),
      (c) => c.version === a.version,
    );
    t.is(b.balances[0]!.mine, a.balances[0]!.theirs);
    await until(
      async () => received.length,
      (n) => n >= 1,
    );
    t.is(received[0]!.amount, ETHER / 10n);
    off();
    const s = await w.bob.signedState(ch.id);
    t.is(s.state.version, a.version.toString());
    t.is(s.signatures.length, 2);
    t.true((await w.alice.channels()).some((c) => c.id === ch.id));
    const closed = await w.bob.close(ch.id);
    t.is(closed.status, 'closed');
    t.is(closed.mode, 'cooperative');
  });

  test.serial(`${title}: a swap the counterparty prices is one atomic update`, async (t) => {
    const ch = await w.alice.openChannel({
      peer: w.bobMultiaddr,
      assets: [NATIVE_ASSET, w.token],
      deposit: [ETHER, 0n],
      counterpartyDeposit: [0n, 2000n * ETHER],
    });
    const r = await w.alice.swap(ch.id, {
      give: { asset: NATIVE_ASSET, amount: ETHER / 2n },
      take: { asset: w.token, amount: 400n * ETHER },
    });
    t.is(r.take.amount, 400n * ETHER);
    const c = await w.alice.channel(ch.id);
    t.deepEqual(
      c.balances.map((b) => b.mine),
      [ETHER / 2n, 400n * ETHER],
    );
    const refused = await w.alice
      .swap(ch.id, { give: { asset: NATIVE_ASSET, amount: 1n }, take: { asset: w.token, amount: ETHER } })
      .catch((e: unknown) => e);
    t.true(refused instanceof RejectedError);
    t.is((refused as RejectedError).reason, 'policy');
  });

  test.serial(`${title}: typed errors with stable codes`, async (t) => {
    const missing = `0x${'ab'.repeat(32)}` as const;
    const e1 = await w.alice.pay(missing, { amount: 1n }).catch((e: unknown) => e);
    t.true(e1 instanceof ChannelNotFoundError);
    t.is((e1 as LanesError).code, 'UNKNOWN_CHANNEL');
    t.is((e1 as ChannelNotFoundError).channelId, missing);
    const ch = await w.alice.openChannel({ peer: w.bobMultiaddr, deposit: [1000n] });
    const e2 = await w.bob.pay(ch.id, { amount: 5n }).catch((e: unknown) => e);
    t.true(e2 instanceof RejectedError);
    t.like(e2 as RejectedError, {
      code: 'INSUFFICIENT_BALANCE',
      reason: 'insufficient-balance',
      detail: 'this node holds 0, pays 5',
      maybeApplied: false, // refused before anything was signed
    });
    const e3 = await w.alice.pay(ch.id, { amount: 0n }).catch((e: unknown) => e);
    t.is((e3 as LanesError).code, 'INVALID_ARGUMENT');
    const e4 = await w.alice.pay(ch.id, { asset: w.token, amount: 1n }).catch((e: unknown) => e);
    t.is((e4 as RejectedError).reason, 'unknown-asset');
  });

  test.serial(`${title}: a timeout says whether the operation may still happen`, async (t) => {
    // The open was sent, so the mute peer may still accept it: maybeApplied.
    const e = await w.carol.openChannel({ peer: w.muteMultiaddr, deposit: [1n] }).catch((x: unknown) => x);
    t.true(e instanceof OperationTimeoutError, String(e));
    t.like(e as OperationTimeoutError, {
      code: 'TIMEOUT',
      operation: 'waiting for the counterparty to accept the channel',
      maybeApplied: true,
      shortMessage: 'waiting for the counterparty to accept the channel timed out (it was sent and may still complete)',
    });
  });

  test.serial(`${title}: a payout the node's address refuses is credited, noticed, and withdrawn`, async (t) => {
    const bob = (await w.bob.info()).address;
    const credits: LanesEvents['balance-credited'][] = [];
    const off = w.bob.on('balance-credited', (e) => credits.push(e));
    await new Promise((r) => setTimeout(r, 200)); // let a remote event stream connect
    t.deepEqual(await w.bob.withdrawable(), []);
    const ch = await w.alice.openChannel({ peer: w.bobMultiaddr, deposit: [ETHER] });
    await w.alice.pay(ch.id, { amount: ETHER / 4n });
    await until(
      () => w.bob.channel(ch.id),
      (c) => c.balances[0]!.mine === ETHER / 4n,
    );
    // bob's address refuses the push of his payout: the adjudicator credits it to him instead.
    await w.refuseEth(bob, true);
    const closed = await w.bob.close(ch.id).finally(() => w.refuseEth(bob, false));
    t.is(closed.status, 'closed');
    t.deepEqual(closed.credited, [{ asset: NATIVE_ASSET, amount: ETHER / 4n }]);
    await until(
      async () => credits.length,
      (n) => n >= 1,
    );
    t.like(credits[0], { asset: NATIVE_ASSET, amount: ETHER / 4n, total: ETHER / 4n, channelIds: [ch.id] });
    t.deepEqual(await w.bob.withdrawable(), [{ asset: NATIVE_ASSET, amount: ETHER / 4n }]);
    const to = '0x00000000000000000000000000000000000c4a02' as Address;
    const r = await w.bob.withdraw({ to });
    t.is(r.to, to);
    t.is(r.withdrawals.length, 1);
    t.like(r.withdrawals[0], { asset: NATIVE_ASSET, amount: ETHER / 4n });
    t.regex(r.withdrawals[0]!.transactionHash, /^0x[0-9a-f]{64}$/);
    t.is(await w.ethBalance(to), ETHER / 4n);
    // Nothing left: withdrawing everything is an empty result; naming the asset is a typed error.
    t.deepEqual(await w.bob.withdrawable(), []);
    t.deepEqual((await w.bob.withdraw()).withdrawals, []);
    const none = await w.bob.withdraw({ asset: NATIVE_ASSET }).catch((e: unknown) => e);
    t.true(none instanceof NothingToWithdrawError);
    t.is((none as LanesError).code, 'NOTHING_TO_WITHDRAW');
    const bad = await w.bob.withdraw({ to: '0x12' as Address }).catch((e: unknown) => e);
    t.is((bad as LanesError).code, 'INVALID_ARGUMENT');
    t.is(credits.length, 1, 'a withdrawal is not a credit');
    off();
  });
}
