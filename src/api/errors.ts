/**
 * Errors on the control API: `{ "error": { "code", "message", "details"?, ...fields } }` with the
 * status, code and fields of the SDK's error registry (src/sdk/error-registry.ts), which the
 * remote client rebuilds them with. Unexpected errors are reported as INTERNAL without their
 * message (it could carry anything); they, and daemon faults, are logged in full on the daemon.
 */
import { LanesError } from '../core/errors.ts';
import { ERROR_CODES, type ErrorJson, entryOf, errorToJson } from '../sdk/error-registry.ts';

export interface ErrorBody {
  readonly error: ErrorJson;
}

export function errorResponse(e: unknown): { status: number; body: ErrorBody; expected: boolean } {
  if (e instanceof LanesError) {
    const entry = entryOf(e);
    return { status: entry?.status ?? 500, expected: entry !== undefined && !entry.fault, body: { error: errorToJson(e) } };
  }
  const fastifyCode = (e as { code?: string; statusCode?: number }).code;
  const status = (e as { statusCode?: number }).statusCode;
  if (typeof fastifyCode === 'string' && fastifyCode.startsWith('FST_') && status !== undefined && status < 500) {
    return {
      status: ERROR_CODES.INVALID_ARGUMENT.status,
      expected: true,
      body: { error: { code: 'INVALID_ARGUMENT', message: (e as Error).message } },
    };
  }
  return {
    status: ERROR_CODES.INTERNAL.status,
    expected: false,
    body: { error: { code: 'INTERNAL', message: 'internal error (see the daemon log)' } },
  };
}
