#!/usr/bin/env node
// The `lanes` CLI. The sources are TypeScript, run directly by Node >= 24 (type stripping). On an
// older `node` (a system Node 20, say) this re-runs itself with the Node 24 that `npm install`
// put in node_modules, so `./bin/lanes.js` works from any shell.
//
// A supervisor knows only this process's PID, so the wrapper forwards SIGINT, SIGTERM and SIGHUP
// to the Node 24 child and exits the way the child did: a daemon stops cleanly, and the processes
// it started with it, when its supervisor signals the PID it started (issue 15).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  // Node's compile cache (in the OS temp directory, or NODE_COMPILE_CACHE) keeps the stripped and
  // compiled modules between runs: a client command such as `lanes pay` starts in about a third
  // of the time (issue 15). Entries are keyed by the file's contents, so an edit never runs stale.
  const { enableCompileCache } = await import('node:module');
  enableCompileCache?.();
  await import('../src/cli/main.ts');
} else {
  const bundled = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(bundled)) {
    process.stderr.write(`lanes needs Node 24 or newer (this is ${process.version}); run \`npm install\` in the lanes directory first\n`);
    process.exit(1);
  }
  // The child gets a process group of its own (`detached`), so each signal reaches it exactly
  // once, from us: a terminal's Ctrl-C goes to our group only, and is passed on like a signal
  // sent to our PID. (The CLI never reads standard input, so leaving the terminal's foreground
  // group costs nothing.)
  const child = spawn(bundled, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit', detached: true });
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const forward = (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const s of signals) process.on(s, forward);
  child.on('error', (e) => {
    process.stderr.write(`lanes: cannot start ${bundled}: ${e.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    for (const s of signals) process.off(s, forward);
    if (signal !== null) {
      // Die of the same signal, so our supervisor sees what the child saw.
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}
