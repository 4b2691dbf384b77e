/**
 * Finds the daemon a CLI command talks to: from the data directory, or from --rpc and --token-file.
 *
 * The token moves money, so the CLI is careful where it sends it. It refuses an `api.json`
 * that another user could have written (it names where the token goes) and a token file that
 * another user could read or write, the way ssh refuses such keys. And it sends the token to the
 * URL `api.json` names only when that is a loopback address, as the daemon's own is unless it
 * was told otherwise: a daemon elsewhere must be named on the command line (--rpc), by a user
 * who then knows where the token goes.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, LanesError } from '../core/errors.ts';
import { API_JSON, API_TOKEN } from '../files/daemon-files.ts';
import { readJsonFile } from '../files/json-file.ts';
import { exposure } from '../files/permissions.ts';
import { type RemoteNode, connect, isHttpUrl } from '../sdk/connect.ts';
import { DaemonUnreachableError } from '../sdk/errors.ts';
import { redactUrl } from '../sdk/redact.ts';

export interface ClientOptions {
  readonly dataDir: string;
  readonly rpc?: string;
  readonly tokenFile?: string;
  /** How long one call waits for the daemon's answer (the SDK's default: 120 s). */
  readonly timeoutMs?: number;
}

export async function daemon(o: ClientOptions): Promise<RemoteNode> {
  if (o.rpc !== undefined && !isHttpUrl(o.rpc))
    throw new InvalidArgumentError(`--rpc ${redactUrl(o.rpc)} is not a URL`, {
      details: "give the daemon's control API URL, e.g. --rpc http://127.0.0.1:7700 (the url in its api.json)",
    });
  const url = o.rpc ?? urlFromApiJson(o.dataDir);
  const tokenFile = o.tokenFile ?? join(o.dataDir, API_TOKEN);
  if (!existsSync(tokenFile))
    throw new LanesError(`no API token at ${tokenFile}`, { code: 'DAEMON_NOT_RUNNING', details: 'give --token-file' });
  refuseExposed(tokenFile, 'API token file', true);
  const token = readFileSync(tokenFile, 'utf8').trim();
  try {
    // One command is one call: a plain HTTP request, without a WebSocket upgrade's extra round trip.
    return await connect({ url, token, transport: 'http', ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }) });
  } catch (e) {
    // Nothing listens there (or, at the loopback URL api.json names, nothing can be reached): the
    // daemon is not running, or api.json was left by one that crashed. Any other failure (a
    // timeout, another server on the port, a host --rpc names that cannot be found) says what it is.
    if (e instanceof DaemonUnreachableError && (o.rpc === undefined || e.reason === 'connection refused')) {
      throw new LanesError(`the daemon at ${e.url} is not running (${e.reason})`, {
        code: 'DAEMON_NOT_RUNNING',
        details: 'start it with `lanes node start`',
        cause: e,
      });
    }
    throw e;
  }
}

/** The control API URL the daemon of `dataDir` wrote to its api.json, if it may get the token. */
function urlFromApiJson(dataDir: string): string {
  const file = join(dataDir, API_JSON);
  if (!existsSync(file)) {
    throw new LanesError(`no daemon is running for data directory ${dataDir}`, {
      code: 'DAEMON_NOT_RUNNING',
      details: 'start one with `lanes node start`, or name it with --rpc URL --token-file FILE',
    });
  }
  refuseExposed(file, 'api.json', false);
  const json = readJsonFile(file, 'the daemon writes it at every start: restart the daemon, or remove the file if none runs');
  const url = typeof json === 'object' && json !== null ? (json as { url?: unknown }).url : undefined;
  if (typeof url !== 'string' || !isHttpUrl(url)) {
    throw new LanesError(`${file} does not name the daemon's URL`, { code: 'DAEMON_NOT_RUNNING', details: 'restart the daemon' });
  }
  if (!isLoopback(url)) {
    throw new LanesError(`${file} names ${redactUrl(url)}, which is not a loopback address: the API token is not sent there`, {
      code: 'UNTRUSTED_DAEMON_URL',
      details: 'if that is your daemon, name it yourself: --rpc URL --token-file FILE',
    });
  }
  return url;
}

/** Refuses a file other users could change (or, `secret`, read). */
function refuseExposed(file: string, what: string, secret: boolean): void {
  const why = exposure(statSync(file), secret);
  if (why === undefined) return;
  throw new LanesError(`${what} ${file} ${why}; refusing to use it`, {
    code: 'UNSAFE_FILE',
    details: `if its owner is you: chmod ${secret ? 600 : 'go-w'} ${file}`,
  });
}

/** 127.0.0.0/8, ::1 and localhost: what only this machine can listen on. */
function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
