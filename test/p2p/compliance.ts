/**
 * The transport contract (src/p2p/transport.ts) as one suite, run against every implementation
 * so the in-memory transport the engine's unit tests use cannot drift from the libp2p one.
 */
import test, { type ExecutionContext } from 'ava';
import { type Message, type Op, type Result, encodeMessage } from '../../src/core/index.ts';
import { frameBytes } from '../../src/p2p/framing.ts';
import { peerRefFromPrivateKey } from '../../src/p2p/peer.ts';
import type { PeerRef, Transport } from '../../src/p2p/transport.ts';
import { makeState, makeSwapParams } from '../helpers/factories.ts';

export interface PairOptions {
  readonly maxMessageBytes?: number;
  readonly penaltyThreshold?: number;
  readonly banMs?: number;
}

/** Two started, unconnected transports. */
export interface TransportPair {
  readonly a: Transport;
  readonly b: Transport;
  /** Writes raw stream bytes (length prefixes included) to `a` as if `b` sent them on a new stream of their link. */
  injectRaw(bytes: Uint8Array): Promise<void>;
  /** Stops whatever the pair started (idempotent). */
  close(): Promise<void>;
}

export type MakePair = (options: PairOptions) => Promise<TransportPair>;

const WAIT_MS = 15_000;

export interface Received {
  readonly from: PeerRef;
  readonly result: Result<Message>;
}

/** Records a transport's events and waits for conditions on them. */
export class EventLog {
  readonly messages: Received[] = [];
  readonly connected: PeerRef[] = [];
  readonly disconnected: PeerRef[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(transport: Transport) {
    transport.on('message', (from, result) => this.record(() => this.messages.push({ from, result })));
    transport.on('connected', (peer) => this.record(() => this.connected.push(peer)));
    transport.on('disconnected', (peer) => this.record(() => this.disconnected.push(peer)));
  }

  /** Resolves once `condition` holds, or rejects naming `what` after `ms`. */
  until(condition: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, ms);
      this.waiters.add(check);
    });
  }

  /** The decoded messages received, in order (fails the test on a rejection). */
  values(): Message[] {
    return this.messages.map(({ result }) => {
      if (!result.ok) throw new Error(`unexpected rejection: ${result.reason} ${result.detail}`);
      return result.value;
    });
  }

  private record(push: () => void): void {
    push();
    for (const check of [...this.waiters]) check();
  }
}

const channelId = makeState(makeSwapParams()).channelId;
const sig = new Uint8Array(65).fill(9);

export function sync(version: number | bigint): Message {
  return { type: 'sync', channelId, version: BigInt(version) };
}

function swapOp(id: number): Op {
  return {
    kind: 'swap',
    id: BigInt(id),
    by: 1,
    giveAsset: 1,
    giveAmount: 2n ** 255n + BigInt(id),
    takeAsset: 2,
    takeAmount: 2n ** 254n,
    expiry: 2n ** 63n,
  };
}

/** A request with `n` operations: its size grows about 86 bytes per operation. */
export function bigRequest(n: number): Message {
  return { type: 'request', channelId, ops: Array.from({ length: n }, (_, i) => swapOp(i)) };
}

const samples: Message[] = [
  sync(7),
  { type: 'countersign', channelId, version: 2n ** 64n - 1n, signature: sig },
  { type: 'reject', channelId, ops: [1n, 2n], reason: 'insufficient-balance', detail: 'not enough' },
  { type: 'state', state: makeState(makeSwapParams(), { version: 3n }), signatures: [sig, sig] },
  bigRequest(3),
];

/** The versions of the sync messages `log` received from `from`, in order (-1 for anything else). */
function versions(log: EventLog, from: string): bigint[] {
  return log.messages
    .filter((m) => m.from.peerId === from)
    .map(({ result }) => (result.ok && result.value.type === 'sync' ? result.value.version : -1n));
}

interface Connected {
  readonly pair: TransportPair;
  readonly la: EventLog;
  readonly lb: EventLog;
  readonly a: Transport;
  readonly b: Transport;
}

async function setup(t: ExecutionContext, makePair: MakePair, options: PairOptions = {}): Promise<Connected> {
  const pair = await makePair(options);
  t.teardown(() => pair.close());
  return { pair, a: pair.a, b: pair.b, la: new EventLog(pair.a), lb: new EventLog(pair.b) };
}

