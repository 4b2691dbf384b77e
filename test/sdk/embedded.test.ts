/** The shared SDK suite against nodes embedded in this process (createNode). */
import { pino } from 'pino';
import { NATIVE_ASSET, createNode } from '../../src/index.ts';
import { actor, alice, bob } from '../helpers/actors.ts';
import { localNet } from '../helpers/local-net.ts';
import { mutePeer } from '../helpers/mute-peer.ts';
import { runSdkSuite } from './suite.ts';

runSdkSuite('embedded', async () => {
  const net = await localNet();
  await net.fund(alice, 100n, 10n ** 24n);
  await net.fund(bob, 100n, 10n ** 24n);
  await net.fund(actor('carol'), 1n);
  const common = { chain: { rpc: net.chain.rpcUrl, adjudicator: net.adjudicator }, logger: pino({ level: 'silent' }), chainPollMs: 50 };
  const a = await createNode({ ...common, privateKey: alice.privateKey, dataDir: net.tempDir('sdk-alice') });
  const b = await createNode({
    ...common,
    privateKey: bob.privateKey,
    dataDir: net.tempDir('sdk-bob'),
    policies: {
      open: { maxDeposit: { [NATIVE_ASSET]: 10n ** 19n, [net.token]: 10n ** 24n } },
      swap: { pairs: [{ receive: NATIVE_ASSET, give: net.token, minReceive: 1n, perGive: 1000n }] },
    },
  });
  const c = await createNode({
    ...common,
    privateKey: actor('carol').privateKey,
    dataDir: net.tempDir('sdk-carol'),
    timeouts: { openMs: 1500 },
  });
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
      await net.stop();
    },
  };
});
