/**
 * The daemon's side of the stream (`GET /v1/ws`, docs/adr/0015): a WebSocket on the control
 * API's port, behind the same bearer token, serving every LanesApi call and event over one
 * connection. Frames are those of src/sdk/stream-frames.ts.
 *
 * Bounds, per connection:
 * - at most {@link MAX_IN_FLIGHT} calls being served; past it the daemon stops reading the socket
 *   (TCP pushes back on the client) and reads again once half of them are answered;
 * - replies and events of one event-loop turn go out as one message (coalesced), each message at
 *   most MAX_MESSAGE_BYTES unless a single frame is larger;
 * - a client that does not read: once more than {@link MAX_BUFFERED_BYTES} wait unsent, the
 *   connection is closed (code 4008) rather than buffering without end. Events are at most once.
 *
 * Nothing a client sends crashes the daemon: a frame that does not decode is answered with an
 * INVALID_ARGUMENT error (to its id, or to `null`), a binary message likewise, an oversized one
 * closes the connection (1009, by ws).
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import { InvalidArgumentError, LanesError } from '../core/errors.ts';
import { NodeStoppedError } from '../sdk/errors.ts';
import type { LanesApi, LanesEventName } from '../sdk/api.ts';
import {
  type DecodedRequest,
  MAX_MESSAGE_BYTES,
  STREAM_PATH,
  decodeRequests,
  encodeError,
  encodeEvent,
  encodeResult,
} from '../sdk/stream-frames.ts';
import { errorResponse } from './errors.ts';

/** Calls one connection may have in flight before the daemon stops reading it. */
export const MAX_IN_FLIGHT = 8192;
/** Bytes waiting unsent to one client past which it is disconnected (code 4008). */
export const MAX_BUFFERED_BYTES = 64 << 20;
/** How long a stopping daemon waits for the calls in flight before it closes the connections. */
const DRAIN_MS = 10_000;
/** The close code of a client that did not keep up. */
export const CLOSE_TOO_SLOW = 4008;

export interface StreamServerOptions {
  readonly api: LanesApi;
  readonly token: Buffer;
  readonly logger: Logger;
}

export interface StreamServer {
  /** Refuses new calls (NODE_STOPPED), waits for those in flight, then closes every connection (1001). */
  close(): Promise<void>;
}

function authorized(req: IncomingMessage, token: Buffer): boolean {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7));
  return given.length === token.length && timingSafeEqual(given, token);
}

/** Answers an upgrade request with an HTTP error in the control API's JSON, and hangs up. */
function refuse(socket: Duplex, status: number, error: LanesError): void {
  const body = JSON.stringify(errorResponse(error).body);
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Not Found'}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Serves the stream on `server` (the control API's HTTP server). */
export function attachStreamServer(server: Server, o: StreamServerOptions): StreamServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
  const connections = new Set<Connection>();
  let closing = false;
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (new URL(req.url ?? '/', 'http://x').pathname !== STREAM_PATH)
      return refuse(socket, 404, new LanesError(`no WebSocket at ${(req.url ?? '').split('?')[0]}`, { code: 'NOT_FOUND' }));
    if (!authorized(req, o.token))
      return refuse(socket, 401, new LanesError('missing or wrong token (Authorization: Bearer <token>)', { code: 'UNAUTHORIZED' }));
    wss.handleUpgrade(req, socket, head, (ws) => {
      const c = new Connection(ws, o, () => closing);
      connections.add(c);
      ws.once('close', () => {
        connections.delete(c);
        c.closed();
      });
    });
  });
  return {
    async close() {
      closing = true;
      // As the HTTP routes: calls in flight are answered first, for at most DRAIN_MS.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...connections].map((c) => c.drain())),
        new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS))),
      ]);
      clearTimeout(timer);
      for (const c of connections) c.ws.close(1001, 'daemon stopping');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

class Connection {
  readonly ws: WebSocket;
  readonly #o: StreamServerOptions;
  readonly #closing: () => boolean;
  readonly #inFlight = new Map<number, Promise<void>>();
  readonly #subscriptions = new Map<LanesEventName, () => void>();
  #out: string[] = [];
  #outBytes = 0;
  #flushScheduled = false;
  #paused = false;
  #alive = true;
  readonly #ping: NodeJS.Timeout;

