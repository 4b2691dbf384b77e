/**
 * EIP-2612 permits for the adjudicator's `depositWithPermit`: whether a token has `permit`, and
 * the owner's signature on one. A token is taken to have it when it publishes its EIP-712 domain
 * (EIP-5267 `eip712Domain()`, checked to name this chain and the token itself, or
 * `DOMAIN_SEPARATOR()`; both must agree when it has both) and answers `nonces(owner)`. A token
 * that only looks like it (DAI's permit has other arguments) is found out when the deposit's
 * gas estimate reverts, and the caller falls back to `approve`.
 *
 * A permit signed here always names the adjudicator as the spender and the amount about to be
 * deposited as its value, and the adjudicator pulls tokens only from the account that calls it,
 * so even a hostile token that lies about its domain (to have us sign a permit of another token)
 * gets a signature that lets nobody but our own deposits move our tokens.
 */
import { BaseError, type Hex, type PublicClient, concatHex, encodeAbiParameters, keccak256, parseSignature, stringToHex } from 'viem';
import type { PrivateKeyAccount } from 'viem/accounts';
import type { Address } from '../core/bytes.ts';
import { isTransportError } from './token-metadata.ts';

/**
 * Gas for each read of the token (a real one costs a few thousand; a hostile one may burn it
 * all). viem's readContract passes `gas` on to eth_call, though its type does not list it.
 */
const LIMITED = { gas: 100_000n } as Record<never, never>;

const PERMIT_TYPEHASH = keccak256(stringToHex('Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)'));

const permitAbi = [
  { type: 'function', name: 'DOMAIN_SEPARATOR', inputs: [], outputs: [{ type: 'bytes32' }], stateMutability: 'view' },
  { type: 'function', name: 'nonces', inputs: [{ type: 'address' }], outputs: [{ type: 'uint256' }], stateMutability: 'view' },
  { type: 'function', name: 'name', inputs: [], outputs: [{ type: 'string' }], stateMutability: 'view' },
  {
    type: 'function',
    name: 'eip712Domain',
    inputs: [],
    outputs: [
      { name: 'fields', type: 'bytes1' },
      { name: 'name', type: 'string' },
      { name: 'version', type: 'string' },
      { name: 'chainId', type: 'uint256' },
      { name: 'verifyingContract', type: 'address' },
      { name: 'salt', type: 'bytes32' },
      { name: 'extensions', type: 'uint256[]' },
    ],
    stateMutability: 'view',
  },
] as const;

/** A signed permit, as `depositWithPermit` takes it. */
export interface SignedPermit {
  readonly deadline: bigint;
  readonly v: number;
  readonly r: Hex;
  readonly s: Hex;
}

/** The EIP-712 domain separator from an EIP-5267 description, or undefined when it does not fit this chain and token. */
export function separatorOf(
  d: readonly [Hex, string, string, bigint, string, Hex, readonly bigint[]],
  chainId: bigint,
  token: Address,
): Hex | undefined {
  const [fieldsHex, name, version, id, verifyingContract, salt, extensions] = d;
  const fields = Number(BigInt(fieldsHex));
  // Extensions change the domain in ways we do not know; a domain that omits the chain or the
  // contract could be replayed elsewhere.
  if (extensions.length > 0 || fields > 0x1f || (fields & 0x0c) !== 0x0c) return undefined;
  if (id !== chainId || verifyingContract.toLowerCase() !== token) return undefined;
  const types: string[] = [];
  const params: { type: string }[] = [];
  const values: unknown[] = [];
  const field = (declaration: string, type: string, value: unknown) => {
    types.push(declaration);
    params.push({ type });
    values.push(value);
  };
  if (fields & 1) field('string name', 'bytes32', keccak256(stringToHex(name)));
  if (fields & 2) field('string version', 'bytes32', keccak256(stringToHex(version)));
  field('uint256 chainId', 'uint256', id);
  field('address verifyingContract', 'address', verifyingContract);
  if (fields & 0x10) field('bytes32 salt', 'bytes32', salt);
  const typeHash = keccak256(stringToHex(`EIP712Domain(${types.join(',')})`));
  return keccak256(encodeAbiParameters([{ type: 'bytes32' }, ...params], [typeHash, ...values] as never));
}

/**
 * The token's permit domain separator, or undefined when it shows no EIP-2612 permit bound to
 * this chain and this token. A token with `eip712Domain()` must describe this chain and itself
 * (and agree with its `DOMAIN_SEPARATOR()` if it has one). A token with only
 * `DOMAIN_SEPARATOR()` is believed only when that equals the separator of its own `name()`,
 * version "1" or "2" (USDC's), this chain and its own address: an opaque separator could be
 * another token's, and we would sign a permit for that one. A failure to reach the chain
 * throws (it says nothing about the token).
 */
export async function permitDomain(client: PublicClient, token: Address, chainId: bigint, owner: Address): Promise<Hex | undefined> {
  const read = <T>(p: Promise<T>) =>
    p.then(
      (v) => v,
      (e: unknown) => {
        if (!(e instanceof BaseError) || isTransportError(e)) throw e;
        return undefined;
      },
    );
  const call = { address: token, abi: permitAbi, ...LIMITED } as const;
  const [described, published, nonce, name] = await Promise.all([
    read(client.readContract({ ...call, functionName: 'eip712Domain' })),
    read(client.readContract({ ...call, functionName: 'DOMAIN_SEPARATOR' })),
    read(client.readContract({ ...call, functionName: 'nonces', args: [owner] })),
    read(client.readContract({ ...call, functionName: 'name' })),
  ]);
  if (nonce === undefined) return undefined;
  if (described !== undefined) {
    const computed = separatorOf(described, chainId, token);
    if (computed === undefined || (published !== undefined && computed !== published)) return undefined;
    return computed;
  }
  if (published === undefined || name === undefined || name.length > 256) return undefined;
  for (const version of ['1', '2']) {
    const own = separatorOf(['0x0f', name, version, chainId, token, `0x${'00'.repeat(32)}`, []], chainId, token);
    if (own === published) return own;
  }
  return undefined;
}

/** The EIP-2612 digest of a permit. */
export function permitDigest(separator: Hex, p: { owner: Address; spender: Address; value: bigint; nonce: bigint; deadline: bigint }): Hex {
  const struct = keccak256(
    encodeAbiParameters(
      [{ type: 'bytes32' }, { type: 'address' }, { type: 'address' }, { type: 'uint256' }, { type: 'uint256' }, { type: 'uint256' }],
      [PERMIT_TYPEHASH, p.owner, p.spender, p.value, p.nonce, p.deadline],
    ),
  );
  return keccak256(concatHex(['0x1901', separator, struct]));
}

/** `account`'s permit for `spender` to take `value` of `token` until `deadline`, at its current nonce. */
export async function signPermit(
  client: PublicClient,
  account: PrivateKeyAccount,
  o: { token: Address; separator: Hex; spender: Address; value: bigint; deadline: bigint },
): Promise<SignedPermit> {
  const owner = account.address.toLowerCase() as Address;
  const nonce = await client.readContract({ address: o.token, abi: permitAbi, functionName: 'nonces', args: [owner], ...LIMITED });
  const sig = parseSignature(
    await account.sign({ hash: permitDigest(o.separator, { owner, spender: o.spender, value: o.value, nonce, deadline: o.deadline }) }),
  );
  return { deadline: o.deadline, v: Number(sig.v ?? BigInt(27 + (sig.yParity ?? 0))), r: sig.r, s: sig.s };
}
