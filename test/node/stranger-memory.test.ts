/**
 * What strangers can make a node keep (issue 16, memory). Real processes: an EDR chain, two
 * `lanes node start` daemons, and a barrage process (test/helpers/stranger-barrage.ts) whose
 * throwaway libp2p identities each dial alice, open a channel-protocol stream, send junk and
 * leave. Before the fix every one of them stayed in alice's libp2p peer store and in the
 * transport's address book for good (6,000 after three barrages of 2,000, RSS 205 → 530 MB);
 * now a peer we did not dial is forgotten when its last connection closes. Counted through
 * `lanes_node_p2p_peer_entries{table}` on /metrics; RSS and heap only go into the log, as they
 * are noisy on a shared machine. Bob, who has a channel with alice and dialed her, is still
 * found again after alice restarts, and pays.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { connect } from '../../src/sdk/connect.ts';
import type { LanesApi } from '../../src/sdk/api.ts';
import { type DaemonProcess, keygenFunded, spawnDaemon } from '../helpers/daemon-process.ts';
import { type LocalNet, localNet } from '../helpers/local-net.ts';
import { eventually } from '../helpers/nodes.ts';

const BARRAGE = new URL('../helpers/stranger-barrage.ts', import.meta.url).pathname;
const run = promisify(execFile);
const STRANGERS = 300;
/** Strangers the node may still hold once they left: none, but a few may still be closing. */
const KEPT_BOUND = 10;

let net: LocalNet;
const daemons: DaemonProcess[] = [];
const apis: LanesApi[] = [];

test.before(async () => {
  net = await localNet();
});

test.after.always(async () => {
  for (const a of apis) await a.stop().catch(() => undefined);
  await Promise.all(daemons.map((d) => d.stop()));
  await net?.stop();
});

async function start(dir: string): Promise<{ d: DaemonProcess; api: LanesApi }> {
  const d = await spawnDaemon(net, dir);
  daemons.push(d);
  const api = await connect({ url: d.url, token: d.token });
  apis.push(api);
  return { d, api };
}

interface Sample {
  readonly rssMb: number;
  readonly heapMb: number;
  readonly tables: Record<string, number>;
}

async function sample(d: DaemonProcess): Promise<Sample> {
  const res = await fetch(`${d.url}/metrics`, { headers: { authorization: `Bearer ${d.token}` } });
  const text = await res.text();
  const mb = (re: RegExp) => Math.round(Number(re.exec(text)?.[1] ?? NaN) / 1e5) / 10;
  const tables: Record<string, number> = {};
  for (const m of text.matchAll(/lanes_node_p2p_peer_entries\{table="(\w+)"\} (\d+)/g)) tables[m[1]!] = Number(m[2]);
  return { rssMb: mb(/process_resident_memory_bytes (\d+)/), heapMb: mb(/nodejs_heap_size_used_bytes (\d+)/), tables };
}

const line = (s: Sample) =>
  `rss ${s.rssMb} MB, heap used ${s.heapMb} MB, ${Object.entries(s.tables)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}`;

test('strangers that come and go leave nothing behind; a channel peer is still found after a restart', async (t) => {
  t.timeout(120_000);
  const aliceDir = net.tempDir('alice');
  const bobDir = net.tempDir('bob');
  await Promise.all([keygenFunded(net, aliceDir), keygenFunded(net, bobDir)]);
  let alice = await start(aliceDir);
  const bob = await start(bobDir);
  const ch = await bob.api.openChannel({ peer: alice.d.multiaddr, deposit: [10n ** 18n] });
  await eventually(
    () => bob.api.channel(ch.id),
    (c) => c.status === 'open',
    20_000,
  );

  const before = await sample(alice.d);
  t.log(`before: ${line(before)}`);
  t.is(before.tables.peerStore, 1, 'bob only');
  for (let round = 1; round <= 2; round++) {
    const { stdout } = await run(process.execPath, [BARRAGE, alice.d.multiaddr, String(STRANGERS), '12']);
    const outcome = JSON.parse(stdout) as { done: number; failed: number };
    t.true(outcome.done >= STRANGERS * 0.9, `barrage ${round}: ${stdout.trim()}`);
    const after = await eventually(
      () => sample(alice.d),
      (s) => (s.tables.connections ?? 99) <= 1,
      15_000,
    );
    t.log(`after barrage ${round} (${outcome.done} strangers): ${line(after)}`);
    // Before the fix: peerStore and addressBook grew by one per stranger (301, then 601).
    t.true(after.tables.peerStore! <= 1 + KEPT_BOUND, `peer store holds ${after.tables.peerStore}`);
    t.true(after.tables.addressBook! <= 1 + KEPT_BOUND, `address book holds ${after.tables.addressBook}`);
    t.true(after.tables.links! <= 1 + KEPT_BOUND);
    t.true(after.tables.penalties! <= 4096);
  }

  // The channel peer is still known: alice restarts, bob finds her again, and pays.
  await alice.api.stop();
  await alice.d.stop();
  alice = await start(aliceDir);
  await eventually(
    () => bob.api.channel(ch.id),
    (c) => c.counterparty.connected,
    30_000,
  );
  const paid = await bob.api.pay(ch.id, { amount: 10n ** 15n });
  t.truthy(paid);
  const restarted = await sample(alice.d);
  t.log(`alice after her restart: ${line(restarted)}`);
  t.is(restarted.tables.peerStore, 1);
});
