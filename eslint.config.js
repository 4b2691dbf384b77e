// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Layering: which folder of src/ may import which (docs/architecture.md, "Layering"). The same
// table is in test/layering.test.ts, which checks it by scanning the sources, so that it holds
// even where this rule is switched off: change both together.
//
// may:   what a folder may import: folders, or single files (`folder/file.ts`). Its own folder is implied.
// types: folders it may take only types from (`import type`: erased, no run-time dependency).
// lazy:  folders it may load only with `import()` (types aside), to start fast. ESLint does not
//        see `import()`, so it reports every static import of them that is not type-only.
// not:   files it must not import although their folder is allowed.
/** @type {Record<string, { may: string[], types?: string[], lazy?: string[], not?: string[] }>} */
const LAYERS = {
  core: { may: [] },
  runtime: { may: ['core'] },
  log: { may: [] },
  sdk: { may: ['core'] },
  files: { may: ['core'] },
  chain: { may: ['core', 'runtime', 'log'] },
  crypto: { may: ['core', 'runtime', 'log'] },
  // sdk/errors.ts: the settle client rejects with the SDK's errors (a leaf over core/errors.ts).
  p2p: { may: ['core', 'runtime', 'log', 'sdk/errors.ts'] },
  store: { may: ['core', 'runtime', 'log'] },
  node: { may: ['core', 'runtime', 'log', 'sdk', 'chain', 'crypto', 'p2p', 'store'], not: ['sdk/connect.ts'] },
  coordinator: { may: ['core', 'runtime', 'log', 'sdk', 'files', 'chain', 'crypto', 'p2p', 'store'] },
  load: { may: ['core', 'sdk'] },
  api: { may: ['core', 'log', 'sdk', 'load'] },
  daemon: { may: ['core', 'runtime', 'log', 'sdk', 'files', 'node', 'api', 'load'] },
  cli: {
    may: ['core', 'sdk', 'files'],
    lazy: ['daemon', 'node', 'coordinator', 'testnet', 'load', 'chain', 'crypto', 'p2p', 'store', 'runtime'],
  },
  testnet: { may: ['core', 'log', 'sdk', 'files', 'chain', 'p2p', 'coordinator', 'daemon', 'load'] },
};
/** src/index.ts, the package's entry: the embedded SDK. */
const ENTRY = { may: ['core', 'sdk', 'node'] };

// The engine (src/node) reaches adapters through their ports. Only the composition root imports
// the concrete ones, and the packages behind them, as values; the other files use their types.
const COMPOSITION_ROOT = 'src/node/create-node.ts';
const ADAPTERS = ['chain', 'crypto', 'p2p', 'store', 'log'];
const PORTS = ['p2p/transport.ts', 'store/store.ts', 'crypto/signer.ts', 'chain/encode.ts', 'chain/chain-follower.ts'];
/** Network, storage, chain and native code: the engine, the SDK and the CLI use them as types only. */
const HEAVY_PACKAGES = [
  'libp2p',
  '@libp2p/*',
  '@chainsafe/*',
  '@multiformats/*',
  'lmdb',
  'secp256k1',
  'viem',
  'hardhat',
  'fastify',
  'pino',
];
/** The only packages the core uses: pure computation. */
const PURE_PACKAGES = ['@noble/hashes/*', '@noble/ciphers/*', '@noble/secp256k1', '@scure/base', 'msgpackr', 'hash-wasm'];

// TEMPORARY: imports that break the layering, allowed file by file until each is fixed, each
// with what should change (none today); test/layering.test.ts fails once an entry is not needed.
/** @type {Record<string, string[]>} */
const TEMPORARY = {};

