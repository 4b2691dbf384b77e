/**
 * The Lanes API: what an application does with a node. `createNode(config)` (embedded) returns
 * it; the remote client `connect({ url, token })` returns the same interface, so moving from an
 * embedded node to a daemon is a one-line change. Amounts are `bigint` in base units (wei for
 * ETH); addresses are lowercase 0x strings; channel ids are 0x-prefixed 32-byte hex.
 *
 * @example
 * const node = await createNode({ dataDir: './alice', privateKey, chain: { rpcUrl, adjudicator } });
 * await node.connect(bobMultiaddr);
 * const channel = await node.openChannel({ peer: bobMultiaddr, deposit: [10n ** 18n] });
 * const payment = await node.pay(channel.id, { amount: 10n ** 15n });
 * console.log(payment.version); // the co-signed version that carries it
 */
import type { Address, Bytes32 } from '../core/bytes.ts';
import type { RejectReason } from '../core/result.ts';
import type { ChannelStatus } from '../core/channel/record.ts';
import type {
  CreateInvoiceParameters,
  InvoiceInfo,
  PayInvoiceParameters,
  PaymentEvents,
  PaymentInfo,
  PaymentsFilter,
  InvoicesFilter,
  SendPaymentParameters,
} from './payments.ts';

export type * from './payments.ts';
import type { AssetInfo } from './asset-info.ts';

export type { Address, AssetInfo, Bytes32, ChannelStatus, RejectReason };

export interface NodeInfo {
  /** The node's Ethereum address: it signs channel states and is its libp2p identity. */
  readonly address: Address;
  readonly peerId: string;
  /** Where peers can dial this node (each ends in /p2p/<peerId>). */
  readonly multiaddrs: readonly string[];
  readonly chainId: bigint;
  readonly adjudicator: Address;
  /** Signature backend in use (native libsecp256k1 or noble), and where it runs. */
  readonly signer: string;
  /**
   * The account that sends this node's transactions and pays their gas (and the ETH and tokens
   * of its deposits), when it is not {@link NodeInfo.address}: a separate gas key (ADR 0016).
   */
  readonly gasAccount?: Address;
  /**
   * The assets of this node's channels as it shows them: ETH, and each token's symbol and
   * decimals as the token answered them, read once (src/sdk/asset-info.ts says which answers
   * are used). For printing amounts and reading typed ones (`10tUSD`).
   */
  readonly assets?: readonly AssetInfo[];
  /**
   * The coordinator that watches this node's channels while it is offline, when there is one:
   * whether it is reachable now, and since when (unix ms). While it is not, a stale state is
   * answered only while this node runs (the `watchtower-unreachable` event).
   */
  readonly watchtower?: { readonly coordinator: string; readonly reachable: boolean; readonly since: number };
}

export interface PeerInfo {
  readonly peerId: string;
  readonly address: Address;
  readonly connected: boolean;
}

export interface AssetBalance {
  readonly asset: Address;
  /** This node's balance. */
  readonly mine: bigint;
  /** The counterparty's balance. */
  readonly theirs: bigint;
  /** Amount in pending hash-locked transfers. */
  readonly locked: bigint;
}

export interface ChannelInfo {
  readonly id: Bytes32;
  readonly status: ChannelStatus;
  /** `payment` (one asset) or `swap` (two or more). */
  readonly kind: 'payment' | 'swap';
  /** The leader signs every state first; the follower asks it for its own operations. */
  readonly role: 'leader' | 'follower';
  readonly counterparty: { readonly address: Address; readonly peerId: string; readonly connected: boolean };
  readonly assets: readonly Address[];
  /** Balances of the latest co-signed state (version 0's deposits while funding). */
  readonly balances: readonly AssetBalance[];
  /** Version of the latest co-signed state. */
  readonly version: bigint;
  readonly challengeDuration: bigint;
  readonly createdAt: number;
  /** Why the channel ended, when it did not end normally. */
  readonly note?: string;
  /**
   * While a state is registered on-chain (`disputed`): when its challenge period ends, in ms
   * since the epoch of the chain's clock. It can be concluded from then on.
   */
  readonly challengeEndsAt?: number;
  /**
   * The channel settled on-chain with an older state than our latest, and it paid us less:
   * `balances` still show our latest state, this what the chain paid by the older one.
   */
  readonly loss?: ChannelLoss;
}

