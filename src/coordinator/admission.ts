/**
 * Can this item succeed on-chain? The chain half of what the coordinator accepts (intake.ts
 * checks signatures and shape without I/O). An item the adjudicator would skip still costs its
 * share of a batch's gas, and anyone can sign states of channels they made up, so the
 * coordinator only queues what the chain would settle today:
 * - a close: a channel that holds funds, is not closed, and holds at least what the state pays;
 * - a dispute: a funded, open channel, whose registered state (if any) is older and whose
 *   challenge period is still running;
 * - a conclusion: exactly the registered state (its EIP-712 hash); it waits for the end of the
 *   period and for every lock to be revealed or expired (the adjudicator refuses it before);
 * - a reveal: secrets of hashlocks in watched states, whose locks have not expired, and not
 *   revealed already;
 * - a watch of a new channel: a funded, open one (its record costs the coordinator disk).
 * A refusal is a value (Result) with the reason a node can act on; nothing is stored.
 */
import { type Bytes32, hexToBytes, keccak256Hex } from '../core/bytes.ts';
import type { SettleItem } from '../core/codec/settle.ts';
import { digestHex, hashState } from '../core/eip712.ts';
import { type ChannelParams, channelId } from '../core/params.ts';
import { type Result, ok, reject } from '../core/result.ts';

/** The chain facts admission reads (a subset of ChainService). */
export interface ChainView {
  holdings(channelId: Bytes32, asset: ChannelParams['assets'][number]): Promise<{ amount: bigint; closed: boolean }>;
  dispute(channelId: Bytes32): Promise<{ version: bigint; finalizesAt: bigint; stateHash: Bytes32 } | undefined>;
  revealedAt(hashlock: Bytes32): Promise<bigint>;
  timestamp(): Promise<bigint>;
}

/** Where watched states' hashlocks are looked up (CoordinatorQueue). */
export interface WatchedLocks {
  lockExpiry(hashlock: Bytes32): bigint | undefined;
}

export interface Admitted {
  /** The item to queue: a reveal loses the secrets already revealed. */
  readonly item: SettleItem;
  /** A conclusion may not be submitted before this chain time (s). */
  readonly notBeforeChain?: bigint;
}

/** The EIP-712 hashStruct of a state, as the adjudicator records it for a dispute. */
export const stateHashOf = (state: Parameters<typeof hashState>[0]): Bytes32 => digestHex(hashState(state));

export async function admit(item: SettleItem, chain: ChainView, watched: WatchedLocks): Promise<Result<Admitted>> {
  switch (item.kind) {
    case 'reveal':
      return admitReveal(item, chain, watched);
    case 'close': {
      const open = await openChannel(item.params, chain);
      if (!open.ok) return open;
      const held = open.value;
      for (const [a, [b0, b1]] of item.signed.state.balances.entries()) {
        if (b0 + b1 > held[a]!) {
          return reject(
            'deposit-exceeds-holdings',
            `the state pays out ${b0 + b1} of asset ${item.params.assets[a]} but the channel holds ${held[a]}: dispute it instead`,
          );
        }
      }
      return ok({ item });
    }
    case 'watch': {
      const open = await openChannel(item.params, chain);
      return open.ok ? ok({ item }) : open;
    }
    case 'dispute': {
      const open = await openChannel(item.params, chain);
      if (!open.ok) return open;
      const id = channelId(item.params);
      const d = await chain.dispute(id);
      if (d) {
        if ((await chain.timestamp()) >= d.finalizesAt)
          return reject('closed', 'the challenge period is over: the channel can only be concluded');
        const version = item.signed.state.version;
        if (version <= d.version) return reject('stale-version', `version ${version} is not above the registered version ${d.version}`);
      }
      return ok({ item });
    }
    case 'conclude': {
      const id = channelId(item.params);
      const d = await chain.dispute(id);
      // The adjudicator would answer not-challenged; no RejectReason says that, and this is the
      // closest: the state is not the registered one, because there is none.
      if (!d) return reject('state-mismatch', 'no state is registered for this channel: there is nothing to conclude');
      if (stateHashOf(item.state) !== d.stateHash.toLowerCase()) {
        return reject('state-mismatch', `not the state registered for this channel (version ${d.version})`);
      }
      const open = await openChannel(item.params, chain);
      if (!open.ok) return open;
      return ok({ item, notBeforeChain: concludableAt(d.finalizesAt) });
    }
  }
}

/**
 * When a registered state may be concluded: the end of its period. Its locks no longer hold the
 * conclusion back: each is unlocked on its own once its outcome is fixed (docs/adr/0010).
 */
export function concludableAt(finalizesAt: bigint): bigint {
  return finalizesAt;
}

/** The channel's holdings per asset, if it holds anything and is not closed. */
async function openChannel(params: ChannelParams, chain: ChainView): Promise<Result<bigint[]>> {
  const id = channelId(params);
  const held = await Promise.all(params.assets.map((a) => chain.holdings(id, a)));
  if (held.some((h) => h.closed)) return reject('closed', 'the channel is closed on-chain');
  if (held.every((h) => h.amount === 0n)) return reject('unknown-channel', 'nothing was ever deposited for this channel');
  return ok(held.map((h) => h.amount));
}

async function admitReveal(
  item: Extract<SettleItem, { kind: 'reveal' }>,
  chain: ChainView,
  watched: WatchedLocks,
): Promise<Result<Admitted>> {
  const now = await chain.timestamp();
  const fresh: Bytes32[] = [];
  for (const secret of item.secrets) {
    const hashlock = keccak256Hex(hexToBytes(secret));
    const expiry = watched.lockExpiry(hashlock);
    if (expiry === undefined) return reject('unknown-lock', `no watched state has a lock with hashlock ${hashlock}`);
    // A secret revealed at or after the expiry no longer pays the lock's receiver.
    if (now >= expiry) return reject('lock-expired', `every lock with hashlock ${hashlock} has expired`);
    if ((await chain.revealedAt(hashlock)) === 0n && !fresh.includes(secret)) fresh.push(secret);
  }
  if (fresh.length === 0) return reject('policy', 'every secret is already revealed on-chain');
  return ok({ item: { kind: 'reveal', secrets: fresh } });
}
