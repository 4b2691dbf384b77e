/**
 * Structured logs with pino: JSON lines, one object per event. Channel-scoped loggers carry the
 * channel id and the peer on every line. Keys, tokens and URL credentials are never logged
 * (pino's `redact` removes them even if a caller passes them by mistake).
 */
import { type Logger, pino } from 'pino';

export type { Logger };

const REDACT = ['privateKey', '*.privateKey', 'token', '*.token', 'authorization', '*.authorization', 'headers.authorization'];

/** A logger writing JSON lines to stderr (stdout stays free for a CLI's output). */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LANES_LOG_LEVEL ?? 'info',
      ...(options.name === undefined ? {} : { name: options.name }),
      redact: { paths: REDACT, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    pino.destination({ dest: 2, sync: false }),
  );
}
