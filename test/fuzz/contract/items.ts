/**
 * Batch items as the fuzzer builds them: the content, the signatures (made or broken on
 * purpose), and both forms of the item: the model's, which says who signed what, and the
 * contract's ABI struct.
 */
import type {
  ChallengeItem,
  CloseItem,
  ConcludeItem,
  ContractLock,
  ContractParams,
  ContractSignature,
  UnlockItem,
} from '../../../src/chain/encode.ts';
import {
  type Address,
  type Bytes32,
  CURVE_N,
  STATE_TYPEHASH,
  type SignatureBackend,
  bytesToHex,
  concatBytes,
  domainSeparator,
  lockProof,
  locksRootBytes,
  locksRoot,
  hexToBytes,
  keccak256,
  readWord,
  writeWord,
} from '../../../src/core/index.ts';
import type { Lock } from '../../../src/core/index.ts';
import type { Actor } from '../../helpers/actors.ts';
import type { ModelItem, ModelState, SigForm, SigSpec } from './model.ts';

/** How one signature of an item is made. */
export interface SigPlan {
  readonly form: SigForm;
  /** Whose key signs: the participant at this index, or another key. */
  readonly key: 'participant' | Actor;
  /** Whether it signs the item's digest, or the digest of another state (a replayed signature). */
  readonly exact: boolean;
}

export const GOOD_SIG: SigPlan = { form: 'canonical', key: 'participant', exact: true };

/** EIP-712 `hashStruct(State)` over flat balances of any length: the registered `stateHash`. */
export function structHashOf(id: Bytes32, s: ModelState): Uint8Array {
  const balances = new Uint8Array(32 * s.balances.length);
  s.balances.forEach((b, i) => writeWord(balances, 32 * i, b));
  const struct = new Uint8Array(32 * 6);
  struct.set(STATE_TYPEHASH, 0);
  struct.set(hexToBytes(id), 32);
  writeWord(struct, 64, s.version);
  struct.set(keccak256(balances), 96);
  struct.set(locksRootBytes(s.locks as unknown as Lock[]), 128);
  writeWord(struct, 160, s.isFinal ? 1n : 0n);
  return keccak256(struct);
}

const domains = new Map<string, Uint8Array>();

/** The EIP-712 digest the contract checks. */
export function digestOf(chainId: bigint, adjudicator: Address, id: Bytes32, s: ModelState): Uint8Array {
  const k = `${chainId}:${adjudicator}`;
  let domain = domains.get(k);
  if (!domain) domains.set(k, (domain = domainSeparator(chainId, adjudicator)));
  return keccak256(concatBytes(Uint8Array.of(0x19, 0x01), domain, structHashOf(id, s)));
}

export interface Signer {
  readonly backend: SignatureBackend;
  /** Keys by address, for the participants the fuzzer can sign for. */
  readonly keys: ReadonlyMap<Address, Actor>;
}

function broken(sig: Uint8Array, form: SigForm): Uint8Array {
  const out = new Uint8Array(sig);
  switch (form) {
    case 'canonical':
      return out;
    case 'high-s':
      writeWord(out, 32, CURVE_N - readWord(out, 32));
      out[64] = out[64] === 27 ? 28 : 27;
      return out;
    case 'bad-v':
      out[64] = 29;
      return out;
    case 'zero-r':
      out.fill(0, 0, 32);
      return out;
    case 'zero-s':
      out.fill(0, 32, 64);
      return out;
  }
}

/**
 * Signs `state` of channel `id` as each plan says. A plan whose key is `participant` but whose
 * participant the fuzzer holds no key for (an honest address in a forged channel) signs with
 * `fallback` instead, and says so in the model's spec.
 */
export function signItem(
  signer: Signer,
  o: { chainId: bigint; adjudicator: Address; id: Bytes32; params: ContractParams; state: ModelState },
  plans: readonly [SigPlan, SigPlan],
  fallback: Actor,
): { specs: [SigSpec, SigSpec]; sigs: [ContractSignature, ContractSignature] } {
  const exact = digestOf(o.chainId, o.adjudicator, o.id, o.state);
  const other = digestOf(o.chainId, o.adjudicator, o.id, { ...o.state, version: o.state.version ^ 1n });
  const specs: SigSpec[] = [];
  const sigs: ContractSignature[] = [];
  for (const i of [0, 1] as const) {
    const plan = plans[i];
    const key = plan.key === 'participant' ? (signer.keys.get(o.params.participants[i]) ?? fallback) : plan.key;
    const raw = broken(signer.backend.sign(plan.exact ? exact : other, key.privateKey), plan.form);
    specs.push({ form: plan.form, signer: plan.exact ? key.address : 'random' });
    sigs.push({ r: bytesToHex(raw.subarray(0, 32)) as Bytes32, s: bytesToHex(raw.subarray(32, 64)) as Bytes32, v: raw[64]! });
  }
  return { specs: specs as [SigSpec, SigSpec], sigs: sigs as [ContractSignature, ContractSignature] };
}

export interface BuiltItem {
  readonly model: ModelItem;
  readonly sigs: readonly [ContractSignature, ContractSignature];
}

export function closeAbi(it: BuiltItem): CloseItem {
  return { params: it.model.params, version: it.model.state.version, balances: [...it.model.state.balances], sigs: it.sigs };
}

export function challengeAbi(it: BuiltItem): ChallengeItem {
  const s = it.model.state;
  return {
    params: it.model.params,
    version: s.version,
    balances: [...s.balances],
    locksRoot: rootOf(s),
    isFinal: s.isFinal,
    sigs: it.sigs,
  };
}

export function concludeAbi(it: BuiltItem): ConcludeItem {
  const s = it.model.state;
  return { params: it.model.params, balances: [...s.balances], locksRoot: rootOf(s), isFinal: s.isFinal };
}

/** The root a state's locks commit to (docs/adr/0010). */
export function rootOf(s: ModelState): Bytes32 {
  return locksRoot(s.locks as unknown as Lock[]);
}

/** The proof of slot `index` of `locks`' tree (a proof is ten sibling hashes whatever the slot). */
export function proofOf(locks: readonly ContractLock[], index: number): Bytes32[] {
  return lockProof(locks as unknown as Lock[], index);
}

export function unlockAbi(it: { params: ContractParams; lock: ContractLock; index: bigint; proof: readonly Bytes32[] }): UnlockItem {
  return { params: it.params, lock: it.lock, index: it.index, proof: it.proof };
}

export function lockOf(l: ContractLock): ContractLock {
  return { ...l };
}
