/**
 * A routed swap's route priced by the hub's signed quote (docs/adr/0012). The pathfinder chose
 * the route at the hub's announced, indicative rate; the quote binds the rate (and may add a
 * premium), so what the hub wants in, and every amount upstream of it, is computed again:
 * backwards from the hub, each hop adds its forwarder's fee by the policy the route was found
 * with. Downstream of the hub nothing changes. Pure.
 */
import { forwardFee } from '../forwarding/forward.ts';
import { ceilDiv, quotedAmountIn, type SwapQuote } from '../forwarding/quote.ts';
import type { Route, RouteHop } from './pathfind.ts';

/** The index of the hop a route's converting node locks (its outgoing hop), or -1 for a one-asset route. */
export function conversionHop(route: Route): number {
  return route.hops.findIndex((h) => h.conversion !== undefined);
}

export type QuotedRoute = { readonly ok: true; readonly route: Route } | { readonly ok: false; readonly detail: string };

/** `route` with the quote's terms at its converting hop, or why the quote does not fit it. */
export function applyQuote(route: Route, q: SwapQuote): QuotedRoute {
  const c = conversionHop(route);
  if (c < 1) return { ok: false, detail: 'the route converts no asset at a hub' };
  const out = route.hops[c]!;
  const conv = out.conversion!;
  if (q.hub !== out.from) return { ok: false, detail: `the quote is ${q.hub}'s, the route converts at ${out.from}` };
  if (q.from !== conv.from || q.to !== conv.to)
    return { ok: false, detail: `the quote converts ${q.from} into ${q.to}, the route ${conv.from} into ${conv.to}` };
  if (out.amount > q.maxAmount) return { ok: false, detail: `the quote pays out at most ${q.maxAmount}, the route needs ${out.amount}` };
  const hops: RouteHop[] = [...route.hops];
  const amountIn = quotedAmountIn(q, out.amount, out.fee);
  hops[c] = { ...out, conversion: { from: q.from, to: q.to, rateNum: q.rateNum, rateDen: q.rateDen, amountIn } };
  let cur = amountIn;
  for (let i = c - 1; i >= 0; i--) {
    const h = hops[i]!;
    const fee = i === 0 ? 0n : forwardFee({ baseFee: h.feeBase, feePpm: BigInt(h.feePpm) }, cur);
    hops[i] = { ...h, amount: cur, fee };
    cur += fee;
  }
  // Fees in the payer's asset: what is sent less what the payee's amount costs at the quoted rate
  // with no fees (the premium counts as a fee), as the pathfinder counts them.
  const noFee = ceilDiv(route.amount * q.rateDen, q.rateNum);
  return { ok: true, route: { ...route, hops, sent: cur, totalFee: cur - noFee } };
}
