/** Finds the daemon a CLI command talks to: from the data directory, or from --rpc and --token-file. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LanesError } from '../core/errors.ts';
import { API_JSON, API_TOKEN } from '../daemon/files.ts';
import { type RemoteNode, connect } from '../sdk/connect.ts';

export interface ClientOptions {
  readonly dataDir: string;
  readonly rpc?: string;
  readonly tokenFile?: string;
}

export async function daemon(o: ClientOptions): Promise<RemoteNode> {
  let url = o.rpc;
  if (!url) {
    const file = join(o.dataDir, API_JSON);
    if (!existsSync(file)) {
      throw new LanesError(`no daemon is running for data directory ${o.dataDir}`, {
        code: 'DAEMON_NOT_RUNNING',
        details: 'start one with `lanes node start`, or name it with --rpc URL --token-file FILE',
      });
    }
    url = (JSON.parse(readFileSync(file, 'utf8')) as { url: string }).url;
  }
  const tokenFile = o.tokenFile ?? join(o.dataDir, API_TOKEN);
  if (!existsSync(tokenFile))
    throw new LanesError(`no API token at ${tokenFile}`, { code: 'DAEMON_NOT_RUNNING', details: 'give --token-file' });
  const token = readFileSync(tokenFile, 'utf8').trim();
  try {
    return await connect({ url, token });
  } catch (e) {
    if (e instanceof LanesError && e.code === 'DAEMON_UNREACHABLE') {
      throw new LanesError(`the daemon at ${url} is not running`, {
        code: 'DAEMON_NOT_RUNNING',
        details: 'start it with `lanes node start`',
        cause: e,
      });
    }
    throw e;
  }
}
