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

/** The counterparty (or our own rules, before anything was sent) refused an operation. */
export class RejectedError extends LanesError {
  override name = 'RejectedError';
  readonly reason: RejectReason;
  constructor(reason: RejectReason, detail: string, options: LanesErrorOptions = {}) {
    super(detail.length > 0 ? `${reason}: ${detail}` : reason, { code: reason.toUpperCase().replaceAll('-', '_'), ...options });
    this.reason = reason;
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
