/**
 * Fuzz target: the streaming control API's frames (src/sdk/stream-frames.ts, docs/adr/0015),
 * both decoders: `decodeRequests`, which the daemon (src/api/stream-server.ts) runs on every
 * WebSocket message a client sends, and `decodeReplies`, which the remote client
 * (src/sdk/stream-client.ts) runs on every message from the daemon.
 *
 * - `decodeRequests` never throws. Each frame is either a call (a whole-number id, a stream
 *   method, its params checked by the HTTP routes' parsers) whose re-encoding by the client
 *   (`encodeRequest`) decodes to the same call, or an InvalidArgumentError with a short message,
 *   for its id or for `null`. A message that is not a JSON array of at most MAX_FRAMES frames is
 *   one error for `null`; otherwise there is one answer per frame.
 * - `decodeReplies` never throws. Each reply is a result for a whole-number id, an error that is
 *   a LanesError (its code and class survive the daemon's encoding again), or an event the
 *   client knows with a data object; what it leaves out is said in `invalid`, shortly.
 *
 * Input: `[mode][bytes…]`, mode's low two bits: 0 the bytes as a message to the daemon (UTF-8),
 * 1 as a message to the client; 2 and 3 the bytes drive a generator (jazzer's
 * FuzzedDataProvider) of a message of frames to the daemon or the client, built from the fields
 * and methods the decoders look for and the control API's JSON values (control-api.ts), so that
 * the fuzzer spends its time in the decoders rather than in JSON syntax.
 */
import { FuzzedDataProvider } from '@jazzer.js/core/dist/FuzzedDataProvider.js';
import { InvalidArgumentError, LanesError } from '../../../src/core/errors.ts';
import { errorToJson } from '../../../src/sdk/error-registry.ts';
import {
  type DecodedRequest,
  LANES_EVENT_NAMES,
  MAX_FRAMES,
  type StreamMethod,
  decodeReplies,
  decodeRequests,
  encodeError,
  encodeRequest,
  encodeResult,
  isStreamMethod,
  message,
} from '../../../src/sdk/stream-frames.ts';
import { same, typed, violation } from './check.ts';
import { value } from './control-api.ts';

export const MODE = { requests: 0, replies: 1, structuredRequests: 2, structuredReplies: 3 } as const;

/** Every method the stream serves, and a few it does not. */
export const METHOD_NAMES: readonly string[] = [
  'info',
  'connect',
  'openChannel',
  'deposit',
  'pay',
  'swap',
  'close',
  'channels',
  'channel',
  'signedState',
  'withdrawable',
  'withdraw',
  'createInvoice',
  'decodeInvoice',
  'invoices',
  'payInvoice',
  'sendPayment',
  'payments',
  'subscribe',
  'unsubscribe',
  'on',
  'stop',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
];

const ERROR_CODES = [
  'INVALID_ARGUMENT',
  'UNKNOWN_CHANNEL',
  'CHANNEL_NOT_OPEN',
  'NOTHING_TO_WITHDRAW',
  'PEER_UNREACHABLE',
  'WITHDRAW_FAILED',
  'INVALID_INVOICE',
  'PAYMENT_FAILED',
  'NODE_STOPPED',
  'TIMEOUT',
  'MALFORMED',
  'FATAL',
  'INTERNAL',
  'INSUFFICIENT_BALANCE',
  '__proto__',
  'constructor',
  '',
];

const ERROR_FIELDS = ['reason', 'detail', 'maybeApplied', 'channelId', 'status', 'asset', 'to', 'peer', 'operation', 'problem', 'hop'];
const REASONS = ['insufficient-balance', 'policy', 'malformed', 'unknown-channel', 'toString', 'not-a-reason'];

function pick<T>(fdp: FuzzedDataProvider, from: readonly T[]): T {
  return from[fdp.consumeIntegralInRange(0, from.length - 1)]!;
}

/** An id: mostly a valid one, sometimes one near the edges or of another type. */
function id(fdp: FuzzedDataProvider): unknown {
  switch (fdp.consumeIntegralInRange(0, 7)) {
    case 0:
      return pick(fdp, [-1, 0.5, 2 ** 53, Number.MAX_SAFE_INTEGER, -0, 1e300, null, '7', true, [], {}]);
    case 1:
      return value(fdp, 2);
    default:
      return fdp.consumeIntegralInRange(0, 1000);
  }
}

