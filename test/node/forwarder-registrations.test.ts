/**
 * The forwarder's on-chain registrations, against a chain that forgets (unit test: the
 * forwarder alone, its channel and chain as plain objects). A registration the chain reported
 * (a receipt) can still be taken out by a reorg. While the lock to us lives, the forwarder
 * checks the registry again and registers the secret anew when it is missing. Without that, the
 * lock would go back to its sender at close, and a hop that paid downstream would lose it. A
 * registration found missing goes again as our own transaction: a coordinator that reports
 * success and delivers nothing would otherwise be asked, and believed, until the expiry.
 */
import test from 'ava';
import { pino } from 'pino';
import { type Bytes32, hexToBytes, keccak256Hex } from '../../src/core/bytes.ts';
import { DEFAULT_TIMING } from '../../src/core/forwarding/forward.ts';
import type { Lock } from '../../src/core/state.ts';
import { Forwarder, REVEAL_GRACE_S, UNREPORTED_GRACE_S } from '../../src/node/forwarder.ts';

const SECRET = `0x${'42'.repeat(32)}` as Bytes32;
const HASHLOCK = keccak256Hex(hexToBytes(SECRET)) as Bytes32;
const CHANNEL = `0x${'0c'.repeat(32)}` as Bytes32;

function rig(o: { hang?: boolean } = {}) {
  let now = 1_000n;
  /** The registry: when the hashlock was revealed (0: not). */
  let revealedAt = 0n;
  const registered: Bytes32[][] = [];
  /** Whether each registration was asked for with our own transaction (not the coordinator's). */
  const direct: boolean[] = [];
  const lock: Lock = { id: 7n, asset: 0, amount: 100n, sender: 0, receiver: 1, hashlock: HASHLOCK, expiry: now + 600n };
  // A lock to us on a channel whose counterparty is away: its secret goes on-chain at once.
  const channel = {
    id: CHANNEL,
    self: 1,
    latest: { state: { locks: [lock] } },
    record: { status: 'open', learned: [] },
    machine: { connected: false },
    input: () => undefined,
  };
  const ctx = {
    channels: new Map([[CHANNEL, channel]]),
    now: () => now,
    log: pino({ level: 'silent' }),
    events: { on: () => () => undefined, emit: () => undefined },
    chain: { revealedAt: () => Promise.resolve(revealedAt) },
    channelLog: () => pino({ level: 'silent' }),
  };
  const forwarder = new Forwarder({
    ctx: ctx as never,
    submit: () => Promise.resolve(1n),
    nextOpId: () => 1n,
    peel: () => ({ ok: false, reason: 'test' }) as never,
    policy: () => ({}) as never,
    timing: DEFAULT_TIMING,
    register: (secrets, opts) => {
      registered.push([...secrets]);
      direct.push(opts?.direct === true);
      if (o.hang) return new Promise<void>(() => undefined); // taken, and never heard of again
      revealedAt = now; // mined
      return Promise.resolve();
    },
    ownsLock: () => false,
  });
  const sweep = async () => {
    (forwarder as unknown as { sweep(): void }).sweep();
    await new Promise((r) => setImmediate(r)); // the chain's answers
  };
  return {
    forwarder,
    registered,
    direct,
    sweep,
    advance: (s: bigint) => (now += s),
    reorg: () => (revealedAt = 0n),
  };
}

test('a registration a reorg took out is sent again while the lock lives; one still on-chain is not', async (t) => {
  const r = rig();
  r.forwarder.claim(HASHLOCK, SECRET); // our secret left us in a settle the counterparty never co-signed
  await r.sweep();
  t.deepEqual(r.registered, [[SECRET]], 'registered at once: the counterparty is away');
  for (let i = 0; i < 5; i++) {
    r.advance(REVEAL_GRACE_S);
    await r.sweep();
  }
  t.is(r.registered.length, 1, 'on-chain: checked, not sent again');
  r.reorg();
  r.advance(REVEAL_GRACE_S);
  await r.sweep(); // finds it missing: one read is not enough (a lagging node)
  t.is(r.registered.length, 1);
  r.advance(REVEAL_GRACE_S);
  await r.sweep(); // missing again
  await r.sweep(); // registers again
  t.is(r.registered.length, 2, 'missing after the reorg: registered again');
  t.is(r.forwarder.stats.reregistered, 1);
  // Whoever reported the first one done (the coordinator, say) is not trusted with it again.
  t.deepEqual(r.direct, [false, true], 'registered again with our own transaction');
});

test('a registration that never reports back is checked anyway, and sent again when it is not on-chain', async (t) => {
  const r = rig({ hang: true });
  r.forwarder.claim(HASHLOCK, SECRET);
  await r.sweep();
  t.is(r.registered.length, 1);
  r.advance(UNREPORTED_GRACE_S);
  await r.sweep();
  t.is(r.registered.length, 1, 'not checked before its grace');
  for (let i = 0; i < 4; i++) {
    r.advance(REVEAL_GRACE_S);
    await r.sweep();
  }
  t.is(r.registered.length, 2, 'not on-chain: registered again');
  t.deepEqual(r.direct, [false, true], 'a coordinator that went quiet is not asked again');
});
