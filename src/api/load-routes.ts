/**
 * The load generator's routes on a daemon started with `--load-generator` (the testnet's and
 * the benchmark's nodes): POST /v1/load starts a load, GET /v1/load reports on it (`?detail=1`
 * adds the latency histograms), POST /v1/load/stop ends it early.
 */
import type { FastifyInstance } from 'fastify';
import type { LoadGenerator } from '../load/load-generator.ts';
import { parseLoadSpec } from '../load/load-spec.ts';

export function loadRoutes(generator: LoadGenerator): (app: FastifyInstance) => void {
  return (app) => {
    const json = (value: unknown) => JSON.stringify(value);
    app.post('/v1/load', async (req, reply) =>
      reply.header('content-type', 'application/json').send(json(await generator.start(parseLoadSpec(req.body)))),
    );
    app.get('/v1/load', async (req, reply) => {
      const q = req.query as { detail?: string; since?: string };
      const since = Number(q.since ?? 0);
      return reply
        .header('content-type', 'application/json')
        .send(json(generator.snapshot(q.detail === '1' || q.detail === 'true', Number.isSafeInteger(since) && since > 0 ? since : 0)));
    });
    app.post('/v1/load/stop', async (_req, reply) => reply.header('content-type', 'application/json').send(json(await generator.stop())));
  };
}
