/**
 * Credited balances on the adjudicator, and withdrawing them. A settlement credits this node's
 * account instead of paying it when the batch chose `credit` (whoever submits a close or a
 * conclude chooses for everyone in it) or when a push to our address failed (PayoutDeferred).
 * Either way the money waits in `withdrawable[our address][asset]` until we withdraw it.
 *
 * The chain watcher hands over every transaction that settled one of our channels, deferred a
 * payout to us or withdrew ours; the balances of the assets involved are read and compared with
 * the last ones seen (persisted with the chain position, so a restart neither loses nor repeats
 * a credit), and each rise is reported as a `balance-credited` event and a log line.
 */
import { type Address, type Bytes32, NATIVE_ASSET, isAddress } from '../core/bytes.ts';
import { InvalidArgumentError, LanesError } from '../core/errors.ts';
import type { TxReceipt } from '../chain/chain-service.ts';
import type { CreditedBalance, WithdrawParameters, WithdrawResult, Withdrawal } from '../sdk/api.ts';
import type { Channel } from './channel.ts';
import type { Context } from './context.ts';
import { NodeStoppedError, NothingToWithdrawError, WithdrawFailedError } from '../sdk/errors.ts';

const SEEN_KEY = 'credited-seen';

/** `autoWithdraw`: withdraw every credit as soon as it is noticed, to `to` (default: our address). */
export interface AutoWithdraw {
  readonly to?: Address;
}

function address(x: unknown, what: string): Address {
  const a = typeof x === 'string' ? x.toLowerCase() : '';
  if (!isAddress(a)) throw new InvalidArgumentError(`${what} must be a 0x address of 40 hex digits, got ${String(x).slice(0, 80)}`);
  return a;
}

export class Withdrawals {
  private readonly ctx: Context;
  private readonly auto: AutoWithdraw | undefined;
  /** Withdrawable balances last seen, per asset (absent: zero). */
  private seen = new Map<Address, bigint>();
  /** Checks and withdrawals run one at a time, so a check never reads a balance mid-withdrawal. */
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(ctx: Context, auto?: AutoWithdraw) {
    this.ctx = ctx;
    this.auto = auto;
  }

  /** Credits belong to the address that signs channel states. */
  private get account(): Address {
    return this.ctx.transport.self.address;
  }

  /** Loads the balances seen before a restart; call before the chain watcher replays events. */
  async load(): Promise<void> {
    const raw = await this.ctx.store.getMeta(SEEN_KEY);
    if (!raw) return;
    const json = JSON.parse(new TextDecoder().decode(raw)) as Record<string, string>;
    this.seen = new Map(Object.entries(json).map(([asset, amount]) => [asset as Address, BigInt(amount)]));
  }

  /** Logs what waits to be withdrawn (at start: credits are easy to forget). */
  async report(): Promise<void> {
    for (const { asset, amount } of await this.withdrawable()) {
      this.ctx.log.info({ asset, amount: String(amount) }, 'credited balance on the adjudicator waits to be withdrawn');
    }
  }

  /**
   * After a transaction that may have changed our balances on the adjudicator: reads those of
   * `assets`, reports each rise, and remembers them (written with the watcher's next flush).
   * Returns the rises.
   */
  async settled(tx: Bytes32, channels: readonly Channel[], assets: ReadonlySet<Address>): Promise<CreditedBalance[]> {
    const credited = await this.serial(async () => {
      const rises: CreditedBalance[] = [];
      for (const asset of assets) {
        const total = await this.ctx.chain.withdrawable(this.account, asset);
        const before = this.seen.get(asset) ?? 0n;
        this.remember(asset, total);
        if (total <= before) continue; // unchanged, or withdrawn
        const amount = total - before;
        rises.push({ asset, amount });
        const channelIds = channels.map((ch) => ch.id);
        this.ctx.log.info(
          { asset, amount: String(amount), total: String(total), tx, channels: channelIds },
          'payout credited on the adjudicator, not paid out: withdraw it (lanes withdraw)',
        );
        this.ctx.events.emit('balance-credited', { asset, amount, total, transactionHash: tx, channelIds });
      }
      return rises;
    });
    if (this.auto) for (const { asset } of credited) void this.autoWithdraw(asset);
    return credited;
  }

  /** This node's non-zero balances on the adjudicator, over every asset its channels hold. */
  async withdrawable(): Promise<CreditedBalance[]> {
    const assets = this.assets();
    const amounts = await Promise.all(assets.map((asset) => this.ctx.chain.withdrawable(this.account, asset)));
    return assets.map((asset, i) => ({ asset, amount: amounts[i]! })).filter((b) => b.amount > 0n);
  }

