/**
 * Lets jazzer.js's prebuilt libFuzzer addon load on an older glibc (this project's machines are
 * Debian 12: glibc 2.36, libstdc++ of GCC 12).
 *
 * `@jazzer.js/fuzzer@4.0.0` ships `prebuilds/fuzzer-linux-x64.node` built against glibc 2.38 and
 * GCC 13's libstdc++, so `dlopen` fails with "version `GLIBC_2.38' not found". It needs only three
 * symbols of those versions:
 * - `__isoc23_strtol` and `__isoc23_strtoul`: glibc 2.38's C23 names of `strtol`/`strtoul` (the only
 *   difference is that they also read a `0b` prefix, which libFuzzer's flag parsing never sees);
 * - `std::ios_base_library_init()`: a `.globl` reference GCC 13's `<iostream>` emits only to require
 *   that libstdc++; nothing calls or relocates it.
 *
 * Loaded with `node --import` before jazzer, this wraps `process.dlopen`: when a `.node` file fails
 * with a missing symbol version, it writes a patched copy (once, cached by content) and loads that
 * instead. The copy differs from the original in a few bytes: the missing version requirements are
 * marked weak (VER_FLG_WEAK: the loader then accepts their absence), and each `__isoc23_*` import
 * is renamed to its suffix (`strtol`, already in the string table) at the GLIBC_2.2.5 version. Any
 * other symbol of a missing version makes it give up and rethrow the original error. Where the
 * addon loads as it is (a newer glibc), nothing is changed. Copies are kept in
 * node_modules/.cache/lanes-jazzer-compat/.
 *
 * It also registers strip-types-hook.ts, so that jazzer instruments the TypeScript sources.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SHT_DYNSYM = 11;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const VER_FLG_WEAK = 0x2;
const ISOC23 = '__isoc23_';
/** Imports of a missing version that are known to be only a link-time marker (never relocated). */
const MARKERS = new Set(['_ZSt21ios_base_library_initv']);

interface Section {
  readonly type: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
}

function cstring(buf: Buffer, at: number): string {
  const end = buf.indexOf(0, at);
  return buf.toString('latin1', at, end);
}

/** The shared libraries this process has mapped, by file name (libc.so.6 → its path). */
function loadedLibraries(): Map<string, string> {
  const out = new Map<string, string>();
  let maps: string;
  try {
    maps = readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return out;
  }
  for (const line of maps.split('\n')) {
    const path = line.split(/\s+/)[5];
    if (path === undefined || !path.startsWith('/')) continue;
    const base = path.slice(path.lastIndexOf('/') + 1);
    out.set(base, path);
    const soname = /^(.*\.so\.\d+)\./.exec(base); // libstdc++.so.6.0.30 is loaded as libstdc++.so.6
    if (soname?.[1] !== undefined) out.set(soname[1], path);
  }
  return out;
}

/** Whether the library `file` of this process defines the symbol version `version`. */
function provides(libraries: Map<string, string>, file: string, version: string, cache: Map<string, Buffer>): boolean {
  const path = libraries.get(file);
  if (path === undefined) return true; // not loaded here: cannot tell, leave the requirement as it is
  let bytes = cache.get(path);
  if (bytes === undefined) {
    bytes = readFileSync(path);
    cache.set(path, bytes);
  }
  return bytes.includes(Buffer.from(`${version}\0`, 'latin1'));
}

/**
 * Returns a copy of the ELF64 little-endian shared object `original` that loads on this system,
 * or undefined if it needs nothing or cannot be adapted.
 */
