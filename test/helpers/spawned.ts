/**
 * Daemons a test starts as processes of their own: each one is killed when the test process
 * exits, however it exits, and one that fails to start is killed before the error reaches the
 * test. A daemon left running holds the test runner's stderr open, and the run never ends.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** `child`, killed (SIGKILL) if it still runs when this process exits. */
export function track<C extends ChildProcess>(child: C): C {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/**
 * The JSON a daemon writes once it is ready (api.json, coordinator.json), once `file` holds the
 * one `child` wrote (its `pid`). A file that does not parse yet is read again. If the daemon
 * exits first, or is not ready within `timeoutMs`, it is killed and the error names `what`.
 */
export async function readyFile<T extends { pid: number }>(
  child: ChildProcess,
  file: string,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it was ready`);
    }
    if (existsSync(file)) {
      let j: T | undefined;
      try {
        j = JSON.parse(readFileSync(file, 'utf8')) as T;
      } catch {
        // Not a whole file yet (a writer that does not rename into place): read it again.
      }
      if (j !== undefined && j.pid === child.pid) return j;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`${what} was not ready within ${timeoutMs / 1000} s`);
}
