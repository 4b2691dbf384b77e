/**
 * Where a node's CPU time goes, by component, from V8 CPU profiles (`--cpu-prof`).
 *
 *   LANES_TESTNET_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run testnet -- --nodes 2 --duration 10
 *   node scripts/profile-summary.ts /tmp/prof/CPU.*.cpuprofile          (one table per file)
 *   node scripts/profile-summary.ts --skip-ms 15000 /tmp/prof/…         (leave out start-up)
 *   node scripts/profile-summary.ts --functions --top 40 /tmp/prof/…    (self time by function)
 *   node scripts/profile-summary.ts --inclusive --top 60 /tmp/prof/…    (time with callees, by function)
 *
 * Every process the testnet starts writes a profile (the chain, the coordinator, each
 * node); the busiest ones are the nodes. Each sample is charged to the innermost frame that
 * belongs to a known component (secp256k1, libp2p, our transport, the engine, …), so a libp2p
 * callback that runs our handler is charged to the handler, and the handler's signature work to
 * secp256k1. Idle samples are left out; percentages are of busy time.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Components, first match wins: the URL patterns of what each one is made of. */
const COMPONENTS: readonly (readonly [RegExp, string])[] = [
  [/secp256k1/, 'secp256k1 (sign, verify)'],
  [/@chainsafe\/libp2p-noise|\/p2p\/noise-crypto/, 'noise (encryption)'],
  [/@chainsafe\/libp2p-yamux/, 'yamux (multiplexing)'],
  [/@libp2p|uint8arraylist|\/it-|main-event|multiformats|progress-events|p-queue|race-signal/, 'libp2p (other)'],
  [/\/src\/p2p\//, 'lanes transport (framing, coalescing)'],
  [/lmdb|ordered-binary/, 'lmdb'],
  [/hash-wasm|@noble\/hashes/, 'keccak'],
  [/msgpackr/, 'msgpack'],
  [/\/src\/core\/codec\//, 'lanes codec'],
  [/\/src\/core\//, 'lanes core (state, eip712, transitions)'],
  [/\/src\/store\//, 'lanes store (records, envelopes)'],
  [/\/src\/node\//, 'lanes engine (leader, follower)'],
  [/\/src\/crypto\//, 'lanes signer'],
  [/\/src\/load\//, 'load generator'],
  [/\/src\/coordinator\//, 'coordinator'],
  [/viem|\/ox\/|abitype/, 'viem (chain client)'],
  [/fastify|find-my-way|avvio|light-my-request/, 'fastify (control API)'],
  [/pino/, 'pino (logs)'],
  [/hdr-histogram/, 'hdr histograms'],
];

function componentOf(url: string, functionName: string): string | undefined {
  if (url === '') return functionName.startsWith('(') ? functionName : undefined;
  if (url.startsWith('node:')) return undefined;
  for (const [pattern, name] of COMPONENTS) if (pattern.test(url)) return name;
  return undefined;
}

const { values, positionals } = parseArgs({
  options: {
    'skip-ms': { type: 'string', default: '0' },
    top: { type: 'string', default: '16' },
    functions: { type: 'boolean', default: false },
    inclusive: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
if (positionals.length === 0) {
  process.stderr.write('usage: node scripts/profile-summary.ts [--skip-ms N] [--top N] [--functions | --inclusive] FILE.cpuprofile…\n');
  process.exit(2);
}
/** A frame as `name path:line`, the path from `src/` or `node_modules/` on. */
function frameName(n: ProfileNode): string {
  const f = n.callFrame as ProfileNode['callFrame'] & { lineNumber?: number };
  const where = f.url === '' ? '' : ` ${f.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${(f.lineNumber ?? 0) + 1}`;
  return `${f.functionName || '(anonymous)'}${where}`;
}
const skipUs = Number(values['skip-ms']) * 1000;

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const charged = new Map<string, number>();
  let busy = 0;
  let t = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < skipUs) continue;
    let id: number | undefined = profile.samples[i]!;
    if (byId.get(id)?.callFrame.functionName === '(idle)') continue;
    if (values.inclusive) {
      // Every function on the stack, once per sample however deep it recurses.
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) seen.add(frameName(byId.get(at)!));
      for (const name of seen) charged.set(name, (charged.get(name) ?? 0) + dt);
      busy += dt;
      continue;
    }
    if (values.functions) {
      const name = frameName(byId.get(id)!);
      charged.set(name, (charged.get(name) ?? 0) + dt);
      busy += dt;
      continue;
    }
    let component: string | undefined;
    while (id !== undefined && component === undefined) {
      const frame = byId.get(id)!.callFrame;
      component = componentOf(frame.url, frame.functionName);
      id = parent.get(id);
    }
    component ??= 'node internals';
    charged.set(component, (charged.get(component) ?? 0) + dt);
    busy += dt;
  }
  console.log(`\n${basename(file)}: ${(busy / 1000).toFixed(0)} ms busy`);
  for (const [name, us] of [...charged].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${name}`);
  }
}
