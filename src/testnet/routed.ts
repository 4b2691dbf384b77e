/**
 * The routed workload of `lanes testnet --workload routed` (issue 14): every node pays random
 * nodes it has no channel with, over routes through the others (keysend over the channel graph:
 * ADR 0017, 0019), from the testnet's own process through each node's remote API. Every
 * `swapEvery`-th payment is a routed swap (ADR 0012): the payee gets tUSD, the payer pays ETH,
 * and a node on the route converts at the rate it quoted. It reports routed payments per second,
 * the success rate with each failure's hop and reason, the hop counts, latency, and the fees
 * each node earned; and checks that every node's balances moved, asset by asset, by exactly what
 * its payments, forwards and conversions say (conservation with fees).
 */
import { LanesError } from '../core/errors.ts';
import { NATIVE_ASSET } from '../core/bytes.ts';
import type { Address } from '../core/bytes.ts';
import type { PaymentInfo } from '../sdk/payments.ts';
import type { Testnet } from './network.ts';
import type { Progress } from './progress.ts';
import type { ChannelPlan } from './topology.ts';

export interface RoutedOptions {
  readonly durationMs: number;
  /** Payments each node keeps in flight. */
  readonly concurrency: number;
  /** Base units per payment (of ETH; of tUSD for a swap's payee). */
  readonly amount: bigint;
  readonly seed: number;
  /** Every n-th payment of a node is a routed swap, tUSD paid with ETH (0: none; the channels must hold both). */
  readonly swapEvery: number;
}

export interface RoutedReport {
  readonly windowMs: number;
  readonly attempted: number;
  readonly settled: number;
  readonly failed: number;
  /** Routed swaps among the above. */
  readonly swaps: { readonly attempted: number; readonly settled: number };
  readonly paymentsPerSecond: number;
  readonly successRate: number;
  /** Settled payments by the number of channels on their route. */
  readonly hops: Readonly<Record<string, number>>;
  readonly latency: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number };
  /** Failures by "reason at hop n" (hop 1 is the first node after the payer, as in `payment-failed`). */
  readonly failures: Readonly<Record<string, number>>;
  /**
   * Per node: payments, forwards and conversions; fees earned forwarding and paid, by asset
   * symbol (base units); and the net change of its channel balances by asset, measured and as
   * its payments, forwards and conversions say.
   */
  readonly nodes: readonly {
    readonly name: string;
    readonly sent: number;
    readonly received: number;
    readonly forwarded: number;
    /** Routed swaps this node converted (as the hub). */
    readonly converted: number;
    readonly feesEarned: Readonly<Record<string, string>>;
    readonly feesPaid: Readonly<Record<string, string>>;
    readonly balanceChange: Readonly<Record<string, string>>;
    readonly expectedChange: Readonly<Record<string, string>>;
  }[];
}

/** A small deterministic PRNG (mulberry32): the same seed picks the same payees. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const quantile = (sorted: readonly number[], q: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

type PerAsset = Map<Address, bigint>;
const add = (m: PerAsset, a: Address, x: bigint) => m.set(a, (m.get(a) ?? 0n) + x);

/** What each node holds across its open channels (mine), per asset, and what is still locked in them. */
async function holdings(net: Testnet): Promise<{ mine: PerAsset; locked: bigint }[]> {
  return Promise.all(
    net.nodes.map(async (n) => {
      const mine: PerAsset = new Map();
      let locked = 0n;
      for (const c of await n.api.channels()) {
        if (c.status !== 'open') continue;
        for (const b of c.balances) {
          add(mine, b.asset, b.mine);
          locked += b.locked;
        }
      }
      return { mine, locked };
    }),
  );
}

/** Pairs of nodes that share no channel: the payments of this workload go only between them. */
export function routedPairs(nodes: number, plans: readonly ChannelPlan[]): [number, number][] {
  const linked = new Set(plans.flatMap((p) => [`${p.leader}-${p.follower}`, `${p.follower}-${p.leader}`]));
  const pairs: [number, number][] = [];
  for (let a = 0; a < nodes; a++) for (let b = 0; b < nodes; b++) if (a !== b && !linked.has(`${a}-${b}`)) pairs.push([a, b]);
  return pairs;
}

