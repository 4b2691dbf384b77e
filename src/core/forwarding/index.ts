/** Routed payments: route onions and the forwarding decision (docs/adr/0011). */
export * from './onion.ts';
export * from './forward.ts';
export * from './quote.ts';