export function adaptForOldLibc(original: Buffer): Buffer | undefined {
  if (original.readUInt32BE(0) !== 0x7f454c46 || original[4] !== 2 || original[5] !== 1) return undefined;
  const buf = Buffer.from(original);
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const sections: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    sections.push({
      type: buf.readUInt32LE(at + 4),
      offset: Number(buf.readBigUInt64LE(at + 24)),
      size: Number(buf.readBigUInt64LE(at + 32)),
      link: buf.readUInt32LE(at + 40),
    });
  }
  const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
  const versym = sections.find((s) => s.type === SHT_GNU_VERSYM);
  const verneed = sections.find((s) => s.type === SHT_GNU_VERNEED);
  if (dynsym === undefined || versym === undefined || verneed === undefined) return undefined;
  const dynstr = sections[dynsym.link];
  if (dynstr === undefined) return undefined;
  const str = (offset: number) => cstring(buf, dynstr.offset + offset);

  // Version requirements: index → (file, name, where its flags are); mark the missing ones weak.
  const libraries = loadedLibraries();
  const cache = new Map<string, Buffer>();
  const needs = new Map<number, { file: string; name: string }>();
  const missing = new Set<number>();
  const base = new Map<string, number>(); // file → index of its GLIBC_2.2.5 requirement
  for (let vn = verneed.offset; ;) {
    const count = buf.readUInt16LE(vn + 2);
    const file = str(buf.readUInt32LE(vn + 4));
    for (let i = 0, aux = vn + buf.readUInt32LE(vn + 8); i < count; i++) {
      const name = str(buf.readUInt32LE(aux + 8));
      const index = buf.readUInt16LE(aux + 6) & 0x7fff;
      needs.set(index, { file, name });
      if (name === 'GLIBC_2.2.5') base.set(file, index);
      if (!provides(libraries, file, name, cache)) {
        missing.add(index);
        buf.writeUInt16LE(buf.readUInt16LE(aux + 4) | VER_FLG_WEAK, aux + 4);
      }
      const next = buf.readUInt32LE(aux + 12);
      if (next === 0) break;
      aux += next;
    }
    const next = buf.readUInt32LE(vn + 12);
    if (next === 0) break;
    vn += next;
  }
  if (missing.size === 0) return undefined;

  // Imports of the missing versions: redirect the C23 aliases, accept the markers, refuse the rest.
  const symbols = dynsym.size / 24;
  for (let i = 1; i < symbols; i++) {
    const index = buf.readUInt16LE(versym.offset + i * 2) & 0x7fff;
    if (!missing.has(index)) continue;
    const at = dynsym.offset + i * 24;
    const name = str(buf.readUInt32LE(at));
    const need = needs.get(index);
    if (buf.readUInt16LE(at + 6) !== 0 || need === undefined) return undefined; // defined here, or unknown
    if (MARKERS.has(name)) continue;
    const fallback = base.get(need.file);
    if (!name.startsWith(ISOC23) || fallback === undefined) return undefined;
    buf.writeUInt32LE(buf.readUInt32LE(at) + ISOC23.length, at); // "__isoc23_strtol" + 9 = "strtol"
    buf.writeUInt16LE(fallback, versym.offset + i * 2);
  }
  return buf;
}

const cacheDir = fileURLToPath(new URL('../../../node_modules/.cache/lanes-jazzer-compat/', import.meta.url));

/** The path of a loadable copy of `path`, or undefined if it cannot be adapted. */
export function adaptedCopy(path: string): string | undefined {
  const original = readFileSync(path);
  const digest = createHash('sha256').update(original).digest('hex').slice(0, 16);
  const target = join(cacheDir, `${digest}-${path.slice(path.lastIndexOf('/') + 1)}`);
  if (existsSync(target)) return target;
  const adapted = adaptForOldLibc(original);
  if (adapted === undefined) return undefined;
  mkdirSync(cacheDir, { recursive: true });
  const temporary = `${target}.${process.pid}.tmp`;
  writeFileSync(temporary, adapted);
  renameSync(temporary, target); // atomic: parallel processes may race to write the same copy
  return target;
}

type Dlopen = (module: object, filename: string, ...flags: number[]) => void;

/** Wraps process.dlopen so a `.node` file that needs a newer glibc loads through its adapted copy. */
export function installDlopenFallback(): void {
  if (process.platform !== 'linux') return;
  const proc = process as unknown as { dlopen: Dlopen & { lanesCompat?: true } };
  if (proc.dlopen.lanesCompat) return;
  const original = proc.dlopen.bind(process);
  const wrapped = (module: object, filename: string, ...flags: number[]): void => {
    try {
      original(module, filename, ...flags);
    } catch (e) {
      if (!(e instanceof Error) || !/version `[A-Z]+_[0-9.]+' not found/.test(e.message)) throw e;
      const copy = adaptedCopy(filename);
      if (copy === undefined) throw e;
      original(module, copy, ...flags);
    }
  };
  proc.dlopen = Object.assign(wrapped, { lanesCompat: true as const });
}

installDlopenFallback();
register('./strip-types-hook.ts', import.meta.url);
