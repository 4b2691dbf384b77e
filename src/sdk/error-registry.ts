/**
 * Every error code the control API serves: the class it is, its HTTP status and the structured
 * fields it carries. The server (src/api/errors.ts) serialises errors with this table and the
 * remote client (connect.ts) rebuilds them with it, so the two cannot drift: the client calls the
 * class's own constructor with the fields, and never reads the message.
 *
 * JSON form, under `error`: `{ code, message, details?, ...fields }`, `message` being the short
 * message. A refusal (RejectedError) has one code per reason, some of which equal codes below
 * (UNKNOWN_CHANNEL, MALFORMED, INTERNAL), so it is recognised by its `reason` field instead.
 * Codes not listed (a store or chain failure) are served as 500 with their code and message and
 * rebuilt as a plain LanesError with that code.
 */
import { DecodeError, InvalidArgumentError, LanesError, type LanesErrorOptions } from '../core/errors.ts';
import { type RejectReason, isRejectReason } from '../core/result.ts';
import {
  ChannelNotFoundError,
  ChannelNotOpenError,
  FatalNodeError,
  InvalidInvoiceError,
  PaymentFailedError,
  NodeStoppedError,
  NothingToWithdrawError,
  OperationTimeoutError,
  PeerUnreachableError,
  RejectedError,
  WithdrawFailedError,
} from './errors.ts';

/** The JSON type of a structured field: `reason` is one of the protocol's REJECT_REASONS. */
type FieldType = 'string' | 'boolean' | 'number' | 'reason';
type ValueOf<T> = T extends 'boolean' ? boolean : T extends 'number' ? number : T extends 'reason' ? RejectReason : string;

export interface ErrorJson {
  readonly code: string;
  readonly message: string;
  readonly details?: string;
  readonly [field: string]: unknown;
}

export interface ErrorEntry {
  /** The class (a plain LanesError for codes without one of their own). */
  readonly type: abstract new (...args: never[]) => LanesError;
  readonly status: number;
  /** The fields it carries in the JSON, beside code, message and details. */
  readonly fields: Readonly<Record<string, FieldType>>;
  /** A daemon fault rather than an answer to the request: the daemon logs it in full. */
  readonly fault: boolean;
  rebuild(fields: Readonly<Record<string, unknown>>, message: string, options: LanesErrorOptions): LanesError;
}

/** An entry, typed so that its fields are properties of its class and `rebuild` gets them typed. */
function entry<E extends LanesError, const F extends { readonly [K in keyof F]: K extends keyof E ? FieldType : never }>(e: {
  readonly type: abstract new (...args: never[]) => E;
  readonly status: number;
  readonly fields: F;
  readonly fault?: boolean;
  rebuild(fields: { readonly [K in keyof F]: ValueOf<F[K]> }, message: string, options: LanesErrorOptions): E;
}): ErrorEntry {
  return { ...e, fault: e.fault ?? false } as unknown as ErrorEntry;
}

/** A code served with a plain LanesError. */
function plain(code: string, status: number, fault = false): ErrorEntry {
  return entry({ type: LanesError, status, fields: {}, fault, rebuild: (_, m, o) => new LanesError(m, { ...o, code }) });
}

