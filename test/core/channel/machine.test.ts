/**
 * The durability rules of the channel machine as orders of effects (docs/adr/0009), checked on
 * the pure machine step by step: what must be durable before anything leaves the node, and what
 * must never be written at all.
 */
import test from 'ava';
import { type Effect, type Machine, restore } from '../../../src/core/channel/index.ts';
import type { ChannelRecord } from '../../../src/core/channel/record.ts';
import {
  type ChannelParams,
  type Message,
  NATIVE_ASSET,
  type Op,
  applyUpdate,
  channelId,
  initialState,
  nobleBackend,
  stateDigest,
} from '../../../src/core/index.ts';
import { EMPTY_LOCKS_ROOT } from '../../../src/core/locks.ts';
import { nativeBackend } from '../../../src/crypto/native-backend.ts';
import { actor } from '../../helpers/actors.ts';
import { MachineHarness } from '../../helpers/machine-harness.ts';

const backend = nativeBackend() ?? nobleBackend;
const alice = actor('machine-alice');
const bob = actor('machine-bob');
const params: ChannelParams = {
  chainId: 31337n,
  adjudicator: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
  participants: [alice.address, bob.address],
  assets: [NATIVE_ASSET],
  challengeDuration: 600n,
  nonce: 1n,
};
const v0 = initialState(params, [[100n, 100n]]);
const sig = (who: typeof alice, state = v0) => backend.sign(stateDigest(params, state), who.privateKey);

function machine(self: 0 | 1, lease = 0n): MachineHarness {
  const rec: ChannelRecord = {
    id: channelId(params),
    params,
    self,
    peer: { peerId: 'peer', multiaddrs: [] },
    status: 'open',
    deposits: v0.balances,
    depositFacts: [
      { asset: 0, participant: 0, amount: 100n, holdingsAfter: 100n },
      { asset: 0, participant: 1, amount: 100n, holdingsAfter: 200n },
    ],
    burnedVersion: 0n,
    versionLease: lease,
    nextOpId: 0n,
    createdAt: 0,
  };
  const me = self === 0 ? alice : bob;
  const m: Machine = restore(
    rec,
    { state: v0, signatures: [sig(alice), sig(bob)] },
    { selfKey: backend.publicKey(me.privateKey, false), firstOpId: 1n },
  );
  const h = new MachineHarness(m, { backend, self: me });
  h.markDurable();
  const other = self === 0 ? bob : alice;
  h.input({ kind: 'connected', peer: { peerId: 'peer', publicKey: backend.publicKey(other.privateKey, false) } });
  return h;
}

const kinds = (fx: readonly Effect[]) =>
  fx.filter((e) => e.kind !== 'log').map((e) => (e.kind === 'send' ? `send:${e.message.type}` : e.kind));
const pay = (by: 0 | 1, id: bigint, amount = 1n): Op => ({ kind: 'pay', id, by, asset: 0, amount });

function proposal(ops: Op[], version = 1n): Message {
  const r = applyUpdate(params, v0, ops, { now: 0n });
  if (!r.ok) throw new Error(r.detail);
  const state = { ...r.value, version };
  return { type: 'propose', channelId: v0.channelId, version, ops, signature: sig(alice, state) };
}

test('the follower countersigns only once the co-signed state is durable', (t) => {
  const h = machine(1);
  const steps: string[][] = [kinds(h.input({ kind: 'message', message: proposal([pay(0, 2n)]) }))];
  for (let i = 0; i < 4; i++) {
    const before = h.effects.length;
    h.settle(1);
    steps.push(kinds(h.effects.slice(before)));
  }
  t.deepEqual(steps[0], ['verify']);
  t.deepEqual(steps[1], ['sign']);
  t.deepEqual(steps[2], ['persist-state', 'flush'], 'signed: written, not sent');
  t.true(steps[3]!.includes('send:countersign'), 'sent after the flush completed');
  t.is(h.durable.latest?.state.version, 1n);
});

test('a refused proposal writes nothing: a peer cannot make us write to disk by sending junk', (t) => {
  const h = machine(1);
  for (const msg of [
    proposal(
      [pay(0, 2n, 1000n)].map((o) => ({ ...o, amount: 1n })),
      1n << 30n,
    ), // past the version gap
    { ...(proposal([pay(0, 2n)]) as Extract<Message, { type: 'propose' }>), ops: [pay(0, 2n, 500n)] }, // an overdraft
    { ...(proposal([pay(0, 2n)]) as Extract<Message, { type: 'propose' }>), signature: sig(bob) }, // not the leader's
    proposal([pay(1, 3n)]), // an operation of ours we never asked for
  ]) {
    const before = h.effects.length;
    h.input({ kind: 'message', message: msg });
    h.settle();
    const fx = h.effects.slice(before);
    t.false(
      fx.some((e) => e.kind === 'persist-record' || e.kind === 'persist-state' || e.kind === 'flush'),
      `${kinds(fx).join(' ')}`,
    );
    t.true(fx.some((e) => e.kind === 'send' && e.message.type === 'reject'));
  }
});

