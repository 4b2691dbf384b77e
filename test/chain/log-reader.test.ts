/**
 * The bounded log reader (src/chain/log-reader.ts) against a fake `eth_getLogs` that refuses
 * what public providers refuse: ranges over a limit (with or without Alchemy's hint of a range
 * that works), and OR-lists of more than 1,000 topics.
 */
import test from 'ava';
import { type Log, encodeAbiParameters, encodeEventTopics, pad, toHex } from 'viem';
import type { Address, Bytes32, Hex } from '../../src/core/index.ts';
import { LanesAdjudicatorAbi } from '../../src/chain/artifacts/LanesAdjudicator.ts';
import { type GetLogs, IDS_PER_QUERY, LogReader, type Topics, refusesRange } from '../../src/chain/log-reader.ts';

const ADJ = '0x5fbdb2315678afecb367f032d93f642f64180aa3' as Address;
const ETH = `0x${'00'.repeat(20)}` as Address;
const ALICE = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8' as Address;
const id = (n: number) => pad(toHex(n), { size: 32 }) as Bytes32;
const blockHash = (b: bigint) => pad(toHex(b + 0xb00n), { size: 32 }) as Bytes32;

/** A `Deposited` log of channel `channel` in block `block`. */
function deposited(block: bigint, logIndex: number, channel: number, amount: bigint): Log {
  const topics = encodeEventTopics({ abi: LanesAdjudicatorAbi, eventName: 'Deposited', args: { channelId: id(channel), asset: ETH } });
  const data = encodeAbiParameters([{ type: 'address' }, { type: 'uint256' }, { type: 'uint256' }], [ALICE, amount, amount]);
  return {
    address: ADJ,
    topics: topics as [Hex, ...Hex[]],
    data,
    blockNumber: block,
    blockHash: blockHash(block),
    logIndex,
    transactionHash: pad(toHex(block * 1000n + BigInt(logIndex)), { size: 32 }),
    transactionIndex: 0,
    removed: false,
  } as Log;
}

/** An RPC error as viem raises it (a JSON-RPC `code`). */
class RpcError extends Error {
  readonly code: number;
  constructor(message: string, code = -32005) {
    super(message);
    this.code = code;
  }
}

interface FakeProvider {
  readonly getLogs: GetLogs;
  readonly asked: { from: bigint; to: bigint; topics: Topics }[];
}

/** Serves `logs`, refusing ranges of more than `limit` blocks (naming a range that works when `hint`). */
function provider(logs: readonly Log[], o: { limit: bigint; hint?: boolean; maxTopics?: number }): FakeProvider {
  const asked: FakeProvider['asked'] = [];
  const matches = (want: Topics[number] | undefined, have: Hex | undefined) =>
    want === null || want === undefined || (typeof want === 'string' ? want === have : want.includes(have!));
  const getLogs: GetLogs = async (q) => {
    asked.push({ from: q.fromBlock, to: q.toBlock, topics: q.topics });
    for (const t of q.topics) if (Array.isArray(t) && t.length > (o.maxTopics ?? 1000)) throw new RpcError('too many topics', -32602);
    if (q.toBlock - q.fromBlock + 1n > o.limit) {
      const hint = o.hint ? ` this block range should work: [${toHex(q.fromBlock)}, ${toHex(q.fromBlock + o.limit - 1n)}]` : '';
      throw new RpcError(`Log response size exceeded.${hint}`);
    }
    return logs.filter(
      (l) =>
        l.address === q.address &&
        l.blockNumber! >= q.fromBlock &&
        l.blockNumber! <= q.toBlock &&
        q.topics.every((t, i) => matches(t, l.topics[i])),
    );
  };
  return { getLogs, asked };
}

/** Reads [from, to] to the end, range after range; checks the ranges cover every block once. */
async function readAll(reader: LogReader, from: bigint, to: bigint, filter: Parameters<LogReader['read']>[2]) {
  const events = [];
  for (let next = from; next <= to;) {
    const r = await reader.read(next, to, filter);
    if (r.to < next) throw new Error('no progress');
    events.push(...r.events);
    next = r.to + 1n;
  }
  return events;
}

const LOGS = [
  deposited(5n, 0, 1, 10n),
  deposited(5n, 1, 2, 20n),
  deposited(1_999n, 0, 1, 30n),
  deposited(2_000n, 3, 3, 40n),
  deposited(7_777n, 0, 2, 50n),
  deposited(19_999n, 0, 1, 60n),
];