/** Every code but the refusals', with its class, HTTP status and fields. */
export const ERROR_CODES = {
  INVALID_ARGUMENT: entry({ type: InvalidArgumentError, status: 400, fields: {}, rebuild: (_, m, o) => new InvalidArgumentError(m, o) }),
  UNAUTHORIZED: plain('UNAUTHORIZED', 401),
  UNKNOWN_CHANNEL: entry({
    type: ChannelNotFoundError,
    status: 404,
    fields: { channelId: 'string' },
    rebuild: (f) => new ChannelNotFoundError(f.channelId),
  }),
  NOT_FOUND: plain('NOT_FOUND', 404),
  CHANNEL_NOT_OPEN: entry({
    type: ChannelNotOpenError,
    status: 409,
    fields: { channelId: 'string', status: 'string' },
    rebuild: (f) => new ChannelNotOpenError(f.channelId, f.status),
  }),
  NOTHING_TO_WITHDRAW: entry({
    type: NothingToWithdrawError,
    status: 409,
    fields: { asset: 'string' },
    rebuild: (f) => new NothingToWithdrawError(f.asset),
  }),
  NOT_SUPPORTED: plain('NOT_SUPPORTED', 409),
  PEER_UNREACHABLE: entry({
    type: PeerUnreachableError,
    status: 502,
    fields: { peer: 'string' },
    rebuild: (f, _, o) => new PeerUnreachableError(f.peer, o),
  }),
  WITHDRAW_FAILED: entry({
    type: WithdrawFailedError,
    status: 502,
    fields: { asset: 'string', to: 'string' },
    rebuild: (f, _, o) => new WithdrawFailedError(f.asset, f.to, o),
  }),
  INVALID_INVOICE: entry({
    type: InvalidInvoiceError,
    status: 400,
    fields: { problem: 'string', detail: 'string' },
    rebuild: (f) => new InvalidInvoiceError(f.problem, f.detail),
  }),
  PAYMENT_FAILED: entry({
    type: PaymentFailedError,
    status: 422,
    fields: { reason: 'string', detail: 'string', hop: 'number', paymentHash: 'string' },
    rebuild: (f) => new PaymentFailedError(f.reason, f.detail, f.hop, f.paymentHash),
  }),
  NODE_STOPPED: entry({ type: NodeStoppedError, status: 503, fields: {}, rebuild: () => new NodeStoppedError() }),
  TIMEOUT: entry({
    type: OperationTimeoutError,
    status: 504,
    fields: { operation: 'string', maybeApplied: 'boolean' },
    rebuild: (f) => new OperationTimeoutError(f.operation, f.maybeApplied),
  }),
  MALFORMED: entry({ type: DecodeError, status: 500, fields: {}, fault: true, rebuild: (_, m, o) => new DecodeError(m, o) }),
  FATAL: entry({ type: FatalNodeError, status: 500, fields: {}, fault: true, rebuild: (_, m) => new FatalNodeError(m) }),
  /** Any error that is not a LanesError: its message could carry anything, so it is not served. */
  INTERNAL: plain('INTERNAL', 500, true),
} as const satisfies Readonly<Record<string, ErrorEntry>>;

/** The table looked up by a code from outside (own keys only: not `constructor`, `__proto__`...). */
function byCode(code: string): ErrorEntry | undefined {
  return Object.hasOwn(ERROR_CODES, code) ? (ERROR_CODES as Readonly<Record<string, ErrorEntry>>)[code] : undefined;
}

/** RejectedError: code = its reason in upper snake case (rejectionCode), told apart by its `reason` field. */
export const REJECTED: ErrorEntry = entry({
  type: RejectedError,
  status: 422,
  fields: { reason: 'reason', detail: 'string', maybeApplied: 'boolean' },
  rebuild: (f) => new RejectedError(f.reason, f.detail, { maybeApplied: f.maybeApplied }),
});

/** The entry of an error, or undefined for a code the table does not list. */
export function entryOf(e: LanesError): ErrorEntry | undefined {
  if (e instanceof RejectedError) return REJECTED;
  return byCode(e.code);
}

/** The control API's JSON form of an error: its code, short message, details and fields. */
export function errorToJson(e: LanesError): ErrorJson {
  const fields = entryOf(e)?.fields ?? {};
  const values = Object.fromEntries(
    Object.keys(fields)
      .map((k) => [k, (e as unknown as Record<string, unknown>)[k]] as const)
      .filter(([, v]) => v !== undefined),
  );
  return { code: e.code, message: e.shortMessage, ...(e.details === undefined ? {} : { details: e.details }), ...values };
}

/**
 * The error a daemon answered with (`json` = the body's `error`), rebuilt as its class with its
 * fields. Anything unexpected (an unknown code, a field of the wrong type) gives a plain
 * LanesError with the code and message, never a throw: the body comes from the network.
 */
export function errorFromJson(json: unknown, status: number): LanesError {
  const e: Readonly<Record<string, unknown>> = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
  const code = typeof e.code === 'string' ? e.code : 'HTTP_ERROR';
  const message = typeof e.message === 'string' ? e.message : `HTTP ${status}`;
  const options = typeof e.details === 'string' ? { details: e.details } : {};
  // A payment failure has a `reason` too, from its own closed set (PAYMENT_FAILURES), not a refusal's.
  // A body with a `reason` that is not a refusal's fields (an unknown reason, a detail that is not
  // a string) is read by its code, as the same error served again without them would be: the
  // class of an error the client rebuilds does not depend on a stray field.
  const candidates = [Object.hasOwn(e, 'reason') && code !== 'PAYMENT_FAILED' ? REJECTED : undefined, byCode(code)];
  for (const known of candidates)
    if (known && Object.entries(known.fields).every(([k, type]) => fits(e[k], type))) return known.rebuild(e, message, options);
  return new LanesError(message, { ...options, code });
}

function fits(value: unknown, type: FieldType): boolean {
  if (type === 'reason') return isRejectReason(value);
  return typeof value === type;
}
