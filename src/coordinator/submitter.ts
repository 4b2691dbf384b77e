/**
 * Submits batches with the coordinator's own nonces and follows each to its receipt.
 *
 * Nothing is broadcast that does not pass its simulation (`eth_call` at the gas limit it is sent
 * with): a batch that would revert is bisected (simulate.ts), the groups that pass are sent, and
 * the items that revert alone are handed back to the caller, untouched. No simulation, no
 * transaction: an RPC failure while simulating throws before any nonce is used.
 *
 * Every transaction is signed here and written to the queue (raw bytes and hash) before it is
 * broadcast, so after a crash the coordinator knows every transaction that may be on the
 * chain: it rebroadcasts the same bytes, or replaces them with a higher fee under the same
 * nonce. Two transactions with one nonce can never both be mined, so no item is paid for twice.
 */
import { type Hex, TransactionNotFoundError, TransactionReceiptNotFoundError, encodeFunctionData, keccak256 } from 'viem';
import type { Logger } from 'pino';
import { LanesAdjudicatorAbi } from '../chain/artifacts/LanesAdjudicator.ts';
import type { Clients, ItemResult, PayoutMode } from '../chain/chain-service.ts';
import { itemResults } from '../chain/chain-service.ts';
import { challengeItem, closeItem, concludeItem } from '../chain/encode.ts';
import { decodeEvents } from '../chain/events.ts';
import type { Address, Bytes32 } from '../core/bytes.ts';
import { TX_GAS_CAP, batchGasLimit } from './gas.ts';
import type { BatchKind } from './planner.ts';
import type { CoordinatorQueue } from './queue.ts';
import type { BatchRecord, ItemRecord, SentTransaction } from './records.ts';
import { isolate, simulateBatch } from './simulate.ts';

/** How often (ms) a transaction waiting for its receipt is looked up, and sent again if the node has lost it. */
const LOOKUP_EVERY_MS = 1_000;
/** Lookups in a row that must find a batch's nonce used by a transaction not its own before its items are queued again. */
const NONCE_USED_LOOKUPS = 3;
/** How long (ms) a nonce gap must be seen before it is filled, and a filler's time before it is sent again at a higher fee. */
const GAP_MS = 2_000;
const REFILL_MS = 10_000;

/**
 * A fee for a transaction that replaces one paid `last` (12.5% over it: nodes require 10%), or
 * `market` if that is higher; `market` alone when nothing was sent yet.
 */
function bumpedFee(last: bigint | undefined, market: bigint | undefined): bigint {
  const up = last === undefined ? 0n : (last * 1125n) / 1000n + 1n;
  return market !== undefined && market > up ? market : up;
}

export interface SubmitterOptions {
  readonly clients: Clients;
  readonly adjudicator: Address;
  readonly queue: CoordinatorQueue;
  readonly log: Logger;
  readonly payout: PayoutMode;
  /** Replace a transaction not mined after this long (ms). */
  readonly replaceAfterMs: number;
  readonly pollMs: number;
  /** Called once a batch is mined, reverted as a whole, or dropped (its nonce used by another transaction). */
  readonly onMined: (batch: BatchRecord, outcome: readonly ItemResult[] | 'reverted' | 'dropped') => Promise<void>;
  readonly onReplaced?: (batch: BatchRecord) => void;
  /** Blocks on top before the chain's use of a nonce counts (the coordinator's confirmations; default 0). */
  readonly confirmations?: number;
  /** The largest gas limit a batch may have (default {@link TX_GAS_CAP}; the block's gas limit if lower). */
  readonly gasCap?: bigint;
}

