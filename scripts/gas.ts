/**
 * `npm run gas`: gas per channel of every adjudicator operation, measured on in-process EDR
 * running the compiled contract (osaka rules, including EIP-7623 calldata pricing).
 *
 *   npm run gas              a table
 *   npm run gas -- --json    { "<operation>": { "<batch size>": <gas per channel> } }
 *
 * Channels are two-party and one-asset (ETH) unless named otherwise; `deposit` at 1 is a single
 * deposit, at 10 and 100 a `depositBatch`. `cooperativeClose` pays
 * 100 different participant pairs (no payout can be netted: the worst case); the table also
 * shows a star, where one hub is in every channel of the batch and its payouts are netted.
 */
import {
  type Address,
  type ChannelParams,
  type ChannelState,
  NATIVE_ASSET,
  bytesToHex,
  channelId,
  keccak256,
  nobleBackend,
  signState,
} from '../src/core/index.ts';
import { type ChainService, type Clients, chainServiceFromClients, createClients, deployAdjudicator } from '../src/chain/chain-service.ts';
import { challengeItem, closeItem, concludeItem, unlockItem } from '../src/chain/encode.ts';
import { createInProcessChain } from '../src/chain/in-process-chain.ts';
import { DEV_KEYS } from '../src/chain/local-chain.ts';
import { RejectingReceiverAbi, RejectingReceiverBytecode } from '../src/chain/artifacts/mocks/RejectingReceiver.ts';
import { TestTokenAbi, TestTokenBytecode } from '../src/chain/artifacts/mocks/TestToken.ts';

const json = process.argv.includes('--json');
const SIZES = [1, 10, 100] as const;
const ETHER = 10n ** 18n;

interface Key {
  readonly privateKey: Uint8Array;
  readonly address: Address;
}
function key(name: string): Key {
  const privateKey = keccak256(new TextEncoder().encode(`gas:${name}`));
  return { privateKey, address: bytesToHex(keccak256(nobleBackend.publicKey(privateKey, false).subarray(1)).subarray(12)) as Address };
}

const chain = await createInProcessChain();
const deployer: Clients = await createClients({ rpc: chain.provider, privateKey: DEV_KEYS[0], pollingIntervalMs: 5 });
const adjudicator = await deployAdjudicator(deployer);
const svc: ChainService = chainServiceFromClients(deployer, adjudicator);
const tokenHash = await deployer.walletClient.deployContract({ abi: TestTokenAbi, bytecode: TestTokenBytecode, args: ['Gas', 'GAS'] });
const token = (await deployer.publicClient.waitForTransactionReceipt({ hash: tokenHash })).contractAddress!.toLowerCase() as Address;
await deployer.walletClient.writeContract({
  address: token,
  abi: TestTokenAbi,
  functionName: 'mint',
  args: [deployer.account.address, 10n ** 30n],
});

let nonce = 0n;
interface Channel {
  readonly params: ChannelParams;
  readonly a: Key;
  readonly b: Key;
}

/** Funded channels; `hub` puts one participant in all of them. */
async function channels(n: number, opts: { hub?: Key; asset?: Address } = {}): Promise<Channel[]> {
  const out: Channel[] = [];
  for (let i = 0; i < n; i++) {
    const a = opts.hub ?? key(`a${nonce}`);
    const b = key(`b${nonce}`);
    for (const k of [a, b]) await chain.setBalance(k.address, ETHER); // existing accounts, as real participants are
    const params: ChannelParams = {
      chainId: 31337n,
      adjudicator,
      participants: [a.address, b.address],
      assets: [opts.asset ?? NATIVE_ASSET],
      challengeDuration: 600n,
      nonce: nonce++,
    };
    await svc.deposit(params, 0, 0, ETHER);
    await svc.deposit(params, 0, 1, ETHER);
    out.push({ params, a, b });
  }
  return out;
}

