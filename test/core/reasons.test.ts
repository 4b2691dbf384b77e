/**
 * Every rejection reason is produced by some test, not only listed: each must appear as a
 * quoted literal in a test file other than the codec's round-trip of all reasons.
 */
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REJECT_REASONS } from '../../src/core/index.ts';

const ROOT = new URL('../', import.meta.url).pathname;
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? files(join(dir, e.name))
      : e.name.endsWith('.test.ts') && e.name !== 'codec.test.ts' && e.name !== 'reasons.test.ts'
        ? [join(dir, e.name)]
        : [],
  );
}

test('every reject reason is exercised by a test', (t) => {
  const text = files(ROOT)
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const missing = REJECT_REASONS.filter((r) => !text.includes(`'${r}'`));
  t.deepEqual(missing, [], `reasons no test produces: ${missing.join(', ')}`);
});
