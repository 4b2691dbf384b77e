/**
 * Two nodes on EDR, alice's transactions sent and paid by a separate gas key (irene's): her
 * deposits still credit her; her info shows the gas account and the token's units; her metrics
 * count what she did and are served on the control API behind the token and on a loopback port.
 */
import test from 'ava';
import { pino } from 'pino';
import { NATIVE_ASSET } from '../../src/core/index.ts';
import { startControlServer } from '../../src/api/control-server.ts';
import { startMetricsServer } from '../../src/api/metrics-server.ts';
import { AssetBook } from '../../src/sdk/asset-info.ts';
import { irene } from '../helpers/actors.ts';
import { ETHER, type Network, type TestNodeConfig, bytesToHex, converged, network } from '../helpers/nodes.ts';

let net: Network;
let aliceConfig: TestNodeConfig = {};
test.before(async () => {
  net = await network(['alice', 'bob'], (name) => ({ policies: { open: () => true }, ...(name === 'alice' ? aliceConfig : {}) }));
  await net.chain.setBalance(irene.address, 1000n * ETHER);
  await net.mint(irene.address, 1000n * ETHER);
  aliceConfig = { chain: { rpc: net.provider, adjudicator: net.adjudicator, privateKey: bytesToHex(irene.privateKey) } };
  await net.nodes.alice!.restart();
});
test.after.always(async () => {
  await net?.stop();
});

/** The value of one sample line of Prometheus text, e.g. `lanes_node_payments_total{outcome="ok"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test.serial('a gas key sends and funds the deposits; the node key is credited and signs the states', async (t) => {
  const { alice, bob } = net.nodes;
  const info = await alice!.node.info();
  t.is(info.address, alice!.actor.address);
  t.is(info.gasAccount, irene.address);
  t.is((await bob!.node.info()).gasAccount, undefined, 'a node without one shows none');
  const tokensBefore = await net.tokenBalance(irene.address);
  const aliceTokens = await net.tokenBalance(alice!.actor.address);
  const ch = await alice!.node.openChannel({ peer: bob!.multiaddr, assets: [NATIVE_ASSET, net.token], deposit: [ETHER, 500n * ETHER] });
  t.is(ch.status, 'open');
  t.deepEqual(
    ch.balances.map((b) => b.mine),
    [ETHER, 500n * ETHER],
    'credited to alice, participant 0',
  );
  t.is(await net.tokenBalance(irene.address), tokensBefore - 500n * ETHER, 'from the gas account');
  t.is(await net.tokenBalance(alice!.actor.address), aliceTokens, "alice's own tokens untouched");
  await alice!.node.pay(ch.id, { asset: net.token, amount: 5n * ETHER });
  await converged(ch.id, alice!, bob!);
  t.is((await bob!.node.channel(ch.id)).balances[1]!.mine, 5n * ETHER);
});

test.serial("info lists the channels' tokens with their symbol and decimals, read once", async (t) => {
  const { alice } = net.nodes;
  const assets = (await alice!.node.info()).assets ?? [];
  t.deepEqual(assets, [
    { asset: NATIVE_ASSET, symbol: 'ETH', decimals: 18 },
    { asset: net.token, symbol: 'TST', decimals: 18 },
  ]);
  const book = new AssetBook(assets);
  t.is(book.format(99_999_999_999_999_990_446n, net.token), '99.999999999999990446 TST');
  t.deepEqual(book.parse('10TST', 'amount', [net.token]).amount, 10n * ETHER);
});

test.serial('metrics count payments, updates, channels and flushes, and follow the chain', async (t) => {
  const { alice, bob } = net.nodes;
  const ch = await alice!.node.openChannel({ peer: bob!.multiaddr, deposit: [ETHER] });
  const before = sample(await alice!.node.metrics.text(), 'lanes_node_payments_total{outcome="ok"}') ?? 0;
  for (let i = 0; i < 3; i++) await alice!.node.pay(ch.id, { amount: 1n });
  await t.throwsAsync(alice!.node.pay(ch.id, { amount: 10n * ETHER }));
  const text = await alice!.node.metrics.text();
  t.is(sample(text, 'lanes_node_payments_total{outcome="ok"}'), before + 3);
  t.true((sample(text, 'lanes_node_payments_total{outcome="failed"}') ?? 0) >= 1);
  t.true((sample(text, 'lanes_node_payment_duration_seconds_count') ?? 0) >= before + 3);
  t.true((sample(text, 'lanes_node_channel_updates_total') ?? 0) >= 3);
  t.is(sample(text, 'lanes_node_channels{status="open"}'), 2);
  t.is(sample(text, 'lanes_node_channels{status="closed"}'), 0);
  t.is(sample(text, 'lanes_node_peers_connected'), 1);
  t.true((sample(text, 'lanes_node_store_flush_duration_seconds_count') ?? 0) > 0);
  const head = sample(text, 'lanes_node_chain_head_block');
  t.true(head !== undefined && head > 0);
  t.true((sample(text, 'lanes_node_chain_head_lag_blocks') ?? -1) >= 0);
  t.regex(text, /# TYPE lanes_node_payment_duration_seconds histogram/);
  t.regex(text, /# TYPE lanes_node_coordinator_round_trip_seconds histogram/);
});

test.serial('the control API serves the metrics behind its token; the metrics port on loopback only', async (t) => {
  const { alice } = net.nodes;
  const api = alice!.node;
  const server = await startControlServer({ api, token: 'secret-token', logger: pino({ level: 'silent' }), metrics: api.metrics });
  const port = await startMetricsServer({ source: api.metrics, port: 0 });
  try {
    t.is((await fetch(`${server.url}/metrics`)).status, 401);
    const ok = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer secret-token' } });
    t.is(ok.status, 200);
    t.regex(ok.headers.get('content-type') ?? '', /^text\/plain/);
    t.regex(await ok.text(), /^lanes_node_payments_total\{outcome="ok"\} \d+$/m);
    const open = await fetch(port.url);
    t.is(open.status, 200);
    t.regex(await open.text(), /lanes_node_channels\{status="open"\}/);
    t.is((await fetch(port.url.replace('/metrics', '/v1/info'))).status, 404, 'nothing else there');
    await t.throwsAsync(startMetricsServer({ source: api.metrics, port: 0, host: '0.0.0.0' }), { message: /loopback only/ });
  } finally {
    await port.close();
    await server.close();
  }
});