/** Sets `key` as an own property even when it is `__proto__`, as JSON.parse does. */
function put(o: Record<string, unknown>, key: string, v: unknown): void {
  Object.defineProperty(o, key, { value: v, enumerable: true, writable: true, configurable: true });
}

function requestFrame(fdp: FuzzedDataProvider): unknown {
  if (fdp.consumeIntegralInRange(0, 15) === 0) return value(fdp, 1);
  const frame: Record<string, unknown> = {};
  if (fdp.consumeIntegralInRange(0, 7) > 0) put(frame, 'id', id(fdp));
  if (fdp.consumeIntegralInRange(0, 7) > 0)
    put(frame, 'method', fdp.consumeIntegralInRange(0, 7) > 0 ? pick(fdp, METHOD_NAMES) : value(fdp, 2));
  const shape = fdp.consumeIntegralInRange(0, 7);
  if (shape === 0) put(frame, 'params', value(fdp, 1));
  else if (shape > 1) {
    const method = frame.method;
    const params =
      method === 'subscribe' || method === 'unsubscribe'
        ? [
            Array.from({ length: fdp.consumeIntegralInRange(0, 5) }, () =>
              fdp.consumeBoolean() ? pick(fdp, LANES_EVENT_NAMES) : value(fdp, 3),
            ),
          ]
        : Array.from({ length: fdp.consumeIntegralInRange(0, 3) }, () => value(fdp, 1));
    put(frame, 'params', params);
  }
  if (fdp.consumeIntegralInRange(0, 7) === 0) put(frame, fdp.consumeString(8), value(fdp, 2));
  return frame;
}

function errorJson(fdp: FuzzedDataProvider): unknown {
  if (fdp.consumeIntegralInRange(0, 7) === 0) return value(fdp, 1);
  const e: Record<string, unknown> = {};
  if (fdp.consumeIntegralInRange(0, 7) > 0) put(e, 'code', fdp.consumeIntegralInRange(0, 7) > 0 ? pick(fdp, ERROR_CODES) : value(fdp, 2));
  if (fdp.consumeIntegralInRange(0, 7) > 0) put(e, 'message', fdp.consumeBoolean() ? fdp.consumeString(40) : value(fdp, 2));
  if (fdp.consumeBoolean()) put(e, 'details', fdp.consumeBoolean() ? fdp.consumeString(40) : value(fdp, 2));
  for (let n = fdp.consumeIntegralInRange(0, 4); n > 0; n--) {
    const field = pick(fdp, ERROR_FIELDS);
    put(e, field, field === 'reason' && fdp.consumeBoolean() ? pick(fdp, REASONS) : value(fdp, 2));
  }
  return e;
}

function replyFrame(fdp: FuzzedDataProvider): unknown {
  const frame: Record<string, unknown> = {};
  switch (fdp.consumeIntegralInRange(0, 4)) {
    case 0:
      put(frame, 'id', id(fdp));
      put(frame, 'result', value(fdp, 0));
      break;
    case 1:
      put(frame, 'id', fdp.consumeBoolean() ? null : id(fdp));
      put(frame, 'error', errorJson(fdp));
      break;
    case 2:
      put(frame, 'event', fdp.consumeIntegralInRange(0, 7) > 0 ? pick(fdp, LANES_EVENT_NAMES) : value(fdp, 2));
      put(frame, 'data', fdp.consumeIntegralInRange(0, 7) > 0 ? Object(value(fdp, 1)) : value(fdp, 1));
      break;
    case 3:
      return value(fdp, 0);
    default:
      for (const key of ['id', 'result', 'error', 'event', 'data']) if (fdp.consumeBoolean()) put(frame, key, value(fdp, 2));
  }
  return frame;
}

