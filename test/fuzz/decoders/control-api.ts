/**
 * Fuzz target: the control API's request parsers (src/sdk/json.ts, used by src/api/control-server.ts).
 * Whatever JSON a client sends, a parser either returns a value that survives the client's
 * encoding (`JSON.stringify(jsonify(value))`, as connect() sends it) and parses back to an equal
 * value, or throws InvalidArgumentError with a short message (the API's 400 answer): never a
 * TypeError, RangeError or anything else.
 *
 * Input, read with jazzer's FuzzedDataProvider: the last byte picks the parser, the one before
 * it the form of the body. Text form: the rest is UTF-8 that is JSON-parsed; text that is not
 * JSON is passed on as a string (what a text/plain body becomes). Structured form: the rest
 * drives a generator of JSON values built from the fields the parsers read and values near
 * their limits, so the fuzzer spends its time in the parsers rather than in JSON syntax.
 */
import { FuzzedDataProvider } from '@jazzer.js/core/dist/FuzzedDataProvider.js';
import { InvalidArgumentError } from '../../../src/core/errors.ts';
import {
  jsonify,
  parseAddress,
  parseAmount,
  parseChannelId,
  parseClose,
  parseMultiaddr,
  parseOpen,
  parsePay,
  parseSwap,
  parseWithdraw,
} from '../../../src/sdk/json.ts';
import { same, typed, violation } from './check.ts';

interface Parser {
  readonly name: string;
  /** The parser as the control server calls it (`flag` is parseAmount's `positive`). */
  readonly parse: (body: unknown, flag: boolean) => unknown;
  /** The body a client sends for a parsed value (default: the value itself, jsonified). */
  readonly send?: (value: unknown) => unknown;
}

export const PARSERS: readonly Parser[] = [
  { name: 'parseOpen', parse: (b) => parseOpen(b) },
  { name: 'parsePay', parse: (b) => parsePay(b) },
  { name: 'parseSwap', parse: (b) => parseSwap(b) },
  { name: 'parseClose', parse: (b) => parseClose(b) },
  { name: 'parseWithdraw', parse: (b) => parseWithdraw(b) },
  { name: 'parseAmount', parse: (b, positive) => parseAmount(b, 'amount', { positive }) },
  { name: 'parseAddress', parse: (b) => parseAddress(b, 'asset') },
  { name: 'parseChannelId', parse: (b) => parseChannelId(b) },
  {
    // POST /v1/peers: parseMultiaddr(body?.multiaddr)
    name: 'parseMultiaddr',
    parse: (b) => parseMultiaddr((b as { multiaddr?: unknown } | null | undefined)?.multiaddr, 'multiaddr'),
    send: (multiaddr) => ({ multiaddr }),
  },
];

/** The body forms a seed can choose (the byte before the last). */
export const FORM = { text: 0, structured: 1 } as const;

const KEYS = [
  'peer',
  'deposit',
  'assets',
  'counterpartyDeposit',
  'challengeDuration',
  'waitFor',
  'amount',
  'asset',
  'give',
  'take',
  'expiresIn',
  'mode',
  'direct',
  'to',
  'multiaddr',
  '__proto__',
  'constructor',
  'toString',
  'length',
];

const WORDS = [
  '',
  '0',
  '1',
  'open',
  'signed',
  'cooperative',
  'force',
  'closed',
  'submitted',
  '/ip4/127.0.0.1/tcp/4001/p2p/16Uiu2HAmExample',
  '/',
  '16Uiu2HAmExample',
  '0x',
  '1e18',
  '-1',
  ' 1',
  '１',
  (2n ** 256n - 1n).toString(),
  (2n ** 256n).toString(),
  '9'.repeat(78),
  '0'.repeat(79),
  `0x${'0'.repeat(40)}`,
  `0X${'aB'.repeat(20)}`,
  `0x${'f'.repeat(64)}`,
];

function hex(fdp: FuzzedDataProvider, bytes: number): string {
  const digits = Buffer.from(fdp.consumeBytes(bytes))
    .toString('hex')
    .padEnd(bytes * 2, '0');
  const mixed = fdp.consumeBoolean() ? digits.toUpperCase() : digits;
  return (fdp.consumeBoolean() ? '0X' : '0x') + mixed;
}

/** A JSON value drawn from the input, biased towards what the parsers look for. */
export function value(fdp: FuzzedDataProvider, depth: number): unknown {
  switch (fdp.consumeIntegralInRange(0, depth > 3 ? 7 : 9)) {
    case 0:
      return null;
    case 1:
      return fdp.consumeBoolean();
    case 2:
      return fdp.consumeIntegral(6, true);
    case 3:
      return fdp.consumeNumber();
    case 4:
      return fdp.consumeBigIntegral(33, fdp.consumeBoolean()).toString();
    case 5:
      return hex(fdp, [20, 32, 19, 21, 33][fdp.consumeIntegralInRange(0, 4)]!);
    case 6:
      return WORDS[fdp.consumeIntegralInRange(0, WORDS.length - 1)];
    case 7:
      return fdp.consumeString(fdp.consumeIntegralInRange(0, 90));
    case 8:
      return Array.from({ length: fdp.consumeIntegralInRange(0, 10) }, () => value(fdp, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let n = fdp.consumeIntegralInRange(0, 6); n > 0; n--) {
        const key = fdp.consumeBoolean() ? KEYS[fdp.consumeIntegralInRange(0, KEYS.length - 1)]! : fdp.consumeString(8);
        Object.defineProperty(o, key, { value: value(fdp, depth + 1), enumerable: true, writable: true, configurable: true });
      }
      return o;
    }
  }
}

/** What the server's JSON body parser hands a route: a JSON value, or the text itself. */
function body(fdp: FuzzedDataProvider, form: number): unknown {
  if (form === FORM.structured) {
    const text = JSON.stringify(value(fdp, 0)) as string | undefined; // NaN → null, -0 → 0: only what JSON can carry
    return text === undefined ? undefined : JSON.parse(text);
  }
  const text = fdp.consumeRemainingAsString();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function fuzz(data: Buffer): void {
  const fdp = new FuzzedDataProvider(data);
  const { name, parse, send = jsonify } = PARSERS[fdp.consumeIntegralInRange(0, PARSERS.length - 1)]!;
  const form = fdp.consumeIntegralInRange(0, 1);
  const flag = fdp.consumeBoolean();
  const input = body(fdp, form);
  let parsed: unknown;
  try {
    parsed = parse(input, flag);
  } catch (e) {
    typed(e, InvalidArgumentError, 1000); // json.ts echoes at most 80 characters of a value (up to 6x that escaped)
    return;
  }
  // What connect() sends for this value, parsed again, must be the same value.
  const wire = JSON.stringify(send(parsed)) as string | undefined;
  let again: unknown;
  try {
    again = parse(wire === undefined ? undefined : JSON.parse(wire), flag);
  } catch (e) {
    violation(`${name} accepted a body but refuses its re-encoding ${wire}`, e);
  }
  same(`${name}: parsed and re-parsed values`, again, parsed);
}