async function connect(c: Connected): Promise<PeerRef> {
  const ref = await c.b.connect(c.a.multiaddrs()[0]!);
  await c.la.until(() => c.la.connected.length >= 1, 'a: connected');
  await c.lb.until(() => c.lb.connected.length >= 1, 'b: connected');
  return ref;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Registers the compliance tests for one implementation. Serial: several depend on timing. */
export function runTransportCompliance(name: string, makePair: MakePair): void {
  test.serial(`${name}: connect links both peers once, with authenticated peer refs`, async (t) => {
    const c = await setup(t, makePair);
    const ref = await connect(c);
    t.deepEqual(ref, c.a.self);
    t.is(c.la.connected[0]!.peerId, c.b.self.peerId);
    t.is(c.la.connected[0]!.address, c.b.self.address);
    t.deepEqual(c.la.connected[0]!.publicKey, c.b.self.publicKey);
    t.deepEqual(c.lb.connected[0], c.a.self);
    t.true(c.a.isConnected(c.b.self.peerId));
    t.true(c.b.isConnected(c.a.self.peerId));
    t.deepEqual(await c.b.connect(c.a.multiaddrs()[0]!), c.a.self, 'connecting again finds the link');
    await sleep(50);
    t.is(c.la.connected.length, 1);
    t.is(c.lb.connected.length, 1);
    t.true(c.a.multiaddrs().every((ma) => ma.endsWith(`/p2p/${c.a.self.peerId}`)));
  });

  test.serial(`${name}: messages flow both ways and round-trip exactly`, async (t) => {
    const c = await setup(t, makePair);
    await connect(c);
    for (const m of samples) {
      t.true(c.a.send(c.b.self.peerId, m));
      t.true(c.b.send(c.a.self.peerId, m));
    }
    await c.la.until(() => c.la.messages.length === samples.length, 'a: all samples');
    await c.lb.until(() => c.lb.messages.length === samples.length, 'b: all samples');
    t.deepEqual(c.la.values(), samples);
    t.deepEqual(c.lb.values(), samples);
    t.true(c.la.messages.every(({ from }) => from.peerId === c.b.self.peerId));
    t.true(c.lb.messages.every(({ from }) => from.peerId === c.a.self.peerId));
  });

  test.serial(`${name}: 10,000 messages keep their order in each direction`, async (t) => {
    const c = await setup(t, makePair);
    await connect(c);
    const n = 10_000;
    // In bursts across ticks, both ways at once: coalescing and interleaving must not reorder.
    for (let i = 0; i < n; i++) {
      t.true(c.a.send(c.b.self.peerId, sync(i)));
      t.true(c.b.send(c.a.self.peerId, sync(i)));
      if (i % 1000 === 999) await tick();
    }
    await c.la.until(() => c.la.messages.length === n, 'a: 10,000 messages');
    await c.lb.until(() => c.lb.messages.length === n, 'b: 10,000 messages');
    const expected = Array.from({ length: n }, (_, i) => BigInt(i));
    t.deepEqual(versions(c.la, c.b.self.peerId), expected);
    t.deepEqual(versions(c.lb, c.a.self.peerId), expected);
  });

  test.serial(`${name}: a message of exactly maxMessageBytes arrives; a larger one is refused by send()`, async (t) => {
    const big = bigRequest(2000);
    const limit = encodeMessage(big).length;
    t.true(limit > 128 * 1024, 'large enough to span many transport chunks');
    const c = await setup(t, makePair, { maxMessageBytes: limit });
    await connect(c);
    t.true(c.b.send(c.a.self.peerId, big));
    t.false(c.b.send(c.a.self.peerId, bigRequest(2001)), 'over the limit: dropped, not thrown');
    t.true(c.b.send(c.a.self.peerId, sync(1)));
    await c.la.until(() => c.la.messages.length === 2, 'a: big message and marker');
    t.deepEqual(c.la.values(), [big, sync(1)]);
  });

  test.serial(`${name}: malformed frames are reported as malformed from the sender; the link survives`, async (t) => {
    const c = await setup(t, makePair);
    await connect(c);
    await c.pair.injectRaw(frameBytes(Uint8Array.of(0xc1))); // 0xc1: never valid msgpack
    await c.la.until(() => c.la.messages.length === 1, 'a: malformed report');
    const first = c.la.messages[0]!;
    t.is(first.from.peerId, c.b.self.peerId);
    t.like(first.result, { ok: false, reason: 'malformed' });
    await c.pair.injectRaw(frameBytes(encodeMessage(sync(1)).subarray(0, 3))); // truncated body
    await c.la.until(() => c.la.messages.length === 2, 'a: second malformed report');
    t.like(c.la.messages[1]!.result, { ok: false, reason: 'malformed' });
    // The bad bytes came on their own stream: the link itself still works both ways.
    t.true(c.b.send(c.a.self.peerId, sync(2)));
    t.true(c.a.send(c.b.self.peerId, sync(3)));
    await c.la.until(() => c.la.messages.length === 3, 'a: message after the bad frames');
    await c.lb.until(() => c.lb.messages.length === 1, 'b: message after the bad frames');
    t.deepEqual(c.la.messages[2]!.result, { ok: true, value: sync(2) });
    t.deepEqual(c.lb.values(), [sync(3)]);
  });

  test.serial(`${name}: send() to an unknown or unconnected peer returns false and never throws`, async (t) => {
    const c = await setup(t, makePair);
    const stranger = peerRefFromPrivateKey(new Uint8Array(32).fill(0x42)).peerId;
    t.false(c.a.send(c.b.self.peerId, sync(1)), 'not connected yet');
    t.false(c.a.send(stranger, sync(1)));
    t.false(c.a.send('not a peer id', sync(1)));
    t.false(c.a.send(c.a.self.peerId, sync(1)), 'self');
    t.false(c.a.isConnected(stranger));
    t.notThrows(() => c.a.penalize('not a peer id', 'garbage'));
    await t.throwsAsync(c.a.connect('/ip4/127.0.0.1/tcp/1'), undefined, 'a multiaddr without /p2p/ is refused');
  });

  test.serial(`${name}: stop() disconnects both sides`, async (t) => {
    const c = await setup(t, makePair);
    await connect(c);
    // Sent just before stop(): a graceful stop still delivers it.
    t.true(c.a.send(c.b.self.peerId, sync(1)));
    await c.a.stop();
    await c.lb.until(() => c.lb.disconnected.length === 1, 'b: disconnected');
    t.deepEqual(c.lb.values(), [sync(1)]);
    t.is(c.lb.disconnected[0]!.peerId, c.a.self.peerId);
    t.deepEqual(
      c.la.disconnected.map((p) => p.peerId),
      [c.b.self.peerId],
      'the stopping node reports its own peers gone too',
    );
    t.false(c.b.isConnected(c.a.self.peerId));
    t.false(c.a.isConnected(c.b.self.peerId));
    t.false(c.b.send(c.a.self.peerId, sync(2)));
    await sleep(50);
    t.is(c.lb.disconnected.length, 1, 'exactly once');
  });

  test.serial(`${name}: simultaneous connects make one link`, async (t) => {
    const c = await setup(t, makePair);
    const [toA, toB] = await Promise.all([c.b.connect(c.a.multiaddrs()[0]!), c.a.connect(c.b.multiaddrs()[0]!)]);
    t.is(toA.peerId, c.a.self.peerId);
    t.is(toB.peerId, c.b.self.peerId);
    await c.la.until(() => c.la.connected.length >= 1, 'a: connected');
    await c.lb.until(() => c.lb.connected.length >= 1, 'b: connected');
    for (let i = 0; i < 100; i++) {
      c.a.send(c.b.self.peerId, sync(i));
      c.b.send(c.a.self.peerId, sync(i));
    }
    await c.la.until(() => c.la.messages.length === 100, 'a: 100 messages');
    await c.lb.until(() => c.lb.messages.length === 100, 'b: 100 messages');
    const expected = Array.from({ length: 100 }, (_, i) => BigInt(i));
    t.deepEqual(versions(c.la, c.b.self.peerId), expected);
    t.deepEqual(versions(c.lb, c.a.self.peerId), expected);
    t.is(c.la.connected.length, 1);
    t.is(c.lb.connected.length, 1);
  });

  test.serial(`${name}: penalize() past the threshold disconnects and refuses the peer until the ban ends`, async (t) => {
    const banMs = 1_500;
    const c = await setup(t, makePair, { penaltyThreshold: 3, banMs });
    await connect(c);
    c.a.penalize(c.b.self.peerId, 'test fault 1');
    c.a.penalize(c.b.self.peerId, 'test fault 2');
    await sleep(50);
    t.true(c.a.isConnected(c.b.self.peerId), 'below the threshold');
    const bannedAt = Date.now();
    c.a.penalize(c.b.self.peerId, 'test fault 3');
    await c.la.until(() => c.la.disconnected.length === 1, 'a: disconnected');
    await c.lb.until(() => c.lb.disconnected.length === 1, 'b: disconnected');
    t.false(c.a.send(c.b.self.peerId, sync(1)));
    await t.throwsAsync(c.b.connect(c.a.multiaddrs()[0]!), undefined, 'the banned peer cannot reconnect');
    await t.throwsAsync(c.a.connect(c.b.multiaddrs()[0]!), undefined, 'nor is it dialled');
    t.false(c.a.isConnected(c.b.self.peerId));
    await sleep(Math.max(0, bannedAt + banMs + 100 - Date.now()));
    await c.b.connect(c.a.multiaddrs()[0]!);
    await c.la.until(() => c.la.connected.length === 2, 'a: connected again after the ban');
    t.true(c.b.send(c.a.self.peerId, sync(5)));
    await c.la.until(() => c.la.messages.length === 1, 'a: message after the ban');
    t.deepEqual(c.la.values(), [sync(5)]);
  });
}
