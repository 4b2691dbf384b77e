/** A real `hardhat node` process over HTTP: the launcher, the service, and the resumable event stream. */
import test from 'ava';
import { NATIVE_ASSET } from '../../src/core/index.ts';
import { createChainService, createClients, deployAdjudicator } from '../../src/chain/chain-service.ts';
import type { ChainEvent } from '../../src/chain/events.ts';
import { DEV_KEYS, startLocalChain } from '../../src/chain/local-chain.ts';
import { alice, bob } from '../helpers/actors.ts';

test('starts on 127.0.0.1 with a free port, serves the adjudicator, streams events resumably, and stops', async (t) => {
  const chain = await startLocalChain();
  try {
    t.regex(chain.rpcUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    t.is(chain.chainId, 31337n);
    const adjudicator = await deployAdjudicator(await createClients({ rpc: chain.rpcUrl, privateKey: DEV_KEYS[0] }));
    const svc = await createChainService({ rpc: chain.rpcUrl, privateKey: DEV_KEYS[1], adjudicator, pollingIntervalMs: 20 });
    const params = {
      chainId: 31337n,
      adjudicator,
      participants: [alice.address, bob.address] as const,
      assets: [NATIVE_ASSET],
      challengeDuration: 60n,
      nonce: 1n,
    };
    const start = await svc.blockNumber();
    await svc.deposit(params, 0, 0, 5n);
    const first = await svc.events(start);
    t.deepEqual(
      first.events.map((e) => e.type),
      ['deposited'],
    );
    // Resuming from nextBlock sees only what is new; replaying from the start sees it again.
    await svc.deposit(params, 0, 1, 7n);
    const next = await svc.events(first.nextBlock);
    t.deepEqual(
      next.events.map((e) => (e.type === 'deposited' ? e.holdingsAfter : -1n)),
      [12n],
    );
    t.is((await svc.events(start)).events.length, 2);
    // watch() delivers new events in order, then stops when asked.
    const seen: ChainEvent[] = [];
    const stop = svc.watch({ fromBlock: start, pollMs: 20, onEvents: (evs) => void seen.push(...evs) });
    await svc.deposit(params, 0, 0, 1n);
    const deadline = Date.now() + 10_000;
    while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    stop();
    t.deepEqual(
      seen.map((e) => (e.type === 'deposited' ? e.amount : -1n)),
      [5n, 7n, 1n],
    );
  } finally {
    await chain.stop();
  }
  // The process is gone: signal 0 to its PID fails.
  t.throws(() => process.kill(chain.pid, 0));
});
