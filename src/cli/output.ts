/** Printing results: JSON for scripts (--json), text and tables for people. */
import Table from 'cli-table3';
import { jsonify } from '../sdk/json.ts';
import type { ChannelInfo } from '../sdk/api.ts';
import { AssetBook } from '../sdk/asset-info.ts';
import { formatAmount, shortHex } from './units.ts';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(jsonify(value), null, 2) + '\n');
}

/** Channels as a table; amounts in the units of `book` (ETH alone when not given). */
export function channelTable(channels: readonly ChannelInfo[], book: AssetBook = new AssetBook()): string {
  const t = new Table({
    head: ['channel', 'status', 'role', 'counterparty', 'mine', 'theirs', 'version'],
    style: { head: [], border: [] },
  });
  for (const c of channels) {
    const b = c.balances;
    t.push([
      shortHex(c.id),
      c.status,
      c.role,
      `${shortHex(c.counterparty.address)}${c.counterparty.connected ? '' : ' (offline)'}`,
      b.map((x) => formatAmount(x.mine, x.asset, book)).join('\n'),
      b.map((x) => formatAmount(x.theirs, x.asset, book)).join('\n'),
      c.version.toString(),
    ]);
  }
  return t.toString();
}

/** One channel; amounts in the units of `book` (ETH alone when not given). */
export function channelDetails(c: ChannelInfo, book: AssetBook = new AssetBook()): string {
  const lines = [
    `channel       ${c.id}`,
    `status        ${c.status}${c.note ? ` (${c.note})` : ''}`,
    `kind          ${c.kind}, this node is the ${c.role}`,
    `counterparty  ${c.counterparty.address} ${c.counterparty.connected ? 'connected' : 'offline'}`,
    `              ${c.counterparty.peerId}`,
    `version       ${c.version}`,
    `challenge     ${c.challengeDuration} s`,
  ];
  for (const b of c.balances)
    lines.push(
      `balance       ${formatAmount(b.mine, b.asset, book)} mine, ${formatAmount(b.theirs, b.asset, book)} theirs${b.locked ? `, ${formatAmount(b.locked, b.asset, book)} locked` : ''}`,
    );
  return lines.join('\n');
}
