/**
 * The control API's stream (`GET /v1/ws`, a WebSocket; docs/adr/0015): every SDK call and every
 * event on one connection, calls multiplexed by id. Pure: the daemon (src/api/stream-server.ts)
 * and the remote client (stream-client.ts) both encode and decode with this file, and the
 * decoder fuzz target `stream` (test/fuzz/decoders/stream.ts) attacks both decoders.
 *
 * A message is one WebSocket text message: a JSON array of frames, as many as one side had
 * ready in one event-loop turn (coalesced, so that one socket write carries hundreds of calls).
 *
 *   client → daemon  {"id": 7, "method": "pay", "params": ["0x3f2a…", {"amount": "1000"}]}
 *                    {"id": 8, "method": "subscribe", "params": [["payment-received"]]}
 *   daemon → client  {"id": 7, "result": {…}}                the call's result, in its JSON form (json.ts)
 *                    {"id": 7, "error": {"code": …, …}}      the control API's error JSON (error-registry.ts)
 *                    {"id": null, "error": {…}}              a frame or message that names no usable id
 *                    {"event": "payment-received", "data": {…}}
 *
 * `params` are the LanesApi method's arguments in order, in the JSON forms of the HTTP routes'
 * bodies, checked by the same parsers (json.ts). Ids are whole numbers the client picks; the
 * daemon answers each exactly once, in whatever order calls complete. Decoding never throws: a
 * frame that does not decode is an InvalidArgumentError for that id (or for `null`), and the rest
 * of the message is still served.
 */
import { InvalidArgumentError, type LanesError } from '../core/errors.ts';
import type { LanesApi, LanesEventName, LanesEvents } from './api.ts';
import { type ErrorJson, errorFromJson } from './error-registry.ts';
import { jsonify, parseChannelId, parseClose, parseMultiaddr, parseOpen, parsePay, parseSwap, parseWithdraw } from './json.ts';
import {
  parseCreateInvoice,
  parseInvoiceText,
  parseInvoicesFilter,
  parsePayInvoice,
  parsePaymentsFilter,
  parseSendPayment,
} from './payments-json.ts';

/** The path of the stream on the control API. */
export const STREAM_PATH = '/v1/ws';
/** Most bytes in one message either side sends (the daemon's `maxPayload`; the client splits below it). */
export const MAX_MESSAGE_BYTES = 1 << 20;
/** Most frames in one message: the daemon refuses a larger message whole, with one error. */
export const MAX_FRAMES = 4096;

/**
 * The events the stream serves: those the control API has a JSON form for (json.ts, readEvent).
 * A new event needs its reader there and its name here.
 */
const EVENTS: Readonly<Partial<Record<LanesEventName, true>>> = {
  'channel-opened': true,
  'channel-updated': true,
  'payment-received': true,
  'swap-executed': true,
  'channel-closing': true,
  'channel-closed': true,
  'stale-state-answered': true,
  'balance-credited': true,
  'channel-loss': true,
  'watchtower-unreachable': true,
  'watchtower-reachable': true,
  'peer-connected': true,
  'peer-disconnected': true,
  'payment-settled': true,
  'payment-failed': true,
  'payment-forwarded': true,
};
export const LANES_EVENT_NAMES = Object.keys(EVENTS) as readonly LanesEventName[];

export function isEventName(x: unknown): x is LanesEventName {
  return typeof x === 'string' && Object.hasOwn(EVENTS, x);
}

/**
 * The LanesApi methods a client can call over the stream: those the control API has JSON forms
 * for (json.ts: a parser of the arguments, a reader of the result). A new method needs both, a
 * line in METHODS below and one in the client's READ table (stream-client.ts).
 */
export type ApiMethod = Extract<
  keyof LanesApi,
  | 'info'
  | 'connect'
  | 'openChannel'
  | 'deposit'
  | 'pay'
  | 'swap'
  | 'close'
  | 'channels'
  | 'channel'
  | 'signedState'
  | 'withdrawable'
  | 'withdraw'
  // Invoices and payments (docs/adr/0018; JSON forms in payments-json.ts).
  | 'createInvoice'
  | 'decodeInvoice'
  | 'invoices'
  | 'payInvoice'
  | 'sendPayment'
  | 'payments'
>;
/** The stream's own methods: which events this connection receives. */
export type StreamMethod = ApiMethod | 'subscribe' | 'unsubscribe';

/** What each method's params decode to: the LanesApi method's arguments. */
export type MethodParams = { readonly [M in ApiMethod]: Parameters<LanesApi[M]> } & {
  readonly subscribe: [events: LanesEventName[]];
  readonly unsubscribe: [events: LanesEventName[]];
};

/**
 * Methods whose effects a lost connection leaves unknown: a call that was sent may have been
 * carried out (ConnectionLostError.maybeApplied). The others only read.
 */
