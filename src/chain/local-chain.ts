/**
 * Starts Hardhat's EDR node as a child process on 127.0.0.1 with a free port, waits until it
 * answers JSON-RPC, and stops it by PID. Used by multi-process tests and the testnet.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LanesError } from '../core/errors.ts';

// hardhat's CLI is not in its package exports; it sits beside the main entry.
const HARDHAT_CLI = fileURLToPath(new URL('./cli.js', import.meta.resolve('hardhat')));
const CONFIG = fileURLToPath(new URL('./hardhat.config.ts', import.meta.url));

/** Private keys of the node's prefunded accounts (Hardhat's well-known test mnemonic). Never use them elsewhere. */
export const DEV_KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
] as const;

export interface LocalChain {
  readonly rpcUrl: string;
  readonly chainId: bigint;
  readonly pid: number;
  /** Stops the node (SIGTERM, then SIGKILL after `graceMs`) and resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartLocalChainOptions {
  /** 0 (default) lets the node pick a free port. */
  readonly port?: number;
  readonly timeoutMs?: number;
}

/** Starts a local EDR chain bound to 127.0.0.1. */
export async function startLocalChain(options: StartLocalChainOptions = {}): Promise<LocalChain> {
  const args = [HARDHAT_CLI, '--config', CONFIG, 'node', '--hostname', '127.0.0.1', '--port', String(options.port ?? 0)];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: 'true', NO_COLOR: '1' },
  });
  const stopChild = stopper(child);
  // A process that exits before it stops the chain (a test that dies, `lanes testnet up` signalled
  // while it starts) must not leave the chain running.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  const stop = async (graceMs?: number) => {
    await stopChild(graceMs);
    process.off('exit', onExit);
  };
  try {
    const port = await waitForPort(child, /JSON-RPC server at http:\/\/[^:]+:(\d+)\//, 'local chain', options.timeoutMs ?? 60_000);
    const rpcUrl = `http://127.0.0.1:${port}`;
    const chainId = await waitForRpc(rpcUrl, options.timeoutMs ?? 60_000);
    return { rpcUrl, chainId, pid: child.pid!, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Waits for a chain process to print the port it is bound to (`pattern`'s first group), then
 * keeps draining its pipes so it never blocks on a full one. `what` names it in errors.
 */
export function waitForPort(child: ChildProcess, pattern: RegExp, what: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new LanesError(`${what} did not start in time`, { details: out.slice(-2000) })), timeoutMs);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        child.off('exit', onExit);
        child.stdout!.removeListener('data', onData).resume();
        child.stderr!.removeListener('data', onData).resume();
        resolve(Number(m[1]));
      }
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new LanesError(`${what} exited with code ${code} before it was ready`, { details: out.slice(-2000) }));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Polls `eth_chainId` until the endpoint answers; returns the chain id. */
export async function waitForRpc(rpcUrl: string, timeoutMs = 30_000): Promise<bigint> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      });
      const body = (await res.json()) as { result?: string };
      if (body.result) return BigInt(body.result);
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new LanesError(`JSON-RPC endpoint did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopper(child: ChildProcess): (graceMs?: number) => Promise<void> {
  return (graceMs = 5000) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
}