  constructor(ws: WebSocket, o: StreamServerOptions, closing: () => boolean) {
    this.ws = ws;
    this.#o = o;
    this.#closing = closing;
    ws.on('message', (data, isBinary) => this.#receive(data, isBinary));
    ws.on('error', (e) => o.logger.debug({ err: e }, 'stream connection error'));
    ws.on('pong', () => (this.#alive = true));
    // A client that vanished without closing (a pulled cable) is found by a missed pong.
    this.#ping = setInterval(() => {
      if (!this.#alive) return ws.terminate();
      this.#alive = false;
      ws.ping();
    }, 30_000);
    this.#ping.unref();
  }

  #receive(data: WebSocket.RawData, isBinary: boolean): void {
    if (isBinary) {
      this.#send(encodeError(null, errorResponse(new InvalidArgumentError('messages must be text: a JSON array of frames')).body.error));
      return;
    }
    let requests: DecodedRequest[];
    try {
      requests = decodeRequests(data.toString());
    } catch (e) {
      // decodeRequests does not throw; if it ever does, it is a daemon bug, reported as INTERNAL.
      this.#o.logger.error({ err: e }, 'stream frame decoder threw');
      this.#send(encodeError(null, errorResponse(e).body.error));
      return;
    }
    for (const r of requests) {
      if ('error' in r) this.#send(encodeError(r.id, errorResponse(r.error).body.error));
      else this.#serve(r);
    }
    if (this.#inFlight.size >= MAX_IN_FLIGHT && !this.#paused) {
      this.#paused = true;
      this.ws.pause();
    }
  }

  #serve(r: Exclude<DecodedRequest, { error: unknown }>): void {
    if (this.#inFlight.has(r.id)) {
      const e = new InvalidArgumentError(`call ${r.id}: a call with this id is already in flight`);
      this.#send(encodeError(r.id, errorResponse(e).body.error));
      return;
    }
    if (r.method === 'subscribe' || r.method === 'unsubscribe') {
      for (const event of r.params[0]) {
        if (r.method === 'subscribe' && !this.#subscriptions.has(event))
          this.#subscriptions.set(
            event,
            this.#o.api.on(event, (payload) => this.#send(encodeEvent(event, payload))),
          );
        if (r.method === 'unsubscribe') {
          this.#subscriptions.get(event)?.();
          this.#subscriptions.delete(event);
        }
      }
      this.#send(encodeResult(r.id, [...this.#subscriptions.keys()]));
      return;
    }
    const call = this.#closing()
      ? Promise.reject(new NodeStoppedError())
      : (this.#o.api[r.method] as (...args: unknown[]) => Promise<unknown>).apply(this.#o.api, r.params as unknown[]);
    const done = call.then(
      (value) => this.#send(encodeResult(r.id, value)),
      (e: unknown) => {
        const { body, expected } = errorResponse(e);
        if (!expected) this.#o.logger.error({ err: e, method: r.method }, 'stream call failed');
        this.#send(encodeError(r.id, body.error));
      },
    );
    this.#inFlight.set(r.id, done);
    void done.finally(() => {
      this.#inFlight.delete(r.id);
      if (this.#paused && this.#inFlight.size <= MAX_IN_FLIGHT / 2) {
        this.#paused = false;
        this.ws.resume();
      }
    });
  }

  /** Queues a frame; the frames of one event-loop turn leave together. */
  #send(frame: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.#out.push(frame);
    this.#outBytes += frame.length + 1;
    if (this.#outBytes >= MAX_MESSAGE_BYTES) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#out.length === 0 || this.ws.readyState !== this.ws.OPEN) return;
    const text = `[${this.#out.join(',')}]`;
    this.#out = [];
    this.#outBytes = 0;
    if (this.ws.bufferedAmount + text.length > MAX_BUFFERED_BYTES) {
      this.#o.logger.warn({ buffered: this.ws.bufferedAmount }, 'stream client does not keep up: disconnected');
      this.ws.close(CLOSE_TOO_SLOW, 'too slow: replies and events piled up unread');
      return;
    }
    this.ws.send(text);
  }

  /** Resolves once every call in flight has been answered. */
  async drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight.values());
    this.#flush();
  }

  closed(): void {
    clearInterval(this.#ping);
    for (const off of this.#subscriptions.values()) off();
    this.#subscriptions.clear();
    this.#out = [];
  }
}