/** What a channel settled with on-chain, when that was an older state than ours that paid us less. */
export interface ChannelLoss {
  /** The version the channel settled with. */
  readonly version: bigint;
  /** Our latest co-signed version. */
  readonly latest: bigint;
  /** Per asset: what our latest state gives us, and what the settled one paid (absent when we do not hold that state). */
  readonly assets: readonly { readonly asset: Address; readonly expected: bigint; readonly paid?: bigint }[];
}

export interface OpenChannelParameters {
  /** The counterparty: a multiaddr ending in /p2p/<peerId>, or the peer id of a connected peer. */
  readonly peer: string;
  /** Assets of the channel; one for a payment channel (default: the native asset). */
  readonly assets?: readonly Address[];
  /** What this node deposits, per asset. */
  readonly deposit: readonly bigint[];
  /** What the counterparty is asked to deposit, per asset (default: nothing). */
  readonly counterpartyDeposit?: readonly bigint[];
  /** Seconds a registered state can be answered (default 3600). */
  readonly challengeDuration?: bigint;
  /** Resolve once the channel is funded on-chain (default), or once both signed version 0. */
  readonly waitFor?: 'open' | 'signed';
  /**
   * Announce the channel over the channel graph once it is funded, so that other nodes route
   * payments through it (both sides sign the announcement; the node must run graph gossip:
   * `lanes node start --graph`, `createNode({ graph: {} })`). Default false: a private channel.
   */
  readonly public?: boolean;
}

export interface PayParameters {
  /** The asset to pay in; may be omitted in a one-asset channel. */
  readonly asset?: Address;
  readonly amount: bigint;
}

export interface PaymentResult {
  readonly channelId: Bytes32;
  /** The operation id this node gave the payment. */
  readonly id: bigint;
  /** The co-signed version that carries the payment (several payments may share one). */
  readonly version: bigint;
  readonly asset: Address;
  readonly amount: bigint;
}

export interface SwapParameters {
  /** What this node gives. */
  readonly give: { readonly asset: Address; readonly amount: bigint };
  /** What this node receives in exchange. */
  readonly take: { readonly asset: Address; readonly amount: bigint };
  /** Seconds the offer stays valid (default 60). */
  readonly expiresIn?: number;
}

export interface SwapResult {
  readonly channelId: Bytes32;
  readonly id: bigint;
  readonly version: bigint;
  readonly give: { readonly asset: Address; readonly amount: bigint };
  readonly take: { readonly asset: Address; readonly amount: bigint };
}

export interface CloseParameters {
  /**
   * `cooperative` (default): agree a final state with the counterparty and settle it at once.
   * `force`: register the latest co-signed state on-chain and conclude after the challenge
   * period, without the counterparty.
   */
  readonly mode?: 'cooperative' | 'force';
  /**
   * Resolve once the payout is on-chain (default), or once the settlement is submitted. A forced
   * close resolves with `submitted` once its state is registered on-chain, with `challengeEndsAt`.
   */
  readonly waitFor?: 'closed' | 'submitted';
  /** Submit to the chain directly, bypassing the configured coordinator. */
  readonly direct?: boolean;
}

export interface CloseResult {
  readonly channelId: Bytes32;
  readonly mode: 'cooperative' | 'force';
  /** The version settled (or registered, for a forced close not yet concluded). */
  readonly version: bigint;
  /** The transaction that paid out or registered the state. */
  readonly transactionHash?: Bytes32;
  readonly status: ChannelStatus;
  /** Who submitted it: the coordinator (in a batch with other channels) or this node. */
  readonly via?: 'coordinator' | 'direct';
  /** A forced close not concluded yet: when the challenge period ends (ms since the epoch, chain time). */
  readonly challengeEndsAt?: number;
  /**
   * Present when the settling transaction credited this node's account on the adjudicator
   * instead of paying it (a `credit`-mode batch, or a payout our address refused): the amounts
   * by which its withdrawable balances rose, per asset of the channel. Collect them with
   * `withdraw`. (When one transaction settled several of this node's channels, each shows the
   * transaction's whole credit.)
   */
  readonly credited?: readonly CreditedBalance[];
}

