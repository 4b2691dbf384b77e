/**
 * The data directory (src/files/data-dir.ts): 0700 at every start, not only when created; a
 * symlink to a directory of ours is followed (another disk, as with lnd); anything another user
 * owns, a dangling link or a link to a file is refused.
 */
import test from 'ava';
import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareDataDir } from '../../src/files/data-dir.ts';

/** Giving a file to another user needs root. */
const asRoot = process.getuid?.() === 0 ? test : test.skip;
const base = () => mkdtempSync(join(tmpdir(), 'lanes-datadir-'));
const mode = (path: string) => statSync(path).mode & 0o777;

test('a new data directory is created 0700, parents included', (t) => {
  const dir = join(base(), 'a', 'b');
  t.deepEqual(prepareDataDir(dir), {});
  t.is(mode(dir), 0o700);
});

test('an existing 0755 data directory is made 0700, and the old mode reported', (t) => {
  const dir = base();
  chmodSync(dir, 0o755);
  t.deepEqual(prepareDataDir(dir), { previousMode: 0o755 });
  t.is(mode(dir), 0o700);
  t.deepEqual(prepareDataDir(dir), {}, 'nothing to report the second time');
});

test('a symlink to a directory of ours is followed, and its target made 0700', (t) => {
  const target = join(base(), 'elsewhere');
  mkdirSync(target, { mode: 0o755 });
  chmodSync(target, 0o755);
  const link = join(base(), 'lanes-data');
  symlinkSync(target, link);
  t.deepEqual(prepareDataDir(link), { previousMode: 0o755 });
  t.is(mode(target), 0o700);
});

test('a dangling symlink, or one to a file, is refused', (t) => {
  const dangling = join(base(), 'gone');
  symlinkSync(join(base(), 'nothing-here'), dangling);
  t.throws(() => prepareDataDir(dangling), { message: /is a symlink to .*nothing-here, which does not exist/ });
  const file = join(base(), 'file');
  writeFileSync(file, '');
  const toFile = join(base(), 'to-file');
  symlinkSync(file, toFile);
  t.throws(() => prepareDataDir(toFile), { message: /is not a directory/ });
});

asRoot('a directory another user owns is refused, and left as it is', (t) => {
  const dir = base();
  chmodSync(dir, 0o755);
  chownSync(dir, 4242, 4242);
  t.throws(() => prepareDataDir(dir), { message: /is owned by another user \(uid 4242\), not by this one \(uid 0\)/, code: 'DATA_DIR' });
  t.is(mode(dir), 0o755);
});

asRoot('a symlink another user owns is refused, even to a directory of ours', (t) => {
  const target = base();
  const link = join(base(), 'link');
  symlinkSync(target, link);
  lchownSync(link, 4242, 4242);
  t.throws(() => prepareDataDir(link), { message: /is a symlink owned by another user \(uid 4242\)/ });
});