function signed(c: Channel, state: ChannelState) {
  return {
    state,
    signatures: [signState(nobleBackend, c.params, state, c.a.privateKey), signState(nobleBackend, c.params, state, c.b.privateKey)] as [
      Uint8Array,
      Uint8Array,
    ],
  };
}
const state = (c: Channel, version: bigint, isFinal: boolean): ChannelState => ({
  channelId: channelId(c.params),
  version,
  balances: [[ETHER - 12345n, ETHER + 12345n]],
  locks: [],
  isFinal,
});

const report: Record<string, Record<string, number>> = {};
const extra: Record<string, Record<string, number>> = {};
const put = (table: typeof report, op: string, size: number | string, gas: bigint, n: number) => {
  (table[op] ??= {})[String(size)] = Number(gas / BigInt(n));
};

// Deposits: the first deposit of each asset into a fresh channel, a top-up, and batches.
{
  const k = key('dep');
  const p = (asset: Address): ChannelParams => ({
    chainId: 31337n,
    adjudicator,
    participants: [k.address, key('dep2').address],
    assets: [asset],
    challengeDuration: 600n,
    nonce: nonce++,
  });
  const eth = p(NATIVE_ASSET);
  put(report, 'deposit', 1, (await svc.deposit(eth, 0, 0, ETHER)).gasUsed, 1);
  put(extra, 'deposit, top-up', 1, (await svc.deposit(eth, 0, 1, ETHER)).gasUsed, 1);
  await svc.deposit(p(token), 0, 0, 1n); // the first call also approves the token; measure the next ones
  put(extra, 'deposit, ERC-20', 1, (await svc.deposit(p(token), 0, 0, ETHER)).gasUsed, 1);
  for (const n of [10, 100]) {
    const batch = (asset: Address) =>
      Array.from({ length: n }, () => ({ params: p(asset), assetIndex: 0, participant: 0 as const, amount: ETHER }));
    put(report, 'deposit', n, (await svc.depositBatch(batch(NATIVE_ASSET))).gasUsed, n);
    put(extra, 'deposit, ERC-20', n, (await svc.depositBatch(batch(token))).gasUsed, n);
  }
}

for (const n of SIZES) {
  const closeAll = (cs: Channel[], payout: 'transfer' | 'credit') =>
    svc.closeBatch(
      cs.map((c) => closeItem(c.params, signed(c, state(c, 9n, true)))),
      payout,
    );
  // Cooperative close, payouts pushed to 2n different participants (nothing to net).
  put(report, 'cooperativeClose', n, (await closeAll(await channels(n), 'transfer')).gasUsed, n);
  // Star: one hub in every channel; its payouts are netted into one transfer per batch.
  put(extra, 'cooperativeClose, star (hub netted)', n, (await closeAll(await channels(n, { hub: key(`hub${n}`) }), 'transfer')).gasUsed, n);
  // Credit mode into balances already in use (the participants' second close), and into fresh ones.
  const warm = await channels(n);
  const warmAgain = await Promise.all(warm.map(async (c) => ({ ...c, params: { ...c.params, nonce: nonce++ } })));
  for (const c of warmAgain) for (const p of [0, 1] as const) await svc.deposit(c.params, 0, p, ETHER);
  put(extra, 'cooperativeClose, credit (first credit)', n, (await closeAll(warm, 'credit')).gasUsed, n);
  put(extra, 'cooperativeClose, credit (balances in use)', n, (await closeAll(warmAgain, 'credit')).gasUsed, n);
  put(extra, 'cooperativeClose, ERC-20', n, (await closeAll(await channels(n, { asset: token }), 'transfer')).gasUsed, n);
  // Dispute path: challenge, respond with a newer state, conclude (payouts pushed).
  const ds = await channels(n);
  put(
    report,
    'challenge',
    n,
    (await svc.challengeBatch(ds.map((c) => challengeItem(c.params, signed(c, state(c, 3n, false)))))).gasUsed,
    n,
  );
  put(report, 'respond', n, (await svc.challengeBatch(ds.map((c) => challengeItem(c.params, signed(c, state(c, 4n, false)))))).gasUsed, n);
  await chain.increaseTime(601);
  put(report, 'conclude', n, (await svc.concludeBatch(ds.map((c) => concludeItem(c.params, state(c, 4n, false))))).gasUsed, n);
  // Secret reveals.
  const secrets = Array.from({ length: n }, (_, i) => bytesToHex(keccak256(new TextEncoder().encode(`secret ${n} ${i}`))) as `0x${string}`);
  put(report, 'reveal', n, (await svc.revealSecrets(secrets)).gasUsed, n);
}

