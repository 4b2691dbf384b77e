/**
 * A routed swap through the CLI (issue 14, ADR 0012), as a user runs one: three `lanes node start
 * --graph` daemons in their own processes on a real EDR chain, every command through bin/lanes.js.
 *
 *   alice —ETH— hub —TST— dave
 *
 * The hub's config file offers ETH → TST at 2,000 TST per ETH (policies.swap.pairs). Dave issues
 * an invoice in TST, typed in its own units (`--asset TST --amount 100TST`); alice pays it with
 * `lanes pay <invoice> --pay-with eth --max-send 0.06eth`: dave gets 100 TST, alice sends exactly
 * what the hub's signed quote asks and no more than her limit. A limit below the quote moves
 * nothing and says why (quote-refused); an asset alice cannot name is a clear error.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type LocalNet, localNet } from '../helpers/local-net.ts';
import { type DaemonProcess, keygenFunded, lanesIn, lanesJson, spawnDaemon } from '../helpers/daemon-process.ts';

const ETHER = 10n ** 18n;
const NAMES = ['alice', 'hub', 'dave'] as const;
type Name = (typeof NAMES)[number];
/** The hub's rate: 2,000 TST base units for each ETH base unit (both have 18 decimals). */
const PER_GIVE = 2000n;
const HUB_FEE_BASE = 1000n;
const HUB_FEE_PPM = 100n;

let net: LocalNet;
const dirs = {} as Record<Name, string>;
const daemons: DaemonProcess[] = [];
const address = {} as Record<Name, string>;
let aliceHub = '';
let hubDave = '';

interface Payment {
  status: string;
  amount: string;
  asset: string;
  fee: string;
  route: { channelId: string; to: string }[];
  swap?: { asset: string; amount: string; hub: string; rateNum: string; rateDen: string };
  failure?: { reason: string; hop?: number };
}

interface Channel {
  balances: { asset: string; mine: string; theirs: string; locked: string }[];
}

const mine = async (n: Name, id: string) => BigInt((await lanesJson<Channel>(dirs[n], 'channel', 'show', id)).balances[0]!.mine);
const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

async function balances(): Promise<Record<string, bigint>> {
  return {
    aliceEth: await mine('alice', aliceHub),
    hubEth: await mine('hub', aliceHub),
    hubTst: await mine('hub', hubDave),
    daveTst: await mine('dave', hubDave),
  };
}

test.before(async () => {
  net = await localNet();
  for (const n of NAMES) {
    dirs[n] = net.tempDir(`swap-cli-${n}`);
    const k = await keygenFunded(net, dirs[n]);
    address[n] = k.address.toLowerCase();
  }
  await net.fund(
    { name: 'hub', address: address.hub as `0x${string}`, privateKey: new Uint8Array(), publicKey: new Uint8Array() },
    100n,
    1_000_000n * ETHER,
  );
  const hubConfig = join(dirs.hub, 'hub.json');
  writeFileSync(
    hubConfig,
    JSON.stringify({
      graph: { syncIntervalMs: 1000 },
      policies: { swap: { pairs: [{ receive: 'eth', give: net.token, minReceive: '1', perGive: String(PER_GIVE) }] } },
    }),
  );
  // Gossip can lose a message (an update that comes before the mesh has formed): each node asks
  // its peers for the whole graph again every second here, not every 2 minutes, or a payer that
  // missed the hub's policy has no route for that long.
  const graphConfig = (n: Name) => {
    const file = join(dirs[n], 'graph.json');
    writeFileSync(file, JSON.stringify({ graph: { syncIntervalMs: 1000 } }));
    return file;
  };
  const flags = {
    alice: ['--graph', '--config', graphConfig('alice')],
    hub: ['--config', hubConfig, '--fee-base', String(HUB_FEE_BASE), '--fee-ppm', String(HUB_FEE_PPM)],
    dave: ['--graph', '--config', graphConfig('dave')],
  };
  for (const n of NAMES) daemons.push(await spawnDaemon(net, dirs[n], flags[n]));
  const multiaddr = (n: Name) => daemons[NAMES.indexOf(n)]!.multiaddr;
  const open = async (from: Name, to: Name, ...args: string[]) => {
    const ch = await lanesJson<{ id: string; status: string }>(
      dirs[from],
      'channel',
      'open',
      '--peer',
      multiaddr(to),
      '--public',
      '--challenge-duration',
      '100',
      ...args,
    );
    if (ch.status !== 'open') throw new Error(`channel ${from}–${to}: ${ch.status}`);
    return ch.id;
  };
  aliceHub = await open('alice', 'hub', '--deposit', '1eth');
  hubDave = await open('hub', 'dave', '--asset', net.token, '--deposit', '100000TST');
});

test.after.always(async () => {
  await Promise.all(daemons.map((d) => d.stop()));
  await net?.stop();
});

