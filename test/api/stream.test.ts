/**
 * The control API's stream (/v1/ws, docs/adr/0015) between the real control server and the real
 * remote client, over a node that is a stand-in (no chain, no peers): calls multiplexed on one
 * socket, typed errors, events, what a client that sends garbage gets back, a lost connection,
 * a stopping daemon, and the bound on calls in flight.
 */
import { type AddressInfo, type Socket, createServer, connect as netConnect } from 'node:net';
import test from 'ava';
import { pino } from 'pino';
import WebSocket from 'ws';
import { type ControlServer, startControlServer } from '../../src/api/control-server.ts';
import { ChannelNotFoundError, LanesError, NodeStoppedError, RejectedError } from '../../src/index.ts';
import type { LanesApi, LanesEventName, LanesEvents, PaymentResult } from '../../src/sdk/api.ts';
import { connect } from '../../src/sdk/connect.ts';
import { ConnectionLostError } from '../../src/sdk/errors.ts';

const TOKEN = 'stream-test-token';
const CHANNEL = `0x${'ab'.repeat(32)}` as const;
const UNKNOWN = `0x${'cd'.repeat(32)}` as const;
const ADDRESS = `0x${'11'.repeat(20)}` as const;

interface Deferred {
  readonly amount: bigint;
  resolve(r: PaymentResult): void;
  reject(e: unknown): void;
}

/** A node stand-in: pays at once on CHANNEL (unless `hold`), refuses others; emits what a test asks. */
function standIn() {
  const listeners = new Map<LanesEventName, Set<(p: never) => void>>();
  const held: Deferred[] = [];
  let hold = false;
  let inFlight = 0;
  let mostInFlight = 0;
  const payment = (amount: bigint): PaymentResult =>
    ({ id: amount, channelId: CHANNEL, version: amount + 1n, amount, asset: ADDRESS }) as unknown as PaymentResult;
  const api = {
    info: async () => ({ address: ADDRESS, peerId: 'p', multiaddrs: [], chainId: 31337n, adjudicator: ADDRESS, signer: 'test' }),
    pay: async (id: string, p: { amount: bigint }) => {
      if (id === UNKNOWN) throw new ChannelNotFoundError(id);
      if (p.amount === 13n) throw new RejectedError('insufficient-balance', 'holds 12', { maybeApplied: true });
      if (p.amount === 66n) throw new Error('a bug with a secret in its message');
      if (!hold) return payment(p.amount);
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      return new Promise<PaymentResult>((resolve, reject) => held.push({ amount: p.amount, resolve, reject })).finally(() => inFlight--);
    },
    channel: async (id: string) => {
      throw new ChannelNotFoundError(id);
    },
    on(event: LanesEventName, l: (p: never) => void) {
      const set = listeners.get(event) ?? new Set();
      set.add(l);
      listeners.set(event, set);
      return () => set.delete(l);
    },
  } as unknown as LanesApi;
  return {
    api,
    held,
    payment,
    set hold(h: boolean) {
      hold = h;
    },
    get mostInFlight() {
      return mostInFlight;
    },
    listening: (event: LanesEventName) => listeners.get(event)?.size ?? 0,
    emit<E extends LanesEventName>(event: E, payload: LanesEvents[E]) {
      for (const l of listeners.get(event) ?? []) l(payload as never);
    },
  };
}

async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!ok()) throw new Error(`not reached: ${what}`);
}

async function serve(node = standIn()) {
  const server = await startControlServer({ api: node.api, token: TOKEN, logger: pino({ level: 'silent' }) });
  return { node, server, wsUrl: `${server.url.replace(/^http/, 'ws')}/v1/ws` };
}

