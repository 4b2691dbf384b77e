/**
 * The errors the SDK throws, embedded (createNode) or remote (connect). Each has a stable `code`
 * and carries what it is about as fields (`reason`, `maybeApplied`, `channelId`, `asset`...), so
 * a program decides on those, never on the message. The control API serves the fields and the
 * remote client rebuilds the same class from them (error-registry.ts): `instanceof` and the
 * fields are the same on both sides. Messages name channels, assets, peers and addresses, never
 * keys or tokens.
 */
import { LanesError, type LanesErrorOptions } from '../core/errors.ts';
import type { RejectReason } from '../core/result.ts';

export class ChannelNotFoundError extends LanesError {
  override name = 'ChannelNotFoundError';
  readonly channelId: string;
  constructor(channelId: string) {
    super(`unknown channel ${channelId}`, { code: 'UNKNOWN_CHANNEL' });
    this.channelId = channelId;
  }
}

/** `status` is the channel's status (`funding`, `closing`, `closed`...), or why it is not usable yet. */
export class ChannelNotOpenError extends LanesError {
  override name = 'ChannelNotOpenError';
  readonly channelId: string;
  readonly status: string;
  constructor(channelId: string, status: string) {
    super(`channel ${channelId} is ${status}, not open`, { code: 'CHANNEL_NOT_OPEN' });
    this.channelId = channelId;
    this.status = status;
  }
}

/** The code of a refusal: its reason in upper snake case (`insufficient-balance` → `INSUFFICIENT_BALANCE`). */
export function rejectionCode(reason: RejectReason): string {
  return reason.toUpperCase().replaceAll('-', '_');
}

/**
 * The counterparty (or our own rules) refused an operation, for `reason` (explained by
 * `detail`). `maybeApplied` is true when the counterparty holds our signature on a state that
 * carries it: it may still be enforced on-chain, so the caller must not assume it did not happen
 * (the channel's events will tell).
 */
export class RejectedError extends LanesError {
  override name = 'RejectedError';
  readonly reason: RejectReason;
  readonly detail: string;
  readonly maybeApplied: boolean;
  constructor(reason: RejectReason, detail: string, options: LanesErrorOptions & { readonly maybeApplied?: boolean } = {}) {
    const { maybeApplied = false, ...rest } = options;
    super(detail.length > 0 ? `${reason}: ${detail}` : reason, { code: rejectionCode(reason), ...rest });
    this.reason = reason;
    this.detail = detail;
    this.maybeApplied = maybeApplied;
  }
}

/** `peer` is the multiaddr, peer id or address the node could not reach. */
export class PeerUnreachableError extends LanesError {
  override name = 'PeerUnreachableError';
  readonly peer: string;
  constructor(peer: string, options: LanesErrorOptions = {}) {
    super(`peer ${peer} is not reachable`, { code: 'PEER_UNREACHABLE', ...options });
    this.peer = peer;
  }
}

/**
 * `operation` did not complete in time. `maybeApplied` is true when it was already signed and
 * sent: it may still complete, and the channel's events will tell.
 */
export class OperationTimeoutError extends LanesError {
  override name = 'OperationTimeoutError';
  readonly operation: string;
  readonly maybeApplied: boolean;
  constructor(operation: string, maybeApplied: boolean, options: LanesErrorOptions = {}) {
    super(`${operation} timed out${maybeApplied ? ' (it was sent and may still complete)' : ''}`, { code: 'TIMEOUT', ...options });
    this.operation = operation;
    this.maybeApplied = maybeApplied;
  }
}

export class NodeStoppedError extends LanesError {
  override name = 'NodeStoppedError';
  constructor() {
    super('the node is stopped', { code: 'NODE_STOPPED' });
  }
}

/** A failure the node cannot continue after (a store that cannot write): it stops loudly. */
export class FatalNodeError extends LanesError {
  override name = 'FatalNodeError';
  constructor(what: string, cause?: unknown) {
    super(what, { code: 'FATAL', cause });
  }
}

/** `withdraw` named an asset of which the adjudicator holds nothing for this node. Nothing was sent. */
export class NothingToWithdrawError extends LanesError {
  override name = 'NothingToWithdrawError';
  readonly asset: string;
  constructor(asset: string) {
    super(`nothing to withdraw in ${asset}`, { code: 'NOTHING_TO_WITHDRAW' });
    this.asset = asset;
  }
}

