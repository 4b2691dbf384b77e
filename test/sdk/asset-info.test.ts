/** Amounts shown and typed in an asset's own units (src/sdk/asset-info.ts), as a hostile token would try to confuse them. */
import test from 'ava';
import { type Address, NATIVE_ASSET } from '../../src/core/index.ts';
import { AssetBook, assetInfo, decimalString, isFitSymbol } from '../../src/sdk/asset-info.ts';

const tUSD = '0xe7f1725e7734ce288f8367e1bb143e90bb3f0512' as Address;
const fake = '0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0' as Address;
const odd = '0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9' as Address;

test('symbols fit to show: ASCII, short, and never a unit of ether', (t) => {
  for (const s of ['tUSD', 'USDC.e', '1INCH', 'wstETH', 'A', 'crv-USD_2']) t.true(isFitSymbol(s), s);
  for (const s of ['', 'ETH', 'eth', 'Ether', 'GWEI', 'wei', 'US DC', '\u001b[2J', 'USD\u202e', 'ЕТН', 'A'.repeat(17), '.USD', 'x\n'])
    t.false(isFitSymbol(s), JSON.stringify(s));
});

test('decimals beyond 36, negative or fractional are not used', (t) => {
  t.deepEqual(assetInfo(tUSD, { symbol: 'tUSD', decimals: 37 }), { asset: tUSD, symbol: 'tUSD' });
  t.deepEqual(assetInfo(tUSD, { decimals: -1 }), { asset: tUSD });
  t.deepEqual(assetInfo(tUSD, { decimals: 1.5 }), { asset: tUSD });
  t.deepEqual(assetInfo(tUSD, { decimals: '6' }), { asset: tUSD }, 'only numbers (what a daemon sent is re-checked)');
  t.deepEqual(assetInfo(NATIVE_ASSET, { symbol: 'FAKE', decimals: 0 }), { asset: NATIVE_ASSET, symbol: 'ETH', decimals: 18 });
});

test('amounts print in the asset units, base units when the decimals are unknown', (t) => {
  const book = new AssetBook([
    { asset: tUSD, symbol: 'tUSD', decimals: 18 },
    { asset: odd, symbol: 'ODD' },
  ]);
  t.is(book.format(99_990_000_000_000_000_000n), '99.99 ETH');
  t.is(book.format(99_999_999_999_999_990_446n, tUSD), '99.999999999999990446 tUSD');
  t.is(book.format(10n ** 18n, tUSD), '1 tUSD');
  t.is(book.format(12n, odd), '12 base units of ODD');
  t.is(book.format(12n, fake), '12 base units of 0x9fe467…a6e0', 'unknown to the book');
  t.is(decimalString(5n, 6), '0.000005');
  t.is(decimalString(0n, 0), '0');
});

test('two tokens with one symbol are both shown with their address, and the symbol does not parse', (t) => {
  const book = new AssetBook([
    { asset: tUSD, symbol: 'tUSD', decimals: 18 },
    { asset: fake, symbol: 'TUSD', decimals: 0 },
  ]);
  t.is(book.format(10n ** 18n, tUSD), '1 tUSD (0xe7f172…0512)');
  t.is(book.format(1n, fake), '1 TUSD (0x9fe467…a6e0)');
  t.throws(() => book.parse('10tUSD'), { message: /2 tokens call themselves tUSD/ });
  // Within one channel holding only the real one, the symbol names it.
  t.deepEqual(book.parse('10tUSD', 'amount', [tUSD]), { asset: tUSD, amount: 10n * 10n ** 18n });
});

test('typed amounts: units of the asset or base units, never of another asset', (t) => {
  const book = new AssetBook([
    { asset: tUSD, symbol: 'tUSD', decimals: 6 },
    { asset: odd, symbol: 'ODD' },
  ]);
  const cases: [string, readonly Address[] | undefined, { asset: Address | undefined; amount: bigint } | RegExp][] = [
    ['10tUSD', [tUSD], { asset: tUSD, amount: 10_000_000n }],
    ['10 tUSD', [tUSD], { asset: tUSD, amount: 10_000_000n }],
    ['1.25TUSD', [tUSD], { asset: tUSD, amount: 1_250_000n }],
    ['1.5eth', [NATIVE_ASSET, tUSD], { asset: NATIVE_ASSET, amount: 15n * 10n ** 17n }],
    ['100gwei', undefined, { asset: NATIVE_ASSET, amount: 100n * 10n ** 9n }],
    ['42', [tUSD], { asset: undefined, amount: 42n }],
    ['1eth', [tUSD], /names a token/],
    ['1.0000001tUSD', [tUSD], /more decimals than tUSD allows \(6\)/],
    ['10tUSD', [NATIVE_ASSET], /unknown unit "tUSD"/],
    ['10ODD', [odd], /no usable decimals/],
    ['1.5', [tUSD], /decimals but no unit/],
    ['-1tUSD', [tUSD], /is not an amount/],
    ['1e6', [tUSD], /unknown unit "e6"/],
  ];
  for (const [text, among, want] of cases) {
    if (want instanceof RegExp) t.throws(() => book.parse(text, 'amount', among), { message: want }, text);
    else t.deepEqual(book.parse(text, 'amount', among), want, text);
  }
});

test('a daemon that sends unfit symbols gets them dropped by the client too', (t) => {
  const book = new AssetBook([{ asset: fake, symbol: 'ETH', decimals: 18 }]);
  t.is(book.format(10n ** 18n, fake), '1 0x9fe467…a6e0');
  t.deepEqual(book.parse('1eth', 'amount', [NATIVE_ASSET, fake]), { asset: NATIVE_ASSET, amount: 10n ** 18n });
});
