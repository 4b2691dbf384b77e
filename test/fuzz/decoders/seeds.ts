/**
 * The generated part of the decoder fuzzers' seed corpora (test/fuzz/decoders/corpus/<target>/seed-*):
 * valid values of every message type, operation, item kind and record kind, built with the
 * encoders, plus malformed ones near the edges (truncated, trailing bytes, wrong types,
 * non-canonical integers, -0, limits + 1). Deterministic: `npm run fuzz:corpus` writes them, and
 * the replay test checks the files match, so a codec change that alters an encoding shows up
 * as "run npm run fuzz:corpus" rather than as seeds that silently became malformed.
 * Files named regress-* are inputs that once found a bug; they are kept as they are.
 */
import { Packr } from 'msgpackr';
import { DEFAULT_LIMITS, encodeMessage, encodeSettleMessage } from '../../../src/core/index.ts';
import { STORE_FORMAT, encodeChannelRecord, encodeMeta, encodeSignedState } from '../../../src/store/record-codec.ts';
import { TOKEN_A } from '../../helpers/factories.ts';
import { FORM, PARSERS } from './control-api.ts';
import { MODE } from './store.ts';
import { paymentSeeds } from './payments.ts';
import { graphSeeds } from './graph.ts';
import { onionSeeds } from './onion.ts';
import { streamSeeds } from './stream.ts';
import { STRUCTURED } from './structured.ts';
import { b, eth, id, metaSamples, record, recordSamples, settleSamples, sig, stateSamples, wireSamples } from './samples.ts';

export const TARGETS = ['wire', 'settle', 'store', 'control-api', 'payments', 'graph', 'onion', 'stream'] as const;
export type Target = (typeof TARGETS)[number];

/** Packs any structure, as a hostile peer could (no validation). */
const raw = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: false, variableMapSize: true });
const pack = (x: unknown): Uint8Array => raw.pack(x);

/** Packs `x` with every 0.5 in it written as the float64 -0 (msgpackr itself writes -0 as 0). */
function packNegativeZero(x: unknown): Uint8Array {
  const bytes = Buffer.from(pack(x));
  const half = Buffer.from([0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0]);
  for (let at = bytes.indexOf(half); at >= 0; at = bytes.indexOf(half, at + 1)) {
    Buffer.from([0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0]).copy(bytes, at);
  }
  return bytes;
}

function wire(): Map<string, Uint8Array> {
  const valid = wireSamples();
  const out = new Map(valid.map(([name, m]) => [`valid-${name}`, encodeMessage(m)]));
  const open = out.get('valid-open-swap-extremes')!;
  const zero = new Uint8Array(32);
  const bad: [string, Uint8Array][] = [
    ['truncated-open', open.subarray(0, open.length >> 1)],
    [
      'open-deposit-rows',
      pack([
        1,
        1,
        zero.subarray(0, 20),
        zero.subarray(0, 20),
        zero.subarray(0, 20),
        [zero.subarray(0, 20)],
        1,
        1,
        [
          [1, 1],
          [1, 1],
        ],
        sig,
      ]),
    ],
    ['trailing-byte', Uint8Array.from([...out.get('valid-sync')!, 0xc0])],
    ['unknown-tag', pack([99, zero, 1])],
    ['map-not-array', pack(new Map([[0, 8]]))],
    ['extra-element', pack([8, zero, 1, 2])],
    ['non-minimal-integer', pack([8, zero, Uint8Array.of(0, 1)])],
    ['version-above-uint64', pack([8, zero, new Uint8Array(9).fill(1)])],
    ['string-operation-tag', pack([3, zero, [['1', 0, 1, 0, 5]]])],
    ['boolean-by', pack([3, zero, [[1, 0, true, 0, 5]]])],
    ['edge-negative-zero-asset', packNegativeZero([3, zero, [[1, 0, 1, 0.5, 5]]])],
    ['edge-negative-zero-by', packNegativeZero([3, zero, [[7, 0, 0.5]]])],
    ['float-version', pack([8, zero, 1.5])],
    ['long-detail', pack([6, zero, null, null, 'policy', 'x'.repeat(DEFAULT_LIMITS.maxDetailLength + 1)])],
    ['long-unknown-tag', pack(['x'.repeat(3000), zero])],
    ['unknown-reason', pack([6, zero, null, null, '__proto__', ''])],
    ['deep-nesting', Uint8Array.from([...new Array<number>(2000).fill(0x91), 0xc0])],
    ['huge-array-header', Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff)],
  ];
  for (const [name, bytes] of bad) out.set(name.startsWith('edge-') ? name : `bad-${name}`, bytes);
  addStructured(out);
  return out;
}

