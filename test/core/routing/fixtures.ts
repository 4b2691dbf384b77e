/** What the routing tests import: the core's routing module, and a token address. */
export * from '../../../src/core/routing/index.ts';
export { TOKEN_A as TOKEN_SAMPLE, TOKEN_B as TOKEN_OTHER } from '../../helpers/factories.ts';
export { channelId as channelIdOf } from '../../../src/core/params.ts';
