/**
 * The remote client over the control API's stream (`/v1/ws`, docs/adr/0015): every call and
 * every event on one WebSocket, calls multiplexed by id, the calls of one event-loop turn sent
 * as one message. `connect()` returns it by default.
 *
 * - Errors: the daemon's error JSON, rebuilt with the SDK's registry (the same classes and
 *   fields as embedded). A call whose reply never comes within `timeoutMs` throws
 *   OperationTimeoutError; a call in flight when the connection drops throws
 *   ConnectionLostError; both carry `maybeApplied` (true for calls that change something and
 *   were sent).
 * - Reconnects: the socket is opened on the first call (`connect()` makes one to check the URL and
 *   token) and again by the next call after a loss; calls not yet sent when it dropped wait for
 *   the new one. While listeners are subscribed the client reconnects by itself (0.1 s, doubling
 *   to 5 s) and subscribes again; events emitted while it was disconnected are lost.
 * - Backpressure: at most MAX_IN_FLIGHT calls are sent and unanswered; later ones wait here,
 *   in order, so the daemon never has to stop reading this client.
 */
import WebSocket from 'ws';
import { DecodeError, type LanesError, innermostMessage, unreachableReason } from '../core/errors.ts';
import type { LanesEventName, LanesEvents, SignedStateJson } from './api.ts';
import type { ConnectParameters, RemoteNode, ServedApi } from './connect.ts';
import { errorFromJson } from './error-registry.ts';
import { ConnectionLostError, DaemonUnreachableError, NodeStoppedError, NotLanesApiError, OperationTimeoutError } from './errors.ts';
import { readChannel, readClose, readCredited, readEvent, readNodeInfo, readPayment, readPeer, readSwap, readWithdraw } from './json.ts';
import { readInvoice, readPaymentInfo } from './payments-json.ts';
import { redactUrl } from './redact.ts';
import {
  IdMap,
  MAX_FRAMES,
  MAX_MESSAGE_BYTES,
  MUTATING,
  STREAM_PATH,
  type StreamMethod,
  decodeReplies,
  encodeRequest,
} from './stream-frames.ts';

/** Calls sent and not yet answered, at most (the daemon's own bound: src/api/stream-server.ts). */
export const MAX_IN_FLIGHT = 8192;
/** The largest message accepted from the daemon (a list of every channel can be large). */
const MAX_REPLY_BYTES = 256 << 20;

type Json = Record<string, unknown>;

/** Each method's result, from its JSON form. */
const READ: { readonly [M in StreamMethod]: (j: unknown) => unknown } = {
  info: (j) => readNodeInfo(j as Json),
  connect: (j) => readPeer(j as Json),
  openChannel: (j) => readChannel(j as Json),
  deposit: (j) => readChannel(j as Json),
  pay: (j) => readPayment(j as Json),
  swap: (j) => readSwap(j as Json),
  close: (j) => readClose(j as Json),
  channels: (j) => (j as Json[]).map(readChannel),
  channel: (j) => readChannel(j as Json),
  signedState: (j) => j as SignedStateJson,
  withdrawable: (j) => readCredited(j as Json[]),
  withdraw: (j) => readWithdraw(j as Json),
  createInvoice: (j) => readInvoice(j as Json),
  decodeInvoice: (j) => readInvoice(j as Json),
  invoices: (j) => (j as Json[]).map(readInvoice),
  payInvoice: (j) => readPaymentInfo(j as Json),
  sendPayment: (j) => readPaymentInfo(j as Json),
  payments: (j) => (j as Json[]).map(readPaymentInfo),
  subscribe: (j) => j,
  unsubscribe: (j) => j,
};

interface Call {
  readonly id: number;
  readonly method: StreamMethod;
  readonly frame: string;
  readonly deadline: number;
  sent: boolean;
  resolve(value: unknown): void;
  reject(e: LanesError): void;
}

