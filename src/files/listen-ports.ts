/**
 * Stable ports for daemons that listen on `tcp/0` (issue 16): the port a data directory's daemon
 * bound is kept in `listen.json`, and the next start asks for it again. Peers, and nodes that
 * remember a coordinator's multiaddr, then reach the daemon after a restart. When the port is
 * taken by then, the daemon takes a free one, as `tcp/0` always meant.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.ts';

export const LISTEN_JSON = 'listen.json';

const ANY_PORT = /^\/(ip4|ip6)\/([^/]+)\/tcp\/0$/;
const BOUND = /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d+)(?:\/p2p\/[^/]+)?$/;

function remembered(dataDir: string): string[] {
  try {
    const j = JSON.parse(readFileSync(join(dataDir, LISTEN_JSON), 'utf8')) as { multiaddrs?: unknown };
    return Array.isArray(j.multiaddrs) ? j.multiaddrs.filter((m): m is string => typeof m === 'string') : [];
  } catch {
    return [];
  }
}

/** Whether `host:port` can be bound now (a probe: a moment later it may not be). */
function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * `listen` with each `/ip4|ip6/<host>/tcp/0` replaced by the port last bound on that host from
 * this data directory, when it is free; other addresses as given.
 */
export async function stickyListen(dataDir: string, listen: readonly string[]): Promise<string[]> {
  const last = remembered(dataDir);
  const out: string[] = [];
  for (const addr of listen) {
    const m = ANY_PORT.exec(addr);
    const before = m && last.map((l) => BOUND.exec(l)).find((b) => b && b[1] === m[1] && b[2] === m[2]);
    if (m && before && (await canBind(m[2]!, Number(before[3])))) out.push(`/${m[1]}/${m[2]}/tcp/${before[3]}`);
    else out.push(addr);
  }
  return out;
}

/** Remembers the addresses a daemon bound (its multiaddrs, with or without `/p2p/<id>`). */
export function rememberListen(dataDir: string, bound: readonly string[]): void {
  const multiaddrs = bound.map((b) => b.replace(/\/p2p\/[^/]+$/, '')).filter((b) => BOUND.test(b));
  writeFileAtomic(join(dataDir, LISTEN_JSON), JSON.stringify({ multiaddrs }, null, 2) + '\n');
}
