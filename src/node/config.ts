/** Node configuration, validated at the edge. */
import type { Logger } from 'pino';
import type { EIP1193Provider } from 'viem';
import type { Address, Hex } from '../core/bytes.ts';
import type { ChainService } from '../chain/chain-service.ts';
import type { Signer } from '../crypto/signer.ts';
import type { Transport } from '../p2p/transport.ts';
import type { ChannelStore } from '../store/store.ts';
import type { OpenPolicy, SwapPolicy } from './policy.ts';

export interface NodeConfig {
  /** The node's secp256k1 key: its Ethereum address and its libp2p identity. */
  readonly privateKey: Uint8Array | Hex;
  /** Directory of the lmdb store (created if missing). Or pass `store`. */
  readonly dataDir?: string;
  /** libp2p listen addresses (default /ip4/127.0.0.1/tcp/0: loopback, a free port). */
  readonly listen?: readonly string[];
  /** The chain: an RPC endpoint (URL or EIP-1193 provider) and the adjudicator. Or pass `chainService`. */
  readonly chain?: {
    readonly rpc: string | EIP1193Provider;
    readonly adjudicator: Address;
    /** Key that pays gas (default: the node key). */
    readonly privateKey?: Hex;
  };
  readonly policies?: { readonly open?: OpenPolicy; readonly swap?: SwapPolicy };
  readonly limits?: {
    /**
     * The most channels one peer may have opened with us that are not funded yet (default 16;
     * lnd's `maxpendingchannels`). Opens beyond it are refused with reason `policy`: a peer
     * cannot fill our disk with channels it never funds.
     */
    readonly maxPendingChannelsPerPeer?: number;
  };
  /**
   * The settlement coordinator's multiaddr: closes, disputes and conclusions go through it (in
   * batches with other channels), and its watchtower is kept up to date with every channel's
   * latest state. The node submits directly whenever it does not settle in time.
   */
  readonly coordinator?: string;
  readonly signer?: {
    /** `auto` (default): native libsecp256k1 if it loads, else noble. */
    readonly backend?: 'auto' | 'native' | 'noble';
    /** Worker threads for signature work; 0 (default) signs and verifies on the main thread. */
    readonly workers?: number;
  };
  readonly timeouts?: {
    /** A payment, swap or other operation (default 30 s). */
    readonly operationMs?: number;
    /** Waiting for the counterparty to answer an open (default 30 s). */
    readonly openMs?: number;
    /** Waiting for funding or settlement on-chain (default 120 s). */
    readonly chainMs?: number;
    /** How long the coordinator may take to settle before the node submits directly (default 60 s). */
    readonly coordinatorMs?: number;
  };
  /**
   * Withdraw every credited balance (a payout the adjudicator credited instead of paying: a
   * `credit`-mode batch, or a push our address refused) as soon as the node notices it, to `to`
   * (default: the node's address; name another if ours refuses the asset). Off by default:
   * credits wait for `withdraw`.
   */
  readonly autoWithdraw?: { readonly to?: Address };
  /**
   * How often to poll the chain for new blocks (default 250 ms, for dev chains). A chain with
   * 12 s blocks behind a public RPC wants 1,000–4,000: every poll is a request. Receipts of our
   * own transactions are polled five times as often (at least every 20 ms).
   */
  readonly chainPollMs?: number;
  /**
   * Final payment records (settled, failed) kept in memory besides those in flight, the newest
   * (default 4096); the rest of the history is read from disk a page at a time (`payments()`).
   */
  readonly paymentsInMemory?: number;
  /**
   * Blocks on top of an event's block before the node counts it: funding, deposits, challenges,
   * closes (docs/adr/0014). Default per chain: 0 on dev chains (ids 31337, 1337), else 12.
   */
  readonly confirmations?: number;
  /** A pino logger, or the level for a new one (default 'info'). */
  readonly logger?: Logger | { readonly level: string };
  /** Milliseconds since the epoch; tests may pass a fake clock. */
  readonly clock?: () => number;
  /** Injected parts (tests, or advanced embedding). */
  readonly store?: ChannelStore;
  readonly transport?: Transport;
  readonly chainService?: ChainService;
  readonly signerImpl?: Signer;
}

export interface ResolvedTimeouts {
  readonly operationMs: number;
  readonly openMs: number;
  readonly chainMs: number;
  readonly coordinatorMs: number;
}

export function resolveTimeouts(t: NodeConfig['timeouts']): ResolvedTimeouts {
  return {
    operationMs: t?.operationMs ?? 30_000,
    openMs: t?.openMs ?? 30_000,
    chainMs: t?.chainMs ?? 120_000,
    coordinatorMs: t?.coordinatorMs ?? 60_000,
  };
}
