/**
 * Confirmations and reorgs on a real EVM (anvil, automine): a deposit that a reorg removes
 * (`anvil_reorg`, `evm_snapshot`/`evm_revert`) before it has its confirmations is never handed
 * over; with 0 confirmations it is handed over at once, then handed back to be undone.
 */
import test from 'ava';
import type { Hex } from '../../../src/core/index.ts';
import { type FollowPosition, followStep } from '../../../src/chain/chain-follower.ts';
import type { ChainEvent } from '../../../src/chain/events.ts';
import type { ChainService } from '../../../src/chain/chain-service.ts';
import { channelId } from '../../../src/core/index.ts';
import { challengeItem } from '../../../src/chain/encode.ts';
import { ETHER, type TestChain, alice, bob, setupChain, sign, stateOf, stopTestChains, useAnvil } from '../../helpers/chain.ts';

useAnvil(); // automine: a block per transaction, and no block unless asked for
test.after.always(stopTestChains);

let tc: TestChain;
test.before(async () => {
  tc = await setupChain();
});

/** JSON-RPC to anvil (its test methods). */
async function rpc<T>(method: string, params: readonly unknown[] = []): Promise<T> {
  const res = await fetch(tc.chain.rpc as string, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await res.json()) as { result: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}
const mine = (n: number) => rpc('anvil_mine', [`0x${n.toString(16)}`]);

/** A follower of one channel's events with `confirmations`, as the node runs it. */
function follow(svc: ChainService, id: Hex, confirmations: number, from: bigint) {
  let position: FollowPosition = { next: from, blocks: [] };
  const counted: ChainEvent[] = [];
  const undone: ChainEvent[] = [];
  return {
    counted,
    undone,
    async sync() {
      for (;;) {
        const s = await followStep(svc, position, {
          confirmations,
          window: 64,
          filter: () => ({ channelEvents: ['Deposited', 'Challenged'], channelIds: [id as `0x${string}`] }),
        });
        if (s.kind === 'idle') return;
        if (s.kind === 'reorg') undone.push(...s.removed);
        else counted.push(...s.events);
        position = s.position;
      }
    },
  };
}

test.serial('a deposit removed by anvil_reorg before its confirmations never counts; at 0 it is undone', async (t) => {
  const svc = tc.svc.alice;
  const params = tc.params(alice, bob);
  const id = channelId(params);
  const from = (await svc.blockNumber()) + 1n;
  const deep = follow(svc, id, 2, from);
  const fast = follow(svc, id, 0, from);

  const receipt = await svc.deposit(params, 0, 0, ETHER);
  await mine(1); // one block on top: not two
  await deep.sync();
  await fast.sync();
  t.is(deep.counted.length, 0, 'one confirmation is not enough');
  t.deepEqual(
    fast.counted.map((e) => e.transactionHash),
    [receipt.hash],
    'counted at once with 0 confirmations',
  );

  // The deposit's block and the one on top are replaced by two empty blocks (same height).
  await rpc('anvil_reorg', [2, []]);
  t.is((await svc.holdings(id, params.assets[0]!)).amount, 0n, 'the chain no longer holds it');
  await mine(5);
  await deep.sync();
  await fast.sync();
  t.is(deep.counted.length, 0, 'never counted');
  t.deepEqual(deep.undone, [], 'nothing to undo');
  t.deepEqual(
    fast.undone.map((e) => [e.type, e.transactionHash]),
    [['deposited', receipt.hash]],
    'handed back to be undone',
  );

  // A deposit that stays counts once it has its confirmations.
  const again = await svc.deposit(params, 0, 0, ETHER);
  await deep.sync();
  t.is(deep.counted.length, 0);
  await mine(2);
  await deep.sync();
  t.deepEqual(
    deep.counted.map((e) => e.transactionHash),
    [again.hash],
  );
});

test.serial('a registration dropped by evm_revert is handed back, then counted again when mined again', async (t) => {
  const params = tc.params(alice, bob);
  const id = channelId(params);
  const svc = tc.svc.alice;
  await svc.deposit(params, 0, 0, ETHER);
  const fast = follow(svc, id, 0, (await svc.blockNumber()) + 1n);
  const snapshot = await rpc<Hex>('evm_snapshot');
  const signed = sign(params, stateOf(params, 1n, [ETHER, 0n]), [alice, bob]);
  const r = await svc.challengeBatch([challengeItem(params, signed)]);
  t.true(r.items[0]!.ok);
  await fast.sync();
  t.deepEqual(
    fast.counted.map((e) => e.type),
    ['challenged'],
  );
  t.true(await rpc<boolean>('evm_revert', [snapshot])); // the chain is shorter now: block gone
  t.is(await svc.dispute(id), undefined);
  await fast.sync();
  t.deepEqual(
    fast.undone.map((e) => [e.type, e.transactionHash]),
    [['challenged', r.hash]],
  );
  const again = await svc.challengeBatch([challengeItem(params, signed)]);
  await fast.sync();
  t.deepEqual(
    fast.counted.map((e) => e.transactionHash),
    [r.hash, again.hash],
  );
});
