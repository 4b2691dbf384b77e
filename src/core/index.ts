/**
 * The Lanes protocol core: channel parameters, states, EIP-712 signing, transitions,
 * validation and the wire codec. Pure: no I/O, clock, randomness, network or chain clients.
 * Time, keys and chain facts are arguments (docs/architecture.md, "Core").
 */
export * from './bytes.ts';
export * from './result.ts';
export * from './errors.ts';
export * from './params.ts';
export * from './state.ts';
export * from './eip712.ts';
export * from './locks.ts';
export * from './crypto.ts';
export * from './ops.ts';
export * from './transitions.ts';
export * from './validate.ts';
export * from './codec/messages.ts';
export * from './codec/wire.ts';
export * from './codec/settle.ts';
export * from './funding.ts';
export * from './deposits.ts';
