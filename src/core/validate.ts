/**
 * Validation of what a peer sends: a proposed update (operations plus the leader's signature)
 * and a full co-signed state (used to catch up after a crash or a lost message).
 *
 * Checks run cheapest first; signatures, the expensive part, come last and can run on another
 * thread: {@link validateProposal} returns the digest to verify, and {@link verifySignature}
 * (or a worker pool with the same backend) finishes the job.
 */
import { type Address, MAX_UINT256, isBytes32, isUint64 } from './bytes.ts';
import { type SignatureBackend, checkSignatureEncoding, publicKeyToAddress } from './crypto.ts';
import { stateDigest } from './eip712.ts';
import { MAX_OPS, type Op, type TransitionContext, sameOp } from './ops.ts';
import type { ChannelParams, ParticipantIndex } from './params.ts';
import { type Ok, type Rejected, type Result, ok, reject } from './result.ts';
import { type ChannelState, MAX_LOCKS, totals } from './state.ts';
import { applyUpdate } from './transitions.ts';

/** The participant that signs every update first (docs/adr/0003-one-proposer-per-channel.md). */
export const LEADER: ParticipantIndex = 0;
/** The participant that countersigns; it asks the leader for its own operations. */
export const FOLLOWER: ParticipantIndex = 1;

/** A state with both participants' signatures, in participant order. */
export interface SignedState {
  readonly state: ChannelState;
  readonly signatures: readonly [Uint8Array, Uint8Array];
}

/** The leader's proposal of the next state, as the operations that produce it. */
export interface Proposal {
  readonly channelId: `0x${string}`;
  readonly version: bigint;
  readonly ops: readonly Op[];
  /** The leader's signature over the state the operations produce. */
  readonly signature: Uint8Array;
}

/** Structural checks of a state against its channel: ids, shapes, ranges, lock sanity. */
export function checkState(params: ChannelParams, id: `0x${string}`, state: ChannelState): Result<ChannelState> {
  if (state.channelId !== id) return reject('wrong-channel', `state is for channel ${state.channelId}, expected ${id}`);
  if (!isUint64(state.version)) return reject('malformed', 'version must be a uint64');
  if (state.balances.length !== params.assets.length) {
    return reject('malformed', `state has ${state.balances.length} balance rows for ${params.assets.length} assets`);
  }
  for (const row of state.balances) {
    if (row.length !== 2 || !row.every((b) => typeof b === 'bigint' && b >= 0n && b <= MAX_UINT256)) {
      return reject('malformed', 'every balance must be a uint256');
    }
  }
  if (state.locks.length > MAX_LOCKS) return reject('too-many-locks', `a state holds at most ${MAX_LOCKS} locks`);
  const ids = new Set<bigint>();
  for (const l of state.locks) {
    if (!isUint64(l.id) || !isUint64(l.expiry) || !isBytes32(l.hashlock)) return reject('malformed', 'lock fields out of range');
    if (l.asset < 0 || l.asset >= params.assets.length) return reject('unknown-asset', `lock ${l.id} names asset ${l.asset}`);
    if ((l.sender !== 0 && l.sender !== 1) || l.receiver !== 1 - l.sender) return reject('malformed', `lock ${l.id} parties are invalid`);
    if (l.amount <= 0n || l.amount > MAX_UINT256) return reject('invalid-amount', `lock ${l.id} amount out of range`);
    if (ids.has(l.id)) return reject('duplicate-lock', `lock ${l.id} appears twice`);
    ids.add(l.id);
  }
  if (state.isFinal && state.locks.length > 0) return reject('pending-locks', 'a final state cannot carry locks');
  if (totals(state).some((t) => t > MAX_UINT256)) return reject('overflow', 'a per-asset total exceeds uint256');
  return ok(state);
}

/**
 * Checks `signature` over `digest` by the participant whose address is `signer`. With the
 * signer's public key (known from its libp2p identity) it verifies directly, which is cheaper
 * than recovering; without it, it recovers and compares addresses.
 */
export function verifySignature(
  backend: SignatureBackend,
  digest: Uint8Array,
  signature: Uint8Array,
  signer: { readonly address: Address; readonly publicKey?: Uint8Array },
): Result<void> {
  const enc = checkSignatureEncoding(signature);
  if (!enc.ok) return enc;
  if (signer.publicKey !== undefined) {
    return backend.verify(signature, digest, signer.publicKey)
      ? ok(undefined)
      : reject('wrong-signer', `signature is not by ${signer.address}`);
  }
  const pub = backend.recover(signature, digest);
  if (pub === undefined) return reject('invalid-signature', 'signature does not recover to a public key');
  const addr = publicKeyToAddress(pub);
  return addr === signer.address ? ok(undefined) : reject('wrong-signer', `signature is by ${addr}, expected ${signer.address}`);
}