  /** Withdraws one asset's balance, or every asset's; one transaction per asset. */
  async withdraw(p: WithdrawParameters = {}): Promise<WithdrawResult> {
    if (p === null || typeof p !== 'object') throw new InvalidArgumentError('withdraw takes { asset?, to? }');
    const only = p.asset === undefined ? undefined : address(p.asset, 'asset');
    const to = p.to === undefined ? this.account : address(p.to, 'to');
    if (to === NATIVE_ASSET) throw new InvalidArgumentError('to must not be the zero address: whatever is sent there is lost');
    if (this.ctx.chain.account !== this.account) {
      throw new LanesError(`the credits belong to ${this.account}, but transactions are signed by ${this.ctx.chain.account}`, {
        code: 'NOT_SUPPORTED',
        details: 'only the node key can withdraw its credits: run the node without a separate chain key to withdraw',
      });
    }
    return this.serial(async () => {
      const assets = only === undefined ? this.assets() : [only];
      const amounts = await Promise.all(assets.map((asset) => this.ctx.chain.withdrawable(this.account, asset)));
      if (only !== undefined && amounts[0] === 0n) throw new NothingToWithdrawError(only);
      const withdrawals: Withdrawal[] = [];
      for (const [i, asset] of assets.entries()) {
        if (amounts[i] === 0n) continue;
        let receipt: TxReceipt;
        try {
          receipt = await this.ctx.chain.withdraw(asset, to);
        } catch (e) {
          if (withdrawals.length > 0) await this.ctx.flush();
          const done = withdrawals.map((w) => `${w.asset} (${w.amount}, tx ${w.transactionHash})`).join(', ');
          const why = (e as { shortMessage?: string }).shortMessage ?? (e instanceof Error ? e.message : String(e));
          throw new WithdrawFailedError(asset, to, { cause: e, details: `${why}${done ? `; already withdrawn: ${done}` : ''}` });
        }
        const amount = (await this.withdrawn(receipt, asset)) ?? amounts[i]!;
        withdrawals.push({ asset, amount, transactionHash: receipt.hash });
        this.remember(asset, 0n);
        this.ctx.log.info({ asset, amount: String(amount), to, tx: receipt.hash }, 'withdrew credited balance');
      }
      if (withdrawals.length > 0) await this.ctx.flush();
      return { to, withdrawals };
    });
  }

  /** Refuses new work and waits for what runs (before the store closes). */
  async close(): Promise<void> {
    this.closed = true;
    await this.tail.catch(() => undefined);
  }

  private async autoWithdraw(asset: Address): Promise<void> {
    try {
      await this.withdraw({ asset, ...(this.auto?.to === undefined ? {} : { to: this.auto.to }) });
    } catch (e) {
      if (e instanceof NothingToWithdrawError || e instanceof NodeStoppedError) return; // withdrawn meanwhile, or stopping
      this.ctx.log.warn({ err: e, asset }, 'automatic withdrawal failed; the balance stays credited');
    }
  }

  /** The amount the receipt's Withdrawn event names (the balance may have grown since we read it). */
  private async withdrawn(receipt: TxReceipt, asset: Address): Promise<bigint | undefined> {
    try {
      const { events } = await this.ctx.chain.events(receipt.blockNumber, receipt.blockNumber);
      const e = events.find(
        (x) => x.type === 'withdrawn' && x.transactionHash === receipt.hash && x.account === this.account && x.asset === asset,
      );
      return e?.type === 'withdrawn' ? e.amount : undefined;
    } catch {
      return undefined;
    }
  }

  /** Every asset a credit can be in: those of our channels (credits come from them), and the native one. */
  private assets(): Address[] {
    const set = new Set<Address>([NATIVE_ASSET, ...this.seen.keys()]);
    for (const ch of this.ctx.channels.values()) for (const asset of ch.record.params.assets) set.add(asset);
    return [...set];
  }

  private remember(asset: Address, amount: bigint): void {
    if ((this.seen.get(asset) ?? 0n) === amount) return;
    if (amount === 0n) this.seen.delete(asset);
    else this.seen.set(asset, amount);
    const json = Object.fromEntries([...this.seen].map(([a, v]) => [a, v.toString()]));
    this.ctx.store.putMeta(SEEN_KEY, new TextEncoder().encode(JSON.stringify(json)));
  }

  private serial<T>(step: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new NodeStoppedError());
    const next = this.tail.then(step);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
