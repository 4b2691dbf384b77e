/** Where the decoder fuzzers' corpora live, and whether the generated seeds on disk are current. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Target, seedCorpus } from './seeds.ts';

export { TARGETS, type Target } from './seeds.ts';

export const root = fileURLToPath(new URL('../../../', import.meta.url));

export function corpusDir(target: Target): string {
  return fileURLToPath(new URL(`corpus/${target}`, import.meta.url));
}

/** Every file of a target's checked-in corpus (seed-* and regress-*), by name. */
export function corpusFiles(target: Target): string[] {
  const dir = corpusDir(target);
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** What differs between the generated seeds and the files on disk: one line per file. */
export function corpusDrift(): string[] {
  const out: string[] = [];
  for (const [target, seeds] of seedCorpus()) {
    const dir = corpusDir(target);
    for (const [name, bytes] of seeds) {
      const path = `${dir}/seed-${name}`;
      if (!existsSync(path)) out.push(`missing ${target}/seed-${name}`);
      else if (!Buffer.from(readFileSync(path)).equals(bytes)) out.push(`changed ${target}/seed-${name}`);
    }
    for (const file of corpusFiles(target)) {
      if (file.startsWith('seed-') && !seeds.has(file.slice('seed-'.length))) out.push(`stale ${target}/${file}`);
    }
  }
  return out;
}
