/**
 * One payment's attempts over several routes: the payer asks for a route, tries it, reports how
 * it went, and asks again, until it succeeds, no route is left within its fee limit, or the
 * attempts run out. The scorer learns from every report (so later payments benefit), and this
 * payment also skips what failed it for reasons other than liquidity, even after the scorer's
 * avoidance expires. Pure: time is an argument; the payment engine does the sending.
 *
 * The fee limit holds for every attempt: a failed attempt's locks are cancelled, so what the
 * payer can lose is bounded by the one attempt that succeeds (ADR 0017).
 */
import type { Address, Bytes32 } from '../bytes.ts';
import type { Pathfinder, Route, RouteQuery, RouteResult } from './pathfind.ts';
import type { PaymentFailure, ProbabilisticScorer } from './scorer.ts';

export interface AttemptLimits {
  /** Routes tried at most (default 10). */
  readonly maxAttempts: number;
}

export class PaymentAttempts {
  readonly query: RouteQuery;
  readonly #pathfinder: Pathfinder;
  readonly #scorer: ProbabilisticScorer;
  readonly #maxAttempts: number;
  readonly #channels = new Set<Bytes32>();
  readonly #nodes = new Set<Address>();
  #attempts = 0;
  #done = false;

  constructor(pathfinder: Pathfinder, scorer: ProbabilisticScorer, query: RouteQuery, limits: Partial<AttemptLimits> = {}) {
    this.#pathfinder = pathfinder;
    this.#scorer = scorer;
    this.query = query;
    this.#maxAttempts = limits.maxAttempts ?? 10;
  }

  get attempts(): number {
    return this.#attempts;
  }

  /**
   * The next route to try at `now`, or why there is none. `attempts` is the reason once
   * {@link AttemptLimits.maxAttempts} routes were tried or the payment succeeded.
   */
  next(now: bigint): RouteResult | { readonly ok: false; readonly reason: 'attempts'; readonly detail: string } {
    if (this.#done || this.#attempts >= this.#maxAttempts)
      return { ok: false, reason: 'attempts', detail: `${this.#attempts} route(s) tried${this.#done ? ', the payment succeeded' : ''}` };
    const q = this.query;
    const r = this.#pathfinder.findRoute(
      {
        ...q,
        now,
        exclude: { channels: [...(q.exclude?.channels ?? []), ...this.#channels], nodes: [...(q.exclude?.nodes ?? []), ...this.#nodes] },
      },
      this.#scorer.view(now),
    );
    if (r.ok) this.#attempts++;
    return r;
  }

  /** The route failed at hop `failedAt` (its forwarder could not forward) for `reason`. */
  failed(route: Route, failedAt: number, reason: PaymentFailure, now: bigint): void {
    this.#scorer.recordFailure(route.hops, failedAt, reason, now);
    if (reason === 'payee-rejected') {
      this.#done = true; // another route reaches the same payee, who refuses it the same way
      return;
    }
    const hop = route.hops[failedAt];
    if (hop === undefined || reason === 'insufficient-liquidity') return;
    if (reason === 'node-failure') this.#nodes.add(hop.from);
    else this.#channels.add(hop.channelId);
  }

  /** Leaves `node` out of this payment's later routes, without telling the scorer (a routed swap's hub whose quote did not do). */
  avoid(node: Address): void {
    this.#nodes.add(node);
  }

  succeeded(route: Route, now: bigint): void {
    this.#scorer.recordSuccess(route.hops, now);
    this.#done = true;
  }
}