/** An amount of one asset, e.g. a balance the adjudicator holds for this node's account. */
export interface CreditedBalance {
  readonly asset: Address;
  readonly amount: bigint;
}

export interface WithdrawParameters {
  /** The asset to withdraw (default: every asset with a credited balance). */
  readonly asset?: Address;
  /** Where the funds go (default: this node's own address). */
  readonly to?: Address;
}

export interface Withdrawal {
  readonly asset: Address;
  readonly amount: bigint;
  /** The adjudicator's `withdraw` transaction (one per asset). */
  readonly transactionHash: Bytes32;
}

export interface WithdrawResult {
  readonly to: Address;
  /** One per asset withdrawn; empty when no asset was named and nothing was credited. */
  readonly withdrawals: readonly Withdrawal[];
}

/** The latest co-signed state, in JSON-friendly form: for backups, audits and disputes. */
export interface SignedStateJson {
  readonly channelId: Bytes32;
  readonly params: {
    readonly chainId: string;
    readonly adjudicator: Address;
    readonly participants: readonly [Address, Address];
    readonly assets: readonly Address[];
    readonly challengeDuration: string;
    readonly nonce: string;
  };
  readonly state: {
    readonly version: string;
    readonly balances: readonly (readonly [string, string])[];
    readonly locks: readonly {
      readonly id: string;
      readonly asset: number;
      readonly amount: string;
      readonly sender: number;
      readonly receiver: number;
      readonly hashlock: Bytes32;
      readonly expiry: string;
    }[];
    readonly isFinal: boolean;
  };
  /** 65-byte r ‖ s ‖ v signatures of participant 0 and 1, 0x hex. */
  readonly signatures: readonly [string, string];
  /** The EIP-712 digest both signed. */
  readonly digest: Bytes32;
}

/** Events a node emits (with `payment-settled`, `payment-failed`, `payment-forwarded`: payments.ts). */
export interface LanesEvents extends PaymentEvents {
  'channel-opened': { readonly channel: ChannelInfo };
  /** A new co-signed state: `payments` counts the payments it carried. */
  'channel-updated': { readonly channelId: Bytes32; readonly version: bigint; readonly operations: number };
  'payment-received': {
    readonly channelId: Bytes32;
    readonly id: bigint;
    readonly version: bigint;
    readonly asset: Address;
    readonly amount: bigint;
  };
  'swap-executed': {
    readonly channelId: Bytes32;
    readonly version: bigint;
    /** From this node's point of view. */
    readonly gave: { readonly asset: Address; readonly amount: bigint };
    readonly received: { readonly asset: Address; readonly amount: bigint };
    readonly initiatedBy: 'me' | 'counterparty';
  };
  'channel-closing': { readonly channelId: Bytes32; readonly mode: 'cooperative' | 'force' | 'challenged'; readonly version: bigint };
  'channel-closed': { readonly channelId: Bytes32; readonly version: bigint; readonly transactionHash?: Bytes32 };
  /**
   * The adjudicator credited this node's account instead of paying it (a `credit`-mode batch, or
   * a payout our address refused): `amount` more of `asset` is withdrawable, `total` in all.
   */
  'balance-credited': {
    readonly asset: Address;
    readonly amount: bigint;
    readonly total: bigint;
    readonly transactionHash: Bytes32;
    /** This node's channels the transaction settled (empty when it settled none of them). */
    readonly channelIds: readonly Bytes32[];
  };
  /** The counterparty registered an older state than ours on-chain; we answered with ours. */
  'stale-state-answered': { readonly channelId: Bytes32; readonly registered: bigint; readonly answered: bigint };
  /**
   * A channel settled on-chain with an older state than ours, which paid us less than our latest
   * (a counterparty's stale state that no one answered in time). Also in `channel(id).loss`.
   */
  'channel-loss': { readonly channelId: Bytes32; readonly loss: ChannelLoss };
  /** The watchtower cannot be reached: stale states are answered only while this node runs. */
  'watchtower-unreachable': { readonly coordinator: string; readonly since: number };
  /** The watchtower is reachable again; every channel's latest state is sent to it again. */
  'watchtower-reachable': { readonly coordinator: string; readonly downForMs: number };
  'peer-connected': { readonly peerId: string; readonly address: Address };
  'peer-disconnected': { readonly peerId: string; readonly address: Address };
}

