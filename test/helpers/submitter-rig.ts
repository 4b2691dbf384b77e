/**
 * A coordinator's Submitter alone, on a real EVM (EDR, in-process): its own queue in a temp
 * directory, irene's key for gas, and what each batch came to (`mined`, by batch id).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { EIP1193Provider } from 'viem';
import { type Clients, type ItemResult, createClients } from '../../src/chain/chain-service.ts';
import { bytesToHex } from '../../src/core/index.ts';
import { CoordinatorQueue } from '../../src/coordinator/queue.ts';
import type { BatchRecord } from '../../src/coordinator/records.ts';
import { Submitter } from '../../src/coordinator/submitter.ts';
import { type TestChain, irene, setupChain } from './chain.ts';

export type BatchOutcome = readonly ItemResult[] | 'reverted' | 'dropped';

export interface SubmitterRig {
  readonly tc: TestChain;
  readonly clients: Clients;
  readonly queue: CoordinatorQueue;
  readonly submitter: Submitter;
  readonly mined: Map<bigint, BatchOutcome>;
  readonly dir: string;
}

/** Started (`submitter.start()`); `provider` stands in for the chain's (a flaky one, say). */
export async function submitterRig(o: { tc?: TestChain; provider?: EIP1193Provider; name?: string } = {}): Promise<SubmitterRig> {
  const tc = o.tc ?? (await setupChain());
  const clients = await createClients({
    rpc: o.provider ?? tc.chain.provider,
    privateKey: bytesToHex(irene.privateKey),
    pollingIntervalMs: 10,
  });
  const dir = mkdtempSync(join(tmpdir(), `lanes-${o.name ?? 'submitter'}-`));
  const queue = await CoordinatorQueue.open(join(dir, 'queue'));
  const mined = new Map<bigint, BatchOutcome>();
  const submitter = new Submitter({
    clients,
    adjudicator: tc.adjudicator,
    queue,
    log: pino({ level: 'silent' }),
    payout: 'transfer',
    replaceAfterMs: 60_000,
    pollMs: 10,
    onMined: (batch: BatchRecord, outcome) => {
      mined.set(batch.id, outcome);
      return Promise.resolve();
    },
  });
  await submitter.start();
  return { tc, clients, queue, submitter, mined, dir };
}

export async function stopSubmitterRig(r: SubmitterRig): Promise<void> {
  await r.submitter.stop();
  await r.queue.close();
  rmSync(r.dir, { recursive: true, force: true });
}
