/**
 * Invoices and payments end to end (docs/adr/0018): two node daemons in their own processes, a
 * real EDR chain, every command through bin/lanes.js. B issues an invoice, A pays it with
 * `lanes pay <invoice>` over their channel; both records settle and the balances move. Expired
 * and tampered invoices fail with a typed error; keysend pays without an invoice.
 */
import test from 'ava';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hexToBytes, keccak256Hex } from '../../src/core/bytes.ts';
import { connect } from '../../src/sdk/connect.ts';
import { InvalidInvoiceError } from '../../src/sdk/errors.ts';
import { lanesIn, lanesJson } from '../helpers/daemon-process.ts';
import { type LocalNet, localNet } from '../helpers/local-net.ts';
import { readyFile, track } from '../helpers/spawned.ts';

const BIN = new URL('../../bin/lanes.js', import.meta.url).pathname;
let net: LocalNet;
const daemons: ChildProcess[] = [];
const dirs: Record<string, string> = {};
const info: Record<string, { address: string; multiaddrs: string[] }> = {};
let channelId = '';

const lanes = lanesIn;
const sh = (command: string) => promisify(execFile)('sh', ['-c', command]);
const json = lanesJson;

async function startDaemon(name: string): Promise<void> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      '--data-dir',
      dirs[name]!,
      'node',
      'start',
      '--chain-rpc',
      net.chain.rpcUrl,
      '--adjudicator',
      net.adjudicator,
      '--log-level',
      'warn',
      '--accept-channels',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  daemons.push(track(child));
  await readyFile(child, join(dirs[name]!, 'api.json'), `${name}'s daemon`);
}

interface Payment {
  direction: string;
  kind: string;
  status: string;
  paymentHash: string;
  secret?: string;
  amount: string;
  fee: string;
  counterparty: string;
  route: { channelId: string; to: string; amount: string }[];
  failure?: { reason: string; hop?: number };
}

interface Channel {
  balances: { mine: string; theirs: string; locked: string }[];
}

const balances = async (dir: string) => (await json<Channel>(dir, 'channel', 'show', channelId)).balances[0]!;

test.before(async () => {
  net = await localNet();
  for (const name of ['alice', 'bob']) {
    dirs[name] = net.tempDir(`pay-${name}`);
    const key = await json<{ address: string }>(dirs[name]!, 'keygen');
    await net.fund({ name, address: key.address as `0x${string}`, privateKey: new Uint8Array(), publicKey: new Uint8Array() }, 100n);
  }
  await startDaemon('alice');
  await startDaemon('bob');
  for (const name of ['alice', 'bob']) info[name] = await json(dirs[name]!, 'node', 'info');
  // alice opens (she is the leader), bob deposits nothing.
  const ch = await json<{ id: string; status: string }>(
    dirs.alice!,
    'channel',
    'open',
    '--peer',
    info.bob!.multiaddrs[0]!,
    '--deposit',
    '1eth',
  );
  if (ch.status !== 'open') throw new Error(`channel ${ch.status}`);
  channelId = ch.id;
});

test.after.always(async () => {
  for (const d of daemons) if (d.exitCode === null) d.kill('SIGKILL');
  await net?.stop();
});

