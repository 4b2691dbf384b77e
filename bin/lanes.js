#!/usr/bin/env node
// The `lanes` CLI. The sources are TypeScript, run directly by Node >= 24 (type stripping). On an
// older `node` (a system Node 20, say) this re-runs itself with the Node 24 that `npm install`
// put in node_modules, so `./bin/lanes.js` works from any shell.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  await import('../src/cli/main.ts');
} else {
  const bundled = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(bundled)) {
    process.stderr.write(`lanes needs Node 24 or newer (this is ${process.version}); run \`npm install\` in the lanes directory first\n`);
    process.exit(1);
  }
  const r = spawnSync(bundled, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
