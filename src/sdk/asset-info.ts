/**
 * How an asset is shown to people and how amounts typed by people are read: the native asset as
 * ETH (18 decimals), a token by the `symbol()` and `decimals()` it answered (read once per node:
 * src/chain/token-metadata.ts), but only when they are fit to show (ADR 0016).
 *
 * A token chooses its own symbol and decimals, so both are checked here as an attacker would
 * choose them:
 * - a symbol is 1–16 ASCII letters, digits, `.`, `-` or `_`, starting with a letter or digit: no
 *   control characters, terminal escapes, bidirectional overrides, spaces or look-alike letters
 *   (`ЕТН` in Cyrillic), and none of the native asset's unit names (`eth`, `ether`, `gwei`,
 *   `wei`, in any case), so no token can pass for ether;
 * - decimals are 0–{@link MAX_DECIMALS}; more is junk (it would print hundreds of digits and
 *   make every typed amount overflow).
 * A token failing either is shown by its short address in base units, and amounts of it are
 * typed in base units. Two assets with one symbol are both shown with their short address, and a
 * typed amount naming that symbol is refused as ambiguous.
 */
import { type Address, NATIVE_ASSET } from '../core/bytes.ts';
import { InvalidArgumentError } from '../core/errors.ts';

/** An asset as this node shows it. Absent fields: the token gave no usable answer. */
export interface AssetInfo {
  readonly asset: Address;
  /** `ETH` for the native asset; the token's symbol when fit to show. */
  readonly symbol?: string;
  /** 18 for the native asset; the token's decimals when sensible. */
  readonly decimals?: number;
}

/** The most decimals taken from a token (real tokens use 0–24; 36 leaves room, not absurdity). */
export const MAX_DECIMALS = 36;
const SYMBOL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/;
/** The native asset's units: no token may use one as its symbol. */
const NATIVE_UNITS: Readonly<Record<string, number>> = { eth: 18, ether: 18, gwei: 9, wei: 0 };

export const NATIVE_INFO: AssetInfo = { asset: NATIVE_ASSET, symbol: 'ETH', decimals: 18 };

/** Whether a token's symbol may be shown and typed (see the module comment). */
export function isFitSymbol(symbol: string): boolean {
  return SYMBOL.test(symbol) && !Object.hasOwn(NATIVE_UNITS, symbol.toLowerCase());
}

/** What a token said about itself, reduced to what may be shown. */
export function assetInfo(asset: Address, said: { readonly symbol?: unknown; readonly decimals?: unknown } = {}): AssetInfo {
  if (asset === NATIVE_ASSET) return NATIVE_INFO;
  const symbol = typeof said.symbol === 'string' && isFitSymbol(said.symbol) ? said.symbol : undefined;
  const d = said.decimals;
  const decimals = typeof d === 'number' && Number.isInteger(d) && d >= 0 && d <= MAX_DECIMALS ? d : undefined;
  return { asset, ...(symbol === undefined ? {} : { symbol }), ...(decimals === undefined ? {} : { decimals }) };
}

/** `0xe7f172…0512`. */
export function shortAddress(hex: string): string {
  return hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex;
}

/** The assets one output or one typed amount is read against, by address and by symbol. */
export class AssetBook {
  readonly #byAsset = new Map<Address, AssetInfo>();
  readonly #bySymbol = new Map<string, AssetInfo[]>();

  constructor(infos: Iterable<AssetInfo> = []) {
    this.#add(NATIVE_INFO);
    for (const raw of infos) {
      // Re-checked here too: what a daemon sent over the API is outside input for a client.
      const info = assetInfo(raw.asset, raw);
      if (info.asset !== NATIVE_ASSET) this.#add(info);
    }
  }

  #add(info: AssetInfo): void {
    if (this.#byAsset.has(info.asset)) return;
    this.#byAsset.set(info.asset, info);
    if (info.symbol === undefined) return;
    const key = info.symbol.toLowerCase();
    this.#bySymbol.set(key, [...(this.#bySymbol.get(key) ?? []), info]);
  }

  get(asset: Address): AssetInfo {
    return this.#byAsset.get(asset) ?? assetInfo(asset);
  }