test.serial(
  '`lanes pay <TST invoice> --pay-with eth`: dave gets 100 TST, alice sends what the quote asks, within --max-send',
  async (t) => {
    const inv = await lanesJson<{ invoice: string; amount: string; asset: string }>(
      dirs.dave,
      'invoice',
      'create',
      '--asset',
      'TST',
      '--amount',
      '100TST',
    );
    t.is(inv.amount, String(100n * ETHER), 'typed in the token’s own units');
    t.is(inv.asset, net.token.toLowerCase());
    const decoded = await lanesIn(dirs.dave, 'invoice', 'decode', inv.invoice);
    t.regex(decoded.stdout, /amount +100 TST/, 'shown in the token’s units');
    const before = await balances();
    // The payer learns the hub's channels and swap offer by gossip: until it has, there is no route.
    let paid: Payment | undefined;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await lanesIn(dirs.alice, '--json', 'pay', inv.invoice, '--pay-with', 'eth', '--max-send', '0.06eth');
      if (r.code === 0) {
        paid = JSON.parse(r.stdout) as Payment;
        break;
      }
      if (!/no-route|NO_ROUTE|no route/i.test(r.stderr) || Date.now() > deadline) throw new Error(`lanes pay failed: ${r.stderr}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    t.is(paid.status, 'settled');
    t.is(paid.amount, String(100n * ETHER));
    t.deepEqual(
      paid.route.map((h) => h.to),
      [address.hub, address.dave],
    );
    t.like(paid.swap, { asset: '0x0000000000000000000000000000000000000000', hub: address.hub, rateNum: String(PER_GIVE), rateDen: '1' });
    const amount = 100n * ETHER;
    const hubFee = HUB_FEE_BASE + (amount * HUB_FEE_PPM) / 1_000_000n;
    const quotedIn = ceilDiv(amount + hubFee, PER_GIVE);
    t.is(BigInt(paid.swap!.amount), quotedIn, 'the rate and the hub’s fee, rounded up, in ETH');
    t.true(quotedIn <= (6n * ETHER) / 100n, 'within --max-send');
    const after = await balances();
    t.is(after.aliceEth! - before.aliceEth!, -quotedIn, 'alice sent exactly that ETH');
    t.is(after.hubEth! - before.hubEth!, quotedIn);
    t.is(after.hubTst! - before.hubTst!, -amount, 'the hub paid out the TST');
    t.is(after.daveTst! - before.daveTst!, amount);
    const received = await lanesIn(dirs.dave, 'payments', '--direction', 'in');
    t.regex(received.stdout, /settled.*100 TST/s, "dave's history in TST units");
    const sent = await lanesIn(dirs.alice, 'payments', '--direction', 'out');
    t.regex(sent.stdout, /sent 0\.05\d* ETH/, "alice's history says what she sent, in ETH");
  },
);

test.serial('--max-send below what the quote asks: the payment fails with quote-refused and nothing moves', async (t) => {
  const inv = await lanesJson<{ invoice: string }>(dirs.dave, 'invoice', 'create', '--asset', 'TST', '--amount', '100TST');
  const before = await balances();
  const r = await lanesIn(dirs.alice, 'pay', inv.invoice, '--pay-with', 'eth', '--max-send', '0.04eth');
  t.not(r.code, 0);
  t.regex(r.stderr, /quote-refused/);
  t.deepEqual(await balances(), before);
  const failed = await lanesJson<Payment[]>(dirs.alice, 'payments', '--status', 'failed');
  t.true(failed.some((p) => p.failure?.reason === 'quote-refused'));
});

test.serial('an asset the payer cannot name, or --max-send without --pay-with: a clear error, no payment', async (t) => {
  const inv = await lanesJson<{ invoice: string }>(dirs.dave, 'invoice', 'create', '--asset', 'TST', '--amount', '1TST');
  const unknown = await lanesIn(dirs.alice, 'pay', inv.invoice, '--pay-with', 'XYZ');
  t.not(unknown.code, 0);
  t.regex(unknown.stderr, /--pay-with "XYZ" must be "eth", a 0x token address, or the symbol/);
  const alone = await lanesIn(dirs.alice, 'pay', inv.invoice, '--max-send', '0.01eth');
  t.not(alone.code, 0);
  t.regex(alone.stderr, /--max-send goes with --pay-with/);
  const wrongUnit = await lanesIn(dirs.alice, 'pay', inv.invoice, '--pay-with', 'eth', '--max-send', '5TST');
  t.not(wrongUnit.code, 0);
  t.regex(wrongUnit.stderr, /unknown unit|names a token|TST/);
});

test.serial('--swap-premium-ppm and --swap-upfront-ppm outside 0–1000000 are refused before the node starts', async (t) => {
  for (const [flag, value] of [
    ['--swap-upfront-ppm', '1000001'],
    ['--swap-upfront-ppm', '-5'],
    ['--swap-upfront-ppm', '0.5'],
    ['--swap-premium-ppm', 'lots'],
  ] as const) {
    const dir = join(net.tempDir('swap-cli-bad-ppm'), 'data');
    const r = await lanesIn(dir, 'node', 'start', '--chain-rpc', net.chain.rpcUrl, '--adjudicator', net.adjudicator, flag, value);
    t.not(r.code, 0, `${flag} ${value} was accepted`);
    t.regex(r.stderr, new RegExp(`${flag} "${value.replace('.', '\\.')}" must be a whole number from 0 to 1000000`));
  }
});
