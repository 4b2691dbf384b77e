/**
 * The control API: HTTP + JSON on 127.0.0.1 by default, every method of the SDK's LanesApi,
 * events as server-sent events. Every request needs `Authorization: Bearer <token>` (the
 * daemon writes the token to its data directory, readable by its owner only). The same calls and
 * events also stream over one WebSocket at /v1/ws, behind the same token (stream-server.ts).
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { LanesError } from '../core/errors.ts';
import { NotFoundError } from './not-found.ts';
import type { LanesApi, LanesEventName } from '../sdk/api.ts';
import { jsonify, parseChannelId, parseClose, parseMultiaddr, parseOpen, parsePay, parseSwap, parseWithdraw } from '../sdk/json.ts';
import { errorResponse } from './errors.ts';
import {
  parseCreateInvoice,
  parseInvoiceText,
  parseInvoicesFilter,
  parsePayInvoice,
  parsePaymentsFilter,
  parseSendPayment,
} from '../sdk/payments-json.ts';
import { attachStreamServer } from './stream-server.ts';
import { LANES_EVENT_NAMES } from '../sdk/stream-frames.ts';

/** The events served, as SSE here and on the stream: those with a JSON form (src/sdk/stream-frames.ts). */
export const EVENT_NAMES: readonly LanesEventName[] = LANES_EVENT_NAMES;

export interface ControlServerOptions {
  readonly api: LanesApi;
  readonly token: string;
  /** Default 127.0.0.1: the API moves money; expose it beyond loopback only deliberately. */
  readonly host?: string;
  /** Default 0: a free port. */
  readonly port?: number;
  readonly logger: Logger;
  /** Extra routes (the coordinator's status, ...), under /v1. */
  readonly extend?: (app: FastifyInstance) => void;
  /** Prometheus metrics, served at GET /metrics behind the token (docs/adr/0016). */
  readonly metrics?: MetricsSource;
}

/** Where Prometheus text comes from (a node's NodeMetrics). */
export interface MetricsSource {
  text(): Promise<string>;
  readonly contentType: string;
}

export interface ControlServer {
  readonly url: string;
  close(): Promise<void>;
}

function authorized(req: FastifyRequest, token: Buffer): boolean {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7));
  return given.length === token.length && timingSafeEqual(given, token);
}

export async function startControlServer(o: ControlServerOptions): Promise<ControlServer> {
  const token = Buffer.from(o.token);
  const app = Fastify({ logger: false, bodyLimit: 1 << 20 });
  const send = (reply: FastifyReply, value: unknown) =>
    reply.header('content-type', 'application/json').send(JSON.stringify(jsonify(value)));

  app.addHook('onRequest', async (req, reply) => {
    if (!authorized(req, token)) {
      const { status, body } = errorResponse(
        new LanesError('missing or wrong token (Authorization: Bearer <token>)', { code: 'UNAUTHORIZED' }),
      );
      await reply.code(status).send(body);
    }
  });
  app.setErrorHandler((e, req, reply) => {
    const { status, body, expected } = errorResponse(e);
    if (!expected) o.logger.error({ err: e, url: req.url }, 'control API request failed');
    void reply.code(status).send(body);
  });
  app.setNotFoundHandler((req) => {
    throw new NotFoundError(req.method, req.url);
  });

  const id = (req: FastifyRequest) => parseChannelId((req.params as { id?: unknown }).id);
  app.get('/v1/info', async (_req, reply) => send(reply, await o.api.info()));
  app.post('/v1/peers', async (req, reply) =>
    send(reply, await o.api.connect(parseMultiaddr((req.body as { multiaddr?: unknown } | undefined)?.multiaddr, 'multiaddr'))),
  );
  app.get('/v1/channels', async (_req, reply) => send(reply, await o.api.channels()));
  app.post('/v1/channels', async (req, reply) => send(reply, await o.api.openChannel(parseOpen(req.body))));
  app.get('/v1/channels/:id', async (req, reply) => send(reply, await o.api.channel(id(req))));
  app.get('/v1/channels/:id/state', async (req, reply) => send(reply, await o.api.signedState(id(req))));
  app.post('/v1/channels/:id/pay', async (req, reply) => send(reply, await o.api.pay(id(req), parsePay(req.body))));
  app.post('/v1/channels/:id/swap', async (req, reply) => send(reply, await o.api.swap(id(req), parseSwap(req.body))));
  app.post('/v1/channels/:id/deposit', async (req, reply) => send(reply, await o.api.deposit(id(req), parsePay(req.body))));
  app.post('/v1/channels/:id/close', async (req, reply) => send(reply, await o.api.close(id(req), parseClose(req.body))));
  app.get('/v1/withdrawable', async (_req, reply) => send(reply, await o.api.withdrawable()));
  app.post('/v1/withdraw', async (req, reply) => send(reply, await o.api.withdraw(parseWithdraw(req.body))));
  // Invoices and payments (docs/adr/0018).
  const field = (req: FastifyRequest, name: string) => (req.body as Record<string, unknown> | undefined)?.[name];
  app.post('/v1/invoices', async (req, reply) => send(reply, await o.api.createInvoice(parseCreateInvoice(req.body))));
  app.get('/v1/invoices', async (_req, reply) => send(reply, await o.api.invoices()));
  app.post('/v1/invoices/list', async (req, reply) => send(reply, await o.api.invoices(parseInvoicesFilter(req.body))));
  app.post('/v1/invoices/decode', async (req, reply) => send(reply, await o.api.decodeInvoice(parseInvoiceText(field(req, 'invoice')))));
  app.post('/v1/payments', async (req, reply) => {
    const { invoice, ...rest } = (req.body as Record<string, unknown> | undefined) ?? {};
    return send(reply, await o.api.payInvoice(parseInvoiceText(invoice), parsePayInvoice(rest)));
  });
  app.post('/v1/payments/keysend', async (req, reply) => send(reply, await o.api.sendPayment(parseSendPayment(req.body))));
  app.post('/v1/payments/list', async (req, reply) => send(reply, await o.api.payments(parsePaymentsFilter(req.body))));

  // Server-sent events: `event: <name>` / `data: <json>`, a comment every 15 s keeps proxies awake.
  app.get('/v1/events', (req, reply) => {
    const wanted = new Set(String((req.query as { events?: string }).events ?? EVENT_NAMES.join(',')).split(','));
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(': connected\n\n');
    const offs = EVENT_NAMES.filter((e) => wanted.has(e)).map((event) =>
      o.api.on(event, (payload) => res.write(`event: ${event}\ndata: ${JSON.stringify(jsonify(payload))}\n\n`)),
    );
    const beat = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.raw.on('close', () => {
      clearInterval(beat);
      for (const off of offs) off();
    });
  });

  const stream = attachStreamServer(app.server, { api: o.api, token, logger: o.logger });
  app.addHook('preClose', async () => stream.close());

  const metrics = o.metrics;
  if (metrics) app.get('/metrics', async (_req, reply) => reply.header('content-type', metrics.contentType).send(await metrics.text()));

  o.extend?.(app);
  const address = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
  return { url: address, close: () => app.close() };
}
