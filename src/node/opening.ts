/**
 * Opening a channel: the leader proposes the parameters and its signature on version 0; the
 * follower's open policy accepts (with its own signature) or refuses; both then deposit their
 * share, and the channel is open once the chain holds every deposit (see chain-watcher.ts).
 * Version 0 is co-signed before any money moves, so either side can always get its deposit
 * back through the adjudicator.
 */
import { webcrypto } from 'node:crypto';
import { type Address, NATIVE_ASSET, bytesToHex } from '../core/bytes.ts';
import type { OpenAcceptMessage, OpenMessage, RejectMessage } from '../core/codec/messages.ts';
import { stateDigest } from '../core/eip712.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import { type ChannelParams, channelId, validateParams } from '../core/params.ts';
import { initialState } from '../core/state.ts';
import { verifySignature } from '../core/validate.ts';
import type { PeerRef } from '../p2p/transport.ts';
import type { OpenChannelParameters } from '../sdk/api.ts';
import type { ChannelRecord } from '../store/store.ts';
import { Channel } from './channel.ts';
import type { Context } from './context.ts';
import { OperationTimeoutError, RejectedError } from './errors.ts';
import { sendTo } from './messaging.ts';
import { decideOpen } from './policy.ts';
import { channelInfo } from './views.ts';

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
export async function openChannel(ctx: Context, peer: PeerRef, multiaddrs: readonly string[], p: OpenChannelParameters): Promise<Channel> {
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
  const deposits = assets.map((_, i) => [mine[i]!, theirs[i]!] as const);
  const v0 = initialState(params, deposits);
  const signature = await ctx.signer.sign(stateDigest(params, v0));
  const record: ChannelRecord = {
    id: v0.channelId,
    params,
    self: 0,
    peer: { peerId: peer.peerId, multiaddrs: [...multiaddrs] },
    status: 'proposed',
    deposits,
    depositFacts: [],
    burnedVersion: 0n,
    versionLease: 0n,
    nextOpId: 0n,
    createdAt: ctx.clock(),
  };
  const ch = new Channel(record);
  ch.peer = peer;
  ctx.channels.set(ch.id, ch);
  ctx.store.putRecord(record);
  await ctx.flush();
  ctx.channelLog(ch).info({ assets, deposit: mine.map(String), counterpartyDeposit: theirs.map(String) }, 'proposing channel');
  sendTo(ctx, ch, { type: 'open', params, deposits, signature });
  await ch.waitForStatus(
    ['funding', 'rejected'],
    ctx.timeouts.openMs,
    () => new OperationTimeoutError('waiting for the counterparty to accept the channel', true),
  );
  if (ch.record.status === 'rejected') throw new RejectedError('policy', ch.record.note ?? 'the counterparty refused the channel');
  void ensureDeposited(ctx, ch);
  if ((p.waitFor ?? 'open') === 'open') {
    await ch.waitForStatus(
      ['open'],
      ctx.timeouts.chainMs,
      () => new OperationTimeoutError('waiting for the channel to be funded on-chain', true),
    );
  }
  return ch;
}

/** Opens being decided, so a repeated `open` during the policy's await is not accepted twice. */
const deciding = new Set<string>();

/** The follower's side: check the proposal, ask the open policy, sign version 0, deposit. */
export async function onOpen(ctx: Context, from: PeerRef, msg: OpenMessage): Promise<void> {
  const id = channelId(msg.params);
  const key = `${ctx.transport.self.address}:${id}`;
  if (deciding.has(key)) return;
  deciding.add(key);
  try {
    await decide(ctx, from, msg, id);
  } finally {
    deciding.delete(key);
  }
}

async function decide(ctx: Context, from: PeerRef, msg: OpenMessage, id: `0x${string}`): Promise<void> {
  const { params, deposits } = msg;
  const refuse = (reason: RejectMessage['reason'], detail: string) => {
    ctx.transport.send(from.peerId, { type: 'reject', channelId: id, reason, detail });
  };
  const existing = ctx.channels.get(id);
  if (existing) {
    // A repeated open (our answer was lost): answer it the same way again.
    if (existing.record.peer.peerId === from.peerId && existing.latest && existing.self === 1) {
      ctx.transport.send(from.peerId, { type: 'open-accept', channelId: id, signature: existing.latest.signatures[1] });
    }
    return;
  }
  const valid = validateParams(params);
  if (!valid.ok) return refuse('malformed', valid.detail);
  if (params.participants[1] !== ctx.transport.self.address || params.participants[0] !== from.address) {
    ctx.transport.penalize(from.peerId, 'open with the wrong participants');
    return refuse('not-authorized', 'the channel must be between the sender (participant 0) and this node (participant 1)');
  }
  if (params.chainId !== ctx.chain.chainId || params.adjudicator !== ctx.chain.adjudicator) {
    return refuse('policy', `this node settles on chain ${ctx.chain.chainId} with adjudicator ${ctx.chain.adjudicator}`);
  }
  const v0 = initialState(params, deposits);
  const digest = stateDigest(params, v0);
  const sig = verifySignature(ctx.backend, digest, msg.signature, { address: from.address, publicKey: from.publicKey });
  if (!sig.ok) {
    ctx.transport.penalize(from.peerId, 'open with a bad signature');
    return refuse(sig.reason, sig.detail);
  }
  const decision = await decideOpen(ctx.policies.open, { params, deposits, ourDeposit: deposits.map((r) => r[1]), from });
  if (decision !== true) return refuse(decision.failed ? 'internal' : 'policy', decision.reason);
  const signature = await ctx.signer.sign(digest);
  const record: ChannelRecord = {
    id,
    params,
    self: 1,
    peer: { peerId: from.peerId, multiaddrs: [] },
    status: 'funding',
    deposits,
    depositFacts: [],
    burnedVersion: 0n,
    versionLease: 0n,
    nextOpId: 0n,
    createdAt: ctx.clock(),
  };
  const ch = new Channel(record, { state: v0, signatures: [msg.signature, signature] });
  ch.peer = from;
  ctx.channels.set(id, ch);
  ctx.store.putRecord(record);
  ctx.store.putState(id, ch.latest!);
  await ctx.flush();
  ctx.channelLog(ch).info('accepted channel');
  sendTo(ctx, ch, { type: 'open-accept', channelId: id, signature });
  void ensureDeposited(ctx, ch);
}

