/**
 * Spawns a node in its own OS process (test/node/fixtures/node-process.ts) and drives it.
 * Every process is tracked and killed by PID when the test ends.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { NodeInfo } from '../../src/sdk/api.ts';
import { fromJson, toJson } from './json-lines.ts';
import { track } from './spawned.ts';

const FIXTURE = new URL('../node/fixtures/node-process.ts', import.meta.url).pathname;

export interface ProcessNode {
  readonly pid: number;
  readonly info: NodeInfo;
  call<T = unknown>(method: string, ...params: unknown[]): Promise<T>;
  /** Lines of `event` seen so far (acks, payments received, ...). */
  events(event: string): unknown[];
  waitFor(event: string, predicate?: (payload: unknown) => boolean, timeoutMs?: number): Promise<unknown>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface ProcessNodeConfig {
  privateKey: string;
  dataDir: string;
  rpc: string;
  adjudicator: `0x${string}`;
  port?: number;
  acceptOpens?: boolean;
  /** NodeConfig.limits.maxPendingChannelsPerPeer. */
  maxPendingChannels?: number;
  swapToken?: `0x${string}`;
  coordinator?: string;
  /** Runs graph gossip (routed payments). */
  graph?: boolean;
  /** Start with the clock this many ms ahead (tests that moved every clock past an expiry). */
  clockOffset?: number;
  /** Swap pairs (SwapPolicy's object form): with `graph`, the node quotes and converts routed swaps. */
  swapPairs?: { receive: `0x${string}`; give: `0x${string}`; minReceive: bigint; perGive: bigint; maxGive?: bigint }[];
  /** NodeConfig.chainPollMs (the fixture's default is 50, for tests that wait on the chain). */
  chainPollMs?: number;
  /**
   * No payment events (forwarded, settled, failed) on stdout: a bench that counts its payments
   * itself, so that it measures the node and not thousands of JSON lines a second.
   */
  quietPayments?: boolean;
}

export async function spawnNode(config: ProcessNodeConfig): Promise<ProcessNode> {
  // LANES_TESTNET_NODE_ARGS: extra Node options, as for the testnet's daemons (profiles).
  const nodeArgs = (process.env.LANES_TESTNET_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...nodeArgs, FIXTURE], {
    env: { ...process.env, LANES_NODE: toJson(config) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  track(child);
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const seen = new Map<string, unknown[]>();
  const listeners: { event: string; predicate: (p: unknown) => boolean; resolve(p: unknown): void }[] = [];
  let nextId = 1;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      for (const p of pending.values()) p.reject(new Error('node process exited'));
      pending.clear();
      resolve();
    }),
  );
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let msg: { id?: number; result?: unknown; error?: { message?: string }; event?: string; payload?: unknown };
    try {
      msg = fromJson(line) as typeof msg;
    } catch {
      return;
    }
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(Object.assign(new Error(msg.error.message ?? 'error'), msg.error));
      else p?.resolve(msg.result);
    } else if (msg.event) {
      const list = seen.get(msg.event) ?? [];
      list.push(msg.payload);
      seen.set(msg.event, list);
      for (let i = listeners.length - 1; i >= 0; i--) {
        const l = listeners[i]!;
        if (l.event === msg.event && l.predicate(msg.payload)) {
          listeners.splice(i, 1);
          l.resolve(msg.payload);
        }
      }
    }
  });
  const node: Omit<ProcessNode, 'info'> = {
    pid: child.pid!,
    call: <T>(method: string, ...params: unknown[]) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.stdin!.write(toJson({ id, method, params }) + '\n');
      }),
    events: (event) => seen.get(event) ?? [],
    waitFor: (event, predicate = () => true, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const already = (seen.get(event) ?? []).find(predicate);
        if (already !== undefined) return resolve(already);
        const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
        listeners.push({
          event,
          predicate,
          resolve: (p) => {
            clearTimeout(timer);
            resolve(p);
          },
        });
      }),
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  let info: NodeInfo;
  try {
    // A process that exits first (a port taken, a bad config: its stderr says why) fails at once.
    info = (await Promise.race([
      node.waitFor('ready', () => true, 60_000),
      exited.then(() => {
        throw new Error(`the node process exited (${child.exitCode ?? child.signalCode}) before it was ready: see its stderr above`);
      }),
    ])) as NodeInfo;
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return { ...node, info };
}
