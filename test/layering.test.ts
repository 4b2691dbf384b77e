/**
 * The layering of src/ (docs/architecture.md, "Layering"): which folder may import which. ESLint
 * enforces it while editing (LAYERS in eslint.config.js); this test enforces the same table in
 * CI, so that it holds where the lint rule is switched off. It reads every import, static,
 * type-only and `import()`, and resolves it to the file it names.
 */
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const SRC = new URL('../src/', import.meta.url).pathname;

interface Layer {
  /** Folders, or single files (`folder/file.ts`), it may import; its own folder is implied. */
  readonly may: readonly string[];
  /** Folders it may take only types from. */
  readonly types?: readonly string[];
  /** Folders it may load only with `import()` (or take types from). */
  readonly lazy?: readonly string[];
  /** Files it must not import although their folder is allowed. */
  readonly not?: readonly string[];
}

const LAYERS: Readonly<Record<string, Layer>> = {
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
/** src/index.ts, the package's entry. */
const ENTRY = ['core', 'sdk', 'node'];
/** Only the composition root imports concrete adapters (values); the engine uses their ports. */
const COMPOSITION_ROOT = 'node/create-node.ts';
const ADAPTERS = ['chain', 'crypto', 'p2p', 'store', 'log'];
const PORTS = ['p2p/transport.ts', 'store/store.ts', 'crypto/signer.ts', 'chain/encode.ts', 'chain/chain-follower.ts'];
const HEAVY = /^((libp2p|lmdb|secp256k1|viem|hardhat|fastify|pino)(\/|$)|(@libp2p|@chainsafe|@multiformats)\/)/;
const PURE = /^(@noble\/hashes\/|@noble\/ciphers\/|@noble\/secp256k1$|@scure\/base$|msgpackr$|hash-wasm$)/;
/** TEMPORARY, as in eslint.config.js: imports that break the layering, until each is fixed (none today). */
const TEMPORARY: Readonly<Record<string, readonly string[]>> = {};

type Kind = 'value' | 'type' | 'import()';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? e.name === 'artifacts'
        ? [] // generated ABIs, no imports
        : sources(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

function imports(file: string): { spec: string; kind: Kind }[] {
  const found: { spec: string; kind: Kind }[] = [];
  const typeOnly = (clause: ts.ImportClause | undefined): boolean =>
    clause !== undefined &&
    (clause.isTypeOnly ||
      (clause.name === undefined &&
        clause.namedBindings !== undefined &&
        ts.isNamedImports(clause.namedBindings) &&
        clause.namedBindings.elements.length > 0 &&
        clause.namedBindings.elements.every((e) => e.isTypeOnly)));
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      found.push({ spec: n.moduleSpecifier.text, kind: typeOnly(n.importClause) ? 'type' : 'value' });
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      const named = n.exportClause && ts.isNamedExports(n.exportClause) ? n.exportClause.elements : undefined;
      const type = n.isTypeOnly || (named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly));
      found.push({ spec: n.moduleSpecifier.text, kind: type ? 'type' : 'value' });
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
      found.push({ spec: n.argument.literal.text, kind: 'type' });
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = n.arguments;
      found.push({ spec: arg && ts.isStringLiteralLike(arg) ? arg.text : '<computed>', kind: 'import()' });
    }
    ts.forEachChild(n, visit);
  };
  visit(ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true));
  return found;
}

/** Why `from` (a path under src/) may not import `spec` this way, or undefined when it may. */
function breach(from: string, spec: string, kind: Kind): string | undefined {
  const folder = from.includes('/') ? from.slice(0, from.indexOf('/')) : undefined;
  if (spec === '<computed>') return 'import() of a computed specifier cannot be checked';
  if (!spec.startsWith('.')) {
    if (folder === 'core' && !PURE.test(spec)) return 'src/core uses only pure packages';
    if (HEAVY.test(spec) && kind !== 'type') {
      if (folder === 'node' && from !== COMPOSITION_ROOT) return 'only the composition root imports adapter packages';
      if (folder === 'sdk') return 'src/sdk uses network, store and chain packages only as types';
      if (folder === 'cli' && kind === 'value') return 'src/cli loads network, store and chain packages only with import()';
    }
    return undefined;
  }
  const target = relative(SRC, resolve(dirname(join(SRC, from)), spec));
  if (target.startsWith('..')) return 'src/ imports nothing outside src/';
  const to = target.includes('/') ? target.slice(0, target.indexOf('/')) : target;
  if (folder === undefined) return ENTRY.includes(to) ? undefined : `src/${from} may import only ${ENTRY.join(', ')}`;
  if (to === folder) return undefined;
  const layer = LAYERS[folder];
  if (layer === undefined) return `src/${folder} has no entry in LAYERS`;
  if (layer.not?.includes(target)) return `src/${folder} must not import src/${target}`;
  if (layer.may.includes(to) || layer.may.includes(target)) {
    const adapter = folder === 'node' && from !== COMPOSITION_ROOT && ADAPTERS.includes(to) && !PORTS.includes(target);
    return adapter && kind !== 'type' ? 'only the composition root imports concrete adapters' : undefined;
  }
  if (layer.types?.includes(to)) return kind === 'type' ? undefined : `src/${folder} takes only types from src/${to}`;
  if (layer.lazy?.includes(to)) return kind !== 'value' ? undefined : `src/${folder} loads src/${to} only with import() (or takes types)`;
  return `src/${folder} does not depend on src/${to}`;
}

test('every folder of src/ imports only what its layer allows (docs/architecture.md, "Layering")', (t) => {
  const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory());
  t.deepEqual(folders.map((e) => e.name).sort(), Object.keys(LAYERS).sort(), 'every folder of src/ has a layer');
  const breaches: string[] = [];
  const needed = new Set<string>();
  for (const file of sources(SRC)) {
    const from = relative(SRC, file);
    for (const { spec, kind } of imports(file)) {
      const why = breach(from, spec, kind);
      if (why === undefined) continue;
      if (TEMPORARY[from]?.includes(spec)) needed.add(`${from} ${spec}`);
      else breaches.push(`src/${from} imports '${spec}' (${kind}): ${why}`);
    }
  }
  t.deepEqual(breaches, []);
  const stale = Object.entries(TEMPORARY).flatMap(([from, specs]) =>
    specs.filter((s) => !needed.has(`${from} ${s}`)).map((s) => `${from} ${s}`),
  );
  t.deepEqual(stale, [], 'these TEMPORARY entries are no longer needed: remove them here and in eslint.config.js');
});
