/**
 * Files another process reads while their writer runs (api.json, coordinator.json, listen.json,
 * network.json): written beside their final name and renamed into place, so a reader sees the
 * old file or the whole new one, never an empty or half-written one. `writeFileSync` truncates first, and a
 * reader polling for the file (the CLI, a supervisor, the testnet) can catch it empty.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';

/**
 * Writes `data` to `path` by rename. The file is created afresh with `mode` (a file left by a
 * crash keeps whatever mode it had, so it is never reused), and replaces `path` at once.
 */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  const next = `${path}.${process.pid}.new`;
  rmSync(next, { force: true });
  try {
    writeFileSync(next, data, { mode, flag: 'wx' });
    renameSync(next, path);
  } catch (e) {
    rmSync(next, { force: true });
    throw e;
  }
}
