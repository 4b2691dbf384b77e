/**
 * `npm run fuzz:corpus [-- --check]`: writes the generated seeds of the decoder fuzzers
 * (test/fuzz/decoders/seeds.ts) to test/fuzz/decoders/corpus/<target>/seed-*, removing seed
 * files it no longer generates. Run it after a codec change; regress-* files (inputs that once
 * found a bug) are left alone. With --check it changes nothing and exits 1 if a file differs.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { corpusDir, corpusDrift } from '../test/fuzz/decoders/corpus.ts';
import { seedCorpus } from '../test/fuzz/decoders/seeds.ts';

const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });

if (values.check) {
  const drift = corpusDrift();
  for (const line of drift) console.log(line);
  console.log(drift.length === 0 ? 'seed corpus is current' : `${drift.length} seed file(s) differ: run npm run fuzz:corpus`);
  process.exit(drift.length === 0 ? 0 : 1);
}

let written = 0;
let removed = 0;
for (const [target, seeds] of seedCorpus()) {
  const dir = corpusDir(target);
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of seeds) {
    const path = `${dir}/seed-${name}`;
    if (existsSync(path) && Buffer.from(readFileSync(path)).equals(bytes)) continue;
    writeFileSync(path, bytes);
    written++;
  }
  for (const file of readdirSync(dir)) {
    if (file.startsWith('seed-') && !seeds.has(file.slice('seed-'.length))) {
      rmSync(`${dir}/${file}`);
      removed++;
    }
  }
  console.log(`${target}: ${seeds.size} seeds`);
}
console.log(`${written} file(s) written, ${removed} removed`);
