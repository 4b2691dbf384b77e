/** The graph messages' codec: round trips, limits, and hostile bytes as typed rejections. */
import test from 'ava';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { GRAPH_LIMITS, type GraphMessage, TOKEN_SAMPLE, decodeGraphMessage, encodeGraphMessage } from './fixtures.ts';
import { alice, bob } from '../../helpers/actors.ts';
import { announce, channelParams, nodeAnnouncement, update } from '../../helpers/graph.ts';

const raw = new Packr({ useRecords: false });
const params = channelParams(alice, bob);

const samples: GraphMessage[] = [
  { kind: 'channel-announcement', announcement: announce(params, [alice, bob]) },
  { kind: 'channel-update', update: update(params, 0, alice) },
  { kind: 'channel-update', update: update(params, 1, bob, { enabled: false, maxLocks: 0 }) },
  { kind: 'node-announcement', announcement: nodeAnnouncement(alice) },
  {
    kind: 'node-announcement',
    announcement: nodeAnnouncement(bob, {
      swaps: [{ from: params.assets[0]!, to: TOKEN_SAMPLE, rateNum: 3000n, rateDen: 1n, maxAmount: 10n ** 22n }],
    }),
  },
];

test('every kind of graph message survives encode → decode unchanged', (t) => {
  for (const m of samples) {
    const r = decodeGraphMessage(encodeGraphMessage(m));
    t.true(r.ok, r.ok ? '' : r.detail);
    if (r.ok) t.deepEqual(r.value, m);
  }
});

test('a message over the size limit is refused before it is parsed', (t) => {
  const r = decodeGraphMessage(new Uint8Array(GRAPH_LIMITS.maxMessageBytes + 1));
  t.like(r, { ok: false, reason: 'malformed' });
  if (!r.ok) t.regex(r.detail, /exceeds the limit/);
});

test('hostile fields are malformed, with a detail', (t) => {
  const ann = raw.unpack(encodeGraphMessage(samples[0]!)) as unknown[];
  const upd = raw.unpack(encodeGraphMessage(samples[1]!)) as unknown[];
  const node = raw.unpack(encodeGraphMessage(samples[3]!)) as unknown[];
  const cases: [string, unknown][] = [
    ['not an array', { a: 1 }],
    ['empty array', []],
    ['unknown tag', [9, 1, 2]],
    ['short announcement', ann.slice(0, 4)],
    [
      'announcement with equal participants',
      [
        ...ann.slice(0, 1),
        [...(ann[1] as unknown[]).slice(0, 2), (ann[1] as unknown[])[2], (ann[1] as unknown[])[2], ...(ann[1] as unknown[]).slice(4)],
        ...ann.slice(2),
      ],
    ],
    ['enabled as 1', [...upd.slice(0, 4), 1, ...upd.slice(5)]],
    ['direction 2', [...upd.slice(0, 2), 2, ...upd.slice(3)]],
    ['fee over 100%', [...upd.slice(0, 7), [[1, GRAPH_LIMITS.maxFeePpm + 1, 1, 2]], upd[8]]],
    ['max below min', [...upd.slice(0, 7), [[1, 1, 5, 4]], upd[8]]],
    ['no policies', [...upd.slice(0, 7), [], upd[8]]],
    ['too many locks', [...upd.slice(0, 5), GRAPH_LIMITS.maxLocks + 1, ...upd.slice(6)]],
    ['a short signature', [...upd.slice(0, 8), new Uint8Array(64)]],
    ['alias with a control character', [...node.slice(0, 4), 'a\u001bb', ...node.slice(5)]],
    ['alias with a bidi override', [...node.slice(0, 4), 'a\u202eb', ...node.slice(5)]],
    ['alias too long', [...node.slice(0, 4), 'x'.repeat(GRAPH_LIMITS.maxAliasLength + 1), ...node.slice(5)]],
    ['too many multiaddrs', [...node.slice(0, 3), new Array(GRAPH_LIMITS.maxMultiaddrs + 1).fill('/ip4/1.2.3.4/tcp/1'), ...node.slice(4)]],
    ['a multiaddr twice', [...node.slice(0, 3), ['/ip4/1.2.3.4/tcp/1', '/ip4/1.2.3.4/tcp/1'], ...node.slice(4)]],
    ['a multiaddr with a space', [...node.slice(0, 3), ['/ip4/1.2.3.4/tcp/1 x'], ...node.slice(4)]],
    ['a peer id not in base58', [...node.slice(0, 2), '16Uiu2-0OIl', ...node.slice(3)]],
    ['a swap into itself', [...node.slice(0, 5), [[new Uint8Array(20), new Uint8Array(20), 1, 1, 1]], ...node.slice(6)]],
    ['a swap at rate zero', [...node.slice(0, 5), [[new Uint8Array(20), new Uint8Array(20).fill(1), 0, 1, 1]], ...node.slice(6)]],
  ];
  for (const [name, value] of cases) {
    const r = decodeGraphMessage(raw.pack(value));
    t.like(r, { ok: false, reason: 'malformed' }, name);
  }
});

test('arbitrary bytes never throw: a message or a malformed rejection', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const r = decodeGraphMessage(bytes);
      return r.ok || r.reason === 'malformed';
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('mutations of valid messages decode to messages that re-encode to themselves, or are refused', (t) => {
  const encoded = samples.map(encodeGraphMessage);
  fc.assert(
    fc.property(fc.nat(encoded.length - 1), fc.nat(), fc.nat(255), (which, at, value) => {
      const bytes = Uint8Array.from(encoded[which]!);
      bytes[at % bytes.length] = value;
      const r = decodeGraphMessage(bytes);
      if (!r.ok) return r.reason === 'malformed';
      const again = decodeGraphMessage(encodeGraphMessage(r.value));
      return again.ok && JSON.stringify(again.value, big) === JSON.stringify(r.value, big);
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

function big(_: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Array.from(v) : v;
}