export async function runRoutedLoad(
  net: Testnet,
  plans: readonly ChannelPlan[],
  o: RoutedOptions,
  progress: Progress,
): Promise<RoutedReport> {
  const pairs = routedPairs(net.nodes.length, plans);
  if (pairs.length === 0)
    throw new LanesError('every pair of nodes shares a channel: a routed workload needs nodes with no channel between them', {
      code: 'INVALID_ARGUMENT',
      details: 'use more nodes, or the ring or star topology',
    });
  const byPayer = net.nodes.map((_, i) => pairs.filter(([a]) => a === i).map(([, b]) => b));
  const addresses = net.nodes.map((n) => n.address);
  const index = new Map<Address, number>(addresses.map((a, i) => [a, i]));
  const tusd = o.swapEvery > 0 ? net.asset('tUSD') : undefined;
  const symbolOf = (a: Address) => (a === NATIVE_ASSET ? 'ETH' : a === tusd ? 'tUSD' : a);
  /** The k-th payment of a payer: a plain routed payment in ETH, or a routed swap (tUSD to the payee, paid with ETH). */
  const pay = (payer: number, payee: number, swap: boolean) =>
    net.nodes[payer]!.api.sendPayment({
      to: addresses[payee]!,
      amount: o.amount,
      ...(swap && tusd !== undefined ? { asset: tusd, payWith: NATIVE_ASSET } : {}),
    });

  // The graph reaches every node once the announcements and policies have spread: until then a
  // payment finds no route. Each pair pays once (warm-up, not measured) before the load.
  progress.step(`waiting for the channel graph: ${pairs.length} pairs with no channel between them`);
  const deadline = Date.now() + 120_000;
  // With swaps, each pair also swaps once: the hubs' offers must have spread too.
  let waiting: [number, number, boolean][] = pairs.flatMap(([a, b]) => [
    [a, b, false] as [number, number, boolean],
    ...(tusd ? [[a, b, true] as [number, number, boolean]] : []),
  ]);
  const lastError = new Map<string, string>();
  const seen = new Set<string>();
  while (waiting.length > 0) {
    const results = await Promise.all(
      waiting.map(([a, b, swap]) =>
        pay(a, b, swap).then(
          () => true,
          (e: unknown) => {
            lastError.set(`${a}-${b}`, e instanceof Error ? e.message : String(e));
            seen.add(e instanceof Error ? e.message.replace(/0x[0-9a-f]+/g, '0x…') : String(e));
            return false;
          },
        ),
      ),
    );
    waiting = waiting.filter((_, i) => !results[i]);
    if (waiting.length === 0) break;
    if (Date.now() > deadline)
      throw new LanesError(`no route after 120 s for ${waiting.length} of ${pairs.length} pairs`, {
        details:
          waiting
            .slice(0, 5)
            .map(([a, b]) => `${net.nodes[a]!.name} → ${net.nodes[b]!.name} (${lastError.get(`${a}-${b}`) ?? '?'})`)
            .join(', ') + (seen.size > 1 ? `; errors seen: ${[...seen].join(' | ')}` : ''),
      });
    await new Promise((r) => setTimeout(r, 1000));
  }

  if (seen.size > 0) progress.step(`warm-up errors: ${[...seen].join(' | ')}`);
  await settled(net);
  const before = await holdings(net);
  const random = rng(o.seed);
  const latencies: number[] = [];
  const done: { payer: number; p: PaymentInfo }[] = [];
  const failures: Record<string, number> = {};
  let attempted = 0;
  let swapsAttempted = 0;
  const start = performance.now();
  const end = start + o.durationMs;
  const bar = progress.bar('routed', Math.round(o.durationMs / 1000), 's');
  const ticker = setInterval(
    () => bar.update(Math.min(Math.round((performance.now() - start) / 1000), Math.round(o.durationMs / 1000))),
    500,
  );
  const loop = async (payer: number) => {
    const payees = byPayer[payer]!;
    if (payees.length === 0) return;
    let k = 0;
    while (performance.now() < end) {
      const payee = payees[Math.floor(random() * payees.length)]!;
      const swap = tusd !== undefined && ++k % o.swapEvery === 0;
      attempted++;
      if (swap) swapsAttempted++;
      const t0 = performance.now();
      try {
        const p = await pay(payer, payee, swap);
        latencies.push(performance.now() - t0);
        done.push({ payer, p });
      } catch (e) {
        const x = e as { reason?: string; hop?: number; code?: string };
        const key = x.reason === undefined ? (x.code ?? 'error') : `${x.reason} at hop ${x.hop ?? '?'}`;
        failures[key] = (failures[key] ?? 0) + 1;
      }
    }
  };
  await Promise.all(net.nodes.flatMap((_, i) => Array.from({ length: o.concurrency }, () => loop(i))));
  const windowMs = performance.now() - start;
  clearInterval(ticker);
  bar.stop();
  await settled(net);
  const after = await holdings(net);

  // What each node's balances should have moved by, per asset: −(what it locked on the first
  // hop) for a payer, +amount for a payee; a forwarder the difference between the lock it took
  // and the lock it made (its fee); a converting hub +the lock it took in the payer's asset and
  // −the lock it made in the payee's.
  const n = net.nodes.length;
  const expected = Array.from({ length: n }, (): PerAsset => new Map());
  const earned = Array.from({ length: n }, (): PerAsset => new Map());
  const paidFees = Array.from({ length: n }, (): PerAsset => new Map());
  const sent = Array.from({ length: n }, () => 0);
  const received = Array.from({ length: n }, () => 0);
  const forwarded = Array.from({ length: n }, () => 0);
  const converted = Array.from({ length: n }, () => 0);
  const hops: Record<string, number> = {};
  let swapsSettled = 0;
  for (const { payer, p } of done) {
    const route = p.route;
    hops[String(route.length)] = (hops[String(route.length)] ?? 0) + 1;
    const paidIn = p.swap?.asset ?? p.asset;
    if (p.swap) swapsSettled++;
    add(expected[payer]!, paidIn, -route[0]!.amount);
    add(paidFees[payer]!, paidIn, p.fee);
    sent[payer]!++;
    let asset = paidIn; // the asset of route[k]
    for (let k = 0; k < route.length; k++) {
      const to = index.get(route[k]!.to);
      if (k === route.length - 1) {
        if (to !== undefined) add(expected[to]!, asset, route[k]!.amount);
        if (to !== undefined) received[to]!++;
        continue;
      }
      if (p.swap !== undefined && route[k]!.to === p.swap.hub && asset === paidIn) {
        if (to !== undefined) {
          add(expected[to]!, asset, route[k]!.amount);
          add(expected[to]!, p.asset, -route[k + 1]!.amount);
          converted[to]!++;
        }
        asset = p.asset;
        continue;
      }
      const fee = route[k]!.amount - route[k + 1]!.amount;
      if (to !== undefined) {
        add(expected[to]!, asset, fee);
        add(earned[to]!, asset, fee);
        forwarded[to]!++;
      }
    }
  }
  const assets = [...new Set([...before, ...after].flatMap((h) => [...h.mine.keys()]))];
  const bySymbol = (m: PerAsset, all = false) =>
    Object.fromEntries(
      (all ? assets : [...m.keys()]).filter((a) => all || m.get(a) !== 0n).map((a) => [symbolOf(a), (m.get(a) ?? 0n).toString()]),
    );
  const change = (i: number): PerAsset => new Map(assets.map((a) => [a, (after[i]!.mine.get(a) ?? 0n) - (before[i]!.mine.get(a) ?? 0n)]));
  latencies.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    windowMs: Math.round(windowMs),
    attempted,
    settled: done.length,
    failed: attempted - done.length,
    swaps: { attempted: swapsAttempted, settled: swapsSettled },
    paymentsPerSecond: Math.round((done.length / windowMs) * 1000),
    successRate: attempted === 0 ? 0 : done.length / attempted,
    hops,
    latency: {
      p50: round(quantile(latencies, 0.5)),
      p90: round(quantile(latencies, 0.9)),
      p99: round(quantile(latencies, 0.99)),
      max: round(latencies.at(-1) ?? 0),
    },
    failures,
    nodes: net.nodes.map((node, i) => ({
      name: node.name,
      sent: sent[i]!,
      received: received[i]!,
      forwarded: forwarded[i]!,
      converted: converted[i]!,
      feesEarned: bySymbol(earned[i]!),
      feesPaid: bySymbol(paidFees[i]!),
      balanceChange: bySymbol(change(i), true),
      expectedChange: bySymbol(expected[i]!, true),
    })),
  };
}

/** Waits until no lock is left in any channel (failed payments give theirs back). */
async function settled(net: Testnet): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const h = await holdings(net);
    if (h.every((x) => x.locked === 0n)) return;
    if (Date.now() > deadline) throw new LanesError('locks are still held 60 s after the routed load ended');
    await new Promise((r) => setTimeout(r, 250));
  }
}
