/**
 * A hub restart does not stall a spoke's channel (issue 16, item 4). Real processes started
 * through the CLI: an EDR chain and two `lanes node start` daemons driven through `connect()`.
 * The hub opens the channel, so it is participant 0, the leader; the spoke is the follower and
 * pays through `request`s. While the spoke pays without pause, the hub is killed with SIGKILL
 * and started again with its command line. Every payment requested around the restart must
 * complete, or fail with a clear error, well within the 30 s operation timeout: before the fix
 * the follower's pending requests were neither sent again nor failed when the link came back,
 * and each waited out the timeout.
 */
import test from 'ava';
import { connect } from '../../src/sdk/connect.ts';
import type { LanesApi } from '../../src/sdk/api.ts';
import { LanesError } from '../../src/core/errors.ts';
import { type DaemonProcess, keygenFunded, spawnDaemon } from '../helpers/daemon-process.ts';
import { type LocalNet, localNet } from '../helpers/local-net.ts';
import { ETHER, eventually } from '../helpers/nodes.ts';

let net: LocalNet;
const processes: DaemonProcess[] = [];
const apis: LanesApi[] = [];

test.before(async () => {
  net = await localNet();
});

test.after.always(async () => {
  for (const a of apis) await a.stop().catch(() => undefined);
  for (const d of processes) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
  await net?.stop();
});

async function start(dir: string): Promise<{ daemon: DaemonProcess; api: LanesApi }> {
  const daemon = await spawnDaemon(net, dir);
  processes.push(daemon);
  const api = await connect({ url: daemon.url, token: daemon.token });
  apis.push(api);
  return { daemon, api };
}

interface Attempt {
  readonly startedAt: number;
  readonly ms: number;
  readonly ok: boolean;
  readonly error?: string;
}

const PAYMENT_LIMIT_MS = 10_000;

test('payments the follower requests around a SIGKILL and restart of the leader complete or fail fast', async (t) => {
  t.timeout(180_000);
  const hubDir = net.tempDir('hub-restart-hub');
  const spokeDir = net.tempDir('hub-restart-spoke');
  await keygenFunded(net, hubDir);
  await keygenFunded(net, spokeDir);
  let hub = await start(hubDir);
  const spoke = await start(spokeDir);

  // The hub opens, so it leads; it gives the spoke something to pay with.
  const spokeAddr = (await spoke.api.info()).multiaddrs[0]!;
  const ch = await hub.api.openChannel({ peer: spokeAddr, deposit: [10n * ETHER] });
  await hub.api.pay(ch.id, { amount: 5n * ETHER });
  t.is((await spoke.api.channel(ch.id)).role, 'follower');
  await eventually(
    async () => (await spoke.api.channel(ch.id)).balances[0]?.mine,
    (b) => b === 5n * ETHER,
  );
  for (let i = 0; i < 5; i++) await spoke.api.pay(ch.id, { amount: 1000n });

  // The spoke pays without pause, eight payments at a time, each timed.
  const attempts: Attempt[] = [];
  let paying = true;
  const worker = async () => {
    while (paying) {
      const startedAt = Date.now();
      try {
        await spoke.api.pay(ch.id, { amount: 1000n });
        attempts.push({ startedAt, ms: Date.now() - startedAt, ok: true });
      } catch (e) {
        attempts.push({
          startedAt,
          ms: Date.now() - startedAt,
          ok: false,
          error: e instanceof LanesError ? `${e.code}: ${e.shortMessage}` : String(e),
        });
        await new Promise((r) => setTimeout(r, 100)); // a refusal comes at once: do not spin
      }
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  await new Promise((r) => setTimeout(r, 1000));

  // The hub freezes (SIGSTOP), so that what the spoke requests now is received by nobody: the
  // workers' payments and one more are pending in the follower when the hub is killed (SIGKILL)
  // and started again with its command line.
  hub.daemon.child.kill('SIGSTOP');
  const requestedAt = Date.now();
  const pending = spoke.api.pay(ch.id, { amount: 7777n }).then(
    () => ({ ok: true as const, ms: Date.now() - requestedAt }),
    (e: unknown) => ({ ok: false as const, ms: Date.now() - requestedAt, error: e }),
  );
  await new Promise((r) => setTimeout(r, 300));
  const killedAt = Date.now();
  const exited = new Promise<void>((r) => hub.daemon.child.once('exit', () => r()));
  hub.daemon.child.kill('SIGKILL');
  await exited;
  // From here the old hub is gone: a payment that completes now was completed by the new one
  // (which may answer the spoke's re-sent requests before start() below has returned).
  const goneAt = Date.now();
  await hub.api.stop().catch(() => undefined);
  hub = await start(hubDir);
  const restartedAt = Date.now();
  t.log(`hub down for ${restartedAt - killedAt} ms`);

  // Payments flow again soon after the hub is back.
  const resumed = await eventually(
    async () => attempts.find((a) => a.ok && a.startedAt > restartedAt),
    (a) => a !== undefined,
    20_000,
  ).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 2000));
  paying = false;
  await Promise.all(workers);

  const around = attempts.filter((a) => a.startedAt >= requestedAt - 2000);
  const slow = around.filter((a) => a.ms >= PAYMENT_LIMIT_MS);
  const failures = new Map<string, number>();
  for (const a of around) if (!a.ok) failures.set(a.error!, (failures.get(a.error!) ?? 0) + 1);
  t.log(
    `${around.length} payments around the restart: ${around.filter((a) => a.ok).length} completed, slowest ${Math.max(...around.map((a) => a.ms))} ms`,
  );
  for (const [error, n] of failures) t.log(`  ${n}× ${error}`);
  t.deepEqual(
    slow.map((a) => `${a.ms} ms from ${a.startedAt - killedAt} ms after the kill: ${a.error ?? 'completed'}`),
    [],
    'payments that took 10 s or more',
  );
  t.truthy(resumed, 'no payment completed after the hub restarted');
  for (const error of failures.keys()) t.notRegex(error, /TIMEOUT|timed out/, 'a failure is said, not waited out');

  // The payment requested while the hub was frozen went through once the hub was back.
  const p = await pending;
  t.log(`the payment requested before the kill: ${p.ok ? 'completed' : String(p.error)} after ${p.ms} ms`);
  t.true(p.ok, `the payment requested before the kill failed: ${p.ok ? '' : String(p.error)}`);
  t.true(p.ms < PAYMENT_LIMIT_MS, `the payment requested before the kill took ${p.ms} ms`);
  t.true(
    around.some((a) => a.ok && a.startedAt < killedAt && a.startedAt + a.ms > goneAt),
    "no worker's payment pending at the kill completed after the restart",
  );

  // The channel is still in step on both sides.
  await eventually(
    async () => [(await hub.api.channel(ch.id)).version, (await spoke.api.channel(ch.id)).version],
    ([a, b]) => a === b,
  );
  t.is((await spoke.api.channel(ch.id)).status, 'open');
});