/**
 * The chain refused a withdrawal of `asset` to `to` (e.g. the recipient refuses the asset): that
 * asset's balance stays credited. `details` lists what was already withdrawn in the same call.
 */
export class WithdrawFailedError extends LanesError {
  override name = 'WithdrawFailedError';
  readonly asset: string;
  readonly to: string;
  constructor(asset: string, to: string, options: LanesErrorOptions = {}) {
    super(`withdrawing ${asset} to ${to} failed; the balance stays credited`, { code: 'WITHDRAW_FAILED', ...options });
    this.asset = asset;
    this.to = to;
  }
}

/**
 * The remote client lost its connection to the daemon while `operation` was in flight (the stream
 * closed, or the daemon stopped). `maybeApplied` is true for calls that change something (pay,
 * swap, open, close, deposit, withdraw, connect): the daemon may have carried it out, and the
 * channel's events or `channel()` will tell. Only the remote client throws it; not served by the
 * control API.
 */
export class ConnectionLostError extends LanesError {
  override name = 'ConnectionLostError';
  readonly operation: string;
  readonly maybeApplied: boolean;
  constructor(operation: string, maybeApplied: boolean, options: LanesErrorOptions = {}) {
    super(
      `the connection to the daemon was lost during ${operation}${maybeApplied ? ' (it was sent and may have been carried out)' : ''}`,
      {
        code: 'CONNECTION_LOST',
        ...options,
      },
    );
    this.operation = operation;
    this.maybeApplied = maybeApplied;
  }
}

/**
 * The remote client could not reach the daemon at `url`: `reason` says how (`connection
 * refused`: nothing listens there; `host not found`; ...). Nothing was sent. A daemon that
 * accepted the connection but did not answer in time is an OperationTimeoutError instead. Only
 * the remote client throws it.
 */
export class DaemonUnreachableError extends LanesError {
  override name = 'DaemonUnreachableError';
  readonly url: string;
  readonly reason: string;
  constructor(url: string, reason: string, options: LanesErrorOptions = {}) {
    super(`cannot reach the daemon at ${url}: ${reason}`, { code: 'DAEMON_UNREACHABLE', ...options });
    this.url = url;
    this.reason = reason;
  }
}

/**
 * Something answered at `url`, but not a Lanes control API: `got` says what it answered (its
 * content type, or what its JSON lacked). Only the remote client throws it.
 */
export class NotLanesApiError extends LanesError {
  override name = 'NotLanesApiError';
  readonly url: string;
  readonly got: string;
  constructor(url: string, got: string, options: LanesErrorOptions = {}) {
    super(`${url} is not a Lanes control API (got ${got})`, { code: 'NOT_LANES_API', ...options });
    this.url = url;
    this.got = got;
  }
}

/**
 * An invoice string that cannot be paid: `problem` is one of `INVOICE_PROBLEMS` (`checksum`,
 * `signature`, `expired`, `wrong-chain`, …) and `detail` says what was wrong, without quoting it.
 */
export class InvalidInvoiceError extends LanesError {
  override name = 'InvalidInvoiceError';
  readonly problem: string;
  readonly detail: string;
  constructor(problem: string, detail: string) {
    super(`invalid invoice (${problem}): ${detail}`, { code: 'INVALID_INVOICE' });
    this.problem = problem;
    this.detail = detail;
  }
}

/**
 * A payment failed for certain (its lock, if any, is back with the payer): `reason` is one of
 * `PAYMENT_FAILURES`, `hop` the index in its route of the hop that failed it (0: the first channel,
 * on a direct payment the payee's), `paymentHash` names its record in `payments()`.
 */
export class PaymentFailedError extends LanesError {
  override name = 'PaymentFailedError';
  readonly reason: string;
  readonly detail: string;
  readonly hop: number;
  readonly paymentHash: string;
  constructor(reason: string, detail: string, hop: number, paymentHash: string) {
    super(`payment failed at hop ${hop} (${reason}): ${detail}`, { code: 'PAYMENT_FAILED' });
    this.reason = reason;
    this.detail = detail;
    this.hop = hop;
    this.paymentHash = paymentHash;
  }
}
