/** Small hand-built graphs for pathfinding tests: channels added as verified, policies applied directly. */
import { type Address, NATIVE_ASSET } from '../../../src/core/index.ts';
import { type AssetPolicy, ChannelGraph, type ChannelUpdate } from './fixtures.ts';
import { type Actor, actor } from '../../helpers/actors.ts';
import { DOMAIN, NOW, channelParams } from '../../helpers/graph.ts';

export const cast = {
  alice: actor('alice'),
  bob: actor('bob'),
  carol: actor('carol'),
  dave: actor('dave'),
  erin: actor('erin'),
  frank: actor('frank'),
};

const SIG = new Uint8Array(65);
let nonce = 100n;

export interface Side {
  readonly feeBase?: bigint;
  readonly feePpm?: number;
  readonly minAmount?: bigint;
  readonly maxAmount?: bigint;
  readonly enabled?: boolean;
  readonly timestamp?: bigint;
  readonly minExpirySeconds?: number;
}

/** Adds a channel a–b with `capacity` per asset and the same policy both ways unless `back` differs. */
export function link(
  g: ChannelGraph,
  a: Actor,
  b: Actor,
  capacity: bigint,
  side: Side = {},
  o: { assets?: readonly Address[]; back?: Side } = {},
): `0x${string}` {
  const params = channelParams(a, b, { nonce: nonce++, assets: o.assets ?? [NATIVE_ASSET] });
  const r = g.addChannel(
    { params, timestamp: NOW, signatures: [SIG, SIG] },
    [a.publicKey, b.publicKey],
    params.assets.map(() => capacity),
  );
  if (!r.ok) throw new Error(r.detail);
  for (const d of [0, 1] as const) {
    const s = d === 1 && o.back ? o.back : side;
    const policy: AssetPolicy = {
      feeBase: s.feeBase ?? 0n,
      feePpm: s.feePpm ?? 0,
      minAmount: s.minAmount ?? 1n,
      maxAmount: s.maxAmount ?? capacity,
    };
    const u: ChannelUpdate = {
      channelId: r.value.id,
      direction: d,
      timestamp: s.timestamp ?? NOW,
      enabled: s.enabled ?? true,
      maxLocks: 483,
      minExpirySeconds: s.minExpirySeconds ?? 600,
      policies: params.assets.map(() => policy),
      signature: SIG,
    };
    g.applyUpdate(u);
  }
  return r.value.id;
}

export function emptyGraph(): ChannelGraph {
  return new ChannelGraph(DOMAIN);
}
