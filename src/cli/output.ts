/** Printing results: JSON for scripts (--json), text and tables for people. */
import Table from 'cli-table3';
import { jsonify } from '../sdk/json.ts';
import type { ChannelInfo } from '../sdk/api.ts';
import { formatAmount, shortHex } from './units.ts';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(jsonify(value), null, 2) + '\n');
}

export function channelTable(channels: readonly ChannelInfo[]): string {
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
      b.map((x) => formatAmount(x.mine, x.asset)).join('\n'),
      b.map((x) => formatAmount(x.theirs, x.asset)).join('\n'),
      c.version.toString(),
    ]);
  }
  return t.toString();
}

export function channelDetails(c: ChannelInfo): string {
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
      `balance       ${formatAmount(b.mine, b.asset)} mine, ${formatAmount(b.theirs, b.asset)} theirs${b.locked ? `, ${formatAmount(b.locked, b.asset)} locked` : ''}`,
    );
  return lines.join('\n');
}
