/**
 * Following the chain with confirmations (src/chain/chain-follower.ts) over an in-memory chain
 * that can be reorganised: what is handed over, when, and what a reorg hands back to undo.
 */
import test from 'ava';
import { pad, toHex } from 'viem';
import type { Address, Bytes32 } from '../../src/core/index.ts';
import {
  type FollowPosition,
  type FollowSource,
  checkConfirmations,
  decodePosition,
  defaultConfirmations,
  disputeAtFork,
  encodePosition,
  followStep,
} from '../../src/chain/chain-follower.ts';
import type { ChainEvent } from '../../src/chain/events.ts';

const b32 = (n: bigint) => pad(toHex(n), { size: 32 }) as Bytes32;
const CHANNEL = b32(7n);
const ETH = `0x${'00'.repeat(20)}` as Address;

type Deposit = Extract<ChainEvent, { type: 'deposited' }>;

/** A chain of blocks with hashes; `reorg` replaces the newest blocks by others (new hashes). */
class FakeChain implements FollowSource {
  readonly blocks: { hash: Bytes32; events: Deposit[] }[] = [{ hash: b32(0xa0000n), events: [] }];
  #fork = 0n;
  /** Called inside readLogs, after the logs are taken: a reorg during the read. */
  duringRead: (() => void) | undefined;
  maxRange = 4n;

  get head(): bigint {
    return BigInt(this.blocks.length - 1);
  }