test('a proposal that raises the version lease is sent only once the lease is durable, and not re-sent on a reconnect before', (t) => {
  const h = machine(0);
  t.deepEqual(kinds(h.input({ kind: 'ops', ops: [{ op: pay(0, 2n), caller: 1 }] })), ['persist-record', 'sign']);
  h.settle(1); // signed
  t.deepEqual(kinds(h.effects.slice(-1)), ['flush'], 'signed, the lease not yet durable: nothing sent');
  const before = h.effects.length;
  h.input({ kind: 'connected', peer: { peerId: 'peer', publicKey: backend.publicKey(bob.privateKey, false) } });
  t.false(
    h.effects.slice(before).some((e) => e.kind === 'send' && e.message.type === 'propose'),
    'a reconnect does not send a proposal whose lease is not durable',
  );
  h.settle(1); // the lease is durable
  t.is(h.durable.record?.versionLease, 1024n);
  t.true(h.sent.some((m) => m.type === 'propose'));
});

test('a final state is durable as ours before it is sent, and nothing is signed after it', (t) => {
  const h = machine(0, 2048n);
  h.input({ kind: 'close', caller: 1 });
  h.settle(1); // signed
  t.deepEqual(kinds(h.effects.slice(-2)), ['persist-record', 'flush'], 'the final proposal is recorded first');
  t.is(h.sent.filter((m) => m.type === 'propose').length, 0);
  h.settle(1);
  t.truthy(h.durable.record?.finalProposal, 'durable before it left');
  const final = h.sent.find((m) => m.type === 'propose')!;
  // Refused, then asked for more: nothing new is signed, ever; the same final may go again.
  const signed = h.signed.length;
  h.input({
    kind: 'message',
    message: { type: 'reject', channelId: v0.channelId, version: (final as { version: bigint }).version, reason: 'policy', detail: 'no' },
  });
  h.input({ kind: 'message', message: { type: 'request', channelId: v0.channelId, ops: [pay(1, 3n)] } });
  h.input({ kind: 'tick', operationTimeoutMs: 30_000 });
  h.settle();
  t.is(h.signed.length, signed, 'no new signature');
  // A restart remembers it.
  h.crash();
  h.input({ kind: 'ops', ops: [{ op: pay(0, 4n), caller: 2 }] });
  h.settle();
  t.is(h.signed.length, signed, 'not after a restart either');
  t.like(h.outcomes.get(2), { ok: false, failure: { reason: 'channel-final' } });
});

test('a swap the follower asks for twice (a reconnect while our policy decides) is proposed once', (t) => {
  const token = '0x00000000000000000000000000000000000000aa' as const;
  const p2: ChannelParams = { ...params, assets: [NATIVE_ASSET, token], nonce: 2n };
  const s0 = initialState(p2, [
    [100n, 100n],
    [100n, 100n],
  ]);
  const sign2 = (who: typeof alice) => backend.sign(stateDigest(p2, s0), who.privateKey);
  const rec: ChannelRecord = {
    id: channelId(p2),
    params: p2,
    self: 0,
    peer: { peerId: 'peer', multiaddrs: [] },
    status: 'open',
    deposits: s0.balances,
    depositFacts: [
      { asset: 0, participant: 0, amount: 100n, holdingsAfter: 100n },
      { asset: 0, participant: 1, amount: 100n, holdingsAfter: 200n },
      { asset: 1, participant: 0, amount: 100n, holdingsAfter: 100n },
      { asset: 1, participant: 1, amount: 100n, holdingsAfter: 200n },
    ],
    burnedVersion: 0n,
    versionLease: 2048n,
    nextOpId: 0n,
    createdAt: 0,
  };
  const m = restore(
    rec,
    { state: s0, signatures: [sign2(alice), sign2(bob)] },
    { selfKey: backend.publicKey(alice.privateKey, false), firstOpId: 1n },
  );
  const h = new MachineHarness(m, { backend, self: alice });
  h.markDurable();
  h.input({ kind: 'connected', peer: { peerId: 'peer', publicKey: backend.publicKey(bob.privateKey, false) } });
  const swap: Op = { kind: 'swap', id: 7n, by: 1, giveAsset: 0, giveAmount: 5n, takeAsset: 1, takeAmount: 5n, expiry: 1n << 40n };
  const request: Message = { type: 'request', channelId: rec.id, ops: [swap, swap] };
  h.input({ kind: 'message', message: request }); // listed twice in one request…
  h.input({ kind: 'message', message: request }); // …and asked again before the policy answered
  h.settle();
  const proposals = h.sent.filter((x) => x.type === 'propose');
  t.is(proposals.length, 1);
  t.is(proposals[0]!.type === 'propose' ? proposals[0]!.ops.filter((o) => o.id === 7n).length : -1, 1, 'the swap is in it once');
});

