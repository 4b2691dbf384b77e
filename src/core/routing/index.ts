/**
 * The channel graph, its gossip messages and the pathfinder (ADR 0017). Pure, like the rest of
 * the core: time, keys and chain facts are arguments.
 */
export * from './types.ts';
export * from './codec.ts';
export * from './digest.ts';
export * from './peer-id.ts';
export * from './verify.ts';
export * from './graph.ts';
export * from './routing-index.ts';
export * from './scorer.ts';
export * from './pathfind.ts';
export * from './rate-limit.ts';
export * from './retry.ts';
export * from './quoted-route.ts';