/** Subfolders of a layer that get rules (src/core/codec/ is one level down). */
const MAX_DEPTH = 3;
const esc = (/** @type {string} */ s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const pkg = (/** @type {string} */ p) => (p.endsWith('/*') ? esc(p.slice(0, -1)) : `${esc(p)}(?:/|$)`);
const folders = (/** @type {string[]} */ xs) => xs.filter((x) => !x.endsWith('.ts'));
const files = (/** @type {string[]} */ xs) => xs.filter((x) => x.endsWith('.ts'));
const names = (/** @type {string[]} */ xs) => (xs.length === 0 ? 'nothing' : xs.map((x) => `src/${x}`).join(', '));

/**
 * `no-restricted-imports` patterns (typescript-eslint's, for `allowTypeImports`) for a file of
 * src/`name`, `depth` folders below it. Import specifiers are relative, so each pattern starts
 * with the `../` that lead from the file up to src/.
 *
 * @param {string} name
 * @param {number} depth
 * @param {{ compositionRoot?: boolean, allow?: string[] }} [options]
 */
function patterns(name, depth, { compositionRoot = false, allow = [] } = {}) {
  const layer = LAYERS[name];
  const up = `(?:\\.\\./){${depth + 1}}`;
  const soft = [...(layer.types ?? []), ...(layer.lazy ?? [])];
  const reachable = [name, ...folders(layer.may), ...soft];
  // Single files of folders it may not otherwise import (those of `types` folders are below).
  const single = files(layer.may).filter((f) => !reachable.includes(f.slice(0, f.indexOf('/'))));
  const see = ' (docs/architecture.md, "Layering")';
  /** @type {{ regex: string, message: string, allowTypeImports?: boolean }[]} */
  const out = [
    {
      regex: `${up}(?!(?:${reachable.join('|')})/${single.length ? `|(?:${single.map(esc).join('|')})$` : ''})`,
      message: `src/${name} may import only ${[
        names([name, ...layer.may]),
        ...(layer.types ?? []).map((f) => `types from src/${f}`),
        ...(layer.lazy ?? []).map((f) => `src/${f} through import()`),
      ].join(', ')}${see}.`,
    },
    ...(layer.not ?? []).map((f) => ({ regex: `${up}${esc(f)}$`, message: `src/${name} must not import src/${f}${see}.` })),
    ...(layer.types ?? []).map((f) => {
      const values = layer.may.filter((x) => x.startsWith(`${f}/`));
      return {
        regex: `${up}${values.length ? `(?!(?:${values.map(esc).join('|')})$)` : ''}${f}/`,
        allowTypeImports: true,
        message: `src/${name} takes only types from src/${f}${values.length ? ` (values: ${names(values)})` : ''}${see}.`,
      };
    }),
    ...(layer.lazy ?? []).map((f) => ({
      regex: `${up}${f}/`,
      allowTypeImports: true,
      message: `src/${name} loads src/${f} only with import() (types aside), so that it starts fast${see}.`,
    })),
  ];
  if (name === 'core')
    out.push({
      regex: `(?![./])(?!${PURE_PACKAGES.map(pkg).join('|')})`,
      message:
        'src/core is pure: of packages it uses only @noble/hashes, @noble/ciphers (ChaCha20-Poly1305 for route onions), @noble/secp256k1, @scure/base (bech32m, base58), msgpackr and hash-wasm (WebAssembly keccak).',
    });
  if (name === 'node' && !compositionRoot)
    out.push(
      {
        regex: `${up}(?!(?:${PORTS.map(esc).join('|')})$)(?:${ADAPTERS.join('|')})/`,
        allowTypeImports: true,
        message: `Only ${COMPOSITION_ROOT} imports concrete adapters; the engine uses their ports (${names(PORTS)}) and types.`,
      },
      {
        regex: `(?:${HEAVY_PACKAGES.map(pkg).join('|')})`,
        allowTypeImports: true,
        message: `Only ${COMPOSITION_ROOT} imports adapter packages; the engine uses their types.`,
      },
    );
  if (name === 'sdk' || name === 'cli')
    out.push({
      regex: `(?:${HEAVY_PACKAGES.map(pkg).join('|')})`,
      allowTypeImports: true,
      message: `src/${name} stays light: network, store and chain packages only as types${name === 'cli' ? ' or through import()' : ''}.`,
    });
  const except = allow.length ? `(?!(?:${allow.map(esc).join('|')})$)` : '';
  return out.map((p) => ({ ...p, regex: `^${except}${p.regex}` }));
}

/** @returns {import('eslint').Linter.Config[]} */
function layering() {
  /** @type {(list: object[]) => import('eslint').Linter.RulesRecord} */
  const rules = (list) => ({ '@typescript-eslint/no-restricted-imports': ['error', { patterns: list }] });
  const configs = [];
  for (const name of Object.keys(LAYERS))
    for (let depth = 0; depth <= MAX_DEPTH; depth++)
      configs.push({ files: [`src/${name}/${'*/'.repeat(depth)}*.ts`], rules: rules(patterns(name, depth)) });
  configs.push({
    files: ['src/*.ts'],
    rules: rules([
      { regex: `^\\./(?!(?:${ENTRY.may.join('|')})/)`, message: `src/index.ts may import only ${names(ENTRY.may)}.` },
      { regex: '^\\.\\./', message: 'src/index.ts imports nothing outside src/.' },
    ]),
  });
  // Files with rules of their own (the last config that sets a rule wins).
  for (const file of new Set([COMPOSITION_ROOT, ...Object.keys(TEMPORARY)])) {
    const [, name, ...rest] = file.split('/');
    const options = { compositionRoot: file === COMPOSITION_ROOT, allow: TEMPORARY[file] ?? [] };
    configs.push({ files: [file], rules: rules(patterns(name, rest.length - 1, options)) });
  }
  return configs;
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'src/chain/artifacts/**', 'reports/**', '.scratch/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // The core is pure: no I/O, no clock, no randomness, no network or chain clients. What it may
    // import is in LAYERS above.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'src/core does no I/O.' },
        { name: 'setTimeout', message: 'src/core has no clock: take time as an argument.' },
        { name: 'setInterval', message: 'src/core has no clock.' },
        { name: 'performance', message: 'src/core has no clock.' },
        { name: 'fetch', message: 'src/core does no I/O.' },
        { name: 'crypto', message: 'src/core has no randomness: take keys and nonces as arguments.' },
        { name: 'console', message: 'src/core does not log: return results.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'src/core has no clock: take time as an argument.' },
        { object: 'Math', property: 'random', message: 'src/core has no randomness.' },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='Date']", message: 'src/core has no clock.' },
        { selector: 'ImportExpression', message: 'src/core loads nothing at run time: no import().' },
      ],
    },
  },
  ...layering(),
);
