/**
 * Mallory: a counterparty without a node. She speaks the wire protocol over her own libp2p
 * transport with her own valid key and holds her own chain service, so a test scripts exactly
 * what she signs, withholds, replays and submits against a real node.
 */
import {
  type Address,
  type ChannelParams,
  type ChannelState,
  type Message,
  NATIVE_ASSET,
  type SignedState,
  bytesToHex,
  initialState,
  nobleBackend,
  signState,
} from '../../src/core/index.ts';
import { type ChainService, createChainService } from '../../src/chain/chain-service.ts';
import { type Libp2pTransport, createLibp2pTransport } from '../../src/p2p/libp2p-transport.ts';
import type { Actor } from './actors.ts';
import { type Network, type TestNode, eventually } from './nodes.ts';

/** What Mallory needs of the node she talks to. */
type Peer = Pick<TestNode, 'multiaddr'> & {
  readonly actor: Pick<TestNode['actor'], 'address'>;
  readonly node: { info(): Promise<{ peerId: string }> };
};

export interface Mallory {
  readonly who: Actor;
  readonly chain: ChainService;
  readonly inbox: Message[];
  /** Sends to the node (connecting first if needed). */
  send(node: Peer, m: Message): Promise<void>;
  /** The first message from index `from` on that matches. */
  next<M extends Message>(match: (m: Message) => m is M, from?: number, timeoutMs?: number): Promise<M>;
  /** Whether a matching message arrives within `ms`. */
  arrives(match: (m: Message) => boolean, from: number, ms: number): Promise<boolean>;
  /** Mallory leads: proposes a channel to `node`; resolves once it accepted. */
  lead(node: Peer, deposits: [bigint, bigint][], assets?: readonly Address[]): Promise<{ params: ChannelParams; v0: ChannelState }>;
  /** Mallory follows: waits for `node`'s open and accepts it; resolves with the channel. */
  follow(node: Peer, from?: number): Promise<{ params: ChannelParams; v0: SignedState }>;
  sign(params: ChannelParams, state: ChannelState): Uint8Array;
  multiaddrs(): string[];
  stop(): Promise<void>;
}

let nonce = 5000n;

/** Where Mallory lives: a chain endpoint, the adjudicator, and a way to give her ETH for gas. */
export interface MalloryEnv {
  readonly provider: string | Network['provider'];
  readonly adjudicator: Network['adjudicator'];
  fund(address: Address): Promise<void>;
}

export const inNetwork = (net: Network): MalloryEnv => ({
  provider: net.provider,
  adjudicator: net.adjudicator,
  fund: (a) => net.chain.setBalance(a, 1000n * 10n ** 18n),
});

export async function mallory(net: MalloryEnv, who: Actor): Promise<Mallory> {
  const transport: Libp2pTransport = await createLibp2pTransport({ privateKey: who.privateKey, penaltyThreshold: 1_000_000 });
  const inbox: Message[] = [];
  transport.on('message', (_from, r) => {
    if (r.ok) inbox.push(r.value);
  });
  await transport.start();
  await net.fund(who.address);
  const chain = await createChainService({
    rpc: net.provider,
    privateKey: bytesToHex(who.privateKey),
    adjudicator: net.adjudicator,
    pollingIntervalMs: 10,
  });
  const peerOf = async (node: Peer) => {
    const { peerId } = await node.node.info();
    if (!transport.isConnected(peerId)) await transport.connect(node.multiaddr);
    return peerId;
  };
  const next = <M extends Message>(match: (m: Message) => m is M, from = 0, timeoutMs = 10_000) =>
    eventually(
      async () => inbox.slice(from).find(match),
      (m) => m !== undefined,
      timeoutMs,
    ) as Promise<M>;
  const sign = (params: ChannelParams, state: ChannelState) => signState(nobleBackend, params, state, who.privateKey);
  return {
    who,
    chain,
    inbox,
    async send(node, m) {
      transport.send(await peerOf(node), m);
    },
    next,
    async arrives(match, from, ms) {
      await new Promise((r) => setTimeout(r, ms));
      return inbox.slice(from).some(match);
    },
    async lead(node, deposits, assets = [NATIVE_ASSET]) {
      const params: ChannelParams = {
        chainId: 31337n,
        adjudicator: net.adjudicator,
        participants: [who.address, node.actor.address],
        assets,
        challengeDuration: 600n,
        nonce: nonce++,
      };
      const v0 = initialState(params, deposits);
      const from = inbox.length;
      transport.send(await peerOf(node), { type: 'open', params, deposits, signature: sign(params, v0) });
      await next((m): m is Message => m.type === 'open-accept' && m.channelId === v0.channelId, from);
      return { params, v0 };
    },
    async follow(node, from = 0) {
      const open = await next((m): m is Extract<Message, { type: 'open' }> => m.type === 'open', from);
      const v0 = initialState(open.params, open.deposits);
      const mine = sign(open.params, v0);
      transport.send(await peerOf(node), { type: 'open-accept', channelId: v0.channelId, signature: mine });
      return { params: open.params, v0: { state: v0, signatures: [open.signature, mine] } };
    },
    sign,
    multiaddrs: () => transport.multiaddrs(),
    stop: () => transport.stop(),
  };
}