/** A few starting points for the structured form (structured.ts): arbitrary bytes after 0xc1. */
function addStructured(out: Map<string, Uint8Array>, prefix: readonly number[] = [STRUCTURED]): void {
  for (let i = 0; i < 3; i++) {
    out.set(`structured-${i}`, Uint8Array.of(...prefix, ...Array.from({ length: 64 + 32 * i }, (_, j) => (j * 73 + i * 29 + 17) & 0xff)));
  }
}

function settle(): Map<string, Uint8Array> {
  const valid = settleSamples();
  const out = new Map(valid.map(([name, m]) => [`valid-${name}`, encodeSettleMessage(m)]));
  const hash = new Uint8Array(32).fill(1);
  const bad: [string, Uint8Array][] = [
    ['unknown-kind', pack([1, 1, [9, [hash]]])],
    ['string-kind', pack([1, 1, ['4', [hash]]])],
    ['boolean-kind', pack([1, 1, [true, [hash]]])],
    ['array-kind', pack([1, 1, [[4], [hash]]])],
    ['no-secrets', pack([1, 1, [4, []]])],
    ['too-many-secrets', pack([1, 1, [4, new Array(257).fill(hash)]])],
    ['unknown-failure', pack([4, 1, 2, false, 'toString', null])],
    ['short-transaction-hash', pack([4, 1, 2, true, null, new Uint8Array(31)])],
    ['truncated-dispute', out.get('valid-submit-dispute')!.subarray(0, 200)],
  ];
  for (const [name, bytes] of bad) out.set(name.startsWith('edge-') ? name : `bad-${name}`, bytes);
  addStructured(out);
  return out;
}

function store(): Map<string, Uint8Array> {
  const records = recordSamples();
  const states = stateSamples();
  const metas = metaSamples();
  const values: [string, number, Uint8Array][] = [
    ...records.map(([n, r]): [string, number, Uint8Array] => [n, MODE.record, encodeChannelRecord(r)]),
    ...states.map(([n, s]): [string, number, Uint8Array] => [n, MODE.state, encodeSignedState(s)]),
    ...metas.map(([n, m]): [string, number, Uint8Array] => [n, MODE.meta, encodeMeta(m)]),
  ];
  const out = new Map<string, Uint8Array>();
  for (const [name, mode, bytes] of values) {
    out.set(`valid-${name}`, Uint8Array.of(mode, ...bytes));
    out.set(`valid-${name}-unsealed`, Uint8Array.of(mode | MODE.seal, ...bytes.subarray(0, bytes.length - 4)));
  }
  const open = encodeChannelRecord(record(eth));
  const body = (x: unknown) => Uint8Array.of(MODE.record | MODE.seal, 1, 1, ...pack(x)); // kind 1 (record), format 1 (12 fields)
  const paramsWire = [31337, new Uint8Array(20), new Uint8Array(20), new Uint8Array(20), [new Uint8Array(20)], 3600, 1];
  const fields = [b(id), paramsWire, 0, ['p', []], 'open', [[1, 1]], [], 0, 0, 1, 1, null];
  const withField = (i: number, v: unknown) => fields.map((f, j) => (j === i ? v : f));
  out.set('valid-record-format-1', body(fields));
  const bad: [string, Uint8Array][] = [
    ['checksum', Uint8Array.of(MODE.record, ...open.subarray(0, -1), open.at(-1)! ^ 1)],
    ['record-as-state', Uint8Array.of(MODE.state | MODE.seal, ...open.subarray(0, -4))],
    ['unknown-format', Uint8Array.of(MODE.record | MODE.seal, 1, 99, ...open.subarray(2, -4))],
    ['truncated', Uint8Array.of(MODE.record, ...open.subarray(0, 5))],
    ['non-canonical-uint', body(withField(9, Uint8Array.of(1)))],
    ['unknown-status', body(withField(4, 'constructor'))],
    ['edge-negative-zero-created-at', Uint8Array.of(MODE.record | MODE.seal, 1, 1, ...packNegativeZero(withField(10, 0.5)))],
    ['params-wrong-arity', body(withField(1, paramsWire.slice(0, 6)))],
    ['record-13-fields', body([...fields, null])],
    ['format-1-record-with-14-fields', body([...fields, null, null])],
    ['format-2-record-with-12-fields', Uint8Array.of(MODE.record | MODE.seal, 1, 2, ...pack(fields))],
    ['state-envelope-sync', Uint8Array.of(MODE.state | MODE.seal, 2, 1, ...encodeMessage({ type: 'sync', channelId: id, version: 1n }))],
    ['deposit-fact-party-2', body(withField(6, [[0, 2, 1, 1]]))],
  ];
  for (const [name, bytes] of bad) out.set(name.startsWith('edge-') ? name : `bad-${name}`, bytes);
  const structured = MODE.seal | MODE.structured;
  addStructured(out, [structured | MODE.record, 1, STORE_FORMAT]);
  out.set('structured-state', Uint8Array.of(structured | MODE.state, 2, STORE_FORMAT, ...out.get('structured-1')!.subarray(3)));
  return out;
}