test.serial('an invoice issued by bob is paid by alice with `lanes pay <invoice>`: both records settle, balances move', async (t) => {
  const inv = await json<{ invoice: string; paymentHash: string; status: string }>(
    dirs.bob!,
    'invoice',
    'create',
    '--amount',
    '0.1eth',
    '--memo',
    'coffee',
  );
  t.regex(inv.invoice, /^lanes313371[02-9ac-hj-np-z]+$/);
  t.is(inv.status, 'open');
  const decoded = await json<{ payee: { address: string }; amount: string; memo: string }>(dirs.alice!, 'invoice', 'decode', inv.invoice);
  t.is(decoded.payee.address, info.bob!.address);
  t.is(decoded.amount, '100000000000000000');
  t.is(decoded.memo, 'coffee');

  const paid = await json<Payment>(dirs.alice!, 'pay', inv.invoice);
  t.is(paid.status, 'settled');
  t.is(paid.direction, 'out');
  t.is(paid.paymentHash, inv.paymentHash);
  // The secret is the proof of payment: it opens the invoice's hash.
  t.is(keccak256Hex(hexToBytes(paid.secret!)), inv.paymentHash as `0x${string}`);
  t.deepEqual(
    paid.route.map((h) => [h.channelId, h.to]),
    [[channelId, info.bob!.address]],
  );

  const aliceRecords = await json<Payment[]>(dirs.alice!, 'payments');
  t.like(
    aliceRecords.find((p) => p.paymentHash === inv.paymentHash),
    { direction: 'out', status: 'settled', fee: '0' },
  );
  const bobRecords = await json<Payment[]>(dirs.bob!, 'payments', '--direction', 'in');
  t.like(
    bobRecords.find((p) => p.paymentHash === inv.paymentHash),
    {
      direction: 'in',
      status: 'settled',
      amount: '100000000000000000',
      counterparty: info.alice!.address,
    },
  );
  const listed = await json<{ paymentHash: string; status: string; received: string }[]>(dirs.bob!, 'invoice', 'list');
  t.like(
    listed.find((i) => i.paymentHash === inv.paymentHash),
    { status: 'paid', received: '100000000000000000' },
  );

  t.deepEqual(await balances(dirs.alice!), {
    asset: '0x0000000000000000000000000000000000000000',
    mine: '900000000000000000',
    theirs: '100000000000000000',
    locked: '0',
  });
  t.like(await balances(dirs.bob!), { mine: '100000000000000000', theirs: '900000000000000000', locked: '0' });

  // Paying it again is refused: it is paid.
  const again = await lanes(dirs.alice!, 'pay', inv.invoice);
  t.not(again.code, 0);
  t.regex(again.stderr, /already paid/);
  const human = await lanes(dirs.alice!, 'payments');
  t.regex(human.stdout, /settled/);
});

test.serial('the follower pays the leader: bob pays an any-amount invoice of alice, naming the amount', async (t) => {
  const inv = await json<{ invoice: string; paymentHash: string }>(dirs.alice!, 'invoice', 'create', '--memo', 'tip');
  const noAmount = await lanes(dirs.bob!, 'pay', inv.invoice);
  t.not(noAmount.code, 0);
  t.regex(noAmount.stderr, /any amount/);
  const paid = await json<Payment>(dirs.bob!, 'pay', inv.invoice, '--amount', '0.03eth');
  t.is(paid.status, 'settled');
  t.is(paid.amount, '30000000000000000');
  t.like(await balances(dirs.alice!), { mine: '930000000000000000', theirs: '70000000000000000', locked: '0' });
});

test.serial('keysend: alice pays bob with `lanes pay --to` and no invoice', async (t) => {
  const paid = await json<Payment>(dirs.alice!, 'pay', '--to', info.bob!.address, '--amount', '0.01eth');
  t.like(paid, { status: 'settled', kind: 'keysend', amount: '10000000000000000' });
  t.is(keccak256Hex(hexToBytes(paid.secret!)), paid.paymentHash as `0x${string}`);
  const bobRecords = await json<Payment[]>(dirs.bob!, 'payments', '--direction', 'in');
  t.like(
    bobRecords.find((p) => p.paymentHash === paid.paymentHash),
    { kind: 'keysend', status: 'settled', amount: '10000000000000000' },
  );
  t.like(await balances(dirs.alice!), { mine: '920000000000000000', theirs: '80000000000000000', locked: '0' });
  // The history a page at a time, newest first, with the command for the next page when there is one.
  const all = await json<Payment[]>(dirs.alice!, 'payments', '--direction', 'out');
  t.is(all.length, 2, "alice's invoice payment and this keysend");
  t.is(all[0]!.paymentHash, paid.paymentHash);
  const first = await lanes(dirs.alice!, 'payments', '--direction', 'out', '--limit', '1');
  // The next page's command is the one typed, every option kept, at the next offset.
  const next = /… more: (lanes .*)$/m.exec(first.stdout)?.[1];
  t.is(next, `lanes --data-dir ${dirs.alice!} payments --direction out --limit 1 --offset 1`);
  const second = await lanes(dirs.alice!, 'payments', '--direction', 'out', '--limit', '1', '--offset', '1');
  t.is(
    (await sh(next!.replace(/^lanes /, `${process.execPath} ${BIN} `))).stdout,
    second.stdout,
    'the command printed shows the next page',
  );
  t.deepEqual(
    (await json<Payment[]>(dirs.alice!, 'payments', '--direction', 'out', '--limit', '1', '--offset', '1')).map((p) => p.paymentHash),
    [all[1]!.paymentHash],
  );
  const last = await lanes(dirs.alice!, 'payments', '--direction', 'out', '--limit', '1', '--offset', '1');
  t.notRegex(last.stdout, /more:/, 'the last page says nothing more');
  const bad = await lanes(dirs.alice!, 'payments', '--limit', 'ten');
  t.not(bad.code, 0);
  t.regex(bad.stderr, /--limit must be a whole number/);
  t.regex((await lanes(dirs.alice!, 'payments', '--limit', '0')).stderr, /--limit must be from 1 to 10000/);
  // bob's invoices, the same way.
  const invoices = await json<{ paymentHash: string }[]>(dirs.bob!, 'invoice', 'list');
  t.true(invoices.length >= 1);
  const [newestInvoice] = await json<{ paymentHash: string }[]>(dirs.bob!, 'invoice', 'list', '--limit', '1');
  t.is(newestInvoice!.paymentHash, invoices[0]!.paymentHash);
  t.is((await json<unknown[]>(dirs.bob!, 'invoice', 'list', '--offset', String(invoices.length))).length, 0);
});

