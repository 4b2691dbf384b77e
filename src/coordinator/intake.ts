/**
 * What the coordinator accepts, the half without I/O: only what the participants signed (it is
 * untrusted by design and must not spend gas on junk). A close needs a final, lock-free state
 * signed by both; a dispute or a watch, any state signed by both; a conclusion, a well-formed
 * state of a channel of this chain and adjudicator; a reveal, 1 to 256 secrets. Whether the
 * chain can settle it today is admission.ts's question, asked after this one.
 */
import type { Address, Bytes32 } from '../core/bytes.ts';
import type { SettleItem } from '../core/codec/settle.ts';
import type { SignatureBackend } from '../core/crypto.ts';
import { type ChannelParams, channelId, validateParams } from '../core/params.ts';
import { type Result, ok, reject } from '../core/result.ts';
import { checkState, validateSignedState } from '../core/validate.ts';
import { itemGas } from './gas.ts';
import type { BatchKind } from './planner.ts';

export interface Accepted {
  readonly kind: BatchKind | 'watch';
  readonly channelId?: Bytes32;
  readonly version?: bigint;
  /** Gas the item adds to a batch (gas.ts). */
  readonly gas: number;
}

function sameChain(params: ChannelParams, chain: { chainId: bigint; adjudicator: Address }): Result<Bytes32> {
  const v = validateParams(params);
  if (!v.ok) return v;
  if (params.chainId !== chain.chainId || params.adjudicator !== chain.adjudicator) {
    return reject('wrong-channel', `this coordinator settles on chain ${chain.chainId} with adjudicator ${chain.adjudicator}`);
  }
  return ok(channelId(params));
}

export function checkSubmission(
  item: SettleItem,
  chain: { chainId: bigint; adjudicator: Address },
  backend: SignatureBackend,
): Result<Accepted> {
  if (item.kind === 'reveal') return ok({ kind: 'reveal', gas: itemGas(item) });
  const id = sameChain(item.params, chain);
  if (!id.ok) return id;
  if (item.kind === 'conclude') {
    const shape = checkState(item.params, id.value, item.state);
    if (!shape.ok) return shape;
    return ok({ kind: 'conclude', channelId: id.value, version: item.state.version, gas: itemGas(item) });
  }
  const signed = validateSignedState(item.params, id.value, item.signed, { backend });
  if (!signed.ok) return signed;
  const state = item.signed.state;
  if (item.kind === 'close' && (!state.isFinal || state.locks.length > 0))
    return reject('malformed', 'a cooperative close needs a final state without locks');
  return ok({ kind: item.kind, channelId: id.value, version: state.version, gas: itemGas(item) });
}
