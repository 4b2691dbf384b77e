/** A coordinator in its own process, started through the CLI, stopped by PID. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CoordinatorStatus } from '../../src/coordinator/coordinator.ts';

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
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  for (let i = 0; i < 600; i++) {
    if (existsSync(file)) {
      const j = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; multiaddrs: string[]; statusUrl: string; address: `0x${string}` };
      if (j.pid === child.pid) {
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
    }
    if (child.exitCode !== null) throw new Error(`coordinator exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error('coordinator did not start');
}
