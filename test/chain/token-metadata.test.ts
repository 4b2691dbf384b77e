/**
 * ERC-20 symbol and decimals read from real tokens on EDR (src/chain/token-metadata.ts), then
 * reduced to what may be shown (src/sdk/asset-info.ts): tokens that answer oddly or lie.
 */
import test from 'ava';
import { type Hex, encodeAbiParameters, stringToHex } from 'viem';
import { MetadataTokenAbi, MetadataTokenBytecode } from '../../src/chain/artifacts/mocks/MetadataToken.ts';
import type { Address } from '../../src/core/index.ts';
import { AssetBook, assetInfo } from '../../src/sdk/asset-info.ts';
import { type TestChain, deployTestToken, setupChain } from '../helpers/chain.ts';

let tc: TestChain;
test.before(async () => {
  tc = await setupChain();
});

const str = (s: string): Hex => encodeAbiParameters([{ type: 'string' }], [s]);
const word = (n: bigint): Hex => encodeAbiParameters([{ type: 'uint256' }], [n]);
const bytes32 = (s: string): Hex => stringToHex(s, { size: 32 });

/** A token whose symbol() and decimals() return these raw bytes (undefined: the call reverts). */
function token(symbol: Hex | undefined, decimals: Hex | undefined): Promise<Address> {
  return tc.deploy(MetadataTokenAbi, MetadataTokenBytecode, [
    symbol ?? '0x',
    symbol === undefined,
    decimals ?? '0x',
    decimals === undefined,
  ]);
}

const cases: readonly [
  string,
  Hex | undefined,
  Hex | undefined,
  { symbol?: string; decimals?: number },
  { symbol?: string; decimals?: number },
][] = [
  // name, symbol data, decimals data, what the chain service reads, what is shown
  ['a USDC-like token', str('tUSD'), word(6n), { symbol: 'tUSD', decimals: 6 }, { symbol: 'tUSD', decimals: 6 }],
  ['a bytes32 symbol (as MKR)', bytes32('MKR'), word(18n), { symbol: 'MKR', decimals: 18 }, { symbol: 'MKR', decimals: 18 }],
  ['both revert', undefined, undefined, {}, {}],
  ['junk bytes', '0x0102030405', '0x01', {}, {}],
  ['a string claiming a huge length', `0x${'0'.repeat(62)}20${'f'.repeat(64)}` as Hex, word(18n), { decimals: 18 }, { decimals: 18 }],
  ['a symbol of 100 bytes', str('A'.repeat(100)), word(18n), { decimals: 18 }, { decimals: 18 }],
  ['a token calling itself ETH', str('ETH'), word(18n), { symbol: 'ETH', decimals: 18 }, { decimals: 18 }],
  ['a terminal escape in the symbol', str('\u001b[31mUSDC'), word(6n), { symbol: '\u001b[31mUSDC', decimals: 6 }, { decimals: 6 }],
  ['a Cyrillic look-alike of USDC', str('USDС'), word(6n), { symbol: 'USDС', decimals: 6 }, { decimals: 6 }],
  ['255 decimals', str('BIG'), word(255n), { symbol: 'BIG', decimals: 255 }, { symbol: 'BIG' }],
  ['decimals beyond a uint8', str('BIG'), word(256n), { symbol: 'BIG' }, { symbol: 'BIG' }],
  ['invalid UTF-8', str('x').replace(/78/, 'ff') as Hex, word(2n), { decimals: 2 }, { decimals: 2 }],
];

for (const [name, symbol, decimals, read, shown] of cases) {
  test.serial(`token metadata: ${name}`, async (t) => {
    const address = await token(symbol, decimals);
    const said = await tc.svc.alice.tokenMetadata(address);
    t.deepEqual(said, read);
    t.deepEqual(assetInfo(address, said), { asset: address, ...shown });
  });
}

test.serial('a standard ERC-20 is read, and its amounts print and parse in its units', async (t) => {
  const address = await deployTestToken(tc, 'Test USD', 'tUSD');
  const info = assetInfo(address, await tc.svc.alice.tokenMetadata(address));
  t.deepEqual(info, { asset: address, symbol: 'tUSD', decimals: 18 });
  const book = new AssetBook([info]);
  t.is(book.format(99_999_999_999_999_990_446n, address), '99.999999999999990446 tUSD');
  t.deepEqual(book.parse('10tUSD', 'amount', [address]), { asset: address, amount: 10n * 10n ** 18n });
});

test.serial('an address with no code gives no answer', async (t) => {
  const nobody = '0x000000000000000000000000000000000000dead' as Address;
  t.deepEqual(await tc.svc.alice.tokenMetadata(nobody), {});
});
