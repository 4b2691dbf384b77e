/**
 * The control API's edges (issue 16): bad input gets a 4xx JSON error, never a 5xx, and never
 * reaches the chain. A real daemon started through the CLI on a real EDR chain, called over HTTP.
 */
import type { ChildProcess } from 'node:child_process';
import test from 'ava';
import { keygenFunded, spawnDaemon } from '../helpers/daemon-process.ts';
import { type LocalNet, localNet } from '../helpers/local-net.ts';

let net: LocalNet;
const daemons: ChildProcess[] = [];
const api: Record<string, { url: string; token: string; multiaddr: string }> = {};

async function startDaemon(name: string): Promise<void> {
  const dir = net.tempDir(`edges-${name}`);
  await keygenFunded(net, dir, 10n);
  const d = await spawnDaemon(net, dir);
  daemons.push(d.child);
  api[name] = { url: d.url, token: d.token, multiaddr: d.multiaddr };
}

async function call(
  name: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; json: { error?: { code: string; message: string } } & Record<string, unknown> }> {
  const a = api[name]!;
  const res = await fetch(`${a.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as never };
}

async function chainAlive(): Promise<boolean> {
  const res = await fetch(net.chain.rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
  }).catch(() => undefined);
  return res?.ok === true;
}

test.before(async () => {
  net = await localNet();
  await startDaemon('alice');
  await startDaemon('bob');
});

test.after.always(async () => {
  for (const d of daemons) if (d.exitCode === null) d.kill('SIGKILL');
  await net?.stop();
});

test('malformed multiaddrs and peer ids are 400 INVALID_ARGUMENT, not 502 PEER_UNREACHABLE', async (t) => {
  for (const multiaddr of [
    '/not/a/multiaddr',
    '/ip4/127.0.0.1/tcp/1/p2p/garbage',
    '/ip4/999.1.1.1/tcp/1/p2p/16Uiu2HAmE93qVMCp1Px1NaVZdY8HNFaphBDCSzRsffYQx6YejT1y',
  ]) {
    const r = await call('alice', 'POST', '/v1/peers', { multiaddr });
    t.is(r.status, 400, `${multiaddr}: ${JSON.stringify(r.json)}`);
    t.is(r.json.error?.code, 'INVALID_ARGUMENT');
  }
  for (const peer of ['/ip4/127.0.0.1/tcp/1/p2p/garbage', 'not a peer id', '16Uiu2HAm!!']) {
    const r = await call('alice', 'POST', '/v1/channels', { peer, deposit: ['1'] });
    t.is(r.status, 400, `${peer}: ${JSON.stringify(r.json)}`);
    t.is(r.json.error?.code, 'INVALID_ARGUMENT');
  }
  // A well-formed one where nobody listens is unreachable, as it should be.
  const r = await call('alice', 'POST', '/v1/peers', {
    multiaddr: '/ip4/127.0.0.1/tcp/1/p2p/16Uiu2HAmE93qVMCp1Px1NaVZdY8HNFaphBDCSzRsffYQx6YejT1y',
  });
  t.is(r.status, 502);
  t.is(r.json.error?.code, 'PEER_UNREACHABLE');
});

test('a deposit larger than the wallet is refused with 422, and 2^256-1 never reaches the chain', async (t) => {
  const open = await call('alice', 'POST', '/v1/channels', { peer: api.bob!.multiaddr, deposit: ['1000000000000000000'] });
  t.is(open.status, 200, JSON.stringify(open.json));
  const id = open.json.id as string;
  for (const amount of ['11000000000000000000', (2n ** 256n - 1n).toString()]) {
    const r = await call('alice', 'POST', `/v1/channels/${id}/deposit`, { amount });
    t.is(r.status, 422, JSON.stringify(r.json));
    t.is(r.json.error?.code, 'INSUFFICIENT_BALANCE');
    t.regex(r.json.error?.message ?? '', /holds \d+ wei; the deposit needs \d+ and gas/);
  }
  const big = await call('alice', 'POST', '/v1/channels', { peer: api.bob!.multiaddr, deposit: [(2n ** 256n - 1n).toString()] });
  t.is(big.status, 422, JSON.stringify(big.json));
  t.true(await chainAlive(), 'the chain still runs');
  // Nothing changed: the channel still holds its one ether, and a deposit the wallet can pay goes through.
  const ok = await call('alice', 'POST', `/v1/channels/${id}/deposit`, { amount: '1000000000000000000' });
  t.is(ok.status, 200, JSON.stringify(ok.json));
  t.is((ok.json.balances as { mine: string }[])[0]!.mine, '2000000000000000000');
});
