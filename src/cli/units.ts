/**
 * Amounts on the command line: `1.5eth`, `0.25ether`, `100gwei`, `42wei`, a token amount in its
 * own symbol (`10tUSD`, `10 tUSD`), or a plain integer of base units. A decimal without a unit is
 * refused: "1.5" could mean ETH or wei. Token symbols and decimals come from the daemon, which
 * read them once from each token and keeps only answers fit to show (src/sdk/asset-info.ts).
 */
import { type Address, NATIVE_ASSET } from '../core/bytes.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import { AssetBook, shortAddress } from '../sdk/asset-info.ts';
import type { LanesApi } from '../sdk/api.ts';

/** ETH alone: for amounts read before any daemon is asked (flags of `node start`). */
const NATIVE_BOOK = new AssetBook();

/** An amount in ETH units or base units, of no asset in particular. */
export function parseAmount(text: string, what = 'amount'): bigint {
  return NATIVE_BOOK.parse(text, what).amount;
}

/** `1.5 ETH`; `99.99 tUSD` for a token the book knows; base units and a short address otherwise. */
export function formatAmount(amount: bigint, asset: Address = NATIVE_ASSET, book: AssetBook = NATIVE_BOOK): string {
  return book.format(amount, asset);
}

export function shortHex(hex: string): string {
  return shortAddress(hex);
}

/** The assets the daemon knows (ETH and its channels' tokens), for printing and reading amounts. */
export async function assetBook(node: Pick<LanesApi, 'info'>): Promise<AssetBook> {
  return new AssetBook((await node.info()).assets ?? []);
}

/**
 * A typed amount of one of `assets` (a channel's), or of `named` when `--asset` names one: the
 * unit must be that asset's (ETH units for ETH, the token's symbol for a token), or absent for
 * base units. Returns the asset the amount is in (undefined: base units, asset not named).
 */
export function amountOf(
  book: AssetBook,
  text: string,
  assets: readonly Address[],
  named: Address | undefined,
  what = 'amount',
): { asset: Address | undefined; amount: bigint } {
  if (named !== undefined && !assets.includes(named))
    throw new InvalidArgumentError(`--asset ${named} is not an asset of this channel (${assets.join(', ')})`);
  const r = book.parse(text, what, named === undefined ? assets : [named]);
  return { asset: r.asset ?? named, amount: r.amount };
}

/**
 * An asset named on the command line: `eth`, a 0x token address, or the symbol of one of
 * `among` (a channel's assets) that the book knows, unambiguously.
 */
export function assetNamed(book: AssetBook, text: string, among: readonly Address[], what = '--asset'): Address {
  const lower = text.toLowerCase();
  if (lower === 'eth') return NATIVE_ASSET;
  if (/^0x[0-9a-f]{40}$/.test(lower)) return lower as Address;
  const matches = among.filter((a) => book.get(a).symbol?.toLowerCase() === lower);
  if (matches.length === 1) return matches[0]!;
  throw new InvalidArgumentError(
    matches.length > 1
      ? `${what} "${text}": ${matches.length} tokens of this channel call themselves that: name one by address`
      : `${what} "${text}" must be "eth", a 0x token address, or the symbol of a token of the channel`,
  );
}
