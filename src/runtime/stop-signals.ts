/**
 * The signals that stop a long-running `lanes` process (a daemon, `lanes testnet up`): SIGINT
 * (Ctrl-C), SIGTERM (a supervisor) and SIGHUP (the terminal went away). The first one starts a
 * clean stop; later ones are logged by the caller and ignored, so a second Ctrl-C, or a signal
 * that reaches both a wrapper and its child, never cuts the clean stop short.
 */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/**
 * Calls `stop` on the first stop signal, and `again` (if given) on each later one. Returns a
 * function that removes the handlers.
 */
export function onStopSignal(stop: (signal: StopSignal) => void, again?: (signal: StopSignal) => void): () => void {
  let stopping = false;
  const handlers = STOP_SIGNALS.map((signal) => {
    const h = () => {
      if (stopping) return again?.(signal);
      stopping = true;
      stop(signal);
    };
    process.on(signal, h);
    return [signal, h] as const;
  });
  return () => {
    for (const [signal, h] of handlers) process.off(signal, h);
  };
}
