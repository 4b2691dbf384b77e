/**
 * Opening channels in the node. As leader: build the params, hand them to a new channel machine
 * (which signs version 0, makes the record durable and sends `open`), and wait for the answer and
 * the funding. As follower: an `open` from a peer is checked here (the params, who we are in
 * them, the chain) and put to the open policy; only then does a machine take over, which
 * verifies the leader's signature, signs version 0 and accepts.
 *
 * Opens are refused unless a policy allows them: a node without an open policy accepts none, and
 * no peer may have more than `limits.maxPendingChannelsPerPeer` (default {@link MAX_PENDING_PER_PEER})
 * channels waiting for funding with us.
 */
import { webcrypto } from 'node:crypto';
import { type Address, NATIVE_ASSET, bytesToHex } from '../core/bytes.ts';
import { type Effect, type Machine, acceptChannel, proposeChannel } from '../core/channel/index.ts';
import type { ChannelRecord } from '../core/channel/record.ts';
import type { OpenMessage, RejectMessage } from '../core/codec/messages.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import { type ChannelParams, channelId, validateParams } from '../core/params.ts';
import type { PeerRef } from '../p2p/transport.ts';
import type { OpenChannelParameters } from '../sdk/api.ts';
import type { Channel } from './channel.ts';
import type { Context } from './context.ts';
import { OperationTimeoutError, RejectedError } from '../sdk/errors.ts';
import { decideOpen } from './policy.ts';

/** The default of NodeConfig.limits.maxPendingChannelsPerPeer: channels one peer may have proposed to us that are not funded yet. */
export const MAX_PENDING_PER_PEER = 16;

/** How the node takes in a new channel: registers it and executes the machine's first effects. */
export interface ChannelHost {
  adopt(machine: Machine, effects: readonly Effect[]): Channel;
}

/** A random 256-bit nonce: channel ids between the same parties never repeat. */
function randomNonce(): bigint {
  return BigInt(bytesToHex(webcrypto.getRandomValues(new Uint8Array(32))));
}

function amounts(values: readonly bigint[] | undefined, n: number, what: string): bigint[] {
  const out = values === undefined ? Array.from({ length: n }, () => 0n) : [...values];
  if (out.length !== n) throw new InvalidArgumentError(`${what} needs one amount per asset (${n}), got ${out.length}`);
  for (const v of out) if (typeof v !== 'bigint' || v < 0n) throw new InvalidArgumentError(`${what} amounts must be non-negative bigints`);
  return out;
}

/** Proposes a channel to `peer` as its leader and waits for the answer (and the funding). */
export async function openChannel(
  ctx: Context,
  host: ChannelHost,
  peer: PeerRef,
  multiaddrs: readonly string[],
  p: OpenChannelParameters,
  firstOpId: bigint,
): Promise<Channel> {
  const assets = [...(p.assets ?? [NATIVE_ASSET])].map((a) => a.toLowerCase() as Address);
  const mine = amounts(p.deposit, assets.length, 'deposit');
  const theirs = amounts(p.counterpartyDeposit, assets.length, 'counterpartyDeposit');
  if (mine.every((x) => x === 0n) && theirs.every((x) => x === 0n)) throw new InvalidArgumentError('a channel needs a deposit');
  const params: ChannelParams = {
    chainId: ctx.chain.chainId,
    adjudicator: ctx.chain.adjudicator,
    participants: [ctx.transport.self.address, peer.address],
    assets,
    challengeDuration: p.challengeDuration ?? 3600n,
    nonce: randomNonce(),
  };
  const valid = validateParams(params);
  if (!valid.ok) throw new InvalidArgumentError(`invalid channel: ${valid.detail}`);
  const record: ChannelRecord = {
    id: channelId(params),
    params,
    self: 0,
    peer: { peerId: peer.peerId, multiaddrs: [...multiaddrs] },
    status: 'proposed',
    deposits: assets.map((_, i) => [mine[i]!, theirs[i]!] as const),
    depositFacts: [],
    burnedVersion: 0n,
    versionLease: 0n,
    nextOpId: 0n,
    createdAt: ctx.clock(),
  };
  const { machine, effects } = proposeChannel(record, {
    selfKey: ctx.transport.self.publicKey,
    firstOpId,
    peer: { peerId: peer.peerId, publicKey: peer.publicKey },
  });
  ctx.log.info({ channel: record.id, assets, deposit: mine.map(String), counterpartyDeposit: theirs.map(String) }, 'proposing channel');
  const ch = host.adopt(machine, effects);
  await ch.waitForStatus(
    ['funding', 'rejected'],
    ctx.timeouts.openMs,
    () => new OperationTimeoutError('waiting for the counterparty to accept the channel', true),
  );
  if (ch.record.status === 'rejected') throw new RejectedError('policy', ch.record.note ?? 'the counterparty refused the channel');
  // Version 0 is co-signed: deposit our share now, once it is durable, rather than at the next
  // tick (up to TICK_MS later: with many channels opening, that tick was what paced the opens).
  await ctx.flush();
  fundNow(ctx, ch);
  if ((p.waitFor ?? 'open') === 'open') {
    await ch.waitForStatus(
      ['open'],
      ctx.timeouts.chainMs,
      () => new OperationTimeoutError('waiting for the channel to be funded on-chain', true),
    );
  }
  return ch;
}

