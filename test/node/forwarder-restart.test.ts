/**
 * The forwarder after a restart (unit test: the forwarder alone, its channels as plain objects).
 * Its memory of forwards is gone; the channel records are what it has.
 *   - A secret the next hop reveals for a forward made before the restart is in the outgoing
 *     channel's learned secrets only: it must settle the lock to us upstream (before, nothing
 *     did, and the sender took the lock back at its expiry while we had paid downstream).
 *   - A lock to us already co-signed, sent again with a fresh onion, is not forwarded a second
 *     time (before, `taken` was empty after the restart and the new onion was peeled).
 */
import test from 'ava';
import { pino } from 'pino';
import { type Bytes32, hexToBytes, keccak256Hex } from '../../src/core/bytes.ts';
import { DEFAULT_TIMING } from '../../src/core/forwarding/forward.ts';
import type { Op } from '../../src/core/ops.ts';
import type { Lock } from '../../src/core/state.ts';
import { Forwarder } from '../../src/node/forwarder.ts';

const SECRET = `0x${'42'.repeat(32)}` as Bytes32;
const HASHLOCK = keccak256Hex(hexToBytes(SECRET)) as Bytes32;
const IN = `0x${'0a'.repeat(32)}` as Bytes32;
const OUT = `0x${'0b'.repeat(32)}` as Bytes32;

function rig(o: { own?: Bytes32[] } = {}) {
  const now = 1_000n;
  // upstream → us on IN (we are participant 1), us → downstream on OUT (we are participant 0).
  const incoming: Lock = { id: 7n, asset: 0, amount: 1_100n, sender: 0, receiver: 1, hashlock: HASHLOCK, expiry: now + 600n };
  const outgoing: Lock = { id: 3n, asset: 0, amount: 1_000n, sender: 0, receiver: 1, hashlock: HASHLOCK, expiry: now + 600n };
  const channel = (id: Bytes32, self: number, locks: Lock[]) => ({
    id,
    self,
    latest: { state: { locks } },
    record: { status: 'open', learned: [] as { hashlock: Bytes32; secret: Bytes32; expiry: bigint }[], params: { assets: ['0x'] } },
    machine: { connected: true },
    inputs: [] as unknown[],
    input(x: unknown) {
      this.inputs.push(x);
    },
  });
  const inCh = channel(IN, 1, [incoming]);
  const outCh = channel(OUT, 0, [outgoing]);
  const submitted: { channel: Bytes32; op: Op }[] = [];
  let peeled = 0;
  const ctx = {
    channels: new Map<Bytes32, ReturnType<typeof channel>>([
      [IN, inCh],
      [OUT, outCh],
    ]),
    now: () => now,
    log: pino({ level: 'silent' }),
    events: { on: () => () => undefined, emit: () => undefined },
    chain: { revealedAt: () => Promise.resolve(0n) },
    channelLog: () => pino({ level: 'silent' }),
  };
  const forwarder = new Forwarder({
    ctx: ctx as never,
    submit: (ch: { id: Bytes32 }, op: Op) => {
      submitted.push({ channel: ch.id, op });
      return Promise.resolve(1n);
    },
    nextOpId: () => 99n,
    peel: () => {
      peeled++;
      return { ok: true, value: { payload: { kind: 'forward', channelId: OUT, amount: 1_000n }, replyKey: new Uint8Array(44) } } as never;
    },
    policy: () => ({ feeBase: 0n, feePpm: 0, minAmount: 1n, maxAmount: 10n ** 24n, enabled: true }) as never,
    timing: DEFAULT_TIMING,
    register: () => Promise.resolve(),
    ownsLock: () => false,
    ...(o.own ? { ownHashlocks: () => o.own! } : {}),
  } as never);
  forwarder.start(); // the restart: no forwards in memory
  const sweep = async () => {
    (forwarder as unknown as { sweep(): void }).sweep();
    await new Promise((r) => setImmediate(r));
  };
  return { forwarder, inCh, outCh, incoming, outgoing, submitted, sweep, peeled: () => peeled };
}

test('after a restart, a secret the next hop reveals for an earlier forward settles the lock to us upstream', async (t) => {
  const r = rig();
  try {
    // Downstream settles our outgoing lock: the machine keeps the secret, the lock leaves the state.
    r.outCh.record.learned = [{ hashlock: HASHLOCK, secret: SECRET, expiry: r.outgoing.expiry }];
    r.outCh.latest.state.locks = [];
    await r.sweep();
    const settles = r.submitted.filter((s) => s.op.kind === 'settle');
    t.is(settles.length, 1, 'the lock to us is settled with the learned secret');
    t.like(settles[0], { channel: IN, op: { kind: 'settle', lockId: r.incoming.id, secret: SECRET } });
  } finally {
    r.forwarder.stop();
  }
});

test('after a restart, a co-signed lock to us sent again with a fresh onion is not forwarded a second time', async (t) => {
  const r = rig();
  try {
    const again: Op = { kind: 'lock', id: 5n, by: 0, lock: r.incoming, onion: new Uint8Array([1, 2, 3]) };
    r.forwarder.observe(r.inCh as never, [again]);
    t.deepEqual(r.forwarder.take(r.inCh as never, r.incoming), { kind: 'none' });
    t.is(r.peeled(), 0, 'the onion of a lock already in the state is not peeled');
    await r.sweep();
    t.false(
      r.submitted.some((s) => s.op.kind === 'lock'),
      'nothing locked downstream',
    );
  } finally {
    r.forwarder.stop();
  }
});

test('a secret learned for a payment of our own not yet recorded with it is kept in the channel record', async (t) => {
  for (const own of [[], [HASHLOCK]]) {
    const r = rig({ own });
    try {
      // Our own lock on OUT was settled: the secret is in the record's learned list only.
      r.inCh.latest.state.locks = [];
      r.outCh.latest.state.locks = [];
      r.outCh.record.learned = [{ hashlock: HASHLOCK, secret: SECRET, expiry: r.outgoing.expiry }];
      for (let i = 0; i < 3; i++) await r.sweep();
      const forgot = r.outCh.inputs.some((x) => (x as { kind?: string }).kind === 'forget-learned');
      t.is(forgot, own.length === 0, own.length === 0 ? 'nothing needs it: forgotten' : 'our payment needs it: kept');
    } finally {
      r.forwarder.stop();
    }
  }
});
