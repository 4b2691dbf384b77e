/**
 * Named errors for misuse and I/O failures (viem's BaseError shape: a short message, details,
 * an optional cause and a literal `name`). Expected protocol outcomes are NOT errors: they are
 * {@link Result} values (see result.ts).
 */

export interface LanesErrorOptions {
  readonly details?: string;
  readonly cause?: unknown;
  /** A stable machine-readable code, served by the control API. */
  readonly code?: string;
}

export class LanesError extends Error {
  override name = 'LanesError';
  readonly shortMessage: string;
  readonly details: string | undefined;
  readonly code: string;

  constructor(shortMessage: string, options: LanesErrorOptions = {}) {
    super(options.details ? `${shortMessage}\n\nDetails: ${options.details}` : shortMessage, {
      cause: options.cause,
    });
    this.shortMessage = shortMessage;
    this.details = options.details;
    this.code = options.code ?? 'LANES_ERROR';
  }

  /** A JSON form for the control API: never includes the cause's stack. */
  toJSON(): { name: string; code: string; message: string; details?: string } {
    return {
      name: this.name,
      code: this.code,
      message: this.shortMessage,
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

/** An argument that breaks a documented precondition (a bad address, an out-of-range amount). */
export class InvalidArgumentError extends LanesError {
  override name = 'InvalidArgumentError';
  constructor(shortMessage: string, options: LanesErrorOptions = {}) {
    super(shortMessage, { code: 'INVALID_ARGUMENT', ...options });
  }
}

/** Bytes received from outside that do not decode into a valid message. */
export class DecodeError extends LanesError {
  override name = 'DecodeError';
  constructor(shortMessage: string, options: LanesErrorOptions = {}) {
    super(shortMessage, { code: 'MALFORMED', ...options });
  }
}

/** Error codes of a connection that failed, in a few words (`unreachableReason`). */
const UNREACHABLE: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  ECONNRESET: 'the connection was reset',
  EPIPE: 'the connection was reset',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'no route to the host',
  ETIMEDOUT: 'no connection in time',
  UND_ERR_CONNECT_TIMEOUT: 'no connection in time',
  UND_ERR_SOCKET: 'the connection closed',
};

/**
 * Why a connection failed, from the error of a failed fetch or socket (the `code` on it or down
 * its causes): `connection refused` says nothing listens there, which differs from a server that
 * took the connection and is slow to answer. Undefined when no cause names a known code.
 */
export function unreachableReason(e: unknown): string | undefined {
  let x: unknown = e;
  for (let depth = 0; depth < 8 && typeof x === 'object' && x !== null; depth++) {
    const code = (x as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE[code] !== undefined) return UNREACHABLE[code];
    // `localhost` is tried on ::1 and 127.0.0.1: the first failure says it.
    x = x instanceof AggregateError && x.errors.length > 0 ? x.errors[0] : (x as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The message of the deepest cause of `e` (fetch's `fetch failed` says less than its cause). */
export function innermostMessage(e: unknown): string {
  let x: unknown = e;
  for (let depth = 0; depth < 8; depth++) {
    const cause = typeof x === 'object' && x !== null ? (x as { cause?: unknown }).cause : undefined;
    if (!(cause instanceof Error)) break;
    x = cause;
  }
  return x instanceof Error ? x.message : String(x);
}
