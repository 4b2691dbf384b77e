/**
 * Structured logs with pino: JSON lines, one object per event. Channel-scoped loggers carry the
 * channel id and the peer on every line. Keys, tokens and URL credentials are never logged
 * (pino's `redact` removes them even if a caller passes them by mistake).
 */
import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Errors as a few readable fields: viem's errors carry the contract ABI, request bodies and
 * nested causes (tens of kilobytes a line); pino's default serializer would log all of it.
 */
export function serializeError(e: unknown, depth = 0): Record<string, unknown> {
  if (!(e instanceof Error)) return { message: String(e) };
  const x = e as Error & { shortMessage?: string; details?: string; code?: unknown; reason?: unknown };
  return {
    type: x.name,
    message: (x.shortMessage ?? x.message).slice(0, 2000),
    ...(typeof x.details === 'string' ? { details: x.details.slice(0, 2000) } : {}),
    ...(x.code === undefined ? {} : { code: x.code }),
    ...(x.reason === undefined ? {} : { reason: x.reason }),
    ...(x.stack === undefined ? {} : { stack: x.stack.split('\n').slice(0, 12).join('\n') }),
    ...(x.cause !== undefined && depth < 2 ? { cause: serializeError(x.cause, depth + 1) } : {}),
  };
}

const REDACT = ['privateKey', '*.privateKey', 'token', '*.token', 'authorization', '*.authorization', 'headers.authorization'];

/** A logger writing JSON lines to stderr (stdout stays free for a CLI's output). */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LANES_LOG_LEVEL ?? 'info',
      ...(options.name === undefined ? {} : { name: options.name }),
      redact: { paths: REDACT, censor: '[redacted]' },
      base: { pid: process.pid },
      serializers: { err: (e: unknown) => serializeError(e), error: (e: unknown) => serializeError(e) },
    },
    pino.destination({ dest: 2, sync: false }),
  );
}