  /** Mines a block holding deposits of these amounts; returns its number. */
  mine(...amounts: bigint[]): bigint {
    const number = BigInt(this.blocks.length);
    const hash = b32((this.#fork << 32n) | (number + 0xa0000n));
    const events = amounts.map((amount, logIndex): Deposit => ({
      type: 'deposited',
      channelId: CHANNEL,
      asset: ETH,
      participant: ETH,
      amount,
      holdingsAfter: amount,
      blockNumber: number,
      blockHash: hash,
      logIndex,
      transactionHash: b32(amount),
    }));
    this.blocks.push({ hash, events });
    return number;
  }

  /** Replaces the last `depth` blocks by `replacement` (deposits per block), then empty blocks to the same height. */
  reorg(depth: number, replacement: bigint[][] = []): void {
    const height = this.blocks.length;
    this.blocks.splice(this.blocks.length - depth);
    this.#fork++;
    for (const r of replacement) this.mine(...r);
    while (this.blocks.length < height) this.mine();
  }

  async blockNumber() {
    return this.head;
  }
  async blockHash(n: bigint) {
    return this.blocks[Number(n)]?.hash;
  }
  async readLogs(from: bigint, upTo: bigint) {
    const to = upTo < from + this.maxRange - 1n ? upTo : from + this.maxRange - 1n;
    const events = this.blocks.slice(Number(from), Number(to) + 1).flatMap((b) => b.events);
    this.duringRead?.();
    this.duringRead = undefined;
    return { events, to };
  }
}

/** The caller's side: steps until idle, keeping the position, collecting what is handed over and back. */
function follower(chain: FakeChain, confirmations: number, window = 16) {
  let position: FollowPosition = { next: 1n, blocks: [] };
  const counted: bigint[] = [];
  const undone: bigint[] = [];
  const deep: boolean[] = [];
  return {
    counted,
    undone,
    deep,
    get position() {
      return position;
    },
    async sync() {
      for (let i = 0; i < 100; i++) {
        const s = await followStep(chain, position, {
          confirmations,
          window,
          filter: () => ({ channelEvents: ['Deposited'], channelIds: [CHANNEL] }),
        });
        if (s.kind === 'idle') return;
        if (s.kind === 'reorg') {
          for (const e of s.removed) undone.push((e as Deposit).amount);
          deep.push(s.deep);
        } else for (const e of s.events) counted.push((e as Deposit).amount);
        position = s.position;
      }
      throw new Error('no idle after 100 steps');
    },
  };
}

test('an event counts only once it has `confirmations` blocks on top of it', async (t) => {
  const chain = new FakeChain();
  const f = follower(chain, 3);
  chain.mine(5n);
  await f.sync();
  t.deepEqual(f.counted, []);
  chain.mine();
  chain.mine();
  await f.sync();
  t.deepEqual(f.counted, [], 'two blocks on top');
  chain.mine();
  await f.sync();
  t.deepEqual(f.counted, [5n], 'three');
  for (let i = 0; i < 20; i++) chain.mine();
  await f.sync();
  t.deepEqual(f.counted, [5n], 'once');
});

test('a reorg shallower than the confirmations removes an event before it counts: it never does', async (t) => {
  const chain = new FakeChain();
  const f = follower(chain, 3);
  chain.mine();
  chain.mine(5n);
  chain.mine();
  await f.sync();
  chain.reorg(2, [[], [6n]]); // the deposit of 5 is gone; one of 6 is mined instead, a block later
  for (let i = 0; i < 5; i++) chain.mine();
  await f.sync();
  t.deepEqual(f.counted, [6n]);
  t.deepEqual(f.undone, []);
});

test('with 0 confirmations an event counts at once, and a reorg that removes it hands it back to undo', async (t) => {
  const chain = new FakeChain();
  const f = follower(chain, 0);
  chain.mine(1n);
  chain.mine(5n);
  chain.mine();
  await f.sync();
  t.deepEqual(f.counted, [1n, 5n]);
  chain.reorg(2, [[7n]]); // same height, other hashes: only the hashes tell
  await f.sync();
  t.deepEqual(f.undone, [5n]);
  t.deepEqual(f.deep, [false]);
  t.deepEqual(f.counted, [1n, 5n, 7n], 'what is there now is read again');
  t.is(f.position.next, chain.head + 1n);
});

test('a reorg deeper than the confirmations but inside the window is undone, newest first', async (t) => {
  const chain = new FakeChain();
  const f = follower(chain, 2, 64);
  chain.mine(1n);
  chain.mine(2n, 3n);
  for (let i = 0; i < 6; i++) chain.mine();
  await f.sync();
  t.deepEqual(f.counted, [1n, 2n, 3n]);
  chain.reorg(7, [[], [], [], [], [], [9n]]); // from block 2 on; 9 lands in block 7
  await f.sync();
  t.deepEqual(f.undone, [3n, 2n]);
  t.deepEqual(f.counted, [1n, 2n, 3n], 'block 7 has one block on top');
  chain.mine();
  await f.sync();
  t.deepEqual(f.counted, [1n, 2n, 3n, 9n]);
});

test('a chain that got shorter (blocks dropped, as evm_revert does) is a reorg', async (t) => {
  const chain = new FakeChain();
  const f = follower(chain, 0);
  chain.mine(1n);
  chain.mine(2n);
  await f.sync();
  chain.blocks.splice(2); // block 2 is gone, no block replaced it
  await f.sync();
  t.deepEqual(f.undone, [2n]);
  chain.mine(4n);
  await f.sync();
  t.deepEqual(f.counted, [1n, 2n, 4n]);
});

test('a reorg deeper than the window says so', async (t) => {
  const chain = new FakeChain();
  const f = follower(chain, 0, 4);
  chain.mine(1n);
  for (let i = 0; i < 10; i++) chain.mine();
  await f.sync();
  chain.reorg(11);
  await f.sync();
  t.deepEqual(f.deep, [true]);
});

test('a reorg during a read is noticed: what was read is read again', async (t) => {
  const chain = new FakeChain();
  chain.maxRange = 100n;
  const f = follower(chain, 0);
  chain.mine(1n);
  chain.mine(5n);
  chain.duringRead = () => chain.reorg(1, [[6n]]);
  await f.sync();
  t.deepEqual(f.counted, [], 'the read is dropped (the caller polls again)');
  await f.sync();
  t.deepEqual(f.counted, [1n, 6n]);
  t.deepEqual(f.undone, []);
});

test('a block with no event replaced by one with an event during the read is not skipped', async (t) => {
  const chain = new FakeChain();
  chain.maxRange = 100n;
  const f = follower(chain, 0);
  chain.mine(1n);
  chain.mine();
  chain.duringRead = () => chain.reorg(1, [[6n]]);
  await f.sync();
  await f.sync();
  t.deepEqual(f.counted, [1n, 6n]);
});

test('the position survives a round trip to disk; confirmations are checked', (t) => {
  const p: FollowPosition = { next: 12n, blocks: [{ number: 11n, hash: b32(1n), events: [] }] };
  t.deepEqual(decodePosition(encodePosition(p)), p);
  t.is(defaultConfirmations(31337n), 0);
  t.is(defaultConfirmations(1n), 12);
  t.is(checkConfirmations(3), 3);
  t.throws(() => checkConfirmations(-1));
  t.throws(() => checkConfirmations(1.5));
  t.throws(() => checkConfirmations(10_000));
});

test('disputeAtFork: the registration at the fork, or the latest when the backend has no state that old', async (t) => {
  const id = `0x${'0d'.repeat(32)}` as const;
  const calls: (bigint | undefined)[] = [];
  const pruned = (at?: bigint) => {
    calls.push(at);
    if (at !== undefined && at < 1000n) return Promise.reject(new Error('missing trie node (state pruned)'));
    return Promise.resolve(at === undefined ? 'latest' : `at ${at}`);
  };
  t.is(await disputeAtFork((_c, at) => pruned(at), id, 2000n), 'at 2000');
  const told: unknown[] = [];
  t.is(
    await disputeAtFork(
      (_c, at) => pruned(at),
      id,
      10n,
      (e) => told.push(e),
    ),
    'latest',
    'a fork beyond the kept state',
  );
  t.is(told.length, 1);
  t.deepEqual(calls, [2000n, 10n, undefined]);
  await t.throwsAsync(
    disputeAtFork(() => Promise.reject(new Error('down')), id, 10n),
    { message: 'down' },
    'a backend that answers nothing: thrown, tried again at the next step',
  );
});