/** A TCP relay in front of `url` whose connections a test can cut, as a network fault would. */
async function relay(url: string): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = netConnect(Number(target.port), target.hostname);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A raw WebSocket client: what a hostile or buggy client can send. */
async function raw(wsUrl: string, token = TOKEN): Promise<{ ws: WebSocket; next(): Promise<unknown[]> }> {
  const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` } });
  const inbox: unknown[][] = [];
  const waiting: ((m: unknown[]) => void)[] = [];
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as unknown[];
    const w = waiting.shift();
    if (w) w(m);
    else inbox.push(m);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, next: () => new Promise((resolve) => (inbox.length > 0 ? resolve(inbox.shift()!) : waiting.push(resolve))) };
}

let world: Awaited<ReturnType<typeof serve>>;
let server: ControlServer;
test.before(async () => {
  world = await serve();
  server = world.server;
});
test.after.always(async () => {
  await server?.close();
});

test.serial('a thousand payments at once over one connection: each answered with its own result', async (t) => {
  const node = await connect({ url: server.url, token: TOKEN });
  const amounts = Array.from({ length: 1000 }, (_, i) => BigInt(i + 100));
  const results = await Promise.all(amounts.map((amount) => node.pay(CHANNEL, { amount })));
  t.deepEqual(
    results.map((r) => r.amount),
    amounts,
  );
  t.is(typeof results[0]!.version, 'bigint');
  t.is(results[7]!.version, amounts[7]! + 1n);
  t.is((await node.info()).chainId, 31337n);
  await node.stop();
});

test.serial('errors come back as their classes with their fields; an unexpected one as INTERNAL without its message', async (t) => {
  const node = await connect({ url: server.url, token: TOKEN });
  const refused = await t.throwsAsync(node.pay(CHANNEL, { amount: 13n }), { instanceOf: RejectedError });
  t.is(refused?.reason, 'insufficient-balance');
  t.true(refused?.maybeApplied);
  const unknown = await t.throwsAsync(node.pay(UNKNOWN, { amount: 1n }), { instanceOf: ChannelNotFoundError });
  t.is(unknown?.channelId, UNKNOWN);
  const bug = await t.throwsAsync(node.pay(CHANNEL, { amount: 66n }), { instanceOf: LanesError });
  t.is(bug?.code, 'INTERNAL');
  t.notRegex(bug?.message ?? '', /secret/);
  // The client checks its own arguments' JSON forms as the daemon's parsers do: refused there.
  const bad = await t.throwsAsync(node.pay('0x12' as `0x${string}`, { amount: 1n }), { instanceOf: LanesError });
  t.is(bad?.code, 'INVALID_ARGUMENT');
  await node.stop();
});

test.serial('a wrong token is refused at connect() with UNAUTHORIZED; no daemon is DAEMON_UNREACHABLE', async (t) => {
  const e = await t.throwsAsync(connect({ url: server.url, token: 'wrong' }), { instanceOf: LanesError });
  t.is(e?.code, 'UNAUTHORIZED');
  const gone = await t.throwsAsync(connect({ url: 'http://127.0.0.1:1', token: TOKEN }), { instanceOf: LanesError });
  t.is(gone?.code, 'DAEMON_UNREACHABLE');
});

test.serial('events reach listeners with their bigints; unsubscribing stops them at the daemon', async (t) => {
  const node = await connect({ url: server.url, token: TOKEN });
  const got: LanesEvents['payment-received'][] = [];
  const off = node.on('payment-received', (e) => got.push(e));
  await until(() => world.node.listening('payment-received') === 1, 'subscribed');
  world.node.emit('payment-received', { channelId: CHANNEL, id: 4n, version: 9n, asset: ADDRESS, amount: 10n ** 30n });
  await until(() => got.length === 1, 'event received');
  t.is(got[0]!.amount, 10n ** 30n);
  t.is(got[0]!.version, 9n);
  off();
  await until(() => world.node.listening('payment-received') === 0, 'unsubscribed');
  await node.stop();
  t.pass();
});

test.serial('every bad frame gets a typed INVALID_ARGUMENT answer, and the connection keeps serving', async (t) => {
  const c = await raw(world.wsUrl);
  const cases: [string, number | null, RegExp][] = [
    ['not json', null, /not JSON/],
    ['{"id":1}', null, /JSON array of frames/],
    ['[5]', null, /frame 0 must be a JSON object/],
    ['[{"id":-1,"method":"info"}]', null, /id must be a whole number/],
    ['[{"id":2,"method":"__proto__"}]', 2, /no method/],
    ['[{"id":3,"method":"on"}]', 3, /no method/],
    ['[{"id":4,"method":"pay","params":{}}]', 4, /params must be an array/],
    ['[{"id":5,"method":"pay","params":["0x12",{"amount":"1"}]}]', 5, /params\[0\]: channel id/],
    [`[{"id":6,"method":"pay","params":["${CHANNEL}",{"amount":"-1"}]}]`, 6, /params\[1\]: amount/],
    ['[{"id":7,"method":"info","params":[1]}]', 7, /takes 0 params/],
    ['[{"id":8,"method":"subscribe","params":[["no-such-event"]]}]', 8, /not an event name/],
    [`[${new Array(4097).fill('{}').join(',')}]`, null, /at most 4096 frames/],
  ];
  for (const [text, id, message] of cases) {
    c.ws.send(text);
    const reply = (await c.next()) as { id: unknown; error: { code: string; message: string } }[];
    t.is(reply.length, 1, text.slice(0, 60));
    t.is(reply[0]!.id, id, text.slice(0, 60));
    t.is(reply[0]!.error.code, 'INVALID_ARGUMENT', text.slice(0, 60));
    t.regex(reply[0]!.error.message, message);
  }
  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  const binary = ((await c.next()) as { error: { code: string; message: string } }[])[0]!.error;
  t.is(binary.code, 'INVALID_ARGUMENT');
  t.regex(binary.message, /must be text/);
  // One bad frame among good ones: each answered on its own.
  c.ws.send(`[{"id":20,"method":"info"},{"id":21,"method":"nope"},{"id":22,"method":"pay","params":["${CHANNEL}",{"amount":"5"}]}]`);
  const replies: { id: number; result?: unknown; error?: unknown }[] = [];
  while (replies.length < 3) replies.push(...((await c.next()) as typeof replies));
  const byId = new Map(replies.map((r) => [r.id, r]));
  t.like(byId.get(20), { result: { chainId: '31337' } });
  t.like(byId.get(21), { error: { code: 'INVALID_ARGUMENT' } });
  t.like(byId.get(22), { result: { amount: '5' } });
  c.ws.close();
});

test.serial('an id already in flight is refused; the first call still completes', async (t) => {
  world.node.hold = true;
  const c = await raw(world.wsUrl);
  const pay = (id: number, amount: number) => `{"id":${id},"method":"pay","params":["${CHANNEL}",{"amount":"${amount}"}]}`;
  c.ws.send(`[${pay(1, 501)}]`);
  await until(() => world.node.held.length === 1, 'held');
  c.ws.send(`[${pay(1, 502)}]`);
  const twice = ((await c.next()) as { id: number; error: { message: string } }[])[0]!;
  t.is(twice.id, 1);
  t.regex(twice.error.message, /already in flight/);
  world.node.held.shift()!.resolve(world.node.payment(501n));
  t.like(((await c.next()) as unknown[])[0], { id: 1, result: { amount: '501' } });
  world.node.hold = false;
  c.ws.close();
});

test.serial(
  'a lost connection fails calls in flight with ConnectionLostError (maybeApplied for a payment); the next call reconnects',
  async (t) => {
    const own = await serve();
    const link = await relay(own.server.url);
    const node = await connect({ url: link.url, token: TOKEN });
    const got: bigint[] = [];
    node.on('payment-received', (e) => got.push(e.amount));
    await until(() => own.node.listening('payment-received') === 1, 'subscribed');
    own.node.hold = true;
    const pending = node.pay(CHANNEL, { amount: 7n });
    await until(() => own.node.held.length === 1, 'payment held at the daemon');
    const lost = pending.catch((e: unknown) => e);
    const read = node.channel(UNKNOWN).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    link.cut();
    const e = await lost;
    const r = await read;
    t.true(r instanceof ConnectionLostError || r instanceof ChannelNotFoundError, String(r));
    if (r instanceof ConnectionLostError) t.false(r.maybeApplied);
    t.true(e instanceof ConnectionLostError, String(e));
    t.true((e as ConnectionLostError).maybeApplied);
    t.is((e as ConnectionLostError).operation, 'pay');
    own.node.hold = false;
    t.is((await node.pay(CHANNEL, { amount: 8n })).amount, 8n);
    // The listener was subscribed again on the new connection.
    await until(() => own.node.listening('payment-received') === 1, 'subscribed again');
    own.node.emit('payment-received', { channelId: CHANNEL, id: 1n, version: 1n, asset: ADDRESS, amount: 3n });
    await until(() => got.length === 1, 'event after reconnect');
    t.deepEqual(got, [3n]);
    await node.stop();
    await link.close();
    await own.server.close();
  },
);

test.serial('a stopping daemon answers the calls in flight first, then refuses new ones', async (t) => {
  const own = await serve();
  const node = await connect({ url: own.server.url, token: TOKEN });
  own.node.hold = true;
  const pending = node.pay(CHANNEL, { amount: 9n });
  await until(() => own.node.held.length === 1, 'held');
  const closing = own.server.close();
  await new Promise((r) => setTimeout(r, 20));
  own.node.held.shift()!.resolve(own.node.payment(9n));
  t.is((await pending).amount, 9n);
  await closing;
  const after = await t.throwsAsync(node.pay(CHANNEL, { amount: 1n }), { instanceOf: LanesError });
  t.is(after?.code, 'DAEMON_UNREACHABLE');
  await node.stop();
  await t.throwsAsync(node.info(), { instanceOf: NodeStoppedError });
});

test.serial('the http transport still serves the same calls', async (t) => {
  const node = await connect({ url: server.url, token: TOKEN, transport: 'http' });
  const paid = await node.pay(CHANNEL, { amount: 5n }).catch((e: unknown) => {
    throw new Error(`http pay failed: ${String((e as Error).cause)}`);
  });
  t.is(paid.amount, 5n);
  await t.throwsAsync(node.pay(UNKNOWN, { amount: 1n }), { instanceOf: ChannelNotFoundError });
  await node.stop();
});
