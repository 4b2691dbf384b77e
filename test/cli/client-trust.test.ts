/**
 * Where the CLI sends the API token (src/cli/client.ts): not to a URL from an `api.json` that
 * other users could have written, not from a token file others can read, and not to a
 * non-loopback URL unless the user named it with --rpc. No daemon is needed: every command here
 * must stop before it makes a request, which a fetch spy loaded into the CLI records.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const BIN = new URL('../../bin/lanes.js', import.meta.url).pathname;
const run = promisify(execFile);
/** Giving a file to another user needs root. */
const asRoot = process.getuid?.() === 0 ? test : test.skip;

/**
 * Requests that record their URL on stderr and fail at once (nothing leaves the machine): fetch,
 * and node:http(s)'s request, which the CLI's HTTP client uses (patched before the CLI imports it).
 */
const SPY = join(mkdtempSync(join(tmpdir(), 'lanes-spy-')), 'spy.mjs');
writeFileSync(
  SPY,
  [
    "import http from 'node:http';",
    "import https from 'node:https';",
    "import { syncBuiltinESMExports } from 'node:module';",
    "globalThis.fetch = async (url) => { process.stderr.write(`FETCH ${String(url)}\\n`); throw new TypeError('blocked by the test'); };",
    'const spy = (url) => {',
    '  process.stderr.write(`FETCH ${String(url)}\\n`);',
    "  const e = new Error('blocked by the test'); e.code = 'ECONNREFUSED'; throw e;",
    '};',
    'http.request = spy;',
    'https.request = spy;',
    'syncBuiltinESMExports();',
    '',
  ].join('\n'),
);

async function lanes(...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(process.execPath, ['--import', SPY, BIN, ...args], { timeout: 30_000 });
    return { code: 0, stderr };
  } catch (e) {
    const x = e as { code?: number; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stderr: x.stderr ?? '' };
  }
}

/** A data directory as a daemon leaves it: api.json and api.token, both 0600 unless told. */
function dataDir(o: { url?: string; apiMode?: number; tokenMode?: number } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'lanes-trust-'));
  writeFileSync(join(dir, 'api.json'), JSON.stringify({ url: o.url ?? 'http://127.0.0.1:1', pid: 1 }), { mode: 0o600 });
  writeFileSync(join(dir, 'api.token'), 'secret-token\n', { mode: 0o600 });
  chmodSync(join(dir, 'api.json'), o.apiMode ?? 0o600); // explicit: the umask does not decide
  chmodSync(join(dir, 'api.token'), o.tokenMode ?? 0o600);
  return dir;
}

test('the spy sees the request a sound data directory leads to', async (t) => {
  const r = await lanes('--data-dir', dataDir(), 'node', 'info');
  t.not(r.code, 0);
  t.regex(r.stderr, /^FETCH http:\/\/127\.0\.0\.1:1\/v1\/info$/m);
  t.regex(r.stderr, /the daemon at http:\/\/127\.0\.0\.1:1 is not running/);
});

for (const mode of [0o666, 0o620, 0o602]) {
  test(`an api.json with mode ${mode.toString(8)} (others may write it) is refused`, async (t) => {
    const r = await lanes('--data-dir', dataDir({ apiMode: mode }), 'node', 'info');
    t.not(r.code, 0);
    t.regex(r.stderr, new RegExp(`api\\.json .* can be changed by other users \\(mode 0${mode.toString(8)}\\); refusing to use it`));
    t.notRegex(r.stderr, /FETCH/);
  });
}

asRoot('an api.json another user owns is refused', async (t) => {
  const dir = dataDir();
  chownSync(join(dir, 'api.json'), 4242, 4242);
  const r = await lanes('--data-dir', dir, 'node', 'info');
  t.not(r.code, 0);
  t.regex(r.stderr, /api\.json .* is owned by another user \(uid 4242\)/);
  t.notRegex(r.stderr, /FETCH/);
});

test('a token file others can read is refused, named or found', async (t) => {
  const dir = dataDir({ tokenMode: 0o644 });
  const found = await lanes('--data-dir', dir, 'node', 'info');
  t.not(found.code, 0);
  t.regex(found.stderr, /API token file .*api\.token is accessible to other users \(mode 0644\)/);
  t.notRegex(found.stderr, /FETCH/);
  const named = await lanes('--rpc', 'http://127.0.0.1:1', '--token-file', join(dir, 'api.token'), 'node', 'info');
  t.not(named.code, 0);
  t.regex(named.stderr, /accessible to other users \(mode 0644\)/);
  t.notRegex(named.stderr, /FETCH/);
});

test('an api.json naming a non-loopback URL is refused: the token is not sent there', async (t) => {
  const r = await lanes('--data-dir', dataDir({ url: 'http://example.com:1' }), 'node', 'info');
  t.not(r.code, 0);
  t.regex(r.stderr, /api\.json names http:\/\/example\.com:1, which is not a loopback address: the API token is not sent there/);
  t.regex(r.stderr, /--rpc URL --token-file FILE/);
  t.notRegex(r.stderr, /FETCH/);
});

test('a URL with credentials is refused without showing them', async (t) => {
  const r = await lanes('--data-dir', dataDir({ url: 'http://admin:hunter2@example.com:1' }), 'node', 'info');
  t.not(r.code, 0);
  t.regex(r.stderr, /not a loopback address/);
  t.notRegex(r.stderr, /hunter2|FETCH/);
});

test('loopback names are trusted; a non-loopback URL given with --rpc is used', async (t) => {
  for (const url of ['http://localhost:1', 'http://[::1]:1', 'http://127.1.2.3:1']) {
    const r = await lanes('--data-dir', dataDir({ url }), 'node', 'info');
    t.regex(r.stderr, /^FETCH /m, url);
  }
  const dir = dataDir({ url: 'http://example.com:1' });
  const r = await lanes('--rpc', 'http://example.com:1', '--token-file', join(dir, 'api.token'), 'node', 'info');
  t.regex(r.stderr, /^FETCH http:\/\/example\.com:1\/v1\/info$/m);
});
