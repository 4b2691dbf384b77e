/**
 * The error registry (src/sdk/error-registry.ts): every error class the SDK exports is in it, and
 * the client's side of it takes whatever a daemon (or something pretending to be one) answers
 * without throwing. The round trip through the control API is test/api/errors.test.ts.
 */
import test from 'ava';
import fc from 'fast-check';
import * as lanes from '../../src/index.ts';
import { ERROR_CODES, REJECTED, errorFromJson } from '../../src/sdk/error-registry.ts';

test('every error class the SDK exports has an entry (so the remote client rebuilds it)', (t) => {
  const registered = new Set([REJECTED, ...Object.values(ERROR_CODES)].map((e) => e.type));
  const classes = Object.entries(lanes).filter(
    ([, v]) => typeof v === 'function' && (v === lanes.LanesError || v.prototype instanceof lanes.LanesError),
  );
  t.true(classes.length >= 12);
  // Raised by the remote client itself about its link to the daemon, never served by one.
  const clientOnly = new Set(['ConnectionLostError', 'DaemonUnreachableError', 'NotLanesApiError']);
  t.deepEqual(
    classes.filter(([name, c]) => !registered.has(c as never) && !clientOnly.has(name)).map(([name]) => name),
    [],
  );
});

test('a body that does not fit gives a plain LanesError with its code and message', (t) => {
  const plain = (json: unknown) => {
    const e = errorFromJson(json, 418);
    t.is(e.constructor, lanes.LanesError, JSON.stringify(json));
    return e;
  };
  t.like(plain(undefined), { code: 'HTTP_ERROR', shortMessage: 'HTTP 418' });
  t.like(plain('nope'), { code: 'HTTP_ERROR' });
  t.like(plain({ code: '__proto__', message: 'x' }), { code: '__proto__', shortMessage: 'x' });
  t.like(plain({ code: 'constructor', message: 'x' }), { code: 'constructor' });
  t.like(plain({ code: 'UNKNOWN_CHANNEL', message: 'unknown channel 0x12' }), { code: 'UNKNOWN_CHANNEL' }); // no channelId
  t.like(plain({ code: 'TIMEOUT', message: 'm', operation: 'pay', maybeApplied: 'yes' }), { code: 'TIMEOUT' });
  t.like(plain({ code: 'POLICY', message: 'm', reason: 'not-a-reason', detail: '', maybeApplied: false }), { code: 'POLICY' });
});

test('a refusal is recognised by its reason, whatever its code', (t) => {
  const e = errorFromJson({ code: 'INTERNAL', message: 'internal: x', reason: 'internal', detail: 'x', maybeApplied: true }, 422);
  t.true(e instanceof lanes.RejectedError);
  t.like(e as lanes.RejectedError, { reason: 'internal', detail: 'x', maybeApplied: true, code: 'INTERNAL' });
});

test('errorFromJson never throws and always gives a LanesError', (t) => {
  const fields = fc.constantFrom(
    'code',
    'message',
    'details',
    'reason',
    'detail',
    'maybeApplied',
    'channelId',
    'status',
    'asset',
    'to',
    'peer',
    'operation',
    '__proto__',
  );
  const codes = fc.constantFrom(...Object.keys(ERROR_CODES), 'POLICY', 'INSUFFICIENT_BALANCE', 'toString');
  const values = fc.oneof(fc.string(), fc.boolean(), fc.integer(), fc.constant(null), codes, fc.constantFrom('policy', 'internal'));
  fc.assert(
    fc.property(fc.oneof(fc.anything(), fc.dictionary(fields, values)), (json) => errorFromJson(json, 500) instanceof lanes.LanesError),
    { numRuns: 2000 },
  );
  t.pass();
});