export const MUTATING: ReadonlySet<StreamMethod> = new Set<StreamMethod>([
  'connect',
  'openChannel',
  'deposit',
  'pay',
  'swap',
  'close',
  'withdraw',
  'createInvoice',
  'payInvoice',
  'sendPayment',
]);

function eventNames(x: unknown): LanesEventName[] {
  if (!Array.isArray(x) || x.length > LANES_EVENT_NAMES.length * 2)
    throw new InvalidArgumentError(`must be an array of event names (${LANES_EVENT_NAMES.join(', ')})`);
  return x.map((name, i) => {
    if (!isEventName(name)) throw new InvalidArgumentError(`[${i}] is not an event name (${LANES_EVENT_NAMES.join(', ')})`);
    return name;
  });
}

/** Each method: how many params it takes, and the parser of each (the HTTP routes' parsers). */
const METHODS: { readonly [M in StreamMethod]: readonly ((x: unknown) => unknown)[] } = {
  info: [],
  connect: [(x) => parseMultiaddr(x, 'multiaddr')],
  openChannel: [parseOpen],
  deposit: [parseChannelId, parsePay],
  pay: [parseChannelId, parsePay],
  swap: [parseChannelId, parseSwap],
  close: [parseChannelId, parseClose],
  channels: [],
  channel: [parseChannelId],
  signedState: [parseChannelId],
  withdrawable: [],
  withdraw: [parseWithdraw],
  createInvoice: [parseCreateInvoice],
  decodeInvoice: [parseInvoiceText],
  invoices: [parseInvoicesFilter],
  payInvoice: [parseInvoiceText, parsePayInvoice],
  sendPayment: [parseSendPayment],
  payments: [parsePaymentsFilter],
  subscribe: [eventNames],
  unsubscribe: [eventNames],
};

/** Params that may be left out at the end (parsed from `undefined`: the parser's default). */
const OPTIONAL_TAIL: Readonly<Partial<Record<StreamMethod, number>>> = {
  close: 1,
  withdraw: 1,
  createInvoice: 1,
  payInvoice: 1,
  payments: 1,
  invoices: 1,
};

export function isStreamMethod(x: unknown): x is StreamMethod {
  return typeof x === 'string' && Object.hasOwn(METHODS, x);
}

/** A call as the daemon decoded it: the method and its arguments, checked and typed. */
export type StreamRequest = {
  readonly [M in StreamMethod]: { readonly id: number; readonly method: M; readonly params: MethodParams[M] };
}[StreamMethod];

/** A frame that did not decode: the error to answer, to its id when it has a usable one. */
export interface FrameError {
  readonly id: number | null;
  readonly error: InvalidArgumentError;
}

export type DecodedRequest = StreamRequest | FrameError;

/** A frame from the daemon, decoded: a result (still in its JSON form), an error, or an event. */
export type Reply =
  | { readonly kind: 'result'; readonly id: number; readonly result: unknown }
  | { readonly kind: 'error'; readonly id: number | null; readonly error: LanesError }
  | { readonly kind: 'event'; readonly event: LanesEventName; readonly data: unknown };

/** What the client decoded from one message; `invalid` says what was wrong with frames it dropped. */
export interface DecodedReplies {
  readonly replies: Reply[];
  readonly invalid: string[];
}

type Json = Record<string, unknown>;

