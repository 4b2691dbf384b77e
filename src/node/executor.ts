/**
 * The thin shell around the channel machines (docs/adr/0009): runs one input through a channel's
 * machine and executes the effects it returns, in order. Synchronous effects (a store write, a
 * send, a caller's result, an event) happen at once; asynchronous ones (a signature, a
 * verification, a flush, a submission, a policy decision) start here and their completions come
 * back as inputs to the same channel, carrying the effect's token.
 *
 * The durability rules are orders of effects the machine returns (a countersignature is sent only
 * after the flush of the state it signs has completed, ...), so this file only has to keep order:
 * writes are issued synchronously, in effect order, and every flush covers the writes before it.
 */
import { step } from '../core/channel/step.ts';
import type { Effect, Input, Now } from '../core/channel/io.ts';
import type { Op } from '../core/ops.ts';
import type { Callers } from './callers.ts';
import type { Channel } from './channel.ts';
import type { Context } from './context.ts';
import { decideSwap } from './policy.ts';
import { applied } from './results.ts';
import { refreshDeposits, submit } from './settlement.ts';
import { assetOf, channelInfo, lossInfo } from './views.ts';

export interface Shell {
  readonly ctx: Context;
  readonly callers: Callers;
  /** The latest block's timestamp the node has seen (unix seconds), for challenge deadlines. */
  chainTime(): bigint | undefined;
}

export function nowOf(shell: Shell): Now {
  const chainTime = shell.chainTime();
  return { ms: shell.ctx.clock(), ...(chainTime === undefined ? {} : { chainTime }) };
}

/** Runs `input` through the channel's machine and executes the effects. */
export function runStep(shell: Shell, ch: Channel, input: Input): void {
  let effects: Effect[];
  try {
    effects = step(ch.machine, input, nowOf(shell));
  } catch (e) {
    // A bug in the pure core: continuing with money in an unknown state is worse than stopping.
    shell.ctx.fatal(`channel ${ch.id}: step ${input.kind}`, e);
    return;
  }
  executeAll(shell, ch, effects);
}

export function executeAll(shell: Shell, ch: Channel, effects: readonly Effect[]): void {
  for (const fx of effects) execute(shell, ch, fx);
}

function execute(shell: Shell, ch: Channel, fx: Effect): void {
  const { ctx } = shell;
  const peer = ch.record.peer.peerId;
  switch (fx.kind) {
    case 'persist-record':
      return ctx.store.putRecord(fx.record);
    case 'persist-state':
      return ctx.store.putState(ch.id, fx.signed);
    case 'flush':
      void ctx.flush().then(
        () => ch.input({ kind: 'flushed', token: fx.token }),
        () => undefined, // ctx.flush stops the node
      );
      return;
    case 'send':
      ctx.transport.send(peer, fx.message);
      return;
    case 'sign':
      ctx.signer.sign(fx.digest).then(
        (signature) => ch.input({ kind: 'signed', token: fx.token, signature }),
        (e: unknown) => ctx.fatal('signing', e),
      );
      return;
    case 'verify':
      Promise.all(fx.checks.map((c) => ctx.signer.verify(c.signature, c.digest, c.publicKey))).then(
        (results) => ch.input({ kind: 'verified', token: fx.token, ok: results.every(Boolean) }),
        (e: unknown) => ctx.fatal('verifying', e),
      );
      return;
    case 'decide-swaps':
      void decideSwaps(ctx, ch, fx.swaps).then((refused) => ch.input({ kind: 'decided', token: fx.token, refused }));
      return;
    case 'submit':
      void submit(ctx, ch, fx.submission).then((result) => ch.input({ kind: 'submitted', token: fx.token, result }));
      return;
    case 'check-funding':
      void refreshDeposits(ctx, ch).then(() => ch.input({ kind: 'chain', fact: { kind: 'deposits-refreshed' } }));
      return;
    case 'resolve':
      return shell.callers.resolve(fx.caller, fx.version);
    case 'fail':
      return shell.callers.fail(fx.caller, fx.failure, peer);
    case 'updated':
      return applied(ctx, ch, fx.ops, fx.version);
    case 'status':
      return onStatus(ctx, ch);
    case 'answered':
      ctx.events.emit('stale-state-answered', { channelId: ch.id, registered: fx.registered, answered: fx.answered });
      return;
    case 'loss':
      ctx.events.emit('channel-loss', { channelId: ch.id, loss: lossInfo(ch, fx.loss) });
      return;
    case 'penalize':
      ctx.transport.penalize(peer, fx.why);
      return;
    case 'log':
      ctx.channelLog(ch)[fx.level](fx.fields ?? {}, fx.message);
      return;
  }
}

function onStatus(ctx: Context, ch: Channel): void {
  ch.settleWaiters();
  const status = ch.record.status;
  const version = ch.latest?.state.version ?? 0n;
  if (status === 'open') {
    ctx.channelLog(ch).info('channel funded and open');
    ctx.events.emit('channel-opened', { channel: channelInfo(ch, ctx.transport.isConnected(ch.record.peer.peerId)) });
  } else if (status === 'closing') {
    ctx.events.emit('channel-closing', { channelId: ch.id, mode: 'cooperative', version });
  } else if (status === 'disputed') {
    ctx.events.emit('channel-closing', { channelId: ch.id, mode: 'challenged', version: ch.record.dispute?.version ?? version });
  } else if (status === 'closed') {
    ctx.channelLog(ch).info('channel closed on-chain');
    ctx.events.emit('channel-closed', { channelId: ch.id, version, transactionHash: ch.settlementTx ?? (`0x${'00'.repeat(32)}` as const) });
  }
}

/** Our swap policy on the counterparty's swaps: which it refuses, and why. */
async function decideSwaps(ctx: Context, ch: Channel, swaps: readonly Extract<Op, { kind: 'swap' }>[]) {
  const refused: { id: bigint; reason: string; failed?: boolean }[] = [];
  for (const op of swaps) {
    const decision = await decideSwap(ctx.policies.swap, {
      channelId: ch.id,
      // The counterparty gives `give` and takes `take`: we receive its give.
      receive: { asset: assetOf(ch, op.giveAsset), amount: op.giveAmount },
      give: { asset: assetOf(ch, op.takeAsset), amount: op.takeAmount },
      expiry: op.expiry,
    });
    if (decision !== true) refused.push({ id: op.id, reason: decision.reason, ...(decision.failed ? { failed: true } : {}) });
  }
  return refused;
}
