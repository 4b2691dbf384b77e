/** The core's golden vectors, checked on-chain: same id, same EIP-712 digest, ecrecover yields the signer. */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { encodeAbiParameters, hexToBigInt } from 'viem';
import { LanesAdjudicatorAbi } from '../../src/chain/artifacts/LanesAdjudicator.ts';
import { type Lock, lockProof, verifyLockProof } from '../../src/core/index.ts';
import type { VectorJson } from '../vectors/build-vectors.ts';
import { alice, bob } from '../helpers/actors.ts';
import { type TestChain, setupChain } from '../helpers/chain.ts';

const vectors = JSON.parse(readFileSync(new URL('../vectors/eip712.json', import.meta.url), 'utf8')) as VectorJson[];
let tc: TestChain;

test.before(async () => {
  tc = await setupChain();
});

test('the adjudicator is deployed where the vectors expect it', (t) => {
  t.is(tc.adjudicator, vectors[0]!.params.adjudicator as `0x${string}`);
});

for (const v of vectors) {
  test(`vector "${v.name}" hashes identically on-chain`, async (t) => {
    const pc = tc.deployer.publicClient;
    const read = <T>(functionName: string, args: readonly unknown[]) =>
      pc.readContract({
        address: tc.adjudicator,
        abi: LanesAdjudicatorAbi,
        functionName: functionName as never,
        args: args as never,
      }) as Promise<T>;
    const params = {
      participants: v.params.participants as [`0x${string}`, `0x${string}`],
      assets: v.params.assets as `0x${string}`[],
      challengeDuration: BigInt(v.params.challengeDuration),
      nonce: BigInt(v.params.nonce),
    };
    const locks = v.state.locks.map((l) => ({
      ...l,
      id: BigInt(l.id),
      amount: BigInt(l.amount),
      expiry: BigInt(l.expiry),
      hashlock: l.hashlock as `0x${string}`,
    }));
    // The contract builds the lock tree itself (lockTreeRoot) and checks each slot's proof.
    const root = await read<`0x${string}`>('lockTreeRoot', [locks]);
    t.is(root, v.locksRoot as `0x${string}`);
    for (const [i, l] of locks.entries()) {
      const proof = lockProof(locks as Lock[], i);
      t.true(verifyLockProof(root, l as Lock, i, proof), `slot ${i}`);
    }
    const digest = await read<string>('stateDigest', [
      v.channelId,
      BigInt(v.state.version),
      v.state.balances.flat().map(BigInt),
      root,
      v.state.isFinal,
    ]);
    const onThisChain = v.params.chainId === '31337';
    if (onThisChain) {
      t.is(await read<string>('channelId', [params]), v.channelId);
      t.is(await read<string>('domainSeparator', []), v.domainSeparator);
      t.is(digest, v.digest);
    } else {
      // Signed for another chain: the on-chain digest differs, so its signatures cannot verify here.
      t.not(digest, v.digest);
      t.not(await read<string>('channelId', [params]), v.channelId);
    }
    // ecrecover (precompile 0x01) on the vector's digest yields each signer.
    for (const [i, who] of [alice, bob].entries()) {
      const sig = v.signatures[i]!;
      const input = encodeAbiParameters(
        [{ type: 'bytes32' }, { type: 'uint8' }, { type: 'bytes32' }, { type: 'bytes32' }],
        [v.digest as `0x${string}`, Number(hexToBigInt(`0x${sig.slice(130, 132)}`)), `0x${sig.slice(2, 66)}`, `0x${sig.slice(66, 130)}`],
      );
      const { data } = await pc.call({ to: '0x0000000000000000000000000000000000000001', data: input });
      t.is(`0x${data!.slice(26)}`, who.address, `${v.name}: signature ${i}`);
    }
  });
}