test('a proposal abandoned before its lease was durable does not let the next one out before the lease is on disk', (t) => {
  // After a restart: versions up to the lease (1,024) are burned; the next proposal raises it.
  const h = machine(0, 1024n);
  // The follower hands back a state we signed before the restart; it is verified, and being made durable…
  const r = applyUpdate(params, v0, [pay(0, 9n)], { now: 0n });
  if (!r.ok) throw new Error(r.detail);
  const v1 = { ...r.value, version: 1n };
  h.input({ kind: 'message', message: { type: 'state', state: v1, signatures: [sig(alice, v1), sig(bob, v1)] } });
  h.settle(1);
  // …when a payment starts v1025 on v0 (the lease raised to 2048 in memory). The adoption then
  // abandons v1025 before its signature, let alone its flush, completed; v1026 takes its place.
  h.input({ kind: 'ops', ops: [{ op: pay(0, 2n), caller: 1 }] });
  while (h.waiting > 0) {
    h.settle(1);
    for (const m of h.sent) {
      if (m.type !== 'propose') continue;
      t.true(
        m.version <= (h.durable.record?.versionLease ?? 0n),
        `v${m.version} sent with the durable lease at ${h.durable.record?.versionLease}`,
      );
    }
  }
  t.true(
    h.sent.some((m) => m.type === 'propose' && m.version === 1026n),
    'the payment went out in the end',
  );
});

test('a payment on the leader side while the counterparty is away fails at once, for certain (it used to wait for the timeout)', (t) => {
  for (const self of [0, 1] as const) {
    const h = machine(self, 2048n);
    h.input({ kind: 'disconnected' });
    h.input({ kind: 'ops', ops: [{ op: pay(self, 2n), caller: 7 }] });
    const o = h.outcomes.get(7);
    t.like(o, { ok: false, failure: { reason: 'unreachable', maybeApplied: false } }, `participant ${self}`);
  }
});

test('a leader that restarted behind us (its last state not on disk) is refused but not penalised until it catches up', (t) => {
  const h = machine(1);
  // v1 co-signed: the follower has it durably; the leader lost it in a crash.
  h.input({ kind: 'message', message: proposal([pay(0, 2n)]) });
  h.settle();
  t.is(h.durable.latest?.state.version, 1n);
  // The leader comes back at v0: its sync says so, and we send it our v1.
  h.input({ kind: 'message', message: { type: 'sync', channelId: v0.channelId, version: 0n } });
  t.true(h.sent.some((m) => m.type === 'state'));
  // Before it adopts v1 it proposes on v0, past its burned lease: the signature does not match our state.
  const before = h.effects.length;
  h.input({ kind: 'message', message: proposal([pay(0, 3n)], 1025n) });
  h.settle();
  const fx = h.effects.slice(before);
  t.true(fx.some((e) => e.kind === 'send' && e.message.type === 'reject'));
  t.false(
    fx.some((e) => e.kind === 'penalize'),
    'an honest leader catching up is not treated as a cheater',
  );
  // A forged proposal from a leader that is not behind is still penalised.
  const h2 = machine(1);
  const before2 = h2.effects.length;
  h2.input({ kind: 'message', message: { ...(proposal([pay(0, 2n)]) as Extract<Message, { type: 'propose' }>), signature: sig(bob) } });
  h2.settle();
  t.true(h2.effects.slice(before2).some((e) => e.kind === 'penalize'));
});

