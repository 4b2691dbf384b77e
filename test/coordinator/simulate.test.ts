/**
 * Simulation before broadcast and bisection: on a property (any set of poison items, any gas
 * cap, any monotone failure) and against the real adjudicator on EDR (a poison close that makes
 * its batch too big for the block; a token that starts burning gas after the simulation; an RPC
 * failure during the simulation).
 */
import test from 'ava';
import fc from 'fast-check';
import type { EIP1193Provider } from 'viem';
import { GasBurningTokenAbi, GasBurningTokenBytecode } from '../../src/chain/artifacts/mocks/GasBurningToken.ts';
import type { ItemResult } from '../../src/chain/chain-service.ts';
import { type Address, type ChannelParams, NATIVE_ASSET } from '../../src/core/index.ts';
import type { CoordinatorQueue } from '../../src/coordinator/queue.ts';
import type { ItemRecord } from '../../src/coordinator/records.ts';
import { type Simulation, isolate } from '../../src/coordinator/simulate.ts';
import { type TestChain, alice, bob, fund, setupChain, sign, stateOf } from '../helpers/chain.ts';
import { type SubmitterRig, stopSubmitterRig, submitterRig } from '../helpers/submitter-rig.ts';

const seed = () => Number(process.env.SEED ?? Date.now() % 2 ** 31);

test('bisection sends every item that can go, deadlines alone, and refuses only the ones that fail alone', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ gas: fc.integer({ min: 1, max: 100 }), poison: fc.boolean(), deadline: fc.boolean() }), { maxLength: 100 }),
      fc.integer({ min: 50, max: 1_000 }),
      async (specs, cap) => {
        const items = specs.map((s, i) => ({ id: i, ...s }));
        // Monotone, as a real revert is: a group fails if it holds a poison item or needs more than the cap.
        const fails = (g: readonly (typeof items)[number][]) => g.some((i) => i.poison) || g.reduce((s, i) => s + i.gas, 0) > cap;
        const sims: (typeof items)[number][][] = [];
        const r = await isolate(
          items,
          (g): Promise<Simulation> => {
            sims.push([...g]);
            return Promise.resolve(fails(g) ? { ok: false, reason: 'reverts' } : { ok: true, gas: 1n });
          },
          (i) => i.deadline,
        );
        const sent = r.groups.flatMap((g) => g.items);
        const refused = r.failing.map((f) => f.item);
        if (sent.length + refused.length !== items.length || new Set([...sent, ...refused]).size !== items.length) return false;
        if (r.groups.some((g) => fails(g.items))) return false; // a group that does not pass went out
        if (refused.some((i) => !fails([i]))) return false; // refused because of its companions
        if (items.some((i) => fails([i]) && !refused.includes(i))) return false;
        // An item with a deadline shares a transaction only with a batch that passed as a whole.
        if (r.groups.some((g) => g.items.length > 1 && g.items.length < items.length && g.items.some((i) => i.deadline))) return false;
        const others = sent.filter((i) => !i.deadline);
        if (others.some((i, k) => k > 0 && others[k - 1]!.id > i.id)) return false; // input order kept
        return r.simulations === sims.length && sims.length <= Math.max(1, 2 * items.length - 1);
      },
    ),
    { numRuns: 300, seed: seed() },
  );
  t.pass();
});

// ---------------------------------------------------------------------------------------------
// Against the real adjudicator

const rig = (o: { tc?: TestChain; provider?: EIP1193Provider } = {}) => submitterRig({ ...o, name: 'simulate' });
const stop = stopSubmitterRig;
type Rig = SubmitterRig;

function closeRecord(q: CoordinatorQueue, params: ChannelParams, flat: readonly bigint[]): ItemRecord {
  const state = stateOf(params, 9n, flat, { isFinal: true });
  const rec: ItemRecord = {
    id: q.allocItemId(),
    kind: 'close',
    item: { kind: 'close', params, signed: sign(params, state, [alice, bob]) },
    origins: [],
    status: 'queued',
    enqueuedAt: Date.now(),
    gas: 100_000,
    attempts: 0,
  };
  q.putItem(rec);
  return rec;
}

async function burningToken(tc: TestChain, burning: boolean): Promise<Address> {
  const token = await tc.deploy(GasBurningTokenAbi, GasBurningTokenBytecode);
  if (burning) await setBurning(tc, token, true);
  return token;
}

async function setBurning(tc: TestChain, token: Address, on: boolean, tip?: bigint): Promise<`0x${string}`> {
  return tc.deployer.walletClient.writeContract({
    address: token,
    abi: GasBurningTokenAbi,
    functionName: 'setBurning',
    args: [on],
    ...(tip === undefined ? {} : { maxPriorityFeePerGas: tip, maxFeePerGas: tip * 2n }),
  });
}

