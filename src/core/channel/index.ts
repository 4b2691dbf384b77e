/** The channel machine (docs/adr/0009): the channel protocol as a pure step function. */
export * from './io.ts';
export * from './record.ts';
export { type Machine, restore, RETRY_MS, CONCLUDE_GRACE_MS, VERSION_LEASE } from './types.ts';
export { step } from './step.ts';
export { isQuiet } from './quiet.ts';
export { acceptChannel, proposeChannel } from './opening.ts';
export { isMisbehaviour } from './follower.ts';
export { learnSecrets, learnedSecret } from './learned.ts';
