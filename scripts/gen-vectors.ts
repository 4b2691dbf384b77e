/** Regenerates test/vectors/eip712.json (run after an intended change to hashing). */
import { writeFileSync } from 'node:fs';
import { buildVectors } from '../test/vectors/build-vectors.ts';

const path = new URL('../test/vectors/eip712.json', import.meta.url);
writeFileSync(path, JSON.stringify(buildVectors(), null, 2) + '\n');
console.log(`wrote ${path.pathname}`);
