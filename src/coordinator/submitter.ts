/**
 * Submits batches with the coordinator's own nonces and follows each to its receipt.
 *
 * Every transaction is signed here and written to the queue (raw bytes and hash) before it is
 * broadcast, so after a crash the coordinator knows every transaction that may be on the
 * chain: it rebroadcasts the same bytes, or replaces them with a higher fee under the same
 * nonce. Two transactions with one nonce can never both be mined, so no item is paid for twice.
 */
import { type Hex, encodeFunctionData, keccak256 } from 'viem';
import type { Logger } from 'pino';
import { LanesAdjudicatorAbi } from '../chain/artifacts/LanesAdjudicator.ts';
import type { Clients, ItemResult, PayoutMode } from '../chain/chain-service.ts';
import { itemResults } from '../chain/chain-service.ts';
import { challengeItem, closeItem, concludeItem } from '../chain/encode.ts';
import { decodeEvents } from '../chain/events.ts';
import type { Address, Bytes32 } from '../core/bytes.ts';
import type { BatchKind } from './planner.ts';
import type { CoordinatorQueue } from './queue.ts';
import type { BatchRecord, ItemRecord, SentTransaction } from './records.ts';

export interface SubmitterOptions {
  readonly clients: Clients;
  readonly adjudicator: Address;
  readonly queue: CoordinatorQueue;
  readonly log: Logger;
  readonly payout: PayoutMode;
  /** Replace a transaction not mined after this long (ms). */
  readonly replaceAfterMs: number;
  readonly pollMs: number;
  /** Called once a batch is mined (or reverted as a whole). */
  readonly onMined: (batch: BatchRecord, outcome: readonly ItemResult[] | 'reverted') => Promise<void>;
  readonly onReplaced?: (batch: BatchRecord) => void;
}

const PAYOUT = { transfer: 0, credit: 1 } as const;

/** Calldata of one batch. */
export function batchCall(kind: BatchKind, items: readonly ItemRecord[], payout: PayoutMode): Hex {
  switch (kind) {
    case 'close':
      return encodeFunctionData({
        abi: LanesAdjudicatorAbi,
        functionName: 'closeBatch',
        args: [items.map((i) => (i.item.kind === 'close' ? closeItem(i.item.params, i.item.signed) : bad(i))), PAYOUT[payout]],
      });
    case 'dispute':
      return encodeFunctionData({
        abi: LanesAdjudicatorAbi,
        functionName: 'challengeBatch',
        args: [items.map((i) => (i.item.kind === 'dispute' ? challengeItem(i.item.params, i.item.signed) : bad(i)))],
      });
    case 'conclude':
      return encodeFunctionData({
        abi: LanesAdjudicatorAbi,
        functionName: 'concludeBatch',
        args: [items.map((i) => (i.item.kind === 'conclude' ? concludeItem(i.item.params, i.item.state) : bad(i))), PAYOUT[payout]],
      });
    case 'reveal':
      return encodeFunctionData({
        abi: LanesAdjudicatorAbi,
        functionName: 'revealSecrets',
        args: [items.flatMap((i) => (i.item.kind === 'reveal' ? i.item.secrets : bad(i)))],
      });
  }
}

function bad(i: ItemRecord): never {
  throw new Error(`item ${i.id} of kind ${i.item.kind} in a ${i.kind} batch`);
}

const OPERATION = { close: 'close', dispute: 'challenge', conclude: 'conclude' } as const;

export class Submitter {
  readonly #o: SubmitterOptions;
  #stopped = false;
  readonly #following = new Set<Promise<void>>();

  constructor(options: SubmitterOptions) {
    this.#o = options;
  }