test('a leader that restarted behind: the refusal of its proposal on the old base fails nothing; it all goes again on the state it adopts', (t) => {
  // v1 was co-signed before the leader (alice) crashed, and only the follower kept it.
  const lost = applyUpdate(params, v0, [pay(0, 2n)], { now: 0n });
  if (!lost.ok) return t.fail(lost.detail);
  const v1 = { ...lost.value, version: 1n };
  const run = (followerSaysAhead: boolean) => {
    const h = machine(0);
    if (followerSaysAhead) h.input({ kind: 'message', message: { type: 'sync', channelId: v0.channelId, version: 1n } });
    // The follower's request arrives before its catch-up state: the leader proposes on v0.
    h.input({ kind: 'message', message: { type: 'request', channelId: v0.channelId, ops: [pay(1, 7n)] } });
    h.settle();
    const p = h.m.proposal;
    if (!p) throw new Error('no proposal');
    t.is(p.base, 0n);
    const before = h.effects.length;
    h.input({
      kind: 'message',
      message: { type: 'reject', channelId: v0.channelId, version: p.version, reason: 'wrong-signer', detail: 'not on our state' },
    });
    h.settle();
    return { h, fx: h.effects.slice(before) };
  };
  const behind = run(true);
  t.false(
    behind.fx.some((e) => e.kind === 'fail' || (e.kind === 'send' && e.message.type === 'reject')),
    'nothing fails, and the follower is not told its request did',
  );
  t.true(
    behind.h.m.queue.some((x) => x.op.by === 1 && x.op.id === 7n),
    'the request waits to go again',
  );
  // The catch-up state arrives: adopted, and the request goes in a proposal on it.
  behind.h.input({ kind: 'message', message: { type: 'state', state: v1, signatures: [sig(alice, v1), sig(bob, v1)] } });
  behind.h.settle();
  t.is(behind.h.m.latest?.state.version, 1n);
  const again = behind.h.m.proposal;
  t.is(again?.base, 1n);
  t.true(again?.pending.some((x) => x.op.by === 1 && x.op.id === 7n));
  // Without the follower saying it is ahead (and no state being adopted), a refusal dooms what
  // the proposal carried, as before: it fails once a co-signed state supersedes the refused one.
  const notBehind = run(false);
  t.false(notBehind.h.m.queue.some((x) => x.op.id === 7n));
  t.true(notBehind.h.m.released.some((r) => r.doomed.some((x) => x.op.by === 1 && x.op.id === 7n)));
});

test('a follower refuses a proposal at or below a catch-up state whose write is in flight: nothing older is written after it', (t) => {
  const up = applyUpdate(params, v0, [pay(0, 2n)], { now: 0n });
  if (!up.ok) return t.fail(up.detail);
  const v2 = { ...up.value, version: 2n };
  const h = machine(1);
  h.input({ kind: 'message', message: { type: 'state', state: v2, signatures: [sig(alice, v2), sig(bob, v2)] } });
  h.settle(1); // verified: its write is issued, the flush not done
  t.is(h.m.adoption?.stage, 'flushing');
  const before = h.effects.length;
  h.input({ kind: 'message', message: proposal([pay(0, 3n)], 1n) });
  const fx = h.effects.slice(before);
  t.true(fx.some((e) => e.kind === 'send' && e.message.type === 'reject'));
  t.false(fx.some((e) => e.kind === 'verify' || e.kind === 'persist-state'));
  h.settle();
  t.is(h.durable.latest?.state.version, 2n);
  t.is(h.m.latest?.state.version, 2n);
});

test('a channel that settles with an older state that paid us less records the loss and says so; at our latest it does not', (t) => {
  // bob (the follower) is paid 30 at v1; the chain then settles with `version`.
  const settleWith = (version: bigint, registered: boolean) => {
    const h = machine(1);
    h.input({ kind: 'message', message: proposal([pay(0, 2n, 30n)]) });
    h.settle();
    t.is(h.m.latest?.state.version, 1n);
    const before = h.effects.length;
    if (version === 0n)
      h.input({
        kind: 'chain',
        fact: {
          kind: 'challenged',
          version: 0n,
          finalizesAt: 1n,
          transactionHash: `0x${'11'.repeat(32)}`,
          ...(registered
            ? {
                registered: {
                  state: { channelId: v0.channelId, version: 0n, balances: v0.balances, locksRoot: EMPTY_LOCKS_ROOT, isFinal: false },
                  signatures: [sig(alice), sig(bob)],
                },
              }
            : {}),
        },
      });
    h.input({ kind: 'chain', fact: { kind: 'settled', how: 'concluded', version, transactionHash: `0x${'22'.repeat(32)}` } });
    h.settle();
    return { h, fx: h.effects.slice(before) };
  };
  const stale = settleWith(0n, true);
  const loss = stale.fx.find((e) => e.kind === 'loss');
  t.deepEqual(loss?.kind === 'loss' ? loss.loss : undefined, { version: 0n, latest: 1n, expected: [130n], paid: [100n] });
  t.deepEqual(stale.h.durable.record?.loss, { version: 0n, latest: 1n, expected: [130n], paid: [100n] }, 'durable with the closed status');
  t.is(stale.h.durable.record?.status, 'closed');

  // Without the settled state's contents, the loss is of unknown size, and still said.
  const unknown = settleWith(0n, false);
  t.deepEqual(unknown.h.durable.record?.loss, { version: 0n, latest: 1n, expected: [130n] });

  // Settled with our latest state: nothing lost.
  const latest = settleWith(1n, false);
  t.false(latest.fx.some((e) => e.kind === 'loss'));
  t.is(latest.h.durable.record?.loss, undefined);
  t.is(latest.h.durable.record?.status, 'closed');
});