// Locks by root (docs/adr/0010): a state with 483 locks (BOLT's limit) is challenged and
// concluded at the cost of one without; each lock is then paid by an unlock with its proof.
{
  const [c] = await channels(1);
  const now = await svc.timestamp();
  const locks = Array.from({ length: 483 }, (_, i) => ({
    id: BigInt(i + 1),
    asset: 0,
    amount: 1000n,
    sender: 0 as const,
    receiver: 1 as const,
    hashlock: bytesToHex(keccak256(new TextEncoder().encode(`lock ${i}`))) as `0x${string}`,
    expiry: now + 100_000n,
  }));
  const s: ChannelState = { ...state(c!, 5n, false), balances: [[ETHER - 12345n - 483_000n, ETHER + 12345n]], locks };
  put(extra, 'challenge, 483 locks', 1, (await svc.challengeBatch([challengeItem(c!.params, signed(c!, s))])).gasUsed, 1);
  await chain.increaseTime(601);
  put(extra, 'conclude, 483 locks', 1, (await svc.concludeBatch([concludeItem(c!.params, s)])).gasUsed, 1);
  await chain.increaseTime(100_000);
  let next = 0;
  for (const n of SIZES) {
    const items = Array.from({ length: n }, () => unlockItem(c!.params, s, next++));
    put(report, 'unlock', n, (await svc.unlockBatch(items)).gasUsed, n);
  }
}

// Withdraw a deferred payout: an account whose code refuses ETH is paid on close, then withdraws.
{
  const [c] = await channels(1);
  const refusing = (
    await deployer.publicClient.waitForTransactionReceipt({
      hash: await deployer.walletClient.deployContract({ abi: RejectingReceiverAbi, bytecode: RejectingReceiverBytecode }),
    })
  ).contractAddress!;
  await chain.setCode(c!.b.address, (await deployer.publicClient.getCode({ address: refusing }))!);
  await svc.closeBatch([closeItem(c!.params, signed(c!, state(c!, 9n, true)))]);
  await chain.setCode(c!.b.address, '0x');
  const bob = chainServiceFromClients(
    await createClients({ rpc: chain.provider, privateKey: bytesToHex(c!.b.privateKey), pollingIntervalMs: 5 }),
    adjudicator,
  );
  put(report, 'withdraw', 1, (await bob.withdraw(NATIVE_ASSET, c!.b.address)).gasUsed, 1);
}

if (json) {
  console.log(JSON.stringify(report));
} else {
  const rows = [...Object.entries(report), ...Object.entries(extra)];
  const cols = ['1', '10', '100'];
  const w = Math.max(...rows.map(([op]) => op.length));
  console.log(`gas per channel (EDR, osaka; solc 0.8.37, optimizer on)\n`);
  console.log(`${'operation'.padEnd(w)}  ${cols.map((c) => `batch ${c}`.padStart(10)).join('')}`);
  for (const [op, byCol] of rows)
    console.log(
      `${op.padEnd(w)}  ${cols.map((c) => (byCol[c] === undefined ? '' : byCol[c]!.toLocaleString('en-US')).padStart(10)).join('')}`,
    );
  const fmt = (x: number | undefined) => x?.toLocaleString('en-US');
  console.log(
    `\ncooperative close in a batch of 100, gas per channel (Nitro 111,514, Raiden 112,270, Celer 129,257 for one channel per tx; target <= 35,000):`,
  );
  console.log(`  payouts pushed to 200 different participants  ${fmt(report.cooperativeClose?.['100'])}`);
  console.log(`  star, the hub's payouts netted                ${fmt(extra['cooperativeClose, star (hub netted)']?.['100'])}`);
  console.log(`  credited to balances in use                   ${fmt(extra['cooperativeClose, credit (balances in use)']?.['100'])}`);
}
