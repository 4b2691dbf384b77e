/**
 * Lanes: a state channel network with off-chain parallel settlement.
 *
 * The embedded SDK: `createNode(config)` runs a node in this process and returns the
 * {@link LanesApi}. See docs/sdk.md.
 *
 * @example
 * import { createNode } from 'lanes';
 * const node = await createNode({ privateKey, dataDir: './data', chain: { rpc: 'http://127.0.0.1:8545', adjudicator } });
 * const channel = await node.openChannel({ peer: '/ip4/127.0.0.1/tcp/4001/p2p/16Uiu2…', deposit: [10n ** 18n] });
 * await node.pay(channel.id, { amount: 10n ** 15n });
 */
export { createNode } from './node/create-node.ts';
export { connect, type ConnectParameters, type RemoteNode } from './sdk/connect.ts';
export type { LanesNode } from './node/node.ts';
export type { NodeConfig } from './node/config.ts';
export type { OpenPolicy, OpenProposal, PolicyDecision, SwapOffer, SwapPolicy } from './node/policy.ts';
export type { GraphOptions } from './node/graph-service.ts';
export {
  ChannelNotFoundError,
  ChannelNotOpenError,
  ConnectionLostError,
  DaemonUnreachableError,
  FatalNodeError,
  InvalidInvoiceError,
  NodeStoppedError,
  NotLanesApiError,
  NothingToWithdrawError,
  OperationTimeoutError,
  PaymentFailedError,
  PeerUnreachableError,
  RejectedError,
  WithdrawFailedError,
} from './sdk/errors.ts';
export type * from './sdk/api.ts';
export type * from './sdk/payments.ts';
export { PAYMENT_FAILURES } from './core/payments/record.ts';
export { FORWARD_FAILURES, MAX_QUOTE_VALIDITY, type SwapQuote } from './core/forwarding/index.ts';
export type { AssetPolicy, SwapOffer as RoutedSwapOffer } from './core/routing/types.ts';
export { LanesError, InvalidArgumentError, DecodeError } from './core/errors.ts';
export { REJECT_REASONS, type RejectReason } from './core/result.ts';
export { NATIVE_ASSET, type Address, type Bytes32, type Hex } from './core/bytes.ts';
/** The protocol core, for tools that build or check states themselves. */
export * as core from './core/index.ts';
