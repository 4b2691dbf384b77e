/**
 * A peer that links up and then never answers: a libp2p transport with a valid key that drops
 * every message. A node that opens a channel to it waits for an accept that never comes, so its
 * open times out (after the message was sent: maybeApplied).
 */
import { createLibp2pTransport } from '../../src/p2p/libp2p-transport.ts';
import { actor } from './actors.ts';

export interface MutePeer {
  readonly multiaddr: string;
  stop(): Promise<void>;
}

export async function mutePeer(name = 'mute'): Promise<MutePeer> {
  const transport = await createLibp2pTransport({ privateKey: actor(name).privateKey });
  await transport.start();
  return { multiaddr: transport.multiaddrs()[0]!, stop: () => transport.stop() };
}