/** The follower accepted: version 0 is co-signed; deposit our share. */
export function onOpenAccept(ctx: Context, ch: Channel, msg: OpenAcceptMessage): Promise<void> {
  return ch.run(async () => {
    if (ch.record.status !== 'proposed' || !ch.isLeader || !ch.peer) return;
    const v0 = initialState(ch.record.params, ch.record.deposits);
    const digest = stateDigest(ch.record.params, v0);
    const ok = verifySignature(ctx.backend, digest, msg.signature, { address: ch.peer.address, publicKey: ch.peer.publicKey });
    if (!ok.ok) {
      ctx.transport.penalize(ch.record.peer.peerId, 'open-accept with a bad signature');
      return;
    }
    // RFC 6979 signing is deterministic: signing version 0 again yields the signature we sent.
    const mine = await ctx.signer.sign(digest);
    ch.latest = { state: v0, signatures: [mine, msg.signature] };
    ch.record = { ...ch.record, status: 'funding' };
    ctx.store.putState(ch.id, ch.latest);
    ctx.store.putRecord(ch.record);
    await ctx.flush();
    ch.settleWaiters();
  });
}

/** The follower refused the open. */
export function onOpenRejected(ctx: Context, ch: Channel, msg: RejectMessage): Promise<void> {
  return ch.run(async () => {
    if (ch.record.status !== 'proposed') return;
    ch.record = { ...ch.record, status: 'rejected', note: `${msg.reason}: ${msg.detail}` };
    ctx.store.putRecord(ch.record);
    await ctx.flush();
    ctx.channelLog(ch).info({ reason: msg.reason, detail: msg.detail }, 'channel refused by the counterparty');
    ch.settleWaiters();
  });
}

const depositing = new WeakSet<Channel>();

/**
 * Deposits whatever of our version-0 share the chain does not show yet. Safe to call again
 * (after a restart): it counts the deposits already seen and only one call runs at a time.
 */
export async function ensureDeposited(ctx: Context, ch: Channel): Promise<void> {
  if (depositing.has(ch) || ch.record.status !== 'funding') return;
  depositing.add(ch);
  try {
    for (const [i, row] of ch.record.deposits.entries()) {
      const share = row[ch.self];
      const seen = ch.record.depositFacts.filter((f) => f.asset === i && f.participant === ch.self).reduce((a, f) => a + f.amount, 0n);
      if (seen >= share) continue;
      ctx.channelLog(ch).info({ asset: ch.record.params.assets[i], amount: String(share - seen) }, 'depositing');
      await ctx.chain.deposit(ch.record.params, i, ch.self, share - seen);
    }
  } catch (e) {
    ctx.channelLog(ch).error({ err: e }, 'deposit failed; the channel stays unfunded until it is retried');
  } finally {
    depositing.delete(ch);
  }
}

/** The channel is funded: it opens. Idempotent. */
export async function markOpen(ctx: Context, ch: Channel): Promise<void> {
  if (ch.record.status !== 'funding') return;
  ch.record = { ...ch.record, status: 'open' };
  ctx.store.putRecord(ch.record);
  await ctx.flush();
  ctx.channelLog(ch).info('channel funded and open');
  ch.settleWaiters();
  ctx.events.emit('channel-opened', { channel: channelInfo(ch, ctx.transport.isConnected(ch.record.peer.peerId)) });
}

/**
 * Checks the chain's holdings directly (the chain watcher may lag behind the counterparty's):
 * a `funding` channel whose holdings cover version 0 opens now. Returns whether it is open.
 */
export async function refreshFunding(ctx: Context, ch: Channel): Promise<boolean> {
  if (ch.record.status !== 'funding') return ch.record.status === 'open';
  const { params, deposits } = ch.record;
  for (const [i, asset] of params.assets.entries()) {
    const need = deposits[i]![0] + deposits[i]![1];
    if (need === 0n) continue;
    const held = await ctx.chain.holdings(ch.id, asset);
    if (held.closed || held.amount < need) return false;
  }
  await markOpen(ctx, ch);
  return true;
}