/** Runs the machine's funding step at once (what its next tick would do): it submits the share that is due. */
function fundNow(ctx: Context, ch: Channel): void {
  if (ch.record.status === 'funding') ch.input({ kind: 'tick', operationTimeoutMs: ctx.timeouts.operationMs });
}

/** Opens being decided, so a repeated `open` during the policy's await is not accepted twice. */
const deciding = new Set<string>();

/** The follower's side: check the proposal and ask the open policy; a machine does the rest. */
export async function onOpen(ctx: Context, host: ChannelHost, from: PeerRef, msg: OpenMessage, firstOpId: () => bigint): Promise<void> {
  const id = channelId(msg.params);
  const existing = ctx.channels.get(id);
  if (existing) {
    if (existing.record.peer.peerId === from.peerId) existing.input({ kind: 'message', message: msg });
    return;
  }
  const key = `${ctx.transport.self.address}:${id}`;
  if (deciding.has(key)) return;
  deciding.add(key);
  try {
    await decide(ctx, host, from, msg, id, firstOpId);
  } finally {
    deciding.delete(key);
  }
}

async function decide(
  ctx: Context,
  host: ChannelHost,
  from: PeerRef,
  msg: OpenMessage,
  id: `0x${string}`,
  firstOpId: () => bigint,
): Promise<void> {
  const { params, deposits } = msg;
  const refuse = (reason: RejectMessage['reason'], detail: string) => {
    ctx.transport.send(from.peerId, { type: 'reject', channelId: id, reason, detail });
  };
  const valid = validateParams(params);
  if (!valid.ok) return refuse('malformed', valid.detail);
  if (params.participants[1] !== ctx.transport.self.address || params.participants[0] !== from.address) {
    ctx.transport.penalize(from.peerId, 'open with the wrong participants');
    return refuse('not-authorized', 'the channel must be between the sender (participant 0) and this node (participant 1)');
  }
  if (params.chainId !== ctx.chain.chainId || params.adjudicator !== ctx.chain.adjudicator) {
    return refuse('policy', `this node settles on chain ${ctx.chain.chainId} with adjudicator ${ctx.chain.adjudicator}`);
  }
  if (deposits.length !== params.assets.length) return refuse('malformed', 'one deposit row per asset');
  if (!ctx.policies.open) return refuse('policy', 'this node accepts no channels it did not open (no open policy)');
  let pending = 0;
  for (const ch of ctx.channels.values()) {
    if (ch.record.peer.peerId === from.peerId && (ch.record.status === 'proposed' || ch.record.status === 'funding')) pending++;
  }
  const cap = ctx.limits.maxPendingChannelsPerPeer;
  if (pending >= cap) {
    return refuse('policy', `at most ${cap} channels with one peer may wait for funding`);
  }
  const decision = await decideOpen(ctx.policies.open, { params, deposits, ourDeposit: deposits.map((r) => r[1]), from });
  if (decision !== true) return refuse(decision.failed ? 'internal' : 'policy', decision.reason);
  if (ctx.channels.has(id)) return; // accepted meanwhile
  const { machine, effects } = acceptChannel(msg, {
    selfKey: ctx.transport.self.publicKey,
    firstOpId: firstOpId(),
    peer: { peerId: from.peerId, publicKey: from.publicKey },
    id,
    createdAt: ctx.clock(),
  });
  ctx.log.info({ channel: id, peer: from.peerId }, 'accepting channel');
  host.adopt(machine, effects);
}
