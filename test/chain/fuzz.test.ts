/**
 * Property: over random batches of cooperative closes and disputes (valid and invalid items,
 * ETH and a token), the adjudicator never pays out more than was deposited, pays each settled
 * participant exactly its balance, and its own balance always equals what it still owes.
 */
import test from 'ava';
import fc from 'fast-check';
import { type Address, type ChannelParams, type SignedState, NATIVE_ASSET, bytesToHex, channelId } from '../../src/core/index.ts';
import { challengeItem, closeItem, concludeItem } from '../../src/chain/encode.ts';
import { actor } from '../helpers/actors.ts';
import { type TestChain, deployTestToken, mallory, setupChain, sign, stateOf } from '../helpers/chain.ts';
import { createClients, chainServiceFromClients } from '../../src/chain/chain-service.ts';

let tc: TestChain;
let token: Address;
let round = 0;
test.before(async () => {
  tc = await setupChain();
  token = await deployTestToken(tc);
});

const channelArb = fc.record({
  twoAssets: fc.boolean(),
  deposits: fc.array(fc.bigInt({ min: 0n, max: 1000n }), { minLength: 4, maxLength: 4 }),
  split: fc.array(fc.bigInt({ min: 0n, max: 1000n }), { minLength: 4, maxLength: 4 }),
  overdraw: fc.bigInt({ min: 0n, max: 50n }),
  forgery: fc.constantFrom('none', 'none', 'none', 'mallory'),
  path: fc.constantFrom('close', 'dispute'),
  funded: fc.constantFrom(true, true, true, false),
});

test.serial('random batches never pay out more than was deposited', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(channelArb, { minLength: 1, maxLength: 6 }), async (specs) => {
      round++;
      const a = actor(`fuzz-a-${round}`);
      const b = actor(`fuzz-b-${round}`);
      for (const who of [a, b]) await tc.chain.setBalance(who.address, 10n ** 21n);
      const svcs = await Promise.all(
        [a, b].map(async (who) =>
          chainServiceFromClients(
            await createClients({ rpc: tc.chain.provider, privateKey: bytesToHex(who.privateKey), pollingIntervalMs: 10 }),
            tc.adjudicator,
          ),
        ),
      );
      const assetsOf = (two: boolean) => (two ? [NATIVE_ASSET, token] : [NATIVE_ASSET]);
      const plan: { s: (typeof specs)[number]; params: ChannelParams; signed: SignedState; flat: bigint[]; deposits: bigint[] }[] = [];
      for (const s of specs) {
        const params = tc.params(a, b, { assets: assetsOf(s.twoAssets), challengeDuration: 60n });
        const n = params.assets.length;
        const deposits = s.deposits.slice(0, 2 * n);
        if (s.funded) {
          for (let i = 0; i < n; i++)
            for (const p of [0, 1] as const) {
              const amt = deposits[2 * i + p]!;
              if (amt === 0n) continue;
              if (params.assets[i] !== NATIVE_ASSET) await tc.mint(params.assets[i]!, svcs[p]!.account, amt);
              await svcs[p]!.deposit(params, i, p, amt);
            }
        }
        // Final balances: a random split of each asset's total, sometimes overdrawn.
        const flat: bigint[] = [];
        for (let i = 0; i < n; i++) {
          const total = deposits[2 * i]! + deposits[2 * i + 1]! + s.overdraw;
          const x = s.split[i]! % (total + 1n);
          flat.push(x, total - x);
        }
        const state = stateOf(params, 5n, flat, { isFinal: s.path === 'close' });
        const signed = sign(params, state, s.forgery === 'mallory' ? [a, mallory] : [a, b]);
        plan.push({ s, params, signed, flat, deposits });
      }
      const balances = async () => {
        const out: bigint[] = [];
        for (const who of [a, b]) out.push(await tc.ethBalance(who.address), await tc.tokenBalance(token, who.address));
        return out;
      };
      const contractBefore = [await tc.ethBalance(tc.adjudicator), await tc.tokenBalance(token, tc.adjudicator)];
      const before = await balances();
      const closes = plan.filter((p) => p.s.path === 'close');
      const disputes = plan.filter((p) => p.s.path === 'dispute');
      const closed = closes.length ? (await tc.svc.irene.closeBatch(closes.map((p) => closeItem(p.params, p.signed)))).items : [];
      const challenged = disputes.length
        ? (await tc.svc.irene.challengeBatch(disputes.map((p) => challengeItem(p.params, p.signed)))).items
        : [];
      await tc.chain.increaseTime(61);
      const concluded = disputes.length
        ? (await tc.svc.irene.concludeBatch(disputes.map((p) => concludeItem(p.params, p.signed.state)))).items
        : [];
      const after = await balances();
      // Expected payouts: each settled channel pays exactly its balances.
      const expected = [0n, 0n, 0n, 0n];
      const settle = (p: (typeof plan)[number]) =>
        p.flat.forEach((amt, i) => {
          const asset = Math.floor(i / 2);
          const who = i % 2;
          expected[who * 2 + asset] = expected[who * 2 + asset]! + amt;
        });
      closes.forEach((p, i) => closed[i]!.ok && settle(p));
      disputes.forEach((p, i) => challenged[i]!.ok && concluded[i]!.ok && settle(p));
      const got = after.map((x, i) => x - before[i]!);
      if (got.some((g, i) => g !== expected[i])) return false;
      // Settled items must be exactly the valid ones: funded, signed by both, within holdings.
      for (const [i, p] of closes.entries()) {
        const valid = p.s.funded && p.s.forgery === 'none' && p.s.overdraw === 0n && p.deposits.some((d) => d > 0n);
        if (closed[i]!.ok !== valid) return false;
      }
      // The contract holds exactly what it has not paid out: never less.
      const contractAfter = [await tc.ethBalance(tc.adjudicator), await tc.tokenBalance(token, tc.adjudicator)];
      for (const asset of [0, 1]) {
        const paid = contractBefore[asset]! + 0n - contractAfter[asset]!;
        const paidToParticipants = got[asset]! + got[2 + asset]!;
        if (paid !== paidToParticipants) return false;
        let owed = 0n;
        for (const p of plan) {
          const h = await tc.svc.irene.holdings(channelId(p.params), asset === 0 ? NATIVE_ASSET : token);
          if (p.params.assets.length > asset) owed += h.amount;
        }
        if (contractAfter[asset]! < owed) return false;
      }
      return true;
    }),
    { numRuns: 25, seed: Number(process.env.SEED ?? Date.now() % 2 ** 31) },
  );
  t.pass();
});
