/**
 * Watched states in the coordinator's queue: durable, bounded per peer (a clear refusal, nothing
 * changed), and only an index of them in memory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type ChannelParams, NATIVE_ASSET, channelId } from '../../src/core/index.ts';
import { CoordinatorQueue } from '../../src/coordinator/queue.ts';
import type { WatchRecord } from '../../src/coordinator/records.ts';
import { alice, b32, bob, sign, stateOf } from '../helpers/chain.ts';

let nonce = 1n;
function watch(from: string, version = 1n, locks = 0, params?: ChannelParams): WatchRecord {
  const p: ChannelParams = params ?? {
    chainId: 31337n,
    adjudicator: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
    participants: [alice.address, bob.address],
    assets: [NATIVE_ASSET],
    challengeDuration: 600n,
    nonce: nonce++,
  };
  const state = stateOf(p, version, [5n, 5n], {
    locks: Array.from({ length: locks }, (_, i) => ({
      id: BigInt(i),
      asset: 0,
      amount: 1n,
      sender: 0 as const,
      receiver: 1 as const,
      hashlock: b32(i + 1),
      expiry: 1_000n + BigInt(i),
    })),
  });
  return { channelId: channelId(p), params: p, signed: sign(p, state, [alice, bob]), from, updatedAt: Date.now() };
}

test('watches are bounded per peer: a new channel over the cap is refused and nothing changes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lanes-queue-'));
  try {
    const q = await CoordinatorQueue.open(join(dir, 'q'), { maxWatchesPerPeer: 2 });
    const a1 = watch('peer-a');
    const a2 = watch('peer-a');
    t.true(q.putWatch(a1).ok);
    t.true(q.putWatch(a2).ok);
    const over = q.putWatch(watch('peer-a'));
    t.false(over.ok);
    t.is(over.ok ? undefined : over.reason, 'policy');
    t.regex(over.ok ? '' : over.detail, /watch limit/);
    t.is(q.watchCount, 2, 'nothing stored');
    t.is(q.watchesOf('peer-a'), 2);
    // Updates of a watched channel are never refused, by the owner or by the other participant.
    t.true(q.putWatch({ ...watch('peer-a', 5n, 0, a1.params), channelId: a1.channelId }).ok);
    t.true(q.putWatch({ ...watch('peer-b', 6n, 0, a2.params), channelId: a2.channelId }).ok);
    t.is(q.watchesOf('peer-a'), 2, 'the channel still counts against its first watcher');
    t.is(q.watchesOf('peer-b'), 0);
    t.true(q.putWatch(watch('peer-b')).ok, 'other peers have caps of their own');
    q.deleteWatch(a1.channelId); // closed on-chain
    t.true(q.putWatch(watch('peer-a')).ok, 'room again');
    await q.flush();
    await q.close();
    const again = await CoordinatorQueue.open(join(dir, 'q'), { maxWatchesPerPeer: 2 });
    t.is(again.watchCount, 3, 'durable');
    t.is(again.watch(a2.channelId)?.version, 6n);
    t.is(again.watchesOf('peer-a'), 2);
    t.is((await again.loadWatch(a2.channelId))?.signed.state.version, 6n, 'the full state is read from disk');
    t.false(again.putWatch(watch('peer-a')).ok, 'the cap survives a restart');
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('only an index is kept in memory; hashlocks of watched states are looked up in it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lanes-queue-'));
  try {
    const q = await CoordinatorQueue.open(join(dir, 'q'));
    const w = watch('peer-a', 3n, 2);
    t.true(q.putWatch(w).ok);
    const entry = q.watch(w.channelId)!;
    t.deepEqual(Object.keys(entry).sort(), ['locks', 'owner', 'version'], 'no params, state or signatures in memory');
    t.is(q.lockExpiry(b32(2)), 1_001n);
    t.is(q.lockExpiry(b32(9)), undefined);
    t.true(q.putWatch({ ...watch('peer-a', 4n, 0, w.params), channelId: w.channelId }).ok, 'the locks were settled');
    t.is(q.lockExpiry(b32(2)), undefined, 'a newer state without the lock drops it from the index');
    await q.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
