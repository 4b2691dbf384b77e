/**
 * A misbehaving peer: mallory speaks the wire protocol directly (no node of her own), opens and
 * funds a channel with bob as its leader, then sends every kind of bad message. Bob refuses
 * each with a typed reason, his channel does not change, he keeps working, and once mallory
 * has misbehaved enough he disconnects her.
 */
import test from 'ava';
import { peerIdFromString } from '@libp2p/peer-id';
import {
  MAX_VERSION_GAP,
  type ChannelParams,
  type ChannelState,
  type Message,
  type Op,
  type ProposeMessage,
  type RejectMessage,
  NATIVE_ASSET,
  applyUpdate,
  channelId,
  initialState,
  nobleBackend,
  signState,
} from '../../src/core/index.ts';
import { createChainService } from '../../src/chain/chain-service.ts';
import { type Libp2pTransport, createLibp2pTransport } from '../../src/p2p/libp2p-transport.ts';
import { frameBytes } from '../../src/p2p/framing.ts';
import { bytesToHex } from '../../src/core/index.ts';
import { mallory } from '../helpers/actors.ts';
import { ETHER, type Network, eventually, network } from '../helpers/nodes.ts';

let net: Network;
let m: Libp2pTransport;
const inbox: Message[] = [];
let params: ChannelParams;
let v0: ChannelState;

/** The next message bob sends mallory that matches. */
async function reply(match: (m: Message) => boolean): Promise<Message> {
  return eventually(
    async () => inbox.find(match),
    (x) => x !== undefined,
  ) as Promise<Message>;
}

function propose(state: ChannelState, ops: Op[], version: bigint, key = mallory.privateKey): Message {
  const s = { ...state, version };
  return { type: 'propose', channelId: s.channelId, version, ops, signature: signState(nobleBackend, params, s, key) };
}

test.before(async () => {
  net = await network(['bob'], () => ({ policies: { open: () => true } }));
  await net.chain.setBalance(mallory.address, 1000n * ETHER);
  m = await createLibp2pTransport({ privateKey: mallory.privateKey, penaltyThreshold: 1_000 });
  m.on('message', (_from, r) => {
    if (r.ok) inbox.push(r.value);
  });
  await m.start();
  const bob = net.nodes.bob!;
  await m.connect(bob.multiaddr);
  params = {
    chainId: 31337n,
    adjudicator: net.adjudicator,
    participants: [mallory.address, bob.actor.address],
    assets: [NATIVE_ASSET],
    challengeDuration: 600n,
    nonce: 77n,
  };
  v0 = initialState(params, [[10n * ETHER, 0n]]);
  m.send((await bob.node.info()).peerId, {
    type: 'open',
    params,
    deposits: v0.balances,
    signature: signState(nobleBackend, params, v0, mallory.privateKey),
  });
  await reply((x) => x.type === 'open-accept');
  // Before any deposit: a proposal for a channel that is not funded yet is held, not answered
  // (bob's chain view may lag hers), and answered once bob sees the funding.
  const early = inbox.length;
  m.send((await bob.node.info()).peerId, propose(v0, [], expected));
  await new Promise((r) => setTimeout(r, 500));
  if (inbox.length > early) throw new Error(`bob answered a proposal before funding: ${inbox.at(-1)!.type}`);
  const chain = await createChainService({
    rpc: net.provider,
    privateKey: bytesToHex(mallory.privateKey),
    adjudicator: net.adjudicator,
    pollingIntervalMs: 10,
  });
  await chain.deposit(params, 0, 0, 10n * ETHER);
  await eventually(
    () => bob.node.channel(channelId(params)).then((c) => c.status),
    (s) => s === 'open',
  );
  const answer = await reply((x) => inbox.indexOf(x) >= early);
  if (answer.type !== 'countersign') throw new Error(`expected the held proposal countersigned, got ${answer.type}`);
  expected++;
});

test.after.always(async () => {
  await m?.stop();
  await net?.stop();
});

const bobPeer = () => net.nodes.bob!.node.info().then((i) => i.peerId);
const pay = (amount: bigint, by: 0 | 1 = 0, asset = 0): Op => ({ kind: 'pay', id: 2n, by, asset, amount });
/** Bob's expected next version: every proposal he refuses at it is burned, so it moves up. */
let expected = 1n;

function applied(ops: Op[]): ChannelState {
  const r = applyUpdate(params, v0, ops, { now: 0n });
  if (!r.ok) throw new Error(r.detail);
  return r.value;
}

/** A proposal whose ops do not produce the signed state (the transition check fails first). */
function withOps(ops: Op[], version = expected): ProposeMessage {
  return { ...(propose(v0, [], version) as ProposeMessage), ops };
}

