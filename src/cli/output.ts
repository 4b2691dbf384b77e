/** Printing results: JSON for scripts (--json), text and tables for people. */
import Table from 'cli-table3';
import { jsonify } from '../sdk/json.ts';
import type { ChannelInfo, InvoiceInfo, PaymentInfo } from '../sdk/api.ts';
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
      c.loss ? `${c.status} (LOSS)` : c.status,
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
    ...(c.challengeEndsAt === undefined
      ? []
      : [`              a state is registered; the challenge period ends at ${new Date(c.challengeEndsAt).toISOString()}`]),
  ];
  for (const b of c.balances)
    lines.push(
      `balance       ${formatAmount(b.mine, b.asset, book)} mine, ${formatAmount(b.theirs, b.asset, book)} theirs${b.locked ? `, ${formatAmount(b.locked, b.asset, book)} locked` : ''}`,
    );
  if (c.loss) {
    lines.push(`LOSS          settled on-chain with version ${c.loss.version}, older than our latest ${c.loss.latest}:`);
    for (const a of c.loss.assets)
      lines.push(
        `              paid ${a.paid === undefined ? 'an unknown amount' : formatAmount(a.paid, a.asset, book)}, our latest state gives us ${formatAmount(a.expected, a.asset, book)}`,
      );
  }
  return lines.join('\n');
}

const time = (unixSeconds: bigint) => new Date(Number(unixSeconds) * 1000).toISOString();

/** An invoice for people; amounts in the units of `book` (a token it does not know: base units and its address). */
export function invoiceDetails(i: InvoiceInfo, book: AssetBook = new AssetBook()): string {
  const lines = [
    `payee         ${i.payee.address}`,
    `              ${i.payee.peerId}`,
    `amount        ${i.amount === undefined ? `any amount of ${book.get(i.asset).symbol ?? shortHex(i.asset)}` : formatAmount(i.amount, i.asset, book)}`,
    `payment hash  ${i.paymentHash}`,
    `memo          ${i.memo}`,
    `created       ${time(i.createdAt)}`,
    `expires       ${time(i.expiresAt)}`,
    `chain         ${i.chainId}, adjudicator ${i.adjudicator}`,
  ];
  for (const h of i.routeHints) lines.push(`route hint    ${shortHex(h.channelId)} via ${h.hop.address}`);
  if (i.status !== undefined)
    lines.push(`status        ${i.status}${i.received ? `, received ${formatAmount(i.received, i.asset, book)}` : ''}`);
  return lines.join('\n');
}

export function invoiceTable(invoices: readonly InvoiceInfo[], book: AssetBook = new AssetBook()): string {
  const t = new Table({ head: ['payment hash', 'amount', 'status', 'expires', 'memo'], style: { head: [], border: [] } });
  for (const i of invoices)
    t.push([
      shortHex(i.paymentHash),
      i.amount === undefined ? 'any' : formatAmount(i.amount, i.asset, book),
      i.status ?? '',
      time(i.expiresAt),
      i.memo,
    ]);
  return t.toString();
}

export function paymentText(p: PaymentInfo, book: AssetBook = new AssetBook()): string {
  const hop = p.route[0];
  const via = hop ? ` through channel ${shortHex(hop.channelId)}` : '';
  const secret = p.secret ? `\nsecret ${p.secret}` : '';
  const feeAsset = p.swap?.asset ?? p.asset;
  const swap = p.swap
    ? `\nswapped: sent ${formatAmount(p.swap.amount, p.swap.asset, book)}, converted by ${p.swap.hub} at ${p.swap.rateNum}/${p.swap.rateDen}`
    : '';
  return `${p.status === 'settled' ? 'paid' : p.status} ${formatAmount(p.amount, p.asset, book)} to ${p.counterparty}${via} (fee ${formatAmount(p.fee, feeAsset, book)})${swap}${secret}`;
}

export function paymentTable(payments: readonly PaymentInfo[], book: AssetBook = new AssetBook()): string {
  const t = new Table({
    head: ['time', 'dir', 'kind', 'status', 'amount', 'fee', 'counterparty', 'route', 'payment hash'],
    style: { head: [], border: [] },
  });
  for (const p of payments)
    t.push([
      new Date(p.createdAt).toISOString(),
      p.direction,
      p.kind,
      p.failure ? `${p.status} (${p.failure.reason}, hop ${p.failure.hop ?? 0})` : p.status,
      p.swap
        ? `${formatAmount(p.amount, p.asset, book)} (sent ${formatAmount(p.swap.amount, p.swap.asset, book)})`
        : formatAmount(p.amount, p.asset, book),
      formatAmount(p.fee, p.swap?.asset ?? p.asset, book),
      shortHex(p.counterparty),
      p.route.map((h) => shortHex(h.channelId)).join(' > '),
      shortHex(p.paymentHash),
    ]);
  return t.toString();
}
