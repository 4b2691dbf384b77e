/**
 * A module loader hook (registered by jazzer-compat.ts) that hands the loaders after it plain
 * JavaScript for `.ts` files: Node 24 loads them as format `module-typescript` and strips the
 * types itself only after every hook ran, so jazzer's instrumenting hook, which rewrites only
 * format `module`, would skip them and the fuzzer would get no coverage from the decoders.
 * Stripping replaces each type annotation by spaces, so line and column numbers stay those of the
 * source (the coverage report needs no source map).
 */
import { stripTypeScriptTypes } from 'node:module';

interface LoadResult {
  format?: string | null;
  source?: string | ArrayBuffer | Uint8Array;
  shortCircuit?: boolean;
}
type NextLoad = (url: string, context: unknown) => Promise<LoadResult>;

export async function load(url: string, context: unknown, nextLoad: NextLoad): Promise<LoadResult> {
  const result = await nextLoad(url, context);
  if (result.format !== 'module-typescript' || result.source === undefined) return result;
  const code = typeof result.source === 'string' ? result.source : Buffer.from(result.source as Uint8Array).toString('utf8');
  return { ...result, format: 'module', source: stripTypeScriptTypes(code, { mode: 'strip' }) };
}