export async function connectStream(p: ConnectParameters): Promise<RemoteNode> {
  const base = p.url.replace(/\/$/, '');
  const wsUrl = `${base.replace(/^http/, 'ws')}${STREAM_PATH}`;
  const timeoutMs = p.timeoutMs ?? 120_000;
  const listeners = new Map<LanesEventName, Set<(payload: never) => void>>();
  const calls = new IdMap<Call>();
  /** Calls not sent yet, in order. */
  let queue: Call[] = [];
  let sentCount = 0;
  let nextId = 1;
  let socket: WebSocket | undefined;
  let opening: Promise<WebSocket> | undefined;
  let flushScheduled = false;
  let sweep: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;
  let backoffMs = 100;
  let closed = false;

  const unreachable = (cause: unknown) =>
    new DaemonUnreachableError(redactUrl(base), unreachableReason(cause) ?? innermostMessage(cause), { cause });

  function open(): Promise<WebSocket> {
    return (opening ??= new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(wsUrl, {
        headers: { authorization: `Bearer ${p.token}` },
        maxPayload: MAX_REPLY_BYTES,
        perMessageDeflate: false,
        handshakeTimeout: Math.min(timeoutMs, 30_000),
      });
      let settled = false;
      const fail = (e: LanesError) => {
        if (settled) return;
        settled = true;
        opening = undefined;
        reject(e);
      };
      ws.on('unexpected-response', (req, res) => {
        // The daemon refused the upgrade (a wrong token: 401) with its error JSON; another
        // server answers something else.
        const type = res.headers['content-type'] ?? '';
        if (!/^application\/json\b/i.test(type)) {
          fail(
            new NotLanesApiError(
              redactUrl(base),
              type === '' ? `HTTP ${res.statusCode} without a content type` : type.split(';')[0]!.trim(),
            ),
          );
          req.destroy();
          return;
        }
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body = (body + chunk).slice(0, 65_536)));
        res.on('end', () => {
          let json: unknown;
          try {
            json = (JSON.parse(body) as { error?: unknown }).error;
          } catch {
            json = undefined;
          }
          fail(errorFromJson(json, res.statusCode ?? 500));
          req.destroy();
        });
      });
      ws.once('error', (e) => fail(unreachable(e)));
      ws.once('open', () => {
        settled = true;
        socket = ws;
        backoffMs = 100;
        const events = [...listeners.keys()];
        if (events.length > 0) ws.send(`[${encodeRequest(0, 'subscribe', [events])}]`);
        resolve(ws);
        flush();
      });
      ws.on('message', (data) => receive(ws, data.toString()));
      ws.once('close', (code, reason) => {
        fail(unreachable(new Error(`closed: ${code}`)));
        lost(ws, code, reason.toString());
      });
    }));
  }

  function receive(ws: WebSocket, text: string): void {
    if (ws !== socket) return;
    const { replies } = decodeReplies(text);
    for (const r of replies) {
      if (r.kind === 'event') {
        const set = listeners.get(r.event);
        if (!set || set.size === 0) continue;
        let payload: unknown;
        try {
          payload = readEvent(r.event, r.data as Json);
        } catch {
          continue; // a malformed event from a buggy daemon: nothing to tell a listener
        }
        for (const l of set) l(payload as never);
        continue;
      }
      if (r.id === null) continue; // the daemon could not read a frame of ours: no call to fail
      const call = calls.get(r.id);
      if (!call) continue; // timed out already, or the subscription sent on reconnect
      settle(call);
      if (r.kind === 'error') call.reject(r.error);
      else {
        let value: unknown;
        try {
          value = READ[call.method](r.result);
        } catch (e) {
          call.reject(new DecodeError(`the daemon answered ${call.method} with a malformed result`, { cause: e }));
          continue;
        }
        call.resolve(value);
      }
    }
    if (queue.length > 0) flush();
  }

  /** Forgets a call that got its answer (or will never get one). */
  function settle(call: Call): void {
    calls.delete(call.id);
    if (call.sent) sentCount--;
    else queue = queue.filter((c) => c !== call);
  }

  function lost(ws: WebSocket, code: number, reason: string): void {
    if (ws !== socket) return;
    socket = undefined;
    opening = undefined;
    const details = `WebSocket closed with ${code}${reason ? ` (${reason})` : ''}`;
    for (const call of calls.values()) {
      if (!call.sent) continue;
      settle(call);
      call.reject(new ConnectionLostError(call.method, MUTATING.has(call.method), { details }));
    }
    if (closed) return;
    if (queue.length > 0)
      open().catch((e: LanesError) => {
        for (const call of queue) {
          calls.delete(call.id);
          call.reject(e);
        }
        queue = [];
      });
    if (listeners.size > 0) reconnectLater();
  }

  /** While anyone listens: reconnect with a growing delay until it works. */
  function reconnectLater(): void {
    if (retry || closed || listeners.size === 0) return;
    retry = setTimeout(() => {
      retry = undefined;
      if (closed || listeners.size === 0 || socket) return;
      open().catch(() => {
        backoffMs = Math.min(backoffMs * 2, 5000);
        reconnectLater();
      });
    }, backoffMs);
    retry.unref();
  }

  function flush(): void {
    flushScheduled = false;
    const ws = socket;
    if (!ws || ws.readyState !== WebSocket.OPEN || queue.length === 0) return;
    const room = MAX_IN_FLIGHT - sentCount;
    if (room <= 0) return;
    const batch = queue.length <= room ? queue : queue.slice(0, room);
    queue = batch === queue ? [] : queue.slice(room);
    let frames: string[] = [];
    let bytes = 0;
    for (const call of batch) {
      call.sent = true;
      sentCount++;
      if ((bytes + call.frame.length > MAX_MESSAGE_BYTES - 2 || frames.length === MAX_FRAMES) && frames.length > 0) {
        ws.send(`[${frames.join(',')}]`);
        frames = [];
        bytes = 0;
      }
      frames.push(call.frame);
      bytes += call.frame.length + 1;
    }
    if (frames.length > 0) ws.send(`[${frames.join(',')}]`);
  }

  /** Times out calls past their deadline (one timer for all of them). */
  function sweepLater(): void {
    if (sweep) return;
    sweep = setInterval(
      () => {
        const now = Date.now();
        for (const call of calls.values()) {
          if (call.deadline > now) continue;
          const maybeApplied = call.sent && MUTATING.has(call.method);
          settle(call);
          call.reject(new OperationTimeoutError(call.method, maybeApplied));
        }
        if (calls.size === 0) {
          clearInterval(sweep);
          sweep = undefined;
        }
      },
      Math.min(1000, timeoutMs),
    );
    sweep.unref();
  }

  function call<M extends StreamMethod>(method: M, params: readonly unknown[]): Promise<never> {
    if (closed) return Promise.reject(new NodeStoppedError());
    const id = nextId++;
    let frame: string;
    try {
      frame = encodeRequest(id, method, params);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<never>((resolve, reject) => {
      const c: Call = {
        id,
        method,
        frame,
        deadline: Date.now() + timeoutMs,
        sent: false,
        resolve: resolve as (v: unknown) => void,
        reject,
      };
      calls.set(id, c);
      queue.push(c);
      sweepLater();
      if (socket) {
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush);
        }
      } else
        open().catch((e: LanesError) => {
          if (!calls.has(id)) return;
          settle(c);
          reject(e);
        });
    });
  }

  /** The socket's subscriptions follow the listeners: subscribe on the first, unsubscribe after the last. */
  function subscription(method: 'subscribe' | 'unsubscribe', event: LanesEventName): void {
    if (socket) call(method, [[event]]).catch(() => undefined);
    else if (method === 'subscribe') open().catch(() => reconnectLater()); // subscribes every event on open
  }

  const api: ServedApi = {
    info: () => call('info', []),
    connect: (multiaddr) => call('connect', [multiaddr]),
    openChannel: (params) => call('openChannel', [params]),
    deposit: (id, params) => call('deposit', [id, params]),
    pay: (id, params) => call('pay', [id, params]),
    swap: (id, params) => call('swap', [id, params]),
    close: (id, params) => call('close', [id, params]),
    channels: () => call('channels', []),
    channel: (id) => call('channel', [id]),
    signedState: (id) => call('signedState', [id]),
    withdrawable: () => call('withdrawable', []),
    withdraw: (params) => call('withdraw', [params]),
    createInvoice: (params) => call('createInvoice', [params]),
    decodeInvoice: (invoice) => call('decodeInvoice', [invoice]),
    invoices: (filter) => call('invoices', [filter]),
    payInvoice: (invoice, params) => call('payInvoice', [invoice, params]),
    sendPayment: (params) => call('sendPayment', [params]),
    payments: (filter) => call('payments', [filter]),
    on<E extends LanesEventName>(event: E, listener: (payload: LanesEvents[E]) => void) {
      let set = listeners.get(event);
      if (!set) {
        set = new Set();
        listeners.set(event, set);
        subscription('subscribe', event);
      }
      set.add(listener as (payload: never) => void);
      return () => {
        if (!set.delete(listener as (payload: never) => void) || set.size > 0) return;
        listeners.delete(event);
        subscription('unsubscribe', event);
      };
    },
    async stop() {
      if (closed) return;
      closed = true;
      clearTimeout(retry);
      clearInterval(sweep);
      for (const c of calls.values()) {
        settle(c);
        c.reject(
          c.sent
            ? new ConnectionLostError(c.method, MUTATING.has(c.method), { details: 'the client was stopped' })
            : new NodeStoppedError(),
        );
      }
      const ws = socket ?? (await opening?.catch(() => undefined));
      socket = undefined;
      if (ws && ws.readyState !== WebSocket.CLOSED) {
        await new Promise<void>((resolve) => {
          ws.once('close', () => resolve());
          ws.close(1000);
        });
      }
    },
  };
  // Fail early on a wrong URL or token.
  await api.info();
  return api as RemoteNode;
}