  get #address(): Address {
    return this.#o.clients.account.address;
  }

  /** Aligns the nonce with the chain and resumes following every batch not yet mined. */
  async start(): Promise<void> {
    const { publicClient } = this.#o.clients;
    const pending = await publicClient.getTransactionCount({ address: this.#address, blockTag: 'pending' });
    this.#o.queue.raiseNonce(BigInt(pending));
    await this.#o.queue.flush();
    for (const b of this.#o.queue.batches.values()) {
      if (b.status === 'pending') {
        this.#o.log.info({ batch: String(b.id), nonce: String(b.nonce), txs: b.txs.length }, 'resuming a batch sent before a restart');
        this.#follow(b, true);
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.allSettled([...this.#following]);
  }

  /** Signs, stores (durably) and broadcasts one batch; follows it to its receipt in the background. */
  async submit(kind: BatchKind, items: readonly ItemRecord[], plannedGas: number): Promise<BatchRecord> {
    const { clients, queue } = this.#o;
    const data = batchCall(kind, items, this.#o.payout);
    const gas = await this.#gasLimit(data, plannedGas);
    const fees = await clients.publicClient.estimateFeesPerGas();
    const { id, nonce } = queue.allocBatch();
    const tx = await this.#sign(data, nonce, gas, fees.maxFeePerGas, fees.maxPriorityFeePerGas);
    const batch: BatchRecord = {
      id,
      kind,
      itemIds: items.map((i) => i.id),
      nonce,
      gas,
      txs: [tx],
      status: 'pending',
      createdAt: Date.now(),
    };
    for (const item of items) {
      item.status = 'submitted';
      item.batchId = id;
      item.attempts += 1;
      queue.putItem(item);
    }
    queue.putBatch(batch);
    await queue.flush(); // before it can reach the chain
    await this.#broadcast(tx, batch);
    this.#o.log.info({ batch: String(id), kind, items: items.length, nonce: String(nonce), tx: tx.hash }, 'batch sent');
    this.#follow(batch, false);
    return batch;
  }

  async #gasLimit(data: Hex, planned: number): Promise<bigint> {
    try {
      const est = await this.#o.clients.publicClient.estimateGas({ account: this.#address, to: this.#o.adjudicator, data });
      return (est * 13n) / 10n + 20_000n; // refunds make estimates tight; a failed item may cost more
    } catch (e) {
      this.#o.log.warn({ err: e }, 'gas estimation failed; using the planned gas');
      return BigInt(Math.ceil(planned * 1.5));
    }
  }

  async #sign(data: Hex, nonce: bigint, gas: bigint, maxFeePerGas: bigint, maxPriorityFeePerGas: bigint): Promise<SentTransaction> {
    const { walletClient, account, chain } = this.#o.clients;
    const raw = await walletClient.signTransaction({
      account,
      chain,
      to: this.#o.adjudicator,
      data,
      nonce: Number(nonce),
      gas,
      maxFeePerGas,
      maxPriorityFeePerGas,
      type: 'eip1559',
    });
    return { hash: keccak256(raw) as Bytes32, raw, maxFeePerGas, maxPriorityFeePerGas, sentAt: Date.now() };
  }

  async #broadcast(tx: SentTransaction, batch: BatchRecord): Promise<void> {
    try {
      await this.#o.clients.publicClient.sendRawTransaction({ serializedTransaction: tx.raw });
    } catch (e) {
      // "already known", "nonce too low" (one of ours was mined), "underpriced": the follower
      // finds out which transaction made it, or replaces it.
      this.#o.log.debug({ err: e, batch: String(batch.id), tx: tx.hash }, 'broadcast refused');
    }
  }

  #follow(batch: BatchRecord, rebroadcast: boolean): void {
    const run = this.#followLoop(batch, rebroadcast).catch((e: unknown) =>
      this.#o.log.error({ err: e, batch: String(batch.id) }, 'following a batch failed'),
    );
    this.#following.add(run);
    void run.finally(() => this.#following.delete(run));
  }

  async #followLoop(batch: BatchRecord, rebroadcast: boolean): Promise<void> {
    const { publicClient } = this.#o.clients;
    if (rebroadcast) await this.#broadcast(batch.txs.at(-1)!, batch);
    while (!this.#stopped) {
      for (const tx of batch.txs) {
        const receipt = await publicClient.getTransactionReceipt({ hash: tx.hash }).catch(() => undefined);
        if (!receipt) continue;
        batch.status = receipt.status === 'success' ? 'mined' : 'reverted';
        batch.minedAt = Date.now();
        batch.receipt = { hash: receipt.transactionHash as Bytes32, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed };
        this.#o.queue.putBatch(batch);
        if (receipt.status !== 'success') return this.#o.onMined(batch, 'reverted');
        const events = decodeEvents(receipt.logs.filter((l) => l.address.toLowerCase() === this.#o.adjudicator));
        const outcome: ItemResult[] =
          batch.kind === 'reveal'
            ? batch.itemIds.map(() => ({ channelId: `0x${'00'.repeat(32)}` as Bytes32, ok: true as const }))
            : itemResults(OPERATION[batch.kind], events, batch.itemIds.length);
        return this.#o.onMined(batch, outcome);
      }
      const last = batch.txs.at(-1)!;
      if (Date.now() - last.sentAt >= this.#o.replaceAfterMs) await this.#replace(batch);
      await new Promise((r) => setTimeout(r, this.#o.pollMs));
    }
  }

  /** Same nonce, fees up by at least 12.5% (nodes require 10%), stored before it is broadcast. */
  async #replace(batch: BatchRecord): Promise<void> {
    const last = batch.txs.at(-1)!;
    const current = await this.#o.clients.publicClient.estimateFeesPerGas().catch(() => undefined);
    const bump = (old: bigint, now: bigint | undefined) => {
      const up = (old * 1125n) / 1000n + 1n;
      return now !== undefined && now > up ? now : up;
    };
    const data = batchCall(
      batch.kind,
      batch.itemIds.map((id) => this.#o.queue.items.get(id)!),
      this.#o.payout,
    );
    const tx = await this.#sign(
      data,
      batch.nonce,
      batch.gas,
      bump(last.maxFeePerGas, current?.maxFeePerGas),
      bump(last.maxPriorityFeePerGas, current?.maxPriorityFeePerGas),
    );
    batch.txs.push(tx);
    this.#o.queue.putBatch(batch);
    await this.#o.queue.flush();
    this.#o.log.warn(
      { batch: String(batch.id), nonce: String(batch.nonce), tx: tx.hash, maxFeePerGas: String(tx.maxFeePerGas) },
      'not mined in time: replaced with a higher fee',
    );
    this.#o.onReplaced?.(batch);
    await this.#broadcast(tx, batch);
  }
}
