/**
 * Errors the node's API throws. Each has a stable `code` (served by the control API) and a
 * short message; expected protocol refusals carry the core's `RejectReason`.
 */
import { LanesError, type LanesErrorOptions } from '../core/errors.ts';
import type { RejectReason } from '../core/result.ts';

export class ChannelNotFoundError extends LanesError {
  override name = 'ChannelNotFoundError';
  constructor(channelId: string) {
    super(`unknown channel ${channelId}`, { code: 'UNKNOWN_CHANNEL' });
  }
}

export class ChannelNotOpenError extends LanesError {
  override name = 'ChannelNotOpenError';
  constructor(channelId: string, status: string) {
    super(`channel ${channelId} is ${status}, not open`, { code: 'CHANNEL_NOT_OPEN' });
  }
}

/**
 * The counterparty (or our own rules) refused an operation. `maybeApplied` is true when the
 * counterparty holds our signature on a state that carries it: it may still be enforced on-chain,
 * so the caller must not assume it did not happen (the channel's events will tell).
 */
export class RejectedError extends LanesError {
  override name = 'RejectedError';
  readonly reason: RejectReason;
  readonly maybeApplied: boolean;
  constructor(reason: RejectReason, detail: string, options: LanesErrorOptions & { readonly maybeApplied?: boolean } = {}) {
    const { maybeApplied = false, ...rest } = options;
    super(detail.length > 0 ? `${reason}: ${detail}` : reason, { code: reason.toUpperCase().replaceAll('-', '_'), ...rest });
    this.reason = reason;
    this.maybeApplied = maybeApplied;
  }
}

export class PeerUnreachableError extends LanesError {
  override name = 'PeerUnreachableError';
  constructor(peer: string, options: LanesErrorOptions = {}) {
    super(`peer ${peer} is not reachable`, { code: 'PEER_UNREACHABLE', ...options });
  }
}

/**
 * An operation did not complete in time. `maybeApplied` is true when the operation was already
 * signed and sent: it may still complete, and the channel's events will tell.
 */
export class OperationTimeoutError extends LanesError {
  override name = 'OperationTimeoutError';
  readonly maybeApplied: boolean;
  constructor(what: string, maybeApplied: boolean) {
    super(`${what} timed out${maybeApplied ? ' (it was sent and may still complete)' : ''}`, { code: 'TIMEOUT' });
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
  constructor(what: string, cause: unknown) {
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
 * The chain refused a withdrawal (e.g. the recipient refuses the asset): that asset's balance
 * stays credited. `details` lists what was already withdrawn in the same call.
 */
export class WithdrawFailedError extends LanesError {
  override name = 'WithdrawFailedError';
  readonly asset: string;
  constructor(asset: string, to: string, options: LanesErrorOptions = {}) {
    super(`withdrawing ${asset} to ${to} failed; the balance stays credited`, { code: 'WITHDRAW_FAILED', ...options });
    this.asset = asset;
  }
}
