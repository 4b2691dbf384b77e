/** A coordinator in its own process, started through the CLI, stopped by PID. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { CoordinatorStatus } from '../../src/coordinator/coordinator.ts';
import { readyFile, track } from './spawned.ts';

const BIN = new URL('../../bin/lanes.js', import.meta.url).pathname;

export interface CoordinatorProcess {
  readonly pid: number;
  readonly multiaddr: string;
  readonly statusUrl: string;
  readonly address: `0x${string}`;
  status(): Promise<CoordinatorStatus>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function spawnCoordinator(o: {
  dataDir: string;
  rpc: string;
  adjudicator: string;
  port: number;
  args?: string[];
}): Promise<CoordinatorProcess> {
  const file = join(o.dataDir, 'coordinator.json');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      BIN,
      '--data-dir',
      o.dataDir,
      'coordinator',
      'start',
      '--chain-rpc',
      o.rpc,
      '--adjudicator',
      o.adjudicator,
      '--listen',
      `/ip4/127.0.0.1/tcp/${o.port}`,
      '--log-level',
      process.env.LANES_TEST_LOG ?? 'warn',
      ...(o.args ?? []),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  track(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const j = await readyFile<{ pid: number; multiaddrs: string[]; statusUrl: string; address: `0x${string}` }>(
    child,
    file,
    `the coordinator in ${o.dataDir}`,
    30_000,
  );
  return {
    pid: child.pid!,
    multiaddr: j.multiaddrs[0]!,
    statusUrl: j.statusUrl,
    address: j.address,
    status: async () => (await (await fetch(`${j.statusUrl}/status`)).json()) as CoordinatorStatus,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
