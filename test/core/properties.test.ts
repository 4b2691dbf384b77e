import test from 'ava';
import fc from 'fast-check';
import { type ChannelState, type Op, applyUpdate, bytesToHex, keccak256, selectOps, totals } from '../../src/core/index.ts';
import { makeState, makeSwapParams } from '../helpers/factories.ts';

const params = makeSwapParams();
const NOW = 1_700_000_000n;
const secrets = [1, 2, 3].map((b) => `0x${b.toString(16).padStart(2, '0').repeat(32)}` as const);
const hashlocks = [1, 2, 3].map((b) => bytesToHex(keccak256(Uint8Array.from({ length: 32 }, () => b))));

const party = fc.constantFrom(0 as const, 1 as const);
const asset = fc.integer({ min: 0, max: 3 }); // 3 is unknown: exercises rejections too
const amount = fc.oneof(fc.bigInt({ min: 0n, max: 1500n }), fc.constantFrom((1n << 256n) - 1n, 1n << 256n, -1n));
const lockId = fc.bigInt({ min: 1n, max: 4n });
const idx = fc.integer({ min: 0, max: 2 });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('pay' as const), id: fc.constant(0n), by: party, asset, amount }),
  fc.record({
    kind: fc.constant('swap' as const),
    id: fc.constant(0n),
    by: party,
    giveAsset: asset,
    giveAmount: amount,
    takeAsset: asset,
    takeAmount: amount,
    expiry: fc.bigInt({ min: NOW - 5n, max: NOW + 5n }),
  }),
  fc.tuple(party, asset, amount, lockId, idx, fc.bigInt({ min: NOW - 5n, max: NOW + 5n })).map(([by, a, amt, id, h, expiry]): Op => ({
    kind: 'lock',
    id: 0n,
    by,
    lock: { id, asset: a, amount: amt, sender: by, receiver: by === 0 ? 1 : 0, hashlock: hashlocks[h]!, expiry },
  })),
  fc.record({ kind: fc.constant('settle' as const), id: fc.constant(0n), by: party, lockId, secret: idx.map((i) => secrets[i]!) }),
  fc.record({ kind: fc.constant('cancel' as const), id: fc.constant(0n), by: party, lockId }),
  fc.record({ kind: fc.constant('finalize' as const), id: fc.constant(0n), by: party }),
);

const updates = fc.array(fc.record({ ops: fc.array(opArb, { minLength: 1, maxLength: 4 }), dt: fc.bigInt({ min: -3n, max: 3n }) }), {
  maxLength: 30,
});

test('conservation, monotonic versions and untouched state on rejection, over random update sequences', (t) => {
  fc.assert(
    fc.property(updates, (seq) => {
      let state: ChannelState = makeState(params);
      const initialTotals = totals(state);
      for (const { ops, dt } of seq) {
        const before = structuredClone(state);
        const r = applyUpdate(params, state, ops, { now: NOW + dt });
        if (r.ok) {
          if (r.value.version !== state.version + 1n) return false;
          const tot = totals(r.value);
          if (tot.some((x, i) => x !== initialTotals[i])) return false;
          if (r.value.balances.some((row) => row.some((b) => b < 0n))) return false;
          state = r.value;
        } else {
          // A rejected update changes nothing.
          t.deepEqual(state, before);
        }
      }
      return true;
    }),
    { numRuns: 400, seed: Number(process.env.SEED ?? Date.now() % 2 ** 31) },
  );
  t.pass();
});

test('selectOps keeps what applies, rejects the rest individually, and matches applyUpdate on what it kept', (t) => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 12 }), fc.bigInt({ min: -3n, max: 3n }), (ops, dt) => {
      const state = makeState(params);
      const ctx = { now: NOW + dt };
      const sel = selectOps(params, state, ops, ctx);
      if (sel.accepted.length + sel.rejected.length !== ops.length) return false;
      const replay = applyUpdate(params, state, sel.accepted, ctx);
      if (!replay.ok) return false;
      t.deepEqual(replay.value, sel.state);
      return true;
    }),
    { numRuns: 300, seed: Number(process.env.SEED ?? Date.now() % 2 ** 31) },
  );
  t.pass();
});