function isId(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isObject(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Calls in flight by id, for both ends of the stream: a plain object's elements, not a Map. A Map
 * that churns (thousands of ids in and out a second, a few hundred at a time) rehashes every few
 * hundred ids, and V8 keeps each table it leaves behind linked to its successor with the entries
 * it held. Once one such table reaches the old generation, every scavenge keeps alive all the
 * tables since and every call they held (its promise, its frame, its result) and promotes them:
 * megabytes per scavenge, and scavenges of 10-30 ms (docs/performance.md). Values in id order.
 */
export class IdMap<V> {
  #byId: Record<number, V> = Object.create(null) as Record<number, V>;
  #size = 0;
  get size(): number {
    return this.#size;
  }
  get(id: number): V | undefined {
    return this.#byId[id];
  }
  has(id: number): boolean {
    return this.#byId[id] !== undefined;
  }
  /** `value` must not be undefined. */
  set(id: number, value: V): void {
    if (this.#byId[id] === undefined) this.#size++;
    this.#byId[id] = value;
  }
  delete(id: number): boolean {
    if (this.#byId[id] === undefined) return false;
    delete this.#byId[id];
    this.#size--;
    return true;
  }
  /** A copy: the caller may delete while it goes through them. */
  values(): V[] {
    return Object.values(this.#byId);
  }
}

/** The frames of a message, or why it is not a JSON array of at most MAX_FRAMES elements. */
function frames(text: string): unknown[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'a message must be a JSON array of frames; this one is not JSON';
  }
  if (!Array.isArray(parsed)) return 'a message must be a JSON array of frames';
  if (parsed.length > MAX_FRAMES) return `a message may hold at most ${MAX_FRAMES} frames, this one holds ${parsed.length}`;
  return parsed;
}

function describe(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x);
  if (x === undefined) return 'nothing';
  return isObject(x) ? 'an object' : Array.isArray(x) ? 'an array' : String(x);
}

function decodeRequest(frame: unknown, index: number): DecodedRequest {
  if (!isObject(frame)) return { id: null, error: new InvalidArgumentError(`frame ${index} must be a JSON object`) };
  const id = isId(frame.id) ? frame.id : null;
  const refuse = (message: string): FrameError => ({ id, error: new InvalidArgumentError(message) });
  if (id === null) return refuse(`frame ${index}: id must be a whole number from 0 to 2^53 - 1, got ${describe(frame.id)}`);
  const method = frame.method;
  if (!isStreamMethod(method)) return refuse(`call ${id}: no method ${describe(method)}`);
  const params = frame.params ?? [];
  if (!Array.isArray(params)) return refuse(`call ${id} (${method}): params must be an array of the method's arguments`);
  const parsers = METHODS[method];
  const least = parsers.length - (OPTIONAL_TAIL[method] ?? 0);
  if (params.length < least || params.length > parsers.length) {
    const count = least === parsers.length ? `${least}` : `${least} to ${parsers.length}`;
    return refuse(`call ${id} (${method}): takes ${count} params, got ${params.length}`);
  }
  const values: unknown[] = [];
  for (let i = 0; i < parsers.length; i++) {
    if (i >= params.length) break;
    try {
      values.push(parsers[i]!(params[i]));
    } catch (e) {
      if (!(e instanceof InvalidArgumentError)) throw e;
      return refuse(`call ${id} (${method}) params[${i}]: ${e.shortMessage}`);
    }
  }
  return { id, method, params: values } as unknown as StreamRequest;
}

/** The daemon's side: the calls in a message from a client. Never throws. */
export function decodeRequests(text: string): DecodedRequest[] {
  const all = frames(text);
  if (typeof all === 'string') return [{ id: null, error: new InvalidArgumentError(all) }];
  return all.map(decodeRequest);
}

/** The client's side: one call as a frame (its params in their JSON forms; trailing `undefined`s left out). */
export function encodeRequest(id: number, method: StreamMethod, params: readonly unknown[]): string {
  let n = params.length;
  while (n > 0 && params[n - 1] === undefined) n--;
  return JSON.stringify({ id, method, params: jsonify(params.slice(0, n)) });
}

/** The daemon's side: a call's result. */
export function encodeResult(id: number, value: unknown): string {
  return `{"id":${id},"result":${JSON.stringify(jsonify(value ?? null))}}`;
}

/** The daemon's side: a call's error (or a frame's, with `id` null), in the control API's error JSON. */
export function encodeError(id: number | null, error: ErrorJson): string {
  return `{"id":${id === null ? 'null' : id},"error":${JSON.stringify(error)}}`;
}

export function encodeEvent<E extends LanesEventName>(event: E, payload: LanesEvents[E]): string {
  return `{"event":${JSON.stringify(event)},"data":${JSON.stringify(jsonify(payload))}}`;
}

/** Frames joined into one message. */
export function message(frames: readonly string[]): string {
  return `[${frames.join(',')}]`;
}

/**
 * The client's side: the replies and events in a message from the daemon. Never throws: a frame
 * that is none of the three forms is left out and said in `invalid`; an event of a name this
 * client does not know (a newer daemon's) is left out silently.
 */
export function decodeReplies(text: string): DecodedReplies {
  const replies: Reply[] = [];
  const invalid: string[] = [];
  const all = frames(text);
  if (typeof all === 'string') return { replies, invalid: [all] };
  for (const [i, frame] of all.entries()) {
    if (!isObject(frame)) invalid.push(`frame ${i} is not an object`);
    else if (Object.hasOwn(frame, 'event')) {
      if (typeof frame.event !== 'string' || !isObject(frame.data)) invalid.push(`frame ${i}: an event needs a name and a data object`);
      else if (isEventName(frame.event)) replies.push({ kind: 'event', event: frame.event, data: frame.data });
    } else if (Object.hasOwn(frame, 'error')) {
      if (frame.id !== null && !isId(frame.id)) invalid.push(`frame ${i}: an error's id must be a call's id or null`);
      else replies.push({ kind: 'error', id: frame.id, error: errorFromJson(frame.error, 500) });
    } else if (isId(frame.id) && Object.hasOwn(frame, 'result')) replies.push({ kind: 'result', id: frame.id, result: frame.result });
    else invalid.push(`frame ${i} is neither a result, an error nor an event`);
  }
  return { replies, invalid };
}
