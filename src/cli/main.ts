/** The `lanes` command line. Commands arrive with the daemon issue; for now it reports its version. */
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
console.log(`lanes ${pkg.version}`);