test('a long range is read in ranges the provider accepts, every event once, in chain order', async (t) => {
  const p = provider(LOGS, { limit: 500n });
  const reader = new LogReader(p.getLogs, ADJ);
  const events = await readAll(reader, 0n, 20_000n, { channelEvents: ['Deposited'] });
  t.deepEqual(
    events.map((e) => [e.blockNumber, e.logIndex]),
    LOGS.map((l) => [l.blockNumber, l.logIndex]),
  );
  // 2,000 refused, 1,000 refused, then 500 blocks a read, and no refused range asked again.
  t.deepEqual(
    p.asked.filter((q) => q.to - q.from + 1n > 500n).map((q) => q.to - q.from + 1n),
    [2_000n, 1_000n],
  );
  t.is(p.asked.length, 2 + 41, '20,001 blocks in reads of 500');
});

test("a provider's hint of a range that works is taken at once", async (t) => {
  const p = provider(LOGS, { limit: 700n, hint: true });
  const reader = new LogReader(p.getLogs, ADJ);
  const r = await reader.read(0n, 20_000n, { channelEvents: ['Deposited'] });
  t.is(r.to, 699n);
  t.is(p.asked.length, 2, 'one refusal, then the hinted range');
  t.is(reader.range, 700n);
});

test('the range grows after successes, and not again above what a refusal fell back to', async (t) => {
  const p = provider([], { limit: 1_000n });
  const reader = new LogReader(p.getLogs, ADJ, { range: 100 });
  for (let next = 0n, i = 0; i < 40; i++) next = (await reader.read(next, 1_000_000n, { channelEvents: ['Deposited'] })).to + 1n;
  // 100, 200, 400, 800, then 1,600 is refused once: back to 800 for good.
  t.is(reader.range, 800n);
  t.is(p.asked.filter((q) => q.to - q.from + 1n > 1_000n).length, 1);
});

test("only the given channels' events are asked for, 500 ids to a query", async (t) => {
  const p = provider(LOGS, { limit: 100_000n });
  const reader = new LogReader(p.getLogs, ADJ, { range: 100_000 });
  const ids = [id(2), ...Array.from({ length: 1_200 }, (_, i) => id(1_000 + i))];
  const r = await reader.read(0n, 20_000n, { channelEvents: ['Deposited'], channelIds: ids });
  t.deepEqual(
    r.events.map((e) => ('channelId' in e ? e.channelId : undefined)),
    [id(2), id(2)],
  );
  t.is(p.asked.length, Math.ceil(ids.length / IDS_PER_QUERY));
  for (const q of p.asked) t.true(Array.isArray(q.topics[1]) && q.topics[1].length <= IDS_PER_QUERY);
});

test('above 2,000 ids every channel is asked for and the ids are filtered locally', async (t) => {
  const p = provider(LOGS, { limit: 100_000n, maxTopics: 1000 });
  const reader = new LogReader(p.getLogs, ADJ, { range: 100_000 });
  const ids = [id(3), ...Array.from({ length: 2_500 }, (_, i) => id(1_000 + i))];
  const r = await reader.read(0n, 20_000n, { channelEvents: ['Deposited'], channelIds: ids });
  t.deepEqual(
    r.events.map((e) => e.blockNumber),
    [2_000n],
  );
  t.is(p.asked.length, 1);
  t.is(p.asked[0]!.topics[1], undefined, 'no id list');
});

test('no channels and nothing else to read: the range is covered without a query', async (t) => {
  const p = provider(LOGS, { limit: 10n });
  const reader = new LogReader(p.getLogs, ADJ);
  const r = await reader.read(0n, 20_000n, { channelEvents: [], channelIds: [] });
  t.deepEqual([r.events.length, r.to, p.asked.length], [0, 20_000n, 0]);
});

test('a failure to reach the provider is thrown at once; a refusal of a single block too', async (t) => {
  let calls = 0;
  const down = new LogReader(async () => {
    calls++;
    throw new TypeError('fetch failed');
  }, ADJ);
  await t.throwsAsync(down.read(0n, 10_000n, { channelEvents: ['Deposited'] }), { message: 'fetch failed' });
  t.is(calls, 1, 'not retried with smaller ranges');
  t.false(refusesRange(new TypeError('fetch failed')));
  t.true(refusesRange({ cause: { code: -32005 } }));

  const p = provider(LOGS, { limit: 0n });
  const refusing = new LogReader(p.getLogs, ADJ, { range: 8 });
  await t.throwsAsync(refusing.read(0n, 100n, { channelEvents: ['Deposited'] }), { message: /Log response size exceeded/ });
  t.deepEqual(
    p.asked.map((q) => q.to - q.from + 1n),
    [8n, 4n, 2n, 1n],
  );
});
