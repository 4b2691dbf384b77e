/** The Lanes package entry point. */
export * from './core/index.ts';