test.serial('an expired or tampered invoice is refused with a typed error, and nothing moves', async (t) => {
  const before = await balances(dirs.alice!);
  const inv = await json<{ invoice: string }>(dirs.bob!, 'invoice', 'create', '--amount', '0.01eth', '--expires-in', '1');
  // Tampered: one character of the data part changed (the checksum catches it).
  const i = inv.invoice.length - 10;
  const changed = inv.invoice.slice(0, i) + (inv.invoice[i] === 'q' ? 'p' : 'q') + inv.invoice.slice(i + 1);
  const tampered = await lanes(dirs.alice!, '--json', 'pay', changed);
  t.not(tampered.code, 0);
  t.regex(tampered.stderr, /invalid invoice \(checksum\)/);
  t.is((JSON.parse(tampered.stdout) as { error: { code: string } }).error.code, 'INVALID_INVOICE');
  // Expired: wait past its one second of validity (the daemon's clock decides).
  await new Promise((r) => setTimeout(r, 2100));
  const expired = await lanes(dirs.alice!, '--json', 'pay', inv.invoice);
  t.not(expired.code, 0);
  t.regex(expired.stderr, /invalid invoice \(expired\)/);
  t.is((JSON.parse(expired.stdout) as { error: { code: string } }).error.code, 'INVALID_INVOICE');
  const decoded = await json<{ status?: string }>(dirs.bob!, 'invoice', 'decode', inv.invoice);
  t.is(decoded.status, 'expired');
  t.deepEqual(await balances(dirs.alice!), before);
});

test.serial('paying someone we have no channel with fails as no-route at hop 0', async (t) => {
  const stranger = `0x${'77'.repeat(20)}`;
  const r = await lanes(dirs.alice!, '--json', 'pay', '--to', stranger, '--amount', '1wei');
  t.not(r.code, 0);
  t.regex(r.stderr, /payment failed at hop 0 \(no-route\)/);
  t.is((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'PAYMENT_FAILED');
});

test.serial('the remote SDK over plain HTTP: the same methods, typed errors rebuilt, events', async (t) => {
  const remote = async (name: string) =>
    connect({
      url: (JSON.parse(readFileSync(join(dirs[name]!, 'api.json'), 'utf8')) as { url: string }).url,
      token: readFileSync(join(dirs[name]!, 'api.token'), 'utf8').trim(),
      transport: 'http',
    });
  const [a, b] = [await remote('alice'), await remote('bob')];
  try {
    const settled = new Promise((resolve) => b.on('payment-settled', resolve));
    const inv = await b.createInvoice({ amount: 1234n, memo: 'over http' });
    t.is(inv.amount, 1234n);
    t.is((await a.decodeInvoice(inv.invoice)).memo, 'over http');
    const paid = await a.payInvoice(inv.invoice);
    t.like(paid, { status: 'settled', amount: 1234n, fee: 0n });
    t.is(typeof paid.route[0]!.lockId, 'bigint');
    t.like(((await settled) as { payment: { amount: bigint } }).payment, { amount: 1234n });
    t.true((await b.invoices()).some((i) => i.paymentHash === inv.paymentHash && i.status === 'paid'));
    t.true((await a.payments({ direction: 'out', status: 'settled' })).some((p) => p.paymentHash === inv.paymentHash));
    const e = await t.throwsAsync(a.payInvoice(inv.invoice.slice(0, -1)), { instanceOf: InvalidInvoiceError });
    t.is(e.problem, 'checksum');
  } finally {
    await a.stop();
    await b.stop();
  }
});
