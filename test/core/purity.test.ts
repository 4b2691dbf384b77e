/**
 * src/core is pure (docs/architecture.md): no I/O, clock, randomness, network or chain
 * clients. ESLint enforces it while editing; this test enforces it in CI by scanning sources.
 */
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const CORE = new URL('../../src/core/', import.meta.url).pathname;
const ALLOWED = /^(\.{1,2}\/|@noble\/hashes\/|@noble\/ciphers\/|@noble\/secp256k1$|@scure\/base$|msgpackr$|hash-wasm$)/;
const FORBIDDEN = [
  /\bDate\.now\b/,
  /\bnew Date\b/,
  /\bMath\.random\b/,
  /\bprocess\./,
  /\bsetTimeout\b/,
  /\bsetInterval\b/,
  /\bperformance\./,
  /\bfetch\(/,
  /\bconsole\./,
  /\bcrypto\.getRandomValues\b/,
];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

test('src/core imports only pure modules and touches no clock, randomness or I/O', (t) => {
  const sources = files(CORE);
  t.true(sources.length > 5);
  for (const file of sources) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
      t.regex(m[1]!, ALLOWED, `${file} imports ${m[1]}`);
    }
    for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) t.regex(m[1]!, ALLOWED, `${file} imports ${m[1]}`);
    const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    for (const re of FORBIDDEN) t.notRegex(code, re, `${file} uses ${re.source}`);
  }
});