export type LanesEventName = keyof LanesEvents;

/** The API shared by the embedded node and the remote client. */
export interface LanesApi {
  info(): Promise<NodeInfo>;
  /** Connects to a peer by multiaddr (ending in /p2p/<peerId>). */
  connect(multiaddr: string): Promise<PeerInfo>;
  openChannel(parameters: OpenChannelParameters): Promise<ChannelInfo>;
  /** Tops up a channel: deposits on-chain, then credits the deposit in a co-signed state. */
  deposit(channelId: Bytes32, parameters: { readonly asset?: Address; readonly amount: bigint }): Promise<ChannelInfo>;
  /** Resolves when a state carrying the payment is signed by both and stored durably. */
  pay(channelId: Bytes32, parameters: PayParameters): Promise<PaymentResult>;
  /** An atomic exchange inside the channel, if the counterparty's swap policy accepts it. */
  swap(channelId: Bytes32, parameters: SwapParameters): Promise<SwapResult>;
  close(channelId: Bytes32, parameters?: CloseParameters): Promise<CloseResult>;
  channels(): Promise<ChannelInfo[]>;
  channel(channelId: Bytes32): Promise<ChannelInfo>;
  /** The latest co-signed state with both signatures. */
  signedState(channelId: Bytes32): Promise<SignedStateJson>;
  /** This node's credited balances on the adjudicator (deferred and credit-mode payouts), non-zero ones only. */
  withdrawable(): Promise<CreditedBalance[]>;
  /**
   * Withdraws credited balances from the adjudicator: one asset, or every asset with a balance.
   * Naming an asset with nothing credited throws `NothingToWithdrawError`; withdrawing every
   * asset when nothing is credited returns no withdrawals.
   */
  withdraw(parameters?: WithdrawParameters): Promise<WithdrawResult>;
  /** Issues an invoice signed by this node's key, with a fresh secret kept in the store (docs/adr/0018). */
  createInvoice(parameters?: CreateInvoiceParameters): Promise<InvoiceInfo>;
  /** Decodes and checks an invoice (checksum, bounds, signature); throws `InvalidInvoiceError`. */
  decodeInvoice(invoice: string): Promise<InvoiceInfo>;
  /** The invoices this node issued, newest first, a page at a time (default: the newest 100). */
  invoices(filter?: InvoicesFilter): Promise<InvoiceInfo[]>;
  /**
   * Pays an invoice; resolves once the payee settled (the record is `settled`, with the secret).
   * The payee is a channel peer, or any node the channel graph reaches when this node runs graph
   * gossip (ADR 0019). Throws `InvalidInvoiceError` (expired, tampered,
   * another chain…) or `PaymentFailedError` (`reason`, `hop`).
   */
  payInvoice(invoice: string, parameters?: PayInvoiceParameters): Promise<PaymentInfo>;
  /** A spontaneous payment (keysend) to a channel peer, or over a route; resolves once settled. */
  sendPayment(parameters: SendPaymentParameters): Promise<PaymentInfo>;
  /** Payment records, newest first. */
  payments(filter?: PaymentsFilter): Promise<PaymentInfo[]>;
  /** Subscribes to an event; returns a function that unsubscribes. */
  on<E extends LanesEventName>(event: E, listener: (payload: LanesEvents[E]) => void): () => void;
  stop(): Promise<void>;
}
