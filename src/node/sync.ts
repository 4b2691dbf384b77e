/**
 * Resynchronisation (docs/architecture.md, "Durability rules"): on every (re)connection each
 * side announces its latest co-signed version; the side that is ahead sends its co-signed
 * state, which the other adopts only if both participants' signatures verify. The follower
 * always persists before countersigning, so in practice only the leader ever catches up (a
 * countersignature lost in a crash or a dropped connection).
 */
import { equalBytes } from '../core/bytes.ts';
import type { StateMessage, SyncMessage } from '../core/codec/messages.ts';
import { stateDigest } from '../core/eip712.ts';
import { validateSignedState } from '../core/validate.ts';
import type { PeerRef } from '../p2p/transport.ts';
import type { Channel } from './channel.ts';
import type { Context } from './context.ts';
import { RejectedError } from './errors.ts';
import { complete, resendInflight, schedule } from './leader.ts';
import { sendTo } from './messaging.ts';

const LIVE: ReadonlySet<string> = new Set(['funding', 'open', 'closing', 'disputed']);

/** A link to `peer` is up: bring every channel with it back in step. */
export function onConnected(ctx: Context, peer: PeerRef): void {
  for (const ch of ctx.channels.values()) {
    if (ch.record.peer.peerId !== peer.peerId) continue;
    ch.peer = peer;
    if (!LIVE.has(ch.record.status) || !ch.latest) continue;
    sendTo(ctx, ch, { type: 'sync', channelId: ch.id, version: ch.latest.state.version });
    if (ch.isLeader) {
      resendInflight(ctx, ch);
      schedule(ctx, ch);
    }
  }
}

/** The peer's latest version: if we are ahead, send it our co-signed state. */
export function onSync(ctx: Context, ch: Channel, msg: SyncMessage): void {
  const latest = ch.latest;
  if (latest && msg.version < latest.state.version) {
    sendTo(ctx, ch, { type: 'state', state: latest.state, signatures: latest.signatures });
  }
}

/** A co-signed state from the peer: adopt it if it is newer and both signatures are valid. */
export function onState(ctx: Context, ch: Channel, msg: StateMessage): Promise<void> {
  return ch.run(async () => {
    const current = ch.latest?.state;
    if (current && msg.state.version <= current.version) return; // a race, not a fault
    if (!ch.peer) return;
    const own = ctx.transport.self.publicKey;
    const keys: [Uint8Array, Uint8Array] = ch.self === 0 ? [own, ch.peer.publicKey] : [ch.peer.publicKey, own];
    const v = validateSignedState(ch.record.params, ch.id, msg, {
      backend: ctx.backend,
      ...(current ? { current } : {}),
      publicKeys: keys,
    });
    if (!v.ok) {
      ctx.transport.penalize(ch.record.peer.peerId, `catch-up state: ${v.reason}`);
      ctx.channelLog(ch).warn({ reason: v.reason, detail: v.detail }, 'catch-up state refused');
      return;
    }
    ctx.store.putState(ch.id, msg);
    const inflight = ch.inflight;
    if (inflight && inflight.version <= msg.state.version) ch.inflight = undefined;
    await ctx.flush();
    ch.latest = { state: msg.state, signatures: msg.signatures };
    ctx.channelLog(ch).info({ version: msg.state.version }, 'caught up from the counterparty');
    if (inflight && inflight.version <= msg.state.version) {
      const same = inflight.version === msg.state.version && equalBytes(inflight.digest, stateDigest(ch.record.params, msg.state));
      if (same) complete(ctx, ch, inflight);
      else
        for (const p of inflight.pending)
          if (p.origin === 'self') p.reject(new RejectedError('stale-version', 'superseded by a newer co-signed state'));
    }
    if (ch.isLeader) schedule(ctx, ch);
  });
}
