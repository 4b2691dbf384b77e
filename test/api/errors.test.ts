/**
 * Errors across the control API: a node method throws, the real control server serialises,
 * the real remote client (connect) rebuilds. The remote error must be the same class with the
 * same code, message, details and structured fields as the one thrown, and arrive with the
 * HTTP status of the registry; no message is parsed on the way.
 */
import test from 'ava';
import { pino } from 'pino';
import { startControlServer, type ControlServer } from '../../src/api/control-server.ts';
import {
  ChannelNotFoundError,
  ChannelNotOpenError,
  DecodeError,
  FatalNodeError,
  InvalidArgumentError,
  LanesError,
  NodeStoppedError,
  NothingToWithdrawError,
  OperationTimeoutError,
  PeerUnreachableError,
  RejectedError,
  WithdrawFailedError,
} from '../../src/index.ts';
import type { LanesApi } from '../../src/sdk/api.ts';
import { connect } from '../../src/sdk/connect.ts';

const CHANNEL = `0x${'cd'.repeat(32)}`;
const ASSET = `0x${'11'.repeat(20)}`;
const TO = `0x${'22'.repeat(20)}`;
const PEER = '/ip4/127.0.0.1/tcp/4001/p2p/16Uiu2HAmPeer';

/** Each error a node may throw, the fields it must carry across, and the HTTP status it is served with. */
const CASES: { error: LanesError; fields: string[]; status: number }[] = [
  {
    error: new RejectedError('insufficient-balance', 'this node holds 0, pays 5', { maybeApplied: true }),
    fields: ['reason', 'detail', 'maybeApplied'],
    status: 422,
  },
  // Refusals whose codes equal other errors' codes (UNKNOWN_CHANNEL, MALFORMED, INTERNAL) stay refusals.
  { error: new RejectedError('unknown-channel', 'the peer does not know it'), fields: ['reason', 'detail', 'maybeApplied'], status: 422 },
  { error: new RejectedError('malformed', ''), fields: ['reason', 'detail', 'maybeApplied'], status: 422 },
  { error: new RejectedError('internal', 'the peer failed'), fields: ['reason', 'detail', 'maybeApplied'], status: 422 },
  { error: new OperationTimeoutError('pay 7', true), fields: ['operation', 'maybeApplied'], status: 504 },
  { error: new OperationTimeoutError('waiting for the close on-chain', false), fields: ['operation', 'maybeApplied'], status: 504 },
  {
    error: new PeerUnreachableError(PEER, { details: 'connect to it by multiaddr first', cause: new Error('dial') }),
    fields: ['peer'],
    status: 502,
  },
  { error: new ChannelNotFoundError(CHANNEL), fields: ['channelId'], status: 404 },
  { error: new ChannelNotOpenError(CHANNEL, 'closing'), fields: ['channelId', 'status'], status: 409 },
  { error: new NothingToWithdrawError(ASSET), fields: ['asset'], status: 409 },
  {
    error: new WithdrawFailedError(ASSET, TO, { details: `reverted; already withdrawn: 5 of ${ASSET}` }),
    fields: ['asset', 'to'],
    status: 502,
  },
  { error: new NodeStoppedError(), fields: [], status: 503 },
  { error: new InvalidArgumentError('amount must be positive', { details: 'got 0' }), fields: [], status: 400 },
  { error: new LanesError('only the node key can withdraw', { code: 'NOT_SUPPORTED' }), fields: [], status: 409 },
  { error: new FatalNodeError('durable write failed', new Error('EIO')), fields: [], status: 500 },
  { error: new DecodeError('bad bytes'), fields: [], status: 500 },
  { error: new LanesError('store is closed', { code: 'STORE_CLOSED' }), fields: [], status: 500 },
];

let thrown: unknown;
let server: ControlServer;
const TOKEN = 'test-token';

test.before(async () => {
  const api = {
    info: async () => ({ address: TO, peerId: 'p', multiaddrs: [], chainId: 1n, adjudicator: ASSET, signer: 'test' }),
    pay: async () => {
      throw thrown;
    },
  } as unknown as LanesApi;
  server = await startControlServer({ api, token: TOKEN, logger: pino({ level: 'silent' }) });
});

test.after.always(async () => {
  await server?.close();
});

for (const { error, fields, status } of CASES) {
  test.serial(`${error.name} (${error.code}: ${error.shortMessage}) comes back as itself`, async (t) => {
    thrown = error;
    const remote = await connect({ url: server.url, token: TOKEN });
    const back = await remote.pay(CHANNEL as `0x${string}`, { amount: 1n }).catch((e: unknown) => e);
    await remote.stop();
    t.is((back as object).constructor, error.constructor, String(back));
    const e = back as LanesError;
    t.is(e.name, error.name);
    t.is(e.code, error.code);
    t.is(e.shortMessage, error.shortMessage);
    t.is(e.details, error.details);
    for (const f of fields) {
      const value = (error as unknown as Record<string, unknown>)[f];
      t.not(value, undefined, `${error.name} carries ${f}`);
      t.is((e as unknown as Record<string, unknown>)[f], value, f);
    }
    const res = await fetch(`${server.url}/v1/channels/${CHANNEL}/pay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: '{"amount":"1"}',
    });
    t.is(res.status, status);
  });
}

test.serial('an error that is not a LanesError is served as INTERNAL, without its message', async (t) => {
  thrown = new Error('key 0x4c0883a69102937d6231471b5dbb6204fe512961708279f7a1f5e5f3e4c5e2f1 leaked');
  const remote = await connect({ url: server.url, token: TOKEN });
  const back = await remote.pay(CHANNEL as `0x${string}`, { amount: 1n }).catch((e: unknown) => e);
  await remote.stop();
  t.true(back instanceof LanesError);
  t.is((back as LanesError).code, 'INTERNAL');
  t.notRegex((back as Error).message, /0x4c08/);
});
