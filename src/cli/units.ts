/**
 * Amounts on the command line: `1.5eth`, `0.25ether`, `100gwei`, `42wei`, or a plain integer
 * of base units. A decimal without a unit is refused: "1.5" could mean ETH or wei.
 */
import { type Address, NATIVE_ASSET } from '../core/bytes.ts';
import { InvalidArgumentError } from '../core/errors.ts';

const UNITS: Record<string, number> = { eth: 18, ether: 18, gwei: 9, wei: 0 };

export function parseAmount(text: string, what = 'amount'): bigint {
  const m = /^\s*([0-9]+)(?:\.([0-9]+))?\s*([a-z]*)\s*$/i.exec(text);
  if (!m) throw new InvalidArgumentError(`${what} "${text}" is not an amount: use 1.5eth, 100gwei, or a whole number of base units`);
  const [, whole, fraction = '', unitRaw] = m;
  const unit = unitRaw!.toLowerCase();
  if (unit === '' && fraction !== '')
    throw new InvalidArgumentError(`${what} "${text}" has decimals but no unit: write ${text}eth, or give base units`);
  const decimals = unit === '' ? 0 : UNITS[unit];
  if (decimals === undefined) throw new InvalidArgumentError(`${what} "${text}" has an unknown unit "${unitRaw}" (use eth, gwei or wei)`);
  if (fraction.length > decimals) throw new InvalidArgumentError(`${what} "${text}" has more decimals than ${unit} allows (${decimals})`);
  return BigInt(whole!) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, '0') || '0');
}

/** `1.5 ETH` for the native asset; base units and a short address for tokens. */
export function formatAmount(amount: bigint, asset: Address = NATIVE_ASSET): string {
  if (asset !== NATIVE_ASSET) return `${amount} ${shortHex(asset)}`;
  const whole = amount / 10n ** 18n;
  const frac = (amount % 10n ** 18n).toString().padStart(18, '0').replace(/0+$/, '');
  return `${whole}${frac ? `.${frac}` : ''} ETH`;
}

export function shortHex(hex: string): string {
  return hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex;
}