const cases: { title: string; reason: string; burns: boolean; message: () => Message }[] = [
  {
    title: 'a proposal signed by someone else',
    reason: 'wrong-signer',
    burns: true,
    message: () => propose(applied([pay(1n)]), [pay(1n)], expected, net.nodes.bob!.actor.privateKey),
  },
  {
    title: 'a replayed version with other contents',
    reason: 'stale-version',
    burns: false,
    message: () => propose(applied([pay(1n)]), [pay(1n)], 0n),
  },
  {
    title: 'a version skipping more than MAX_VERSION_GAP ahead',
    reason: 'version-gap',
    burns: false,
    message: () => propose(applied([pay(1n)]), [pay(1n)], expected + MAX_VERSION_GAP + 1n),
  },
  {
    title: 'a payment larger than the payer holds',
    reason: 'insufficient-balance',
    burns: true,
    message: () => withOps([pay(11n * ETHER)]),
  },
  {
    title: 'a payment in an asset the channel does not hold',
    reason: 'unknown-asset',
    burns: true,
    message: () => withOps([pay(1n, 0, 3)]),
  },
  {
    title: "closing the channel in bob's name (an operation bob never asked for)",
    reason: 'not-authorized',
    burns: true,
    message: () => propose(applied([{ kind: 'finalize', id: 3n, by: 1 }]), [{ kind: 'finalize', id: 3n, by: 1 }], expected),
  },
  { title: 'a zero payment', reason: 'invalid-amount', burns: true, message: () => withOps([pay(0n)]) },
  {
    title: 'a proposal for a channel bob does not have with her',
    reason: 'unknown-channel',
    burns: false,
    message: () => ({ ...withOps([]), channelId: `0x${'ab'.repeat(32)}` }),
  },
  {
    title: 'a request (only followers request)',
    reason: 'not-authorized',
    burns: false,
    message: () => ({ type: 'request', channelId: v0.channelId, ops: [pay(1n)] }),
  },
];

for (const c of cases) {
  test.serial(`bob refuses ${c.title} (${c.reason}) and his channel is unchanged`, async (t) => {
    const bob = net.nodes.bob!;
    const before = await bob.node.channel(v0.channelId);
    const seen = inbox.length;
    m.send(await bobPeer(), c.message());
    const r = await reply((x) => inbox.indexOf(x) >= seen && x.type === 'reject');
    t.is((r as RejectMessage).reason, c.reason as RejectMessage['reason']);
    if (c.burns) expected++;
    const after = await bob.node.channel(v0.channelId);
    t.deepEqual(after.balances, before.balances);
    t.is(after.version, before.version);
  });
}

test.serial('malformed and oversized frames are refused; bob stays up and countersigns the next valid proposal', async (t) => {
  const bob = net.nodes.bob!;
  const stream = await m.libp2p.dialProtocol(peerIdFromString(await bobPeer()), '/lanes/channel/1.0.0');
  stream.send(frameBytes(Uint8Array.of(0xc1, 0xff, 0x00))); // not msgpack
  await reply((x) => x.type === 'reject' && (x as RejectMessage).reason === 'malformed');
  const oversized = await m.libp2p.dialProtocol(peerIdFromString(await bobPeer()), '/lanes/channel/1.0.0');
  oversized.send(Uint8Array.of(0xff, 0xff, 0xff, 0x7f)); // a 256 MiB length prefix
  await new Promise((r) => setTimeout(r, 200));
  t.is((await bob.node.channel(v0.channelId)).version, 1n);
  // The channel still works: a valid proposal at the next version is countersigned.
  if (!m.isConnected(await bobPeer())) await m.connect(bob.multiaddr);
  const seen = inbox.length;
  m.send(await bobPeer(), propose(applied([pay(ETHER)]), [pay(ETHER)], expected));
  const answer = await reply((x) => inbox.indexOf(x) >= seen && (x.type === 'countersign' || x.type === 'reject'));
  t.is(answer.type, 'countersign');
  t.is((await bob.node.channel(v0.channelId)).balances[0]!.mine, ETHER);
  t.is((await bob.node.channel(v0.channelId)).version, expected);
});

test.serial('a peer that keeps misbehaving is disconnected', async (t) => {
  const bob = net.nodes.bob!;
  const stranger = await createLibp2pTransport({ privateKey: new Uint8Array(32).fill(7) });
  await stranger.start();
  await stranger.connect(bob.multiaddr);
  const peer = await bobPeer();
  for (let i = 0; i < 40 && stranger.isConnected(peer); i++) {
    const stream = await stranger.libp2p.dialProtocol(peerIdFromString(peer), '/lanes/channel/1.0.0').catch(() => undefined);
    stream?.send(frameBytes(Uint8Array.of(0xc1)));
    await new Promise((r) => setTimeout(r, 30));
  }
  await eventually(
    async () => stranger.isConnected(peer),
    (c) => !c,
  );
  await t.throwsAsync(stranger.connect(bob.multiaddr), undefined, 'and refused for a while');
  await stranger.stop();
});
