/**
 * Who pays for a testnet: on its own EDR chain, Hardhat's `hardhat_setBalance` and the first dev
 * account; on an existing chain (`lanes testnet --chain-rpc URL --funder-key F`), one funded
 * account that deploys the test tokens, sends every process its ETH and mints it tokens.
 *
 * On an existing chain the funder's transactions carry nonces it counts itself, so they go out
 * together and share blocks (a chain with a 12 s block time would otherwise take minutes to fund
 * a few nodes); each has a fixed gas limit, so none is estimated against a state a sibling still
 * changes. ADR 0013.
 */
import type { Address, Hex } from '../core/bytes.ts';
import { LanesError } from '../core/errors.ts';
import type { Clients } from '../chain/chain-service.ts';
import { TestTokenAbi, TestTokenBytecode } from '../chain/artifacts/mocks/TestToken.ts';
import { encodeDeployData, encodeFunctionData } from 'viem';

/** Generous fixed gas limits (a mint writes two slots and logs; TestToken deploys in ~600k). */
const MINT_GAS = 120_000n;
const DEPLOY_GAS = 2_000_000n;
const TRANSFER_GAS = 21_000n;

export interface Funder {
  readonly address: Address;
  /** Deploys a TestToken (name, symbol); resolves with its address once mined. */
  deployToken(name: string, symbol: string): Promise<Address>;
  /** Gives `who` `ether` wei and mints it `amount` of each token; resolves once all of it is mined. */
  fund(who: Address, ether: bigint, tokens: readonly { readonly token: Address; readonly amount: bigint }[]): Promise<void>;
}

/** A funder on a dev chain (EDR): ETH by `hardhat_setBalance`, tokens minted one transaction at a time. */
export function devChainFunder(clients: Clients): Funder {
  const rpc = (method: string, params: unknown[]) => clients.publicClient.request({ method: method as never, params: params as never });
  // One at a time, as on the EDR chain the testnet always had (automine, a block per transaction).
  const send = nonceCounted(clients, true);
  return {
    address: clients.account.address.toLowerCase() as Address,
    deployToken: (name, symbol) => send.deploy(name, symbol),
    async fund(who, ether, tokens) {
      await rpc('hardhat_setBalance', [who, `0x${ether.toString(16)}`]);
      await Promise.all(tokens.map((t) => send.mint(t.token, who, t.amount)));
    },
  };
}

/** A funder on an existing chain: ETH by transfer from the funder's account. */
export function chainFunder(clients: Clients): Funder {
  const send = nonceCounted(clients, false);
  return {
    address: clients.account.address.toLowerCase() as Address,
    deployToken: (name, symbol) => send.deploy(name, symbol),
    async fund(who, ether, tokens) {
      await Promise.all([...(ether > 0n ? [send.transfer(who, ether)] : []), ...tokens.map((t) => send.mint(t.token, who, t.amount))]);
    },
  };
}

/** The funder's transactions, numbered here: sent at once (or, `serial`, each after the previous one's receipt), each awaited to its receipt. */
function nonceCounted(clients: Clients, serial: boolean) {
  const { publicClient, walletClient, account } = clients;
  let queue: Promise<unknown> = Promise.resolve();
  let next: Promise<number> | undefined;
  const nonce = (): Promise<number> => {
    next = (next ?? publicClient.getTransactionCount({ address: account.address, blockTag: 'pending' })).then((n) => n + 1);
    return next.then((n) => n - 1);
  };
  function send(tx: { to?: Address; data?: Hex; value?: bigint; gas: bigint }, what: string) {
    if (!serial) return sendNow(tx, what);
    const r = queue.then(() => sendNow(tx, what));
    queue = r.catch(() => undefined);
    return r;
  }
  async function sendNow(tx: { to?: Address; data?: Hex; value?: bigint; gas: bigint }, what: string) {
    const hash = await walletClient.sendTransaction({ ...tx, nonce: await nonce() } as never);
    const r = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 100, timeout: 600_000 });
    if (r.status !== 'success') throw new LanesError(`testnet funding: ${what} reverted`, { code: 'TX_REVERTED', details: hash });
    return r;
  }
  return {
    transfer: (to: Address, value: bigint) => send({ to, value, gas: TRANSFER_GAS }, `sending ETH to ${to}`),
    mint: (token: Address, to: Address, amount: bigint) =>
      send(
        { to: token, data: encodeFunctionData({ abi: TestTokenAbi, functionName: 'mint', args: [to, amount] }), gas: MINT_GAS },
        `minting for ${to}`,
      ),
    async deploy(name: string, symbol: string): Promise<Address> {
      const data = encodeDeployData({ abi: TestTokenAbi, bytecode: TestTokenBytecode, args: [name, symbol] });
      const r = await send({ data, gas: DEPLOY_GAS }, `deploying ${symbol}`);
      return r.contractAddress!.toLowerCase() as Address;
    },
  };
}