/** What became of the items handed to {@link Submitter.submit}. */
export interface SubmitOutcome {
  /** The batches sent (stored, broadcast, followed to their receipts). */
  readonly sent: readonly BatchRecord[];
  /** Items whose simulation reverts even alone: not sent, and left as they were. */
  readonly refused: readonly { readonly item: ItemRecord; readonly reason: string }[];
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
  /** Nonces allocated to a batch not stored yet. */
  readonly #signing = new Set<bigint>();
  /** Nonce gaps, by nonce: since when each has been seen. */
  readonly #gapSince = new Map<bigint, number>();
  /** Fillers sent, by nonce: when, and at what fees (sent again at higher ones while the gap stays). */
  readonly #fillers = new Map<bigint, { at: number; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }>();
  #filled = 0;

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
      } else if ((b.status === 'mined' || b.status === 'reverted') && b.receipt !== undefined && this.#o.confirmations) {
        this.#follow(b, false); // its receipt may not be deep yet: watched for a reorg until it is
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.allSettled([...this.#following]);
  }

  /**
   * Simulates the items as one batch and sends it if it passes; otherwise bisects and sends each
   * group that passes. Each sent batch is signed, stored (durably) and broadcast, then followed
   * to its receipt in the background. `plannedGas` (the planner's figure) is a floor for the
   * gas limit. An item that was in a batch that reverted on-chain alone (`reverts`) gets its
   * gas limit doubled per such revert, up to the cap.
   */
  async submit(kind: BatchKind, items: readonly ItemRecord[], plannedGas: number): Promise<SubmitOutcome> {
    const { clients, payout } = this.#o;
    const block = await clients.publicClient.getBlock({ blockTag: 'latest' });
    const ours = this.#o.gasCap ?? TX_GAS_CAP;
    const cap = ours < block.gasLimit ? ours : block.gasLimit; // a transaction above the block's limit is never mined
    const target = { publicClient: clients.publicClient, from: this.#address, to: this.#o.adjudicator };
    const perItem = plannedGas / Math.max(1, items.length);
    const { groups, failing } = await isolate(
      items,
      (group) =>
        simulateBatch(
          target,
          batchCall(kind, group, payout),
          (estimate) => {
            let gas = batchGasLimit(
              estimate,
              group.map((i) => i.item),
              payout,
            );
            const floor = BigInt(Math.ceil(perItem * group.length));
            if (gas < floor && floor <= cap) gas = floor;
            const reverts = group.length === 1 ? (group[0]!.reverts ?? 0) : 0;
            for (let k = 0; k < reverts && gas * 2n <= cap; k++) gas *= 2n;
            return gas;
          },
          cap,
        ),
      (i) => i.deadlineChain !== undefined,
    );
    for (const f of failing) this.#o.log.warn({ item: String(f.item.id), kind, reason: f.reason }, 'item reverts in simulation even alone');
    if (groups.length > 1) this.#o.log.warn({ kind, items: items.length, groups: groups.length }, 'batch reverts in simulation: bisected');
    const sent: BatchRecord[] = [];
    for (const g of groups) sent.push(await this.#send(kind, g.items, g.gas));
    return { sent, refused: failing };
  }

  async #send(kind: BatchKind, items: readonly ItemRecord[], gas: bigint): Promise<BatchRecord> {
    const { clients, queue } = this.#o;
    const data = batchCall(kind, items, this.#o.payout);
    const fees = await clients.publicClient.estimateFeesPerGas();
    const { id, nonce } = queue.allocBatch();
    let tx: SentTransaction;
    this.#signing.add(nonce);
    try {
      tx = await this.#sign(data, nonce, gas, fees.maxFeePerGas, fees.maxPriorityFeePerGas);
    } catch (e) {
      // A nonce allocated and never sent would hold back every later transaction (#fillGaps).
      queue.releaseBatch(id, nonce);
      throw e;
    } finally {
      this.#signing.delete(nonce);
    }
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
    const before = items.map((i) => ({ status: i.status, batchId: i.batchId, attempts: i.attempts }));
    for (const item of items) {
      item.status = 'submitted';
      item.batchId = id;
      item.attempts += 1;
      queue.putItem(item);
    }
    queue.putBatch(batch);
    try {
      await queue.flush(); // before it can reach the chain
    } catch (e) {
      // Not stored, so never sent. Left as it was, the batch would sit pending and unfollowed and
      // its items 'submitted', planned again only after a restart: a dispute answer could miss its
      // deadline. Everything goes back; the next plan takes the items again.
      for (const [k, item] of items.entries()) {
        const b = before[k]!;
        item.status = b.status;
        item.attempts = b.attempts;
        if (b.batchId === undefined) delete item.batchId;
        else item.batchId = b.batchId;
        queue.putItem(item);
      }
      queue.dropBatch(id);
      queue.releaseBatch(id, nonce);
      throw e;
    }
    await this.#broadcast(tx, batch);
    this.#o.log.info({ batch: String(id), kind, items: items.length, nonce: String(nonce), tx: tx.hash, gas: String(gas) }, 'batch sent');
    this.#follow(batch, false);
    return batch;
  }

  /**
   * Signed with the local key, no RPC: the wallet client's signTransaction asks the node for its
   * chain id first, and a failure between a nonce's allocation and its record left a gap.
   */
  async #sign(
    data: Hex,
    nonce: bigint,
    gas: bigint,
    maxFeePerGas: bigint,
    maxPriorityFeePerGas: bigint,
    to: Address = this.#o.adjudicator,
  ): Promise<SentTransaction> {
    const { account, chain } = this.#o.clients;
    const raw = await account.signTransaction({
      chainId: chain.id,
      to,
      data,
      nonce: Number(nonce),
      gas,
      maxFeePerGas,
      maxPriorityFeePerGas,
      type: 'eip1559',
    });
    return { hash: keccak256(raw) as Bytes32, raw, maxFeePerGas, maxPriorityFeePerGas, sentAt: Date.now() };
  }

  async #broadcast(tx: SentTransaction, batch: BatchRecord, level: 'debug' | 'warn' = 'debug'): Promise<void> {
    try {
      await this.#o.clients.publicClient.sendRawTransaction({ serializedTransaction: tx.raw });
    } catch (e) {
      // "already known", "nonce too low" (one of ours was mined), "underpriced": the follower
      // finds out which transaction made it, or replaces it.
      this.#o.log[level]({ err: e, batch: String(batch.id), tx: tx.hash }, 'broadcast refused');
    }
  }

  /**
   * Nonces below `nonce` that the chain has not used and no batch of ours holds: a transaction
   * of ours can be mined only after every lower nonce is, so each such gap would hold back every
   * later batch (dispute answers included) for good. Each is filled with a transfer of nothing to
   * ourselves, and filled again at a higher fee while the gap stays. A nonce any stored batch has,
   * whatever its status, is never filled: a mined batch a reorg took out must be mined again, not
   * overwritten. Fillers are not stored: after a crash the next lookup finds the gap again.
   */
  async #fillGaps(mined: bigint, nonce: bigint): Promise<void> {
    const { publicClient, account } = this.#o.clients;
    const held = new Set<bigint>(this.#signing);
    for (const b of this.#o.queue.batches.values()) held.add(b.nonce);
    const now = Date.now();
    for (const n of [...this.#gapSince.keys()]) if (n < mined || held.has(n)) this.#gapSince.delete(n);
    for (const n of [...this.#fillers.keys()]) if (n < mined || held.has(n)) this.#fillers.delete(n);
    const due: bigint[] = [];
    for (let n = mined; n < nonce; n++) {
      if (held.has(n)) continue;
      // Seen for GAP_MS first, by whichever follow loop: a send can race with a lookup.
      const since = this.#gapSince.get(n) ?? now;
      this.#gapSince.set(n, since);
      const sent = this.#fillers.get(n);
      if (now - since >= GAP_MS && (sent === undefined || now - sent.at >= REFILL_MS)) due.push(n);
    }
    if (due.length === 0) return;
    const fees = await publicClient.estimateFeesPerGas().catch(() => undefined);
    if (!fees) return;
    for (const n of due) {
      const before = this.#fillers.get(n);
      if (before !== undefined && now - before.at < REFILL_MS) continue; // another loop just did
      // Twice the market, or over our last filler of that nonce.
      const maxFeePerGas = bumpedFee(before?.maxFeePerGas, fees.maxFeePerGas * 2n);
      const maxPriorityFeePerGas = bumpedFee(before?.maxPriorityFeePerGas, fees.maxPriorityFeePerGas * 2n);
      this.#fillers.set(n, { at: Date.now(), maxFeePerGas, maxPriorityFeePerGas });
      const filler = await this.#sign('0x', n, 21_000n, maxFeePerGas, maxPriorityFeePerGas, account.address);
      this.#filled++;
      this.#o.log.warn(
        { nonce: String(n), tx: filler.hash, again: before !== undefined },
        'a nonce of ours was never sent: filled, so that later batches can be mined',
      );
      await publicClient.sendRawTransaction({ serializedTransaction: filler.raw }).catch((e: unknown) => {
        this.#o.log.warn({ err: e, nonce: String(n) }, 'filling a nonce gap was refused: again at a later lookup');
      });
    }
  }

  /** The chain's nonce for our key `confirmations` blocks deep (undefined if unknown). */
  async #nonceAtDepth(confirmations: number): Promise<bigint | undefined> {
    const { publicClient } = this.#o.clients;
    const head = await publicClient.getBlockNumber({ cacheTime: 0 }).catch(() => undefined);
    const depth = BigInt(confirmations);
    if (head === undefined || head < depth) return undefined;
    return publicClient.getTransactionCount({ address: this.#address, blockNumber: head - depth }).then(BigInt, () => undefined);
  }

  /** Whether a transaction of the batch has a receipt: `unknown` when a lookup failed. */
  async #receiptOf(batch: BatchRecord): Promise<'found' | 'none' | 'unknown'> {
    let answer: 'none' | 'unknown' = 'none';
    for (const tx of batch.txs) {
      const found = await this.#o.clients.publicClient.getTransactionReceipt({ hash: tx.hash }).then(
        () => true,
        (e: unknown) => {
          if (!(e instanceof TransactionReceiptNotFoundError)) answer = 'unknown';
          return false;
        },
      );
      if (found) return 'found';
    }
    return answer;
  }

  /**
   * No transaction of this batch can be mined any more: the chain used its nonce for another
   * (not one of ours we know, or its receipt would have been found). Its items go back to the
   * queue, to be sent again under a new nonce.
   */
  async #dropped(batch: BatchRecord, mined: bigint): Promise<void> {
    this.#o.log.warn(
      { batch: String(batch.id), nonce: String(batch.nonce), chainNonce: String(mined) },
      'the chain used this batch’s nonce for another transaction: its items are queued again',
    );
    batch.status = 'dropped';
    this.#o.queue.putBatch(batch);
    await this.#o.onMined(batch, 'dropped');
  }

  /** Nonce gaps filled since start (#fillGaps). */
  get gapsFilled(): number {
    return this.#filled;
  }

  #follow(batch: BatchRecord, rebroadcast: boolean): void {
    const run = this.#followLoop(batch, rebroadcast).catch((e: unknown) =>
      this.#o.log.error({ err: e, batch: String(batch.id) }, 'following a batch failed'),
    );
    this.#following.add(run);
    void run.finally(() => this.#following.delete(run));
  }

  async #followLoop(batch: BatchRecord, rebroadcast: boolean): Promise<void> {
    for (;;) {
      if (batch.status === 'pending') await this.#untilMined(batch, rebroadcast);
      if (this.#stopped || batch.status === 'pending' || batch.status === 'dropped') return;
      if (await this.#untilDeep(batch)) return;
      rebroadcast = true; // a reorg took it out: pending again, the very transaction goes again
    }
  }

  /**
   * A mined (or reverted) batch, watched until its receipt has `confirmations` blocks on top
   * (at once with none): true then. A reorg that takes its transaction out before that leaves
   * its nonce unused, and a nonce a stored batch holds is never filled, so every later batch,
   * watchtower answers included, would wait behind it for good. Its receipt missing at two
   * lookups in a row (one lagging backend is not enough), the batch is `pending` again (stored:
   * a restart resumes it) and false is returned. Its outcome went to its items at the first
   * receipt and is not sent again.
   */
  async #untilDeep(batch: BatchRecord): Promise<boolean> {
    const { publicClient } = this.#o.clients;
    const depth = BigInt(this.#o.confirmations ?? 0);
    if (depth === 0n || batch.receipt === undefined) return true;
    let missing = 0;
    while (!this.#stopped) {
      const head = await publicClient.getBlockNumber({ cacheTime: 0 }).catch(() => undefined);
      const receipt = await publicClient.getTransactionReceipt({ hash: batch.receipt.hash }).then(
        (r) => r as { blockNumber: bigint } | undefined,
        (e: unknown) => (e instanceof TransactionReceiptNotFoundError ? undefined : null),
      );
      if (receipt === undefined) {
        if (++missing >= 2) {
          this.#o.log.warn(
            { batch: String(batch.id), nonce: String(batch.nonce), tx: batch.receipt.hash },
            'a reorg took a mined batch out before it was deep enough: sending it again',
          );
          batch.status = 'pending';
          this.#o.queue.putBatch(batch);
          return false;
        }
      } else if (receipt !== null) {
        missing = 0;
        if (head !== undefined && head - receipt.blockNumber + 1n >= depth) return true;
      }
      await new Promise((r) => setTimeout(r, Math.max(this.#o.pollMs, 200)));
    }
    return true;
  }

  async #untilMined(batch: BatchRecord, rebroadcast: boolean): Promise<void> {
    if (rebroadcast) {
      // After a reorg, the transaction that was mined: its bytes are valid again at its nonce.
      const mined = batch.receipt === undefined ? undefined : batch.txs.find((t) => t.hash === batch.receipt!.hash);
      await this.#broadcast(mined ?? batch.txs.at(-1)!, batch);
    }
    let lookedUp = Date.now();
    /** Lookups in a row that found the chain past this batch's nonce with no receipt of ours. */
    let usedElsewhere = 0;
    /** Receipts read whose logs did not match the batch's items (a buggy or lying backend). */
    let badReceipts = 0;
    while (!this.#stopped) {
      try {
        if (await this.#lookUp(batch, () => ++badReceipts)) return;
      } catch (e) {
        // A failed flush (a replacement not stored), an RPC that throws: the loop goes on. Ended
        // here, the batch would sit pending and unfollowed, its nonce held, every later batch
        // behind it until a restart.
        this.#o.log.warn({ err: e, batch: String(batch.id) }, 'following a batch: a step failed, again shortly');
        await new Promise((r) => setTimeout(r, Math.max(this.#o.pollMs, 500)));
        continue;
      }
      const last = batch.txs.at(-1)!;
      try {
        if (Date.now() - lookedUp >= LOOKUP_EVERY_MS) {
          lookedUp = Date.now();
          if (
            await this.#checkNonce(
              batch,
              last,
              () => ++usedElsewhere,
              () => (usedElsewhere = 0),
            )
          )
            return;
        }
        if (Date.now() - last.sentAt >= this.#o.replaceAfterMs) await this.#replace(batch);
      } catch (e) {
        this.#o.log.warn({ err: e, batch: String(batch.id) }, 'following a batch: a step failed, again shortly');
      }
      await new Promise((r) => setTimeout(r, this.#o.pollMs));
    }
  }

  /**
   * Reads the receipts of the batch's transactions; true once one is found and its outcome handed
   * over. A receipt whose logs do not match the items is read again (`bad` counts them); at the
   * fifth, the batch counts as reverted: its items are tried again on their own merits.
   */
  async #lookUp(batch: BatchRecord, bad: () => number): Promise<boolean> {
    const { publicClient } = this.#o.clients;
    for (const tx of batch.txs) {
      const receipt = await publicClient.getTransactionReceipt({ hash: tx.hash }).catch(() => undefined);
      if (!receipt) continue;
      let outcome: readonly ItemResult[] | 'reverted' = 'reverted';
      if (receipt.status === 'success') {
        try {
          const events = decodeEvents(receipt.logs.filter((l) => l.address.toLowerCase() === this.#o.adjudicator));
          outcome =
            batch.kind === 'reveal'
              ? batch.itemIds.map(() => ({ channelId: `0x${'00'.repeat(32)}` as Bytes32, ok: true as const }))
              : itemResults(OPERATION[batch.kind], events, batch.itemIds.length);
        } catch (e) {
          if (bad() < 5) {
            this.#o.log.warn({ err: e, batch: String(batch.id), tx: tx.hash }, 'a receipt that does not match its batch: read again');
            return false;
          }
          this.#o.log.error(
            { err: e, batch: String(batch.id), tx: tx.hash },
            'a receipt that never matches its batch: counted as reverted',
          );
        }
      }
      batch.status = receipt.status === 'success' ? 'mined' : 'reverted';
      batch.minedAt = Date.now();
      batch.receipt = { hash: receipt.transactionHash as Bytes32, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed };
      const again = batch.reported === true;
      batch.reported = true;
      this.#o.queue.putBatch(batch);
      if (again) {
        this.#o.log.warn(
          { batch: String(batch.id), tx: receipt.transactionHash, status: batch.status },
          'a batch a reorg took out is mined again',
        );
        return true;
      }
      await this.#o.onMined(batch, outcome);
      return true;
    }
    return false;
  }

  /**
   * The periodic lookups of a pending batch: its nonce used elsewhere (true: dropped), a gap
   * below it filled, a transaction the node forgot sent again.
   */
  async #checkNonce(batch: BatchRecord, last: SentTransaction, miss: () => number, hit: () => void): Promise<boolean> {
    const { publicClient } = this.#o.clients;
    // A nonce used by none of this batch's transactions means none of them can ever be mined.
    // The count is read first, at `confirmations` deep, and the receipts after it: a receipt
    // of ours that a lagging backend has not seen yet cannot make it look used elsewhere.
    const mined = await publicClient.getTransactionCount({ address: this.#address, blockTag: 'latest' }).then(BigInt, () => undefined);
    const used = this.#o.confirmations ? await this.#nonceAtDepth(this.#o.confirmations) : mined;
    if (used !== undefined && used > batch.nonce && (await this.#receiptOf(batch)) === 'none') {
      if (miss() >= NONCE_USED_LOOKUPS) {
        await this.#dropped(batch, used);
        return true;
      }
    } else hit();
    // A gap below this batch holds it back.
    if (mined !== undefined && mined < batch.nonce) await this.#fillGaps(mined, batch.nonce);
    // A transaction the node no longer knows (a reorg dropped it from its block, as anvil
    // does, or a mempool evicted it) would wait out replaceAfterMs: the same bytes go again.
    const known = await publicClient.getTransaction({ hash: last.hash }).then(
      () => true,
      (e: unknown) => (e instanceof TransactionNotFoundError ? false : undefined),
    );
    if (known === false) {
      this.#o.log.warn({ batch: String(batch.id), tx: last.hash }, 'a sent transaction is no longer known to the node: sent again');
      await this.#broadcast(last, batch, 'warn');
    }
    return false;
  }

  /** Same nonce, fees up by at least 12.5% (nodes require 10%), stored before it is broadcast. */
  async #replace(batch: BatchRecord): Promise<void> {
    const last = batch.txs.at(-1)!;
    const current = await this.#o.clients.publicClient.estimateFeesPerGas().catch(() => undefined);
    const data = batchCall(
      batch.kind,
      batch.itemIds.map((id) => this.#o.queue.items.get(id)!),
      this.#o.payout,
    );
    const tx = await this.#sign(
      data,
      batch.nonce,
      batch.gas,
      bumpedFee(last.maxFeePerGas, current?.maxFeePerGas),
      bumpedFee(last.maxPriorityFeePerGas, current?.maxPriorityFeePerGas),
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
