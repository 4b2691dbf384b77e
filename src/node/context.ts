/**
 * What the protocol modules share: the ports (store, transport, signer, chain), the clock,
 * policies, the logger and the event emitter. Built once by the composition root
 * (create-node.ts); the modules never construct I/O themselves.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ChainService } from '../chain/chain-service.ts';
import type { SignatureBackend } from '../core/crypto.ts';
import type { Signer } from '../crypto/signer.ts';
import type { Transport } from '../p2p/transport.ts';
import type { LanesEventName, LanesEvents } from '../sdk/api.ts';
import type { ChannelStore } from '../store/store.ts';
import type { Channel } from './channel.ts';
import type { ResolvedTimeouts } from './config.ts';
import type { CoordinatorLink } from './coordinator-link.ts';
import type { OpenPolicy, SwapPolicy } from './policy.ts';

/** A typed event emitter for {@link LanesEvents}. */
export class NodeEvents {
  private readonly emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  on<E extends LanesEventName>(event: E, listener: (payload: LanesEvents[E]) => void): () => void {
    const safe = (payload: LanesEvents[E]) => {
      try {
        listener(payload);
      } catch {
        // A listener's bug must not break the protocol step that emitted the event.
      }
    };
    this.emitter.on(event, safe);
    return () => this.emitter.off(event, safe);
  }

  /** True when someone listens: per-payment events are only built then. */
  wants(event: LanesEventName): boolean {
    return this.emitter.listenerCount(event) > 0;
  }

  emit<E extends LanesEventName>(event: E, payload: LanesEvents[E]): void {
    if (this.emitter.listenerCount(event) > 0) this.emitter.emit(event, payload);
  }
}

export interface Context {
  readonly store: ChannelStore;
  readonly transport: Transport;
  readonly signer: Signer;
  /** Synchronous backend for rare checks (catch-up states, opens) that need no worker hand-off. */
  readonly backend: SignatureBackend;
  readonly chain: ChainService;
  readonly log: Logger;
  readonly events: NodeEvents;
  /** Milliseconds since the epoch. */
  readonly clock: () => number;
  readonly policies: { readonly open?: OpenPolicy; readonly swap?: SwapPolicy };
  readonly timeouts: ResolvedTimeouts;
  readonly limits: { readonly maxPendingChannelsPerPeer: number };
  readonly channels: Map<`0x${string}`, Channel>;
  /** Allocates an operation id for `channel`; ids keep the participant's parity, so they never collide. */
  nextOpId(channel: Channel): bigint;
  /** Logger for one channel: every line carries the channel id and the peer. */
  channelLog(channel: Channel): Logger;
  /** Stops the node after an error it cannot continue from (a failed durable write). */
  fatal(what: string, error: unknown): void;
  /**
   * Waits until every write issued so far is durable. If the store cannot write, the node stops
   * (FatalNodeError): continuing with money whose state is not on disk is worse than stopping.
   */
  flush(): Promise<void>;
  /** Current time in unix seconds, for the core's expiry checks. */
  now(): bigint;
  /** The settlement coordinator, when one is configured. */
  readonly settle?: CoordinatorLink;
  /** Channels whose latest co-signed state the coordinator's watchtower has not seen yet. */
  readonly watchDirty: Set<Channel>;
}
