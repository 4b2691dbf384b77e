/**
 * Fuzz target: the channel graph's gossip messages, `decodeGraphMessage` / `encodeGraphMessage`
 * (src/core/routing/codec.ts, ADR 0017): what any stranger on the gossip topic or a graph sync
 * can send. Bytes decode into a message that re-encodes to an equal value and the same msgpack
 * structure, or are a `malformed` rejection with a short detail; the decoder never throws.
 * Input: msgpack bytes, or `[0xc1][bytes…]` for a structured input built on the samples.
 */
import { Packr } from 'msgpackr';
import type { Result } from '../../../src/core/result.ts';
import { GRAPH_LIMITS, type GraphMessage, decodeGraphMessage, encodeGraphMessage } from '../../../src/core/routing/index.ts';
import { alice, bob } from '../../helpers/actors.ts';
import { TOKEN_A } from '../../helpers/factories.ts';
import { announce, channelParams, nodeAnnouncement, update } from '../../helpers/graph.ts';
import { resultCodecTarget } from './check.ts';
import { STRUCTURED } from './structured.ts';

const params = channelParams(alice, bob);

/** One message of every kind and shape (the seeds and the structured form's bases). */
export function graphSamples(): [string, GraphMessage][] {
  return [
    ['channel-announcement', { kind: 'channel-announcement', announcement: announce(params, [alice, bob]) }],
    ['channel-update', { kind: 'channel-update', update: update(params, 0, alice) }],
    ['channel-update-disabled', { kind: 'channel-update', update: update(params, 1, bob, { enabled: false, maxLocks: 0 }) }],
    ['node-announcement', { kind: 'node-announcement', announcement: nodeAnnouncement(alice) }],
    [
      'node-announcement-swaps',
      {
        kind: 'node-announcement',
        announcement: nodeAnnouncement(bob, {
          swaps: [{ from: params.assets[0]!, to: TOKEN_A, rateNum: 3000n, rateDen: 1n, maxAmount: 10n ** 22n }],
        }),
      },
    ],
  ];
}

// The codec's GraphResult has the same shape as Result, with the graph's reasons.
const decode = (bytes: Uint8Array) => decodeGraphMessage(bytes) as unknown as Result<GraphMessage>;

export const fuzz = resultCodecTarget(decode, encodeGraphMessage, () => graphSamples().map(([, m]) => m));

const raw = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: false, variableMapSize: true });

/** Seeds (seeds.ts writes them to corpus/graph): valid messages and near misses. */
export function graphSeeds(): Map<string, Uint8Array> {
  const valid = graphSamples();
  const out = new Map(valid.map(([name, m]) => [`valid-${name}`, encodeGraphMessage(m)]));
  const upd = raw.unpack(out.get('valid-channel-update')!) as unknown[];
  const node = raw.unpack(out.get('valid-node-announcement')!) as unknown[];
  const bad: [string, unknown][] = [
    ['unknown-tag', [9, 1]],
    ['enabled-as-number', [...upd.slice(0, 4), 1, ...upd.slice(5)]],
    ['fee-over-100', [...upd.slice(0, 7), [[1, GRAPH_LIMITS.maxFeePpm + 1, 1, 2]], upd[8]]],
    ['max-below-min', [...upd.slice(0, 7), [[1, 1, 5, 4]], upd[8]]],
    ['alias-control', [...node.slice(0, 4), 'a\u001bb', ...node.slice(5)]],
    ['too-many-multiaddrs', [...node.slice(0, 3), new Array(GRAPH_LIMITS.maxMultiaddrs + 1).fill('/ip4/1.2.3.4/tcp/1'), ...node.slice(4)]],
  ];
  for (const [name, value] of bad) out.set(`bad-${name}`, raw.pack(value));
  out.set('bad-truncated-announcement', out.get('valid-channel-announcement')!.subarray(0, 100));
  out.set('bad-oversize', new Uint8Array(GRAPH_LIMITS.maxMessageBytes + 1).fill(0x90));
  for (let i = 0; i < 3; i++) {
    out.set(`structured-${i}`, Uint8Array.of(STRUCTURED, ...Array.from({ length: 64 + 32 * i }, (_, j) => (j * 71 + i * 31 + 13) & 0xff)));
  }
  return out;
}