/**
 * How far a proposal's version may skip ahead of the lowest acceptable one. A leader skips the
 * versions it leased before a restart (docs/adr/0006), at most a lease (1,024) per restart; the
 * bound keeps a faulty leader from pushing the version near its 2^64 limit in one step.
 */
export const MAX_VERSION_GAP = 1n << 24n;

export interface ValidateProposalOptions {
  readonly ctx: TransitionContext;
  /**
   * The lowest version the proposal may carry. Normally `current.version + 1`; after the
   * follower rejected a proposal, one above the rejected version, so a signed-but-rejected state
   * can never be matched by a different state at the same version (docs/adr/0003). Versions up
   * to {@link MAX_VERSION_GAP} above it are accepted.
   */
  readonly minVersion?: bigint;
  /** The follower's own pending requests by id: an operation `by` the follower must be one of them. */
  readonly requested?: { get(id: bigint): Op | undefined };
}

/**
 * Validates the leader's proposal against the follower's current state, everything but the
 * signature: channel, version, authority of every operation, and the transition itself.
 * Returns the proposed state and the digest the leader's signature must cover.
 */
/** A refused proposal; `index` names the operation at fault when one is. */
export type ProposalRejected = Rejected & { readonly index?: number };

export function validateProposal(
  params: ChannelParams,
  current: ChannelState,
  proposal: Proposal,
  options: ValidateProposalOptions,
): Ok<{ state: ChannelState; digest: Uint8Array }> | ProposalRejected {
  if (proposal.channelId !== current.channelId) {
    return reject('wrong-channel', `proposal is for channel ${proposal.channelId}, expected ${current.channelId}`);
  }
  if (current.isFinal) return reject('channel-final', 'the channel is final');
  const min = options.minVersion ?? current.version + 1n;
  if (proposal.version < min) return reject('stale-version', `version ${proposal.version} already used; the lowest acceptable is ${min}`);
  if (proposal.version > min + MAX_VERSION_GAP)
    return reject('version-gap', `version ${proposal.version} skips more than ${MAX_VERSION_GAP} versions ahead of ${min}`);
  if (proposal.ops.length > MAX_OPS) return reject('too-many-ops', `an update carries at most ${MAX_OPS} operations`);
  // Each operation once: the follower's one payment must not be applied three times because the
  // leader listed it three times (each copy would match the request on its own).
  const seen = new Set<string>();
  for (const [index, op] of proposal.ops.entries()) {
    const key = `${op.by}:${op.id}`;
    if (seen.has(key)) return { ...reject('malformed', `operation ${op.id} of participant ${op.by} appears twice`), index };
    seen.add(key);
    if (op.by === FOLLOWER) {
      const asked = options.requested?.get(op.id);
      if (asked === undefined || !sameOp(asked, op)) {
        return { ...reject('not-authorized', `operation ${op.id} is attributed to the follower, which did not request it`), index };
      }
    }
  }
  const next = applyUpdate(params, current, proposal.ops, options.ctx);
  if (!next.ok) return { ...reject(next.reason, next.detail), ...('index' in next && next.index >= 0 ? { index: next.index } : {}) };
  // Versions may skip ahead (a burned version, a leader's lease: see minVersion).
  const state: ChannelState = proposal.version === next.value.version ? next.value : { ...next.value, version: proposal.version };
  return ok({ state, digest: stateDigest(params, state) });
}

/**
 * Validates a full co-signed state from a peer (catch-up after a restart or a lost message):
 * shape, a version above `current`, and both participants' signatures. No transition is
 * checked: the intermediate states are gone, but our own signature on the state proves that
 * we agreed to it.
 */
export function validateSignedState(
  params: ChannelParams,
  id: `0x${string}`,
  signed: SignedState,
  options: {
    readonly backend: SignatureBackend;
    readonly current?: ChannelState;
    readonly publicKeys?: readonly [Uint8Array, Uint8Array];
  },
): Result<SignedState> {
  const shape = checkState(params, id, signed.state);
  if (!shape.ok) return shape;
  if (options.current !== undefined && signed.state.version <= options.current.version) {
    return reject('stale-version', `version ${signed.state.version} is not above ${options.current.version}`);
  }
  const digest = stateDigest(params, signed.state);
  for (const i of [0, 1] as const) {
    const pk = options.publicKeys?.[i];
    const r = verifySignature(options.backend, digest, signed.signatures[i], {
      address: params.participants[i],
      ...(pk === undefined ? {} : { publicKey: pk }),
    });
    if (!r.ok) return reject(r.reason, `participant ${i}: ${r.detail}`);
  }
  return ok(signed);
}

/** Signs a state as participant `self`. */
export function signState(backend: SignatureBackend, params: ChannelParams, state: ChannelState, privateKey: Uint8Array): Uint8Array {
  return backend.sign(stateDigest(params, state), privateKey);
}
