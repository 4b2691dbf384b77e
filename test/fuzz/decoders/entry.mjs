// The module jazzer loads (it imports only .js/.mjs/.cjs files): each decoder's fuzz target by
// name, chosen with `jazzer entry.mjs -f <name>`. Node 24 strips the types of the .ts targets,
// after jazzer-compat.ts's hook so that jazzer instruments plain JavaScript.
export { fuzz as wire } from './wire.ts';
export { fuzz as settle } from './settle.ts';
export { fuzz as store } from './store.ts';
export { fuzz as 'control-api' } from './control-api.ts';
export { fuzz as payments } from './payments.ts';
export { fuzz as graph } from './graph.ts';
export { fuzz as onion } from './onion.ts';
export { fuzz as stream } from './stream.ts';
