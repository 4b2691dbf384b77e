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
