/**
 * Prometheus metrics on a port of their own, without the control API's token, for a scraper
 * that should not hold a key to the money: loopback only, GET /metrics and nothing else
 * (docs/adr/0016). The control API serves the same text at /metrics behind its token.
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidArgumentError } from '../core/errors.ts';
import type { MetricsSource } from './control-server.ts';

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9464/metrics */
  readonly url: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Serves `source` at http://host:port/metrics; `host` must be a loopback address. */
export async function startMetricsServer(o: {
  readonly source: MetricsSource;
  readonly port: number;
  readonly host?: string;
}): Promise<MetricsServer> {
  const host = o.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host))
    throw new InvalidArgumentError(`the metrics port listens on loopback only, not ${host}: serve it further through a proxy you control`);
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)
    throw new InvalidArgumentError(`metrics port ${o.port} is not a port number`);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    o.source.text().then(
      (text) => res.writeHead(200, { 'content-type': o.source.contentType }).end(text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