/** A message of generated frames (JSON text; sometimes not an array, or not JSON). */
function generated(fdp: FuzzedDataProvider, frame: (fdp: FuzzedDataProvider) => unknown): string {
  const frames = Array.from({ length: fdp.consumeIntegralInRange(0, 8) }, () => frame(fdp));
  const text = JSON.stringify(frames);
  switch (fdp.consumeIntegralInRange(0, 15)) {
    case 0:
      return JSON.stringify(frames[0] ?? null) ?? 'null';
    case 1:
      return text.slice(0, fdp.consumeIntegralInRange(0, text.length));
    default:
      return text;
  }
}

/** What the decoder answered for one frame holds the properties; returns it as a call, if it is one. */
function checkRequest(r: DecodedRequest): Exclude<DecodedRequest, { error: unknown }> | undefined {
  if ('error' in r) {
    typed(r.error, InvalidArgumentError, 1000);
    if (r.id !== null && !(Number.isSafeInteger(r.id) && r.id >= 0)) violation('an error for an id that is not a whole number', r.id);
    return undefined;
  }
  if (!(Number.isSafeInteger(r.id) && r.id >= 0)) violation('a call with an id that is not a whole number', r.id);
  if (!isStreamMethod(r.method)) violation('a call of a method the stream does not serve', r.method);
  if (!Array.isArray(r.params)) violation('params that are not an array', r.params);
  return r;
}

function requests(text: string): void {
  let decoded: DecodedRequest[];
  try {
    decoded = decodeRequests(text);
  } catch (e) {
    violation('decodeRequests threw', e);
  }
  let frames: unknown;
  try {
    frames = JSON.parse(text);
  } catch {
    frames = undefined;
  }
  const expected = Array.isArray(frames) && frames.length <= MAX_FRAMES ? frames.length : 1;
  if (decoded.length !== expected) violation(`${decoded.length} answers to a message of ${expected} frame(s)`);
  if (expected !== (Array.isArray(frames) ? frames.length : -1) && !('error' in decoded[0]! && decoded[0].id === null))
    violation('a message that is not an array of frames was not refused whole', decoded[0]);
  for (const r of decoded) {
    const call = checkRequest(r);
    if (call === undefined) continue;
    // What the remote client sends for this call decodes to the same call.
    const again = decodeRequests(message([encodeRequest(call.id, call.method as StreamMethod, call.params)]));
    if (again.length !== 1 || 'error' in again[0]!) violation('a decoded call does not decode after re-encoding', { call, again });
    same('decoded and re-decoded calls', again[0], call);
  }
}

function replies(text: string): void {
  let decoded: ReturnType<typeof decodeReplies>;
  try {
    decoded = decodeReplies(text);
  } catch (e) {
    violation('decodeReplies threw', e);
  }
  for (const note of decoded.invalid) {
    if (typeof note !== 'string' || note.length === 0 || note.length > 200) violation('an invalid frame said at length', note);
  }
  for (const r of decoded.replies) {
    if (r.kind === 'result') {
      if (!(Number.isSafeInteger(r.id) && r.id >= 0)) violation('a result for an id that is not a whole number', r.id);
    } else if (r.kind === 'event') {
      if (!LANES_EVENT_NAMES.includes(r.event)) violation('an event the client does not know', r.event);
      if (typeof r.data !== 'object' || r.data === null || Array.isArray(r.data)) violation('event data that is not an object', r.data);
    } else {
      if (r.id !== null && !(Number.isSafeInteger(r.id) && r.id >= 0)) violation('an error for an id that is not a whole number', r.id);
      if (!(r.error instanceof LanesError)) violation('an error reply that is not a LanesError', r.error);
      if (typeof r.error.code !== 'string' || typeof r.error.shortMessage !== 'string')
        violation('an error without a code or message', r.error);
      // The same error, served again by a daemon, comes back as the same class with the same code.
      let json: ReturnType<typeof errorToJson>;
      try {
        json = errorToJson(r.error);
      } catch (e) {
        violation('a decoded error does not encode', e);
      }
      const again = decodeReplies(message([encodeError(r.id, json)])).replies[0];
      if (again?.kind !== 'error') violation('a decoded error does not decode after re-encoding', { error: r.error, again });
      same('class of the decoded and re-decoded errors', again.error.constructor.name, r.error.constructor.name);
      same('code of the decoded and re-decoded errors', again.error.code, r.error.code);
    }
  }
}

