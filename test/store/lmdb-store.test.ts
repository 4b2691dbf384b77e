import test, { type ExecutionContext } from 'ava';
import { mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { channelId } from '../../src/core/index.ts';
import { LOCK_FILE, StoreLockedError, openLmdbStore } from '../../src/store/lmdb-store.ts';
import { StoreCorruptError } from '../../src/store/record-codec.ts';
import { runStoreCompliance } from './compliance.ts';
import { paramsFor, recordFor, signedFor } from './fixtures/channels.ts';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'lanes-store-'));
}

runStoreCompliance('lmdb', async () => {
  const dir = await tempDir();
  return {
    open: () => openLmdbStore({ path: dir }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

async function scratch(t: ExecutionContext): Promise<string> {
  const dir = await tempDir();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const params = paramsFor(1);
const id = channelId(params);

/** Rewrites one raw value behind the store's back, as a disk fault or a bug would. */
async function tamper(dir: string, key: string, edit: (bytes: Uint8Array) => Uint8Array): Promise<void> {
  const db = openLmdb<Uint8Array, string>({ path: dir, encoding: 'binary', noSubdir: false });
  const bytes = db.get(key);
  if (bytes === undefined) throw new Error(`no value at ${key}`);
  await db.put(key, edit(new Uint8Array(bytes)));
  await db.close();
}

async function seeded(dir: string): Promise<void> {
  const store = await openLmdbStore({ path: dir });
  store.putRecord(recordFor(params));
  store.putState(id, signedFor(params, 3n));
  store.putMeta('cursor', Uint8Array.of(1, 2, 3));
  await store.close();
}

test('lmdb: a flipped bit on disk makes load fail with a clear error naming the key', async (t) => {
  const dir = await scratch(t);
  await seeded(dir);
  await tamper(dir, `s/${id}`, (b) => {
    b[20]! ^= 0x04;
    return b;
  });
  const store = await openLmdbStore({ path: dir });
  t.teardown(() => store.close());
  const error = await t.throwsAsync(store.load(), { instanceOf: StoreCorruptError });
  t.is(error!.message, `corrupt s/${id}: checksum mismatch`);
});

test('lmdb: garbage, truncated and misplaced values are refused', async (t) => {
  const dir = await scratch(t);
  await seeded(dir);
  await tamper(dir, 'm/cursor', () => Uint8Array.of(0xc1, 0xff));
  let store = await openLmdbStore({ path: dir });
  await t.throwsAsync(store.getMeta('cursor'), {
    instanceOf: StoreCorruptError,
    message: /corrupt m\/cursor: value of 2 bytes is too short/,
  });
  await store.close();
  // A valid state envelope copied under the record key: right checksum, wrong kind.
  const db = openLmdb<Uint8Array, string>({ path: dir, encoding: 'binary', noSubdir: false });
  await db.put(`c/${id}`, db.get(`s/${id}`)!);
  await db.close();
  store = await openLmdbStore({ path: dir });
  t.teardown(() => store.close());
  await t.throwsAsync(store.load(), { instanceOf: StoreCorruptError, message: `corrupt c/${id}: expected a record value, found kind 2` });
});

test('lmdb: a second open of the same directory in this process is refused until the first closes', async (t) => {
  const dir = await scratch(t);
  const first = await openLmdbStore({ path: dir });
  await t.throwsAsync(openLmdbStore({ path: dir }), { instanceOf: StoreLockedError, message: /already open in this process/ });
  const link = `${dir}-link`;
  await symlink(dir, link);
  t.teardown(() => rm(link, { force: true }));
  await t.throwsAsync(openLmdbStore({ path: link }), { instanceOf: StoreLockedError }, 'the same directory through a symlink');
  await first.close();
  const second = await openLmdbStore({ path: dir });
  await second.close();
  t.deepEqual(await readdir(dir).then((f) => f.includes(LOCK_FILE)), false, 'close removes the lock file');
});

test('lmdb: a lock file held by a live process refuses the open and names the pid', async (t) => {
  const dir = await scratch(t);
  await writeFile(join(dir, LOCK_FILE), `${process.ppid}\n`); // our parent: alive, and not us
  const error = await t.throwsAsync(openLmdbStore({ path: dir }), { instanceOf: StoreLockedError });
  t.regex(error!.message, new RegExp(`in use by process ${process.ppid}`));
  t.is(await readFile(join(dir, LOCK_FILE), 'utf8'), `${process.ppid}\n`, 'the live owner keeps its lock');
});

test('lmdb: a stale lock (dead pid, our own pid from a previous run, or garbage) is taken over', async (t) => {
  const dir = await scratch(t);
  for (const content of ['2147483646\n', `${process.pid}\n`, 'not a pid']) {
    await writeFile(join(dir, LOCK_FILE), content);
    const store = await openLmdbStore({ path: dir });
    t.is(await readFile(join(dir, LOCK_FILE), 'utf8'), `${process.pid}\n`);
    await store.close();
  }
});

test('lmdb: a path with a dot in its name is still a directory', async (t) => {
  const dir = join(await scratch(t), 'node.db');
  const store = await openLmdbStore({ path: dir });
  store.putRecord(recordFor(params));
  await store.close();
  t.deepEqual((await readdir(dir)).sort(), ['data.mdb', 'lock.mdb']);
  const reopened = await openLmdbStore({ path: dir });
  t.is((await reopened.load()).length, 1);
  await reopened.close();
});
