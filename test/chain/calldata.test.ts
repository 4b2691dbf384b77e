/**
 * The close path reads items straight from calldata. Hand-crafted encodings that viem would
 * never produce (dirty address bits, offsets past the end) must fail their item, never the batch.
 */
import test from 'ava';
import { encodeFunctionData, hexToBytes, bytesToHex } from 'viem';
import { NATIVE_ASSET, readWord } from '../../src/core/index.ts';
import { LanesAdjudicatorAbi } from '../../src/chain/artifacts/LanesAdjudicator.ts';
import { decodeEvents } from '../../src/chain/events.ts';
import { itemResults } from '../../src/chain/chain-service.ts';
import { closeItem } from '../../src/chain/encode.ts';
import { ETHER, type TestChain, alice, bob, fund, setupChain, sign, stateOf } from '../helpers/chain.ts';

let tc: TestChain;
test.before(async () => {
  tc = await setupChain();
});

async function twoItems() {
  const items = [];
  for (let i = 0; i < 2; i++) {
    const params = tc.params(alice, bob);
    await fund(tc, params, [ETHER, ETHER]);
    items.push(closeItem(params, sign(params, stateOf(params, 3n, [ETHER, ETHER], { isFinal: true }), [alice, bob])));
  }
  return items;
}

/** Byte offsets (into the calldata, selector included) of the parts of item `i`. */
function layout(data: Uint8Array, i: number) {
  const word = (at: number) => Number(readWord(data, at));
  const items = 4 + word(4); // [length][offsets...]
  const base = items + 32;
  const item = base + word(base + 32 * i);
  const params = item + word(item);
  return { headOf: base + 32 * i, item, params };
}

/** Sends raw calldata; the transaction must succeed, with one result per item. */
async function send(data: Uint8Array) {
  const hash = await tc.deployer.walletClient.sendTransaction({ to: tc.adjudicator, data: bytesToHex(data), gas: 2_000_000n });
  const r = await tc.deployer.publicClient.waitForTransactionReceipt({ hash });
  return { status: r.status, results: itemResults('close', decodeEvents(r.logs), 2) };
}

test.serial('dirty high bits in a participant address fail only that item', async (t) => {
  const items = await twoItems();
  const data = hexToBytes(encodeFunctionData({ abi: LanesAdjudicatorAbi, functionName: 'closeBatch', args: [items, 0] }));
  data[layout(data, 0).params] = 0x01; // participant 0 of item 0 now has a dirty top byte
  const { status, results } = await send(data);
  t.is(status, 'success');
  t.deepEqual(
    results.map((r) => (r.ok ? 'ok' : r.reason)),
    ['malformed', 'ok'],
  );
  t.deepEqual(await tc.svc.irene.holdings(results[1]!.channelId, NATIVE_ASSET), { amount: 0n, closed: true }, 'the other item settled');
});

test.serial('an item offset past the end of calldata fails only that item', async (t) => {
  const items = await twoItems();
  const data = hexToBytes(encodeFunctionData({ abi: LanesAdjudicatorAbi, functionName: 'closeBatch', args: [items, 0] }));
  const { headOf } = layout(data, 1);
  data.fill(0xff, headOf, headOf + 32); // offset 2^256 - 1
  const { status, results } = await send(data);
  t.is(status, 'success');
  t.deepEqual(
    results.map((r) => (r.ok ? 'ok' : r.reason)),
    ['ok', 'malformed'],
  );
});

test.serial('a version with bits above 64 fails its item', async (t) => {
  const items = await twoItems();
  const data = hexToBytes(encodeFunctionData({ abi: LanesAdjudicatorAbi, functionName: 'closeBatch', args: [items, 0] }));
  data[layout(data, 1).item + 32 + 20] = 0x01; // the version word of item 1, above bit 64
  const { results } = await send(data);
  t.deepEqual(
    results.map((r) => (r.ok ? 'ok' : r.reason)),
    ['ok', 'malformed'],
  );
});
