/**
 * Starts Foundry's anvil (a second, independent EVM: revm, where the local chain is Hardhat's
 * EDR) as a child process on 127.0.0.1 with a free port, waits until it answers JSON-RPC, and
 * stops it by PID. Tests use it to run the same checks on both EVMs, with interval mining
 * (`blockTime`) as a real chain has rather than automine, and for reorgs (`reorg`, `snapshot`,
 * `revert`). The binary comes from the npm package `@foundry-rs/anvil-linux-amd64` (a dev
 * dependency): nothing is downloaded. ADR 0013.
 *
 * ```ts
 * const anvil = await startAnvil({ blockTime: 1 });
 * const id = await anvil.snapshot();
 * // … transactions …
 * await anvil.reorg(2); // the last 2 blocks are replaced by empty ones
 * await anvil.revert(id);
 * await anvil.stop();
 * ```
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Hex } from '../core/bytes.ts';
import { LanesError } from '../core/errors.ts';
import { type LocalChain, waitForPort } from './local-chain.ts';

/** Where the binary is, or undefined when the package is not installed (it is for linux-x64 only). */
export function anvilBinary(): string | undefined {
  try {
    // The package has no entry point and no exports map: resolve its package.json.
    const file = fileURLToPath(new URL('./bin/anvil', import.meta.resolve('@foundry-rs/anvil-linux-amd64/package.json')));
    return existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

export interface StartAnvilOptions {
  /**
   * Seconds between blocks (interval mining; fractions allowed, e.g. 0.5). Omitted: automine,
   * a block per transaction, as EDR does.
   */
  readonly blockTime?: number;
  /** 0 (default) lets anvil pick a free port. */
  readonly port?: number;
  /** Default 31337, the chain id of EDR and of the golden vectors. */
  readonly chainId?: number;
  /** Prefunded dev accounts (default 10; the first five are `DEV_KEYS`), each with `balance` ether (default 10,000). */
  readonly accounts?: number;
  readonly balance?: number;
  /** The block gas limit (default 60,000,000, as EDR's; anvil's own is 30M). */
  readonly gasLimit?: bigint;
  /** More anvil flags (`anvil --help`). */
  readonly args?: readonly string[];
  readonly timeoutMs?: number;
}

export interface AnvilTransactionRequest {
  readonly from: Hex;
  readonly to?: Hex;
  readonly data?: Hex;
  readonly value?: bigint;
  readonly gas?: bigint;
}

export interface Anvil extends LocalChain {
  /** The block time it was started with; undefined under automine. */
  readonly blockTime: number | undefined;
  /** One JSON-RPC call; a JSON-RPC error rejects with a LanesError carrying its message. */
  rpc<T = unknown>(method: string, params?: readonly unknown[]): Promise<T>;
  /** `evm_snapshot`: the state now, to return to with {@link revert}. */
  snapshot(): Promise<Hex>;
  /** `evm_revert`: back to a snapshot (blocks after it are dropped); false if it is unknown. A snapshot can be reverted to once. */
  revert(id: Hex): Promise<boolean>;
  /**
   * `anvil_reorg`: replaces the last `depth` blocks by as many new ones (new hashes), holding
   * `transactions` (each at a block offset from the fork point, 0 to depth - 1; anvil signs them
   * for its dev accounts). Transactions of the dropped blocks that are not listed are gone.
   */
  reorg(depth: number, transactions?: readonly { readonly tx: AnvilTransactionRequest; readonly block: number }[]): Promise<void>;
  /** `anvil_rollback`: removes the last `depth` blocks (the head goes back). */
  rollback(depth: number): Promise<void>;
  /** `anvil_mine`: mines `blocks` blocks now (default 1), whatever the block time. */
  mine(blocks?: number): Promise<void>;
  /** Moves the clock forward by `seconds` and mines a block (`evm_increaseTime`, `evm_mine`). */
  increaseTime(seconds: number | bigint): Promise<void>;
  setBalance(address: Hex, wei: bigint): Promise<void>;
  setCode(address: Hex, code: Hex): Promise<void>;
}

/** Starts anvil bound to 127.0.0.1. */
export async function startAnvil(options: StartAnvilOptions = {}): Promise<Anvil> {
  const binary = anvilBinary();
  if (!binary)
    throw new LanesError('anvil is not installed', {
      code: 'ANVIL_NOT_INSTALLED',
      details: 'npm install (the dev dependency @foundry-rs/anvil-linux-amd64 holds the binary; it exists for linux-x64 only)',
    });
  const { blockTime } = options;
  if (blockTime !== undefined && !(blockTime > 0 && Number.isFinite(blockTime)))
    throw new LanesError(`blockTime must be a positive number of seconds, got ${blockTime}`, { code: 'INVALID_ARGUMENT' });
  const args = [
    '--host',
    '127.0.0.1',
    '--port',
    String(options.port ?? 0),
    '--chain-id',
    String(options.chainId ?? 31337),
    '--accounts',
    String(options.accounts ?? 10),
    '--balance',
    String(options.balance ?? 10_000),
    '--gas-limit',
    String(options.gasLimit ?? 60_000_000n),
    '--color',
    'never',
    ...(blockTime === undefined ? [] : ['--block-time', String(blockTime)]),
    ...(options.args ?? []),
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = stopper(child);
  // A test that dies before its teardown must not leave anvil running.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  try {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const port = await waitForListening(child, timeoutMs);
    const rpcUrl = `http://127.0.0.1:${port}`;
    const rpc = rpcCaller(rpcUrl);
    const chainId = BigInt(await rpc<Hex>('eth_chainId'));
    return {
      rpcUrl,
      chainId,
      pid: child.pid!,
      blockTime,
      async stop(graceMs) {
        await stop(graceMs);
        process.off('exit', onExit);
      },
      rpc,
      snapshot: () => rpc<Hex>('evm_snapshot'),
      revert: (id) => rpc<boolean>('evm_revert', [id]),
      async reorg(depth, transactions = []) {
        await rpc('anvil_reorg', [depth, transactions.map(({ tx, block }) => [rpcTransaction(tx), block])]);
      },
      async rollback(depth) {
        await rpc('anvil_rollback', [depth]);
      },
      async mine(blocks = 1) {
        await rpc('anvil_mine', [hex(BigInt(blocks))]);
      },
      async increaseTime(seconds) {
        await rpc('evm_increaseTime', [Number(seconds)]);
        await rpc('evm_mine');
      },
      async setBalance(address, wei) {
        await rpc('anvil_setBalance', [address, hex(wei)]);
      },
      async setCode(address, code) {
        await rpc('anvil_setCode', [address, code]);
      },
    };
  } catch (e) {
    await stop();
    process.off('exit', onExit);
    throw e;
  }
}

const hex = (n: bigint): Hex => `0x${n.toString(16)}`;

function rpcTransaction(tx: AnvilTransactionRequest): Record<string, string> {
  return {
    from: tx.from,
    ...(tx.to === undefined ? {} : { to: tx.to }),
    ...(tx.data === undefined ? {} : { input: tx.data }),
    ...(tx.value === undefined ? {} : { value: hex(tx.value) }),
    ...(tx.gas === undefined ? {} : { gas: hex(tx.gas) }),
  };
}

function rpcCaller(url: string) {
  let id = 0;
  return async function rpc<T>(method: string, params: readonly unknown[] = []): Promise<T> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
    });
    const body = (await res.json()) as { result?: T; error?: { message: string } };
    if (body.error) throw new LanesError(`anvil: ${method} failed`, { code: 'CHAIN_RPC_ERROR', details: body.error.message });
    return body.result as T;
  };
}

/** anvil prints `Listening on 127.0.0.1:PORT` once its server is bound (and then logs every block and call). */
const waitForListening = (child: ChildProcess, timeoutMs: number) =>
  waitForPort(child, /Listening on 127\.0\.0\.1:(\d+)/, 'anvil', timeoutMs);

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