export function fuzz(data: Buffer): void {
  if (data.length === 0) return;
  const mode = data[0]! & 3;
  if (mode === MODE.requests) return requests(data.subarray(1).toString('utf8'));
  if (mode === MODE.replies) return replies(data.subarray(1).toString('utf8'));
  const fdp = new FuzzedDataProvider(data.subarray(1));
  if (mode === MODE.structuredRequests) return requests(generated(fdp, requestFrame));
  return replies(generated(fdp, replyFrame));
}

// ---------------------------------------------------------------------------------------------
// Seeds: real frames, as the remote client and the daemon write them

const CHANNEL = `0x${'3f'.repeat(32)}`;
const ADDRESS = `0x${'ab'.repeat(20)}`;
const TOKEN = `0x${'e7'.repeat(20)}`;
const PEER = '/ip4/127.0.0.1/tcp/4002/p2p/16Uiu2HAmExamplePeer';

const text = (mode: number, s: string) => Uint8Array.of(mode, ...Buffer.from(s, 'utf8'));

/** The seeds of the `stream` target, by name (without the `seed-` prefix). */
export function streamSeeds(): Map<string, Uint8Array> {
  const calls: [string, StreamMethod, unknown[]][] = [
    ['info', 'info', []],
    ['connect', 'connect', [PEER]],
    ['open', 'openChannel', [{ peer: PEER, deposit: [10n ** 18n], counterpartyDeposit: [0n], challengeDuration: 3600, waitFor: 'signed' }]],
    ['open-token', 'openChannel', [{ peer: PEER, deposit: [5n, 7n], assets: [TOKEN, ADDRESS] }]],
    ['deposit', 'deposit', [CHANNEL, { amount: 10n ** 17n, asset: TOKEN }]],
    ['pay', 'pay', [CHANNEL, { amount: 1000n }]],
    ['swap', 'swap', [CHANNEL, { give: { asset: ADDRESS, amount: 1n }, take: { asset: TOKEN, amount: 2n }, expiresIn: 60 }]],
    ['close', 'close', [CHANNEL]],
    ['close-force', 'close', [CHANNEL, { mode: 'force', waitFor: 'submitted', direct: true }]],
    ['channels', 'channels', []],
    ['channel', 'channel', [CHANNEL]],
    ['signed-state', 'signedState', [CHANNEL]],
    ['withdrawable', 'withdrawable', []],
    ['withdraw', 'withdraw', [{ asset: TOKEN, to: ADDRESS }]],
    ['create-invoice', 'createInvoice', [{ amount: 10n ** 16n, memo: 'coffee', expiresIn: 3600 }]],
    ['decode-invoice', 'decodeInvoice', ['lanes313371qqqsyqcyq5rqwzqfpg9scrgwpugpzysn']],
    ['invoices', 'invoices', []],
    ['pay-invoice', 'payInvoice', ['lanes313371qqqsyqcyq5rqwzqfpg9scrgwpugpzysn', { amount: 5n }]],
    ['send-payment', 'sendPayment', [{ to: ADDRESS, amount: 10n ** 16n }]],
    ['payments', 'payments', [{ direction: 'in', status: 'settled' }]],
    ['subscribe', 'subscribe', [['payment-received', 'channel-updated']]],
    ['unsubscribe', 'unsubscribe', [[...LANES_EVENT_NAMES]]],
  ];
  const seeds = new Map<string, Uint8Array>();
  for (const [name, method, params] of calls)
    seeds.set(`request-${name}`, text(MODE.requests, message([encodeRequest(1, method, params)])));
  seeds.set(
    'request-coalesced',
    text(MODE.requests, message(Array.from({ length: 16 }, (_, i) => encodeRequest(i + 100, 'pay', [CHANNEL, { amount: BigInt(i + 1) }])))),
  );
  const bad: [string, string][] = [
    ['not-json', '[{"id":1,"method":"pay"'],
    ['not-array', '{"id":1,"method":"info"}'],
    ['frame-not-object', '[1,"x",null,[]]'],
    ['no-id', '[{"method":"info"}]'],
    ['unsafe-id', '[{"id":9007199254740992,"method":"info"}]'],
    ['unknown-method', '[{"id":1,"method":"__proto__"}]'],
    ['params-object', '[{"id":1,"method":"pay","params":{"0":"x"}}]'],
    ['too-many-params', `[{"id":1,"method":"channel","params":["${CHANNEL}",1]}]`],
    ['bad-amount', `[{"id":1,"method":"pay","params":["${CHANNEL}",{"amount":"-1"}]}]`],
    ['proto-key', `[{"id":1,"method":"pay","params":["${CHANNEL}",{"__proto__":{"amount":"1"}}]}]`],
    ['unknown-event', '[{"id":1,"method":"subscribe","params":[["nope"]]}]'],
    ['too-many-frames', `[${'0,'.repeat(MAX_FRAMES)}0]`],
  ];
  for (const [name, s] of bad) seeds.set(`request-bad-${name}`, text(MODE.requests, s));

  const payment = { id: 7n, channelId: CHANNEL, version: 8n, amount: 1000n, asset: ADDRESS };
  const replyFrames: [string, string][] = [
    [
      'result-info',
      encodeResult(0, { address: ADDRESS, peerId: '16Uiu2HAmExamplePeer', multiaddrs: [PEER], chainId: 31337n, adjudicator: ADDRESS }),
    ],
    ['result-payment', encodeResult(1, payment)],
    ['result-null', encodeResult(2, undefined)],
    ['error-invalid-argument', encodeError(3, errorToJson(new InvalidArgumentError('amount must be positive')))],
    ['error-frame', encodeError(null, errorToJson(new InvalidArgumentError('frame 0 must be a JSON object')))],
    [
      'error-rejected',
      encodeError(4, {
        code: 'INSUFFICIENT_BALANCE',
        message: 'insufficient-balance: holds 12',
        reason: 'insufficient-balance',
        detail: 'holds 12',
        maybeApplied: true,
      }),
    ],
    ['error-unknown-channel', encodeError(5, { code: 'UNKNOWN_CHANNEL', message: `no channel ${CHANNEL}`, channelId: CHANNEL })],
    ['error-timeout', encodeError(6, { code: 'TIMEOUT', message: 'pay timed out', operation: 'pay', maybeApplied: false })],
    [
      'error-payment-failed',
      encodeError(7, { code: 'PAYMENT_FAILED', message: 'payment failed', reason: 'no-route', detail: 'x', hop: 0, paymentHash: CHANNEL }),
    ],
    ['error-internal', encodeError(8, { code: 'INTERNAL', message: 'internal error' })],
    [
      'event-payment-received',
      `{"event":"payment-received","data":${JSON.stringify({ channelId: CHANNEL, amount: '1000', asset: ADDRESS, version: '8' })}}`,
    ],
    ['event-unknown', '{"event":"from-a-newer-daemon","data":{}}'],
  ];
  for (const [name, frame] of replyFrames) seeds.set(`reply-${name}`, text(MODE.replies, message([frame])));
  seeds.set('reply-coalesced', text(MODE.replies, message(replyFrames.map(([, f]) => f))));
  const badReplies: [string, string][] = [
    ['not-json', '[{"id":1,"result":'],
    ['neither', '[{"id":1},{"result":1},7]'],
    ['error-bad-id', '[{"id":"1","error":{"code":"TIMEOUT"}}]'],
    ['error-not-object', '[{"id":1,"error":"boom"}]'],
    ['error-wrong-field-type', '[{"id":1,"error":{"code":"TIMEOUT","operation":5,"maybeApplied":"yes"}}]'],
    ['event-no-data', '[{"event":"payment-received"}]'],
    ['proto-code', '[{"id":1,"error":{"code":"__proto__","reason":"toString"}}]'],
  ];
  for (const [name, s] of badReplies) seeds.set(`reply-bad-${name}`, text(MODE.replies, s));

  // Structured forms: the generator reads these bytes.
  for (let i = 0; i < 4; i++) {
    const bytes = Array.from({ length: 96 + 32 * i }, (_, j) => (j * 73 + i * 29 + 17) & 0xff);
    seeds.set(`structured-requests-${i}`, Uint8Array.of(MODE.structuredRequests, ...bytes));
    seeds.set(`structured-replies-${i}`, Uint8Array.of(MODE.structuredReplies, ...bytes));
  }
  return seeds;
}
