/**
 * A channel leader without a node: it speaks the wire protocol over its own libp2p transport and
 * holds its own chain service, so a test decides exactly what it signs, deposits and submits.
 */
import {
  type Address,
  type ChannelParams,
  type ChannelState,
  type Message,
  NATIVE_ASSET,
  type Op,
  type SignedState,
  applyUpdate,
  bytesToHex,
  initialState,
  nobleBackend,
  signState,
} from '../../src/core/index.ts';
import { type ChainService, createChainService } from '../../src/chain/chain-service.ts';
import { type Libp2pTransport, createLibp2pTransport } from '../../src/p2p/libp2p-transport.ts';
import type { Actor } from './actors.ts';
import { type Network, type TestNode, eventually } from './nodes.ts';

export interface RawLeader {
  readonly chain: ChainService;
  /** Proposes a channel to `node` as its leader; resolves with its version 0 once the node accepted it. */
  propose(node: TestNode, deposits: [bigint, bigint][], assets?: readonly Address[]): Promise<{ params: ChannelParams; v0: ChannelState }>;
  /** Proposes `ops` on top of `from` at the next version; resolves with the state both signed. */
  update(node: TestNode, params: ChannelParams, from: ChannelState, ops: Op[]): Promise<SignedState>;
  stop(): Promise<void>;
}

let nonce = 1000n;

export async function rawLeader(net: Network, who: Actor): Promise<RawLeader> {
  const transport: Libp2pTransport = await createLibp2pTransport({ privateKey: who.privateKey });
  const inbox: Message[] = [];
  transport.on('message', (_from, r) => {
    if (r.ok) inbox.push(r.value);
  });
  await transport.start();
  const chain = await createChainService({
    rpc: net.provider,
    privateKey: bytesToHex(who.privateKey),
    adjudicator: net.adjudicator,
    pollingIntervalMs: 10,
  });
  const peerOf = async (node: TestNode) => {
    const { peerId } = await node.node.info();
    if (!transport.isConnected(peerId)) await transport.connect(node.multiaddr);
    return peerId;
  };
  const answer = <M extends Message>(match: (m: Message) => m is M) =>
    eventually(
      async () => inbox.find(match),
      (m) => m !== undefined,
    ) as Promise<M>;
  return {
    chain,
    async propose(node, deposits, assets = [NATIVE_ASSET]) {
      const params: ChannelParams = {
        chainId: 31337n,
        adjudicator: net.adjudicator,
        participants: [who.address, node.actor.address],
        assets,
        challengeDuration: 600n,
        nonce: nonce++,
      };
      const v0 = initialState(params, deposits);
      transport.send(await peerOf(node), {
        type: 'open',
        params,
        deposits,
        signature: signState(nobleBackend, params, v0, who.privateKey),
      });
      await answer((m): m is Message => m.type === 'open-accept' && m.channelId === v0.channelId);
      return { params, v0 };
    },
    async update(node, params, from, ops) {
      const applied = applyUpdate(params, from, ops, { now: 0n });
      if (!applied.ok) throw new Error(applied.detail);
      const state = applied.value;
      const signature = signState(nobleBackend, params, state, who.privateKey);
      transport.send(await peerOf(node), { type: 'propose', channelId: state.channelId, version: state.version, ops, signature });
      const reply = await answer(
        (m): m is Extract<Message, { type: 'countersign' }> =>
          m.type === 'countersign' && m.channelId === state.channelId && m.version === state.version,
      );
      return { state, signatures: [signature, reply.signature] };
    },
    stop: () => transport.stop(),
  };
}