async function until(ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const rpc = (r: Rig, method: string, params: unknown[] = []) =>
  r.clients.publicClient.request({ method: method as never, params: params as never });

test.serial('a batch whose simulation reverts is never broadcast: the poison close is refused alone, the rest settle', async (t) => {
  const r = await rig();
  try {
    const { tc, queue } = r;
    await tc.chain.setBalance(r.clients.account.address, 10n ** 20n);
    // The poison: eight tokens that burn all the gas a transfer gets, sixteen payouts of 100k
    // each: more than the block allows.
    const tokens: Address[] = [];
    for (let i = 0; i < 8; i++) tokens.push(await burningToken(tc, false));
    const poisonParams = tc.params(alice, bob, { assets: tokens });
    await fund(
      tc,
      poisonParams,
      tokens.flatMap(() => [10n, 0n]),
    );
    for (const token of tokens) await tc.deployer.publicClient.waitForTransactionReceipt({ hash: await setBurning(tc, token, true) });
    const good: ItemRecord[] = [];
    for (let i = 0; i < 6; i++) {
      const p = tc.params(alice, bob, { assets: [NATIVE_ASSET] });
      await fund(tc, p, [10n, 0n]);
      good.push(closeRecord(queue, p, [4n, 6n]));
    }
    const poison = closeRecord(
      queue,
      poisonParams,
      tokens.flatMap(() => [5n, 5n]),
    );
    await rpc(r, 'evm_setBlockGasLimit', ['0x' + (1_500_000).toString(16)]);
    await rpc(r, 'evm_mine');
    const items = [...good.slice(0, 3), poison, ...good.slice(3)];
    const out = await r.submitter.submit('close', items, 1_000_000);
    t.deepEqual(
      out.refused.map((f) => f.item.id),
      [poison.id],
    );
    t.regex(out.refused[0]!.reason, /cap/);
    t.is(poison.status, 'queued', 'the refused item is left to the caller, untouched');
    t.deepEqual(out.sent.flatMap((b) => b.itemIds).sort(), good.map((g) => g.id).sort());
    await until(() => out.sent.every((b) => r.mined.has(b.id)));
    for (const b of out.sent) {
      const outcome = r.mined.get(b.id)!;
      t.not(outcome, 'reverted');
      t.true((outcome as ItemResult[]).every((x) => x.ok));
    }
  } finally {
    await rpc(r, 'evm_setBlockGasLimit', ['0x' + (60_000_000).toString(16)]).catch(() => undefined);
    await stop(r);
  }
});

test.serial('a token that starts burning gas after the simulation cannot make the batch run out of gas', async (t) => {
  const r = await rig();
  try {
    const { tc, queue } = r;
    await tc.chain.setBalance(r.clients.account.address, 10n ** 20n);
    const token = await burningToken(tc, false);
    const items: ItemRecord[] = [];
    for (let i = 0; i < 3; i++) {
      const p = tc.params(alice, bob, { assets: [token] });
      await fund(tc, p, [10n, 10n]);
      items.push(closeRecord(queue, p, [5n, 15n]));
    }
    await rpc(r, 'evm_setAutomine', [false]);
    const out = await r.submitter.submit('close', items, 1_000_000);
    t.is(out.sent.length, 1);
    // The attacker's switch lands first in the block, with a higher tip.
    await setBurning(tc, token, true, 50n * 10n ** 9n);
    await rpc(r, 'evm_mine');
    await rpc(r, 'evm_setAutomine', [true]);
    await until(() => r.mined.has(out.sent[0]!.id));
    const outcome = r.mined.get(out.sent[0]!.id)!;
    t.not(outcome, 'reverted', 'the gas limit covers every payout burning its 100k');
    t.true((outcome as ItemResult[]).every((x) => x.ok));
    t.true((await tc.svc.alice.withdrawable(alice.address, token)) > 0n, 'the burnt payouts were credited instead');
  } finally {
    await rpc(r, 'evm_setAutomine', [true]).catch(() => undefined);
    await stop(r);
  }
});

test.serial('an RPC failure during the simulation refuses nothing and sends nothing', async (t) => {
  const tc0 = await setupChain();
  const base = tc0.chain.provider;
  let failing = false;
  const flaky = {
    request: (args: { method: string }) =>
      failing && args.method === 'eth_estimateGas'
        ? Promise.reject(new Error('connect ECONNREFUSED 10.0.0.1:8545'))
        : base.request(args as never),
  } as unknown as EIP1193Provider;
  const r = await rig({ tc: tc0, provider: flaky });
  try {
    const { tc, queue } = r;
    await tc.chain.setBalance(r.clients.account.address, 10n ** 20n);
    const p = tc.params(alice, bob);
    await fund(tc, p, [10n, 0n]);
    const rec = closeRecord(queue, p, [4n, 6n]);
    const nonce = queue.nextNonce;
    failing = true;
    await t.throwsAsync(r.submitter.submit('close', [rec], 200_000));
    t.is(rec.status, 'queued');
    t.is(rec.attempts, 0);
    t.is(queue.nextNonce, nonce, 'no nonce used');
    t.is(queue.batches.size, 0, 'no batch stored');
  } finally {
    await stop(r);
  }
});