/** A control-API seed: the body text, then (read from the end) the form, the flag and the parser. */
function apiSeed(parser: string, body: string | Uint8Array, { form = FORM.text as number, flag = true } = {}): Uint8Array {
  const index = PARSERS.findIndex((p) => p.name === parser);
  if (index < 0) throw new Error(`no parser ${parser}`);
  return Uint8Array.of(...(typeof body === 'string' ? Buffer.from(body, 'utf8') : body), flag ? 1 : 0, form, index);
}

function controlApi(): Map<string, Uint8Array> {
  const peer = '/ip4/127.0.0.1/tcp/4002/p2p/16Uiu2HAmExamplePeer';
  const addr = `0x${'Ab'.repeat(20)}`;
  const seeds: [string, string, string, { form?: number; flag?: boolean }?][] = [
    ['valid-open', 'parseOpen', JSON.stringify({ peer, deposit: ['1000000000000000000'] })],
    [
      'valid-open-every-field',
      'parseOpen',
      JSON.stringify({
        peer,
        deposit: ['1', 2, '0'],
        assets: [TOKEN_A, addr, addr.toLowerCase()],
        counterpartyDeposit: ['5', '0', (2n ** 256n - 1n).toString()],
        challengeDuration: '3600',
        waitFor: 'signed',
      }),
    ],
    ['bad-open-nine-deposits', 'parseOpen', JSON.stringify({ peer, deposit: new Array(9).fill('1') })],
    ['bad-open-no-peer', 'parseOpen', JSON.stringify({ deposit: ['1'] })],
    ['valid-pay', 'parsePay', JSON.stringify({ amount: '1000' })],
    ['valid-pay-asset', 'parsePay', JSON.stringify({ amount: 5, asset: addr })],
    ['bad-pay-zero', 'parsePay', JSON.stringify({ amount: '0' })],
    ['bad-pay-unsafe-number', 'parsePay', '{"amount":9007199254740993}'],
    [
      'valid-swap',
      'parseSwap',
      JSON.stringify({ give: { asset: addr, amount: '1' }, take: { asset: TOKEN_A, amount: '2' }, expiresIn: 60 }),
    ],
    ['bad-swap-no-take', 'parseSwap', JSON.stringify({ give: { asset: addr, amount: '1' } })],
    ['valid-close-empty', 'parseClose', ''],
    ['valid-close-every-field', 'parseClose', JSON.stringify({ mode: 'force', waitFor: 'submitted', direct: true })],
    ['bad-close-array', 'parseClose', '[]'],
    ['valid-withdraw', 'parseWithdraw', JSON.stringify({ asset: addr, to: TOKEN_A })],
    ['valid-withdraw-null', 'parseWithdraw', 'null'],
    ['valid-amount-max', 'parseAmount', JSON.stringify((2n ** 256n - 1n).toString())],
    ['valid-amount-zero', 'parseAmount', '"0"', { flag: false }],
    ['bad-amount-overflow', 'parseAmount', JSON.stringify((2n ** 256n).toString())],
    ['bad-amount-exponent', 'parseAmount', '1e21'],
    ['valid-address', 'parseAddress', JSON.stringify(addr)],
    ['valid-channel-id', 'parseChannelId', JSON.stringify(id)],
    ['bad-channel-id-short', 'parseChannelId', JSON.stringify(id.slice(0, -1))],
    ['valid-multiaddr', 'parseMultiaddr', JSON.stringify({ multiaddr: peer })],
    ['bad-multiaddr-text', 'parseMultiaddr', 'multiaddr'],
    ['bad-json', 'parseOpen', '{"peer": "/ip4/1.2.3.4/tcp/1", "deposit": ['],
    ['bad-proto-key', 'parsePay', '{"__proto__": {"amount": "1"}, "amount": "2"}'],
  ];
  const out = new Map(seeds.map(([name, parser, text, o]) => [name, apiSeed(parser, text, o)]));
  // Structured form: the generator reads these bytes; one per parser, so each starts somewhere.
  PARSERS.forEach((p, i) => {
    const bytes = Uint8Array.from({ length: 96 }, (_, j) => (j * 37 + i * 11 + 5) & 0xff);
    out.set(`structured-${p.name}`, apiSeed(p.name, bytes, { form: FORM.structured }));
  });
  return out;
}

/** Every generated seed, by target and file name (without the `seed-` prefix). */
export function seedCorpus(): Map<Target, Map<string, Uint8Array>> {
  return new Map<Target, Map<string, Uint8Array>>([
    ['wire', wire()],
    ['settle', settle()],
    ['store', store()],
    ['control-api', controlApi()],
    ['payments', paymentSeeds()],
    ['graph', graphSeeds()],
    ['onion', onionSeeds()],
    ['stream', streamSeeds()],
  ]);
}
