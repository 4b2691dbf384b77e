/**
 * The remote client over plain HTTP requests and server-sent events (`connect({ transport:
 * 'http' })`): one request per call. The default transport is the stream (stream-client.ts),
 * which is many times faster under load; this one stays for proxies that do not pass WebSockets.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createParser } from 'eventsource-parser';
import { innermostMessage, unreachableReason } from '../core/errors.ts';
import { errorFromJson } from './error-registry.ts';
import { DaemonUnreachableError, NodeStoppedError, NotLanesApiError, OperationTimeoutError } from './errors.ts';
import { redactUrl } from './redact.ts';
import type { LanesEventName, LanesEvents, SignedStateJson } from './api.ts';
import type { ConnectParameters, RemoteNode, ServedApi } from './connect.ts';
import {
  jsonify,
  readChannel,
  readClose,
  readCredited,
  readEvent,
  readNodeInfo,
  readPayment,
  readPeer,
  readSwap,
  readWithdraw,
} from './json.ts';
import { readInvoice, readPaymentInfo } from './payments-json.ts';
import { MUTATING, type StreamMethod } from './stream-frames.ts';

type Json = Record<string, unknown>;

export async function connectHttp(p: ConnectParameters): Promise<RemoteNode> {
  const base = p.url.replace(/\/$/, '');
  const headers = { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' };
  const timeoutMs = p.timeoutMs ?? 120_000;
  const listeners = new Map<LanesEventName, Set<(payload: never) => void>>();
  let stream: AbortController | undefined;
  let closed = false;

  /**
   * One call. A daemon that does not answer within `timeoutMs` is a timeout (it may still be
   * working on it), not an unreachable one; an answer that is not JSON is not from a daemon.
   */
  async function request(op: StreamMethod, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Json> {
    if (closed) throw new NodeStoppedError();
    const where = redactUrl(base);
    let res: PlainResponse;
    let text: string;
    try {
      res = await plainRequest(
        `${base}${path}`,
        method,
        headers,
        body === undefined ? undefined : JSON.stringify(jsonify(body)),
        timeoutMs,
      );
      text = res.text;
    } catch (e) {
      // AbortSignal.timeout fired: the daemon took the request and has not answered (yet).
      if ((e as { name?: unknown } | null)?.name === 'TimeoutError') {
        throw new OperationTimeoutError(op, MUTATING.has(op), {
          details: `the daemon at ${where} did not answer within ${timeoutMs / 1000} s; it may still be working on it`,
          cause: e,
        });
      }
      throw new DaemonUnreachableError(where, unreachableReason(e) ?? innermostMessage(e), { cause: e });
    }
    const type = res.contentType;
    if (!/^application\/json\b/i.test(type))
      throw new NotLanesApiError(where, type === '' ? `HTTP ${res.status} without a content type` : type.split(';')[0]!.trim());
    let json: Json;
    try {
      json = text.length > 0 ? (JSON.parse(text) as Json) : {};
    } catch (e) {
      throw new NotLanesApiError(where, `HTTP ${res.status} with a body that is not JSON`, { cause: e });
    }
    if (!res.ok) throw errorFromJson(json.error, res.status);
    return json;
  }

  /** One SSE stream for all listeners, opened on the first subscription and reopened if it drops. */
  async function follow(): Promise<void> {
    while (!closed && listeners.size > 0) {
      const ctl = new AbortController();
      stream = ctl;
      try {
        const res = await fetch(`${base}/v1/events`, { headers, signal: ctl.signal });
        if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
        const parser = createParser({
          onEvent: (ev) => {
            const name = ev.event as LanesEventName | undefined;
            if (!name) return;
            const payload = readEvent(name, JSON.parse(ev.data) as Json);
            for (const l of listeners.get(name) ?? []) l(payload as never);
          },
        });
        const decoder = new TextDecoder();
        for await (const chunk of res.body) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
      } catch {
        if (ctl.signal.aborted) return;
      }
      if (!closed && listeners.size > 0) await new Promise((r) => setTimeout(r, 500));
    }
  }

  const api: ServedApi = {
    info: async () => readNodeInfo(await request('info', 'GET', '/v1/info')),
    connect: async (multiaddr) => readPeer(await request('connect', 'POST', '/v1/peers', { multiaddr })),
    openChannel: async (params) => readChannel(await request('openChannel', 'POST', '/v1/channels', params)),
    deposit: async (id, params) => readChannel(await request('deposit', 'POST', `/v1/channels/${id}/deposit`, params)),
    pay: async (id, params) => readPayment(await request('pay', 'POST', `/v1/channels/${id}/pay`, params)),
    swap: async (id, params) => readSwap(await request('swap', 'POST', `/v1/channels/${id}/swap`, params)),
    close: async (id, params = {}) => readClose(await request('close', 'POST', `/v1/channels/${id}/close`, params)),
    channels: async () => ((await request('channels', 'GET', '/v1/channels')) as unknown as Json[]).map(readChannel),
    channel: async (id) => readChannel(await request('channel', 'GET', `/v1/channels/${id}`)),
    signedState: async (id) => (await request('signedState', 'GET', `/v1/channels/${id}/state`)) as unknown as SignedStateJson,
    withdrawable: async () => readCredited((await request('withdrawable', 'GET', '/v1/withdrawable')) as unknown as Json[]),
    withdraw: async (params = {}) => readWithdraw(await request('withdraw', 'POST', '/v1/withdraw', params)),
    createInvoice: async (params = {}) => readInvoice(await request('createInvoice', 'POST', '/v1/invoices', params)),
    decodeInvoice: async (invoice) => readInvoice(await request('decodeInvoice', 'POST', '/v1/invoices/decode', { invoice })),
    invoices: async (filter = {}) =>
      ((await request('invoices', 'POST', '/v1/invoices/list', filter)) as unknown as Json[]).map(readInvoice),
    payInvoice: async (invoice, params = {}) =>
      readPaymentInfo(await request('payInvoice', 'POST', '/v1/payments', { ...params, invoice })),
    sendPayment: async (params) => readPaymentInfo(await request('sendPayment', 'POST', '/v1/payments/keysend', params)),
    payments: async (filter = {}) =>
      ((await request('payments', 'POST', '/v1/payments/list', filter)) as unknown as Json[]).map(readPaymentInfo),
    on<E extends LanesEventName>(event: E, listener: (payload: LanesEvents[E]) => void) {
      const set = listeners.get(event) ?? new Set();
      set.add(listener as (payload: never) => void);
      listeners.set(event, set);
      if (!stream || stream.signal.aborted) void follow();
      return () => {
        set.delete(listener as (payload: never) => void);
        if (set.size === 0) listeners.delete(event);
        if (listeners.size === 0) stream?.abort();
      };
    },
    async stop() {
      closed = true;
      stream?.abort();
    },
  };
  // Fail early on a wrong URL or token, or on another server there.
  const info = await request('info', 'GET', '/v1/info');
  if (typeof info.address !== 'string' || typeof info.peerId !== 'string')
    throw new NotLanesApiError(redactUrl(base), 'JSON without a node address and peer id at /v1/info');
  // The first info() right after connecting is the answer just read: a CLI command that needs it
  // (token units) saves a round trip.
  let firstInfo: Json | undefined = info;
  setImmediate(() => (firstInfo = undefined)).unref();
  const info_ = api.info;
  api.info = async () => {
    const x = firstInfo;
    firstInfo = undefined;
    return x !== undefined ? readNodeInfo(x) : info_();
  };
  return api as RemoteNode;
}

interface PlainResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly contentType: string;
  readonly text: string;
}

/**
 * One request with node:http(s), not fetch: a CLI command makes a few requests and exits, and
 * loading fetch (undici) cost it ~23 ms, a sixth of `lanes pay` (issue 15: ≤ 150 ms). A timeout
 * rejects with a `TimeoutError`, as `AbortSignal.timeout` does; connection errors keep their
 * `code` (ECONNREFUSED, …) for `unreachableReason`.
 */
function plainRequest(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      u,
      { method, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const type = res.headers['content-type'];
          resolve({
            status,
            ok: status >= 200 && status < 300,
            contentType: typeof type === 'string' ? type : '',
            text: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    req.setTimeout(timeoutMs, () => {
      const e = new Error(`no answer within ${timeoutMs} ms`);
      e.name = 'TimeoutError';
      req.destroy(e);
    });
    req.on('error', reject);
    req.end(body);
  });
}
