/**
 * Errors on the control API: `{ "error": { "code", "message", "reason"?, "details"? } }` with a
 * stable code and an HTTP status. Unexpected errors are reported as INTERNAL without their
 * message (it could carry anything); they are logged in full on the daemon.
 */
import { LanesError } from '../core/errors.ts';
import { RejectedError } from '../node/errors.ts';

const STATUS: Record<string, number> = {
  INVALID_ARGUMENT: 400,
  UNAUTHORIZED: 401,
  UNKNOWN_CHANNEL: 404,
  NOT_FOUND: 404,
  CHANNEL_NOT_OPEN: 409,
  NOTHING_TO_WITHDRAW: 409,
  NOT_SUPPORTED: 409,
  WITHDRAW_FAILED: 502,
  PEER_UNREACHABLE: 502,
  NODE_STOPPED: 503,
  TIMEOUT: 504,
};

export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly reason?: string;
    readonly details?: string;
    readonly maybeApplied?: boolean;
  };
}

export function errorResponse(e: unknown): { status: number; body: ErrorBody; expected: boolean } {
  if (e instanceof RejectedError) {
    return { status: 422, expected: true, body: { error: { code: e.code, message: e.shortMessage, reason: e.reason } } };
  }
  if (e instanceof LanesError) {
    const maybe = (e as { maybeApplied?: boolean }).maybeApplied;
    return {
      status: STATUS[e.code] ?? 500,
      expected: e.code in STATUS,
      body: {
        error: {
          code: e.code,
          message: e.shortMessage,
          ...(e.details === undefined ? {} : { details: e.details }),
          ...(maybe === undefined ? {} : { maybeApplied: maybe }),
        },
      },
    };
  }
  const fastifyCode = (e as { code?: string; statusCode?: number }).code;
  const status = (e as { statusCode?: number }).statusCode;
  if (typeof fastifyCode === 'string' && fastifyCode.startsWith('FST_') && status !== undefined && status < 500) {
    return { status: 400, expected: true, body: { error: { code: 'INVALID_ARGUMENT', message: (e as Error).message } } };
  }
  return { status: 500, expected: false, body: { error: { code: 'INTERNAL', message: 'internal error (see the daemon log)' } } };
}
