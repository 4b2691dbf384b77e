/** The shared SDK suite against daemons in their own processes, through connect(). */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../../src/sdk/connect.ts';
import { actor, alice, bob } from '../helpers/actors.ts';
import { keyHex, localNet } from '../helpers/local-net.ts';
import { readyFile, track } from '../helpers/spawned.ts';
import { mutePeer } from '../helpers/mute-peer.ts';
import { runSdkSuite } from './suite.ts';

const BIN = new URL('../../bin/lanes.js', import.meta.url).pathname;

runSdkSuite('remote', async () => {
  const net = await localNet();
  await net.fund(alice, 100n, 10n ** 24n);
  await net.fund(bob, 100n, 10n ** 24n);
  await net.fund(actor('carol'), 1n);
  const children: ChildProcess[] = [];
  const start = async (name: string, key: string, config?: object) => {
    const dir = net.tempDir(`remote-${name}`);
    writeFileSync(join(dir, 'node.key'), `${key}\n`, { mode: 0o600 });
    const args = [
      BIN,
      '--data-dir',
      dir,
      'node',
      'start',
      '--chain-rpc',
      net.chain.rpcUrl,
      '--adjudicator',
      net.adjudicator,
      '--log-level',
      'warn',
    ];
    if (config) {
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      args.push('--config', join(dir, 'config.json'));
    }
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(track(child));
    const { url } = await readyFile<{ pid: number; url: string }>(child, join(dir, 'api.json'), `${name}'s daemon`);
    return connect({ url, token: readFileSync(join(dir, 'api.token'), 'utf8').trim() });
  };
  const a = await start('alice', keyHex(alice));
  const b = await start('bob', keyHex(bob), {
    policies: {
      open: { maxDeposit: { eth: '10eth', [net.token]: String(10n ** 24n) } },
      swap: { pairs: [{ receive: 'eth', give: net.token, minReceive: '1', perGive: '1000' }] },
    },
  });
  const c = await start('carol', keyHex(actor('carol')), { timeouts: { openMs: 1500 } });
  const mute = await mutePeer();
  return {
    alice: a,
    bob: b,
    bobMultiaddr: (await b.info()).multiaddrs[0]!,
    carol: c,
    muteMultiaddr: mute.multiaddr,
    token: net.token,
    ethBalance: (who) => net.ethBalance(who),
    refuseEth: (who, refuse) => net.refuseEth(who, refuse),
    async teardown() {
      await a.stop();
      await b.stop();
      await c.stop();
      await mute.stop();
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.kill('SIGTERM');
            }),
        ),
      );
      await net.stop();
    },
  };
});
