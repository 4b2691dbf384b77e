import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { LISTEN_JSON, rememberListen, stickyListen } from '../../src/files/listen-ports.ts';
import { freePort } from '../helpers/local-net.ts';

const dir = mkdtempSync(join(tmpdir(), 'lanes-listen-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test.serial('tcp/0 gets the port bound last time; other addresses stay as given', async (t) => {
  t.deepEqual(await stickyListen(dir, ['/ip4/127.0.0.1/tcp/0']), ['/ip4/127.0.0.1/tcp/0'], 'nothing remembered yet');
  const port = await freePort();
  rememberListen(dir, [`/ip4/127.0.0.1/tcp/${port}/p2p/16Uiu2HAmE93qVMCp1Px1NaVZdY8HNFaphBDCSzRsffYQx6YejT1y`]);
  t.deepEqual(await stickyListen(dir, ['/ip4/127.0.0.1/tcp/0']), [`/ip4/127.0.0.1/tcp/${port}`]);
  t.deepEqual(
    await stickyListen(dir, ['/ip4/127.0.0.1/tcp/4001', '/ip4/0.0.0.0/tcp/0']),
    ['/ip4/127.0.0.1/tcp/4001', '/ip4/0.0.0.0/tcp/0'],
    'another host is not the one remembered',
  );
});

test.serial('a remembered port taken by another process: a free one, as tcp/0 means', async (t) => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  rememberListen(dir, [`/ip4/127.0.0.1/tcp/${port}`]);
  t.deepEqual(await stickyListen(dir, ['/ip4/127.0.0.1/tcp/0']), ['/ip4/127.0.0.1/tcp/0']);
  await new Promise((r) => server.close(r));
});

test.serial('a corrupt listen.json is ignored', async (t) => {
  writeFileSync(join(dir, LISTEN_JSON), '{not json');
  t.deepEqual(await stickyListen(dir, ['/ip4/127.0.0.1/tcp/0']), ['/ip4/127.0.0.1/tcp/0']);
});