  /** The symbol to print for `asset`, with its short address when another asset shares it; or the short address alone. */
  /** Every asset the book knows (ETH first). */
  assets(): Address[] {
    return [...this.#byAsset.keys()];
  }

  label(asset: Address): string {
    const info = this.get(asset);
    if (info.symbol === undefined) return shortAddress(asset);
    const shared = (this.#bySymbol.get(info.symbol.toLowerCase())?.length ?? 0) > 1;
    return shared ? `${info.symbol} (${shortAddress(asset)})` : info.symbol;
  }

  /** `99.99 tUSD`; in base units (`12 base units of 0xe7f1…0512`) when the decimals are unknown. */
  format(amount: bigint, asset: Address = NATIVE_ASSET): string {
    const info = this.get(asset);
    if (info.decimals === undefined) return `${amount} base units of ${this.label(asset)}`;
    return `${decimalString(amount, info.decimals)} ${this.label(asset)}`;
  }

  /**
   * Reads a typed amount of one of `candidates` (the assets it may be in; all known ones when
   * omitted): `10tUSD`, `10 tUSD`, `1.5eth`, `100gwei`, or a whole number of base units. Returns
   * the asset the unit names (undefined for plain base units) and the amount in base units.
   */
  parse(text: string, what = 'amount', candidates?: readonly Address[]): { asset: Address | undefined; amount: bigint } {
    const m = /^\s*([0-9]+)(?:\.([0-9]+))?\s*(\S*)\s*$/.exec(text);
    if (!m) throw new InvalidArgumentError(`${what} "${text}" is not an amount: use 1.5eth, 10tUSD, or a whole number of base units`);
    const [, whole, fraction = '', unit = ''] = m;
    if (unit === '') {
      if (fraction !== '')
        throw new InvalidArgumentError(`${what} "${text}" has decimals but no unit: write ${text}eth, ${text}<symbol>, or base units`);
      return { asset: undefined, amount: BigInt(whole!) };
    }
    const { asset, decimals } = this.#unit(text, what, unit, candidates);
    if (fraction.length > decimals) throw new InvalidArgumentError(`${what} "${text}" has more decimals than ${unit} allows (${decimals})`);
    return { asset, amount: BigInt(whole!) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, '0') || '0') };
  }

  #unit(text: string, what: string, unit: string, candidates: readonly Address[] | undefined): { asset: Address; decimals: number } {
    const native = NATIVE_UNITS[unit.toLowerCase()];
    const allowed = (a: Address) => candidates === undefined || candidates.includes(a);
    if (native !== undefined) {
      if (!allowed(NATIVE_ASSET))
        throw new InvalidArgumentError(`${what} "${text}" is in ${unit}, but names a token: use its symbol or base units`);
      return { asset: NATIVE_ASSET, decimals: native };
    }
    const matches = (this.#bySymbol.get(unit.toLowerCase()) ?? []).filter((i) => allowed(i.asset));
    if (matches.length > 1)
      throw new InvalidArgumentError(
        `${what} "${text}": ${matches.length} tokens call themselves ${unit} (${matches.map((i) => i.asset).join(', ')}): name the token by address and give base units`,
      );
    const info = matches[0];
    if (info === undefined) {
      const known = [...this.#bySymbol.values()]
        .flat()
        .filter((i) => allowed(i.asset))
        .map((i) => i.symbol);
      throw new InvalidArgumentError(
        `${what} "${text}" has an unknown unit "${unit}" (known here: ${known.join(', ') || 'none'}; or give base units)`,
      );
    }
    if (info.decimals === undefined)
      throw new InvalidArgumentError(`${what} "${text}": ${unit} states no usable decimals: give base units`);
    return { asset: info.asset, decimals: info.decimals };
  }
}

/** `amount` base units with `decimals` decimals: `99.99`, trailing zeros dropped. */
export function decimalString(amount: bigint, decimals: number): string {
  const negative = amount < 0n;
  const abs = negative ? -amount : amount;
  const unit = 10n ** BigInt(decimals);
  const frac = decimals === 0 ? '' : (abs % unit).toString().padStart(decimals, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${abs / unit}${frac ? `.${frac}` : ''}`;
}
