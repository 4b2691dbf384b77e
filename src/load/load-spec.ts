/** What the load generator is asked to run, and its validation from JSON (POST /v1/load). */
import type { Bytes32 } from '../core/bytes.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import { parseAmount, parseChannelId } from '../sdk/json.ts';

export interface LoadSpec {
  /** Channels to drive from this node (it pays, and swaps, its counterparty on each). */
  readonly channels: readonly Bytes32[];
  /** Operations this node keeps in flight per channel (closed loop). */
  readonly concurrency: number;
  /** Open loop instead: operations started per second per channel (`concurrency` caps those in flight). */
  readonly rate?: number;
  readonly durationMs: number;
  /** The first part of the run that does not count towards the measured rates and latency. */
  readonly warmupMs: number;
  /** Unix ms at which to start (so that every node starts together); default now. */
  readonly startAt?: number;
  /** Base units per payment. */
  readonly amount: bigint;
  /** In channels of two or more assets, every n-th operation is a swap (0: none). */
  readonly swapEvery: number;
  /** Timeline resolution (default 500 ms). */
  readonly intervalMs?: number;
}

export type LoadSpecJson = Omit<LoadSpec, 'amount'> & { readonly amount: string };

/** Validates a load spec from JSON (the control API's POST /v1/load body). */
export function parseLoadSpec(body: unknown): LoadSpec {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidArgumentError('load spec must be a JSON object');
  const b = body as Record<string, unknown>;
  const int = (x: unknown, where: string, min: number, max: number): number => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max)
      throw new InvalidArgumentError(`${where} must be a whole number from ${min} to ${max}, got ${JSON.stringify(x)}`);
    return x;
  };
  if (!Array.isArray(b.channels) || b.channels.length === 0 || b.channels.length > 100_000)
    throw new InvalidArgumentError('channels must be a non-empty array of channel ids');
  const channels = b.channels.map((c, i) => parseChannelId(c, `channels[${i}]`));
  return {
    channels,
    concurrency: int(b.concurrency, 'concurrency', 1, 100_000),
    ...(b.rate === undefined ? {} : { rate: int(b.rate, 'rate', 1, 10_000_000) }),
    durationMs: int(b.durationMs, 'durationMs', 1, 24 * 3600_000),
    warmupMs: int(b.warmupMs ?? 0, 'warmupMs', 0, 24 * 3600_000),
    ...(b.startAt === undefined ? {} : { startAt: int(b.startAt, 'startAt', 0, Number.MAX_SAFE_INTEGER) }),
    amount: parseAmount(b.amount, 'amount'),
    swapEvery: int(b.swapEvery ?? 0, 'swapEvery', 0, 1_000_000),
    intervalMs: int(b.intervalMs ?? 500, 'intervalMs', 10, 60_000),
  };
}
