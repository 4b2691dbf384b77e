/** Read-only views of a channel for the API: no I/O, no mutation. */
import { type Address, bytesToHex } from '../core/bytes.ts';
import { stateDigest } from '../core/eip712.ts';
import type { LossRecord } from '../core/channel/record.ts';
import type { ChannelInfo, ChannelLoss, SignedStateJson } from '../sdk/api.ts';
import type { Channel } from './channel.ts';

export function assetOf(ch: Channel, index: number): Address {
  return ch.record.params.assets[index] ?? ('0x' as Address);
}

export function channelInfo(ch: Channel, connected: boolean): ChannelInfo {
  const p = ch.record.params;
  const state = ch.latest?.state;
  const rows = state?.balances ?? ch.record.deposits;
  const me = ch.self;
  const them = ch.counterparty;
  const locked = p.assets.map(() => 0n);
  for (const l of state?.locks ?? []) locked[l.asset] = (locked[l.asset] ?? 0n) + l.amount;
  return {
    id: ch.id,
    status: ch.record.status,
    kind: p.assets.length === 1 ? 'payment' : 'swap',
    role: ch.isLeader ? 'leader' : 'follower',
    counterparty: { address: p.participants[them], peerId: ch.record.peer.peerId, connected },
    assets: [...p.assets],
    balances: p.assets.map((asset, i) => ({ asset, mine: rows[i]![me], theirs: rows[i]![them], locked: locked[i]! })),
    version: state?.version ?? 0n,
    challengeDuration: p.challengeDuration,
    createdAt: ch.record.createdAt,
    ...(ch.record.note === undefined ? {} : { note: ch.record.note }),
    ...(ch.record.status === 'disputed' && ch.record.dispute ? { challengeEndsAt: Number(ch.record.dispute.finalizesAt) * 1000 } : {}),
    ...(ch.record.loss === undefined ? {} : { loss: lossInfo(ch, ch.record.loss) }),
  };
}

/** A channel's loss record as the API shows it. */
export function lossInfo(ch: Channel, loss: LossRecord): ChannelLoss {
  return {
    version: loss.version,
    latest: loss.latest,
    assets: ch.record.params.assets.map((asset, i) => ({
      asset,
      expected: loss.expected[i]!,
      ...(loss.paid === undefined ? {} : { paid: loss.paid[i]! }),
    })),
  };
}

export function signedStateJson(ch: Channel): SignedStateJson | undefined {
  const signed = ch.latest;
  if (!signed) return undefined;
  const p = ch.record.params;
  const s = signed.state;
  return {
    channelId: ch.id,
    params: {
      chainId: p.chainId.toString(),
      adjudicator: p.adjudicator,
      participants: [p.participants[0], p.participants[1]],
      assets: [...p.assets],
      challengeDuration: p.challengeDuration.toString(),
      nonce: p.nonce.toString(),
    },
    state: {
      version: s.version.toString(),
      balances: s.balances.map(([a, b]) => [a.toString(), b.toString()] as const),
      locks: s.locks.map((l) => ({ ...l, id: l.id.toString(), amount: l.amount.toString(), expiry: l.expiry.toString() })),
      isFinal: s.isFinal,
    },
    signatures: [bytesToHex(signed.signatures[0]), bytesToHex(signed.signatures[1])],
    digest: bytesToHex(stateDigest(p, s)),
  };
}
