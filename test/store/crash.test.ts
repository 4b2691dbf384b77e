/**
 * A real crash: a child process writes states for many channels and prints each write only
 * after `flush()` resolved; the test SIGKILLs it at a random moment, several times over the
 * same directory, and checks that every acknowledged write is still there after each restart.
 *
 * What this proves and what it cannot: a SIGKILL loses the process, not the OS page cache, so
 * it catches writes acknowledged before they were committed and torn or unreadable state after
 * a crash, and it exercises the stale-lock takeover. It cannot catch a missing fsync (only
 * power loss can); that rests on awaiting lmdb's `flushed` promise (see lmdb-store.ts).
 *
 * Replay a failure with CRASH_SEED=<seed from the log>.
 */
import test from 'ava';
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { channelId } from '../../src/core/index.ts';
import { openLmdbStore } from '../../src/store/lmdb-store.ts';
import { paramsFor, prng } from './fixtures/channels.ts';

const WRITER = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
const CHANNELS = 64;
const RUNS = 5;

type Child = ChildProcessByStdio<null, Readable, Readable>;

interface RunResult {
  /** Versions the child loaded at start, by channel index. */
  readonly loaded: Map<number, bigint>;
  /** Highest acknowledged version per channel in this run. */
  readonly acked: Map<number, bigint>;
  readonly acks: number;
}

function parsePairs(text: string): [number, bigint][] {
  return text
    .split(' ')
    .filter((p) => p.length > 0)
    .map((p) => {
      const [i, v] = p.split(':');
      return [Number(i), BigInt(v!)];
    });
}

/** Starts a writer, kills it `killAfterMs` after it is ready, and reports what it acknowledged. */
function runUntilKilled(dir: string, seed: number, killAfterMs: number, live: Set<Child>): Promise<RunResult> {
  const child: Child = spawn(process.execPath, [WRITER, dir, String(seed), String(CHANNELS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const result = { loaded: new Map<number, bigint>(), acked: new Map<number, bigint>(), acks: 0 };
  let buffered = '';
  let stderr = '';
  let killed = false;
  // A writer that never gets ready is killed too, so a broken fixture fails instead of hanging.
  let timer: NodeJS.Timeout | undefined = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), 30_000);
  const onLine = (line: string): void => {
    const [kind, ...rest] = line.split(' ');
    const pairs = parsePairs(rest.join(' '));
    if (kind === 'ready') {
      for (const [i, v] of pairs) result.loaded.set(i, v);
      clearTimeout(timer);
      timer = setTimeout(() => {
        killed = true;
        process.kill(child.pid!, 'SIGKILL');
      }, killAfterMs);
    } else if (kind === 'ack') {
      result.acks++;
      for (const [i, v] of pairs) if (v > (result.acked.get(i) ?? -1n)) result.acked.set(i, v);
    }
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!; // an unfinished line was cut by the kill: not an acknowledgement
    for (const line of lines) onLine(line);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    // 'close' comes after the exit is reaped and stdout is drained: the lock's pid is then dead.
    child.on('error', reject);
    child.on('close', (code, signal) => {
      // Never kill by a pid that has exited: it may already belong to another process.
      clearTimeout(timer);
      live.delete(child);
      if (killed && signal === 'SIGKILL') resolve(result);
      else reject(new Error(`writer exited on its own (code ${code}, signal ${signal}):\n${stderr}`));
    });
  });
}

test('every acknowledged write survives SIGKILL at a random moment', async (t) => {
  const seed = process.env.CRASH_SEED === undefined ? randomInt(2 ** 31) : Number(process.env.CRASH_SEED);
  t.log(`seed ${seed} (replay with CRASH_SEED=${seed})`);
  const random = prng(seed);
  const dir = await mkdtemp(join(tmpdir(), 'lanes-crash-'));
  const live = new Set<Child>();
  t.teardown(async () => {
    for (const child of live) if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  const acked = new Map<number, bigint>();
  const assertSurvived = (loaded: ReadonlyMap<number, bigint>, when: string): void => {
    const lost = [...acked].filter(([i, v]) => (loaded.get(i) ?? -1n) < v);
    t.deepEqual(lost, [], `acknowledged versions missing ${when} (channel, acked version)`);
  };

  for (let run = 0; run < RUNS; run++) {
    const killAfterMs = 20 + Math.floor(random() * 400);
    const r = await runUntilKilled(dir, seed + run, killAfterMs, live);
    assertSurvived(r.loaded, `when run ${run} started`);
    for (const [i, v] of r.acked) if (v > (acked.get(i) ?? -1n)) acked.set(i, v);
    t.log(`run ${run}: killed after ${killAfterMs} ms, ${r.acks} flushes acknowledged`);
  }

  t.true(acked.size > 0, 'the writer acknowledged something, so the test checked something');
  const store = await openLmdbStore({ path: dir });
  const byId = new Map((await store.load()).map((c) => [c.record.id, c.latest?.state.version ?? 0n]));
  await store.close();
  const final = new Map(Array.from({ length: CHANNELS }, (_, i) => [i, byId.get(channelId(paramsFor(i + 1))) ?? -1n] as const));
  assertSurvived(final, 'after the last crash');
});
