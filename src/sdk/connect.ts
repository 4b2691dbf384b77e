/**
 * The remote SDK client: the same {@link LanesApi} as `createNode`, served by a daemon's
 * control API. Moving an application from an embedded node to a daemon changes one line.
 *
 * By default every call and event goes over one WebSocket (`/v1/ws`: stream-client.ts,
 * docs/adr/0015); `transport: 'http'` makes one HTTP request per call and follows events as
 * server-sent events instead (http-client.ts), for proxies that do not pass WebSockets.
 *
 * @example
 * import { connect } from 'lanes';
 * const node = await connect({ url: 'http://127.0.0.1:7700', token: readFileSync('./data/api.token', 'utf8').trim() });
 * await node.pay(channelId, { amount: 10n ** 15n });
 */
import { InvalidArgumentError } from '../core/errors.ts';
import type { LanesApi } from './api.ts';
import type { ApiMethod } from './stream-frames.ts';
import { connectHttp } from './http-client.ts';
import { redactUrl } from './redact.ts';

export interface ConnectParameters {
  /** The control API, e.g. http://127.0.0.1:7700 (the daemon writes it to <dataDir>/api.json). */
  readonly url: string;
  /** The API token (the daemon writes it to <dataDir>/api.token). */
  readonly token: string;
  /** Per-call timeout in ms (default 120 s: opening and closing wait for the chain). */
  readonly timeoutMs?: number;
  /** `stream` (default): one WebSocket for every call and event. `http`: a request per call, events by SSE. */
  readonly transport?: 'stream' | 'http';
}

/** A remote node. `stop()` closes this client; the daemon keeps running. */
export type RemoteNode = LanesApi;

/**
 * What the control API serves of the LanesApi: every method with a JSON form (stream-frames.ts,
 * ApiMethod), events, stop. A LanesApi method added without JSON forms yet (the invoices of
 * ADR 0018, in progress) is not on the remote client until it gets them.
 */
export type ServedApi = Pick<LanesApi, ApiMethod | 'on' | 'stop'>;

export async function connect(p: ConnectParameters): Promise<RemoteNode> {
  if (!isHttpUrl(p.url)) throw new InvalidArgumentError(`url ${redactUrl(p.url)} is not an http(s) URL (e.g. http://127.0.0.1:7700)`);
  if ((p.transport ?? 'stream') === 'http') return connectHttp(p);
  // Loaded when used: a CLI command (one HTTP request) does not load the WebSocket client.
  const { connectStream } = await import('./stream-client.ts');
  return connectStream(p);
}

/** An absolute http: or https: URL: what the control API is served on. */
export function isHttpUrl(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const { protocol, hostname } = new URL(url);
  return (protocol === 'http:' || protocol === 'https:') && hostname !== '';
}
