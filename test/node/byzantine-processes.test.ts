/**
 * The Byzantine counterparty against a real node in its own OS process (lmdb, libp2p over TCP),
 * killed with SIGKILL at random points and restarted on the same data directory. Mallory acts at
 * random from a seed: she countersigns, refuses naming anything, hands back refused states
 * countersigned, replays old messages, lists operations twice, refuses final states, requests
 * payments. Checked from the outside, on everything the node ever signs: never two signatures at
 * one version, nothing after a final state, and the node's money never below its deposit less
 * what it asked to pay. (The pure machine gets the same adversary by the thousands of runs:
 * test/core/channel/byzantine.test.ts.)
 */
import test from 'ava';
import fc from 'fast-check';
import {
  type ChannelParams,
  type ChannelState,
  type Message,
  type Op,
  type ProposeMessage,
  applyUpdate,
  bytesToHex,
} from '../../src/core/index.ts';
import { actor } from '../helpers/actors.ts';
import { type LocalNet, freePort, keyHex, localNet } from '../helpers/local-net.ts';
import { type Mallory, mallory } from '../helpers/mallory.ts';
import { type ProcessNode, spawnNode } from '../helpers/process-node.ts';

const ETHER = 10n ** 18n;
const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);
let net: LocalNet;

test.before(async () => {
  net = await localNet();
});

test.after.always(async () => {
  await net?.stop();
});

interface Run {
  bob: ProcessNode;
  m: Mallory;
  params: ChannelParams;
  id: `0x${string}`;
  /** Mallory's view: the latest state both signed. */
  latest: ChannelState;
  /** Every signature of bob's per version: never two. */
  signatures: Map<bigint, string>;
  finalSeen: string | undefined;
  asked: bigint;
  failedForCertain: bigint;
}

/** Records a signature bob released at `version`; fails on a second one, or on any after a final state. */
function released(run: Run, version: bigint, sig: Uint8Array, final: boolean): void {
  const hex = bytesToHex(sig);
  if (run.finalSeen !== undefined && hex !== run.finalSeen) throw new Error(`bob signed v${version} after a final state`);
  const other = run.signatures.get(version);
  if (other !== undefined && other !== hex) throw new Error(`bob signed two different states at version ${version}`);
  run.signatures.set(version, hex);
  if (final) run.finalSeen = hex;
}

function next(params: ChannelParams, from: ChannelState, ops: readonly Op[], version: bigint): ChannelState | undefined {
  const r = applyUpdate(params, from, ops, { now: BigInt(Math.floor(Date.now() / 1000)) });
  return r.ok ? { ...r.value, version } : undefined;
}

async function start(dataDir: string, port: number, who: ReturnType<typeof actor>): Promise<ProcessNode> {
  return spawnNode({ privateKey: keyHex(who), dataDir, rpc: net.chain.rpcUrl, adjudicator: net.adjudicator, acceptOpens: true, port });
}

const peer = (p: ProcessNode) => ({
  multiaddr: p.info.multiaddrs[0]!,
  actor: { address: p.info.address },
  node: { info: async () => p.info },
});

type Action = 'pay' | 'countersign' | 'refuse' | 'refuse-bogus' | 'resurrect' | 'replay' | 'request' | 'crash' | 'wait';

test.serial('bob leads; mallory answers at random; bob is killed and restarted; bob never signs twice or loses money', async (t) => {
  t.timeout(300_000);
  t.log(`SEED=${seed}`);
  const bobKey = actor('proc-byz-bob');
  await net.fund(bobKey, 100n);
  const dataDir = net.tempDir('proc-byz-bob');
  const port = await freePort();
  let bob = await start(dataDir, port, bobKey);
  const m = await mallory(
    {
      provider: net.chain.rpcUrl,
      adjudicator: net.adjudicator,
      fund: (a) => net.fund({ name: 'm', address: a, privateKey: new Uint8Array(), publicKey: new Uint8Array() }, 100n),
    },
    actor('proc-byz-mallory'),
  );
  const from = m.inbox.length;
  const opening = bob.call<{ id: `0x${string}` }>('openChannel', { peer: m.multiaddrs()[0], deposit: [10n * ETHER] });
  const { params, v0 } = await m.follow(peer(bob), from);
  const ch = await opening;
  const run: Run = {
    bob,
    m,
    params,
    id: ch.id,
    latest: v0.state,
    signatures: new Map(),
    finalSeen: undefined,
    asked: 0n,
    failedForCertain: 0n,
  };
  released(run, 0n, v0.signatures[0], false);
  const actions = fc.sample(
    fc.array(
      fc.constantFrom<Action>(
        'pay',
        'pay',
        'countersign',
        'countersign',
        'countersign',
        'refuse',
        'refuse-bogus',
        'resurrect',
        'replay',
        'request',
        'crash',
        'wait',
      ),
      {
        minLength: 40,
        maxLength: 40,
      },
    ),
    { seed, numRuns: 1 },
  )[0]!;
  let seen = m.inbox.length;
  const refused: ProposeMessage[] = [];
  const pays: Promise<unknown>[] = [];
  for (const a of actions) {
    // Everything bob sent since the last action: record his signatures.
    for (; seen < m.inbox.length; seen++) {
      const msg = m.inbox[seen]!;
      if (msg.type === 'propose' && msg.channelId === run.id)
        released(
          run,
          msg.version,
          msg.signature,
          msg.ops.some((o) => o.kind === 'finalize'),
        );
    }
    const proposals = m.inbox.filter(
      (x): x is ProposeMessage => x.type === 'propose' && x.channelId === run.id && x.version > run.latest.version,
    );
    const p = proposals.at(-1);
    switch (a) {
      case 'pay': {
        const amount = 1n + BigInt(Math.floor(Math.random() * 1e6));
        run.asked += amount;
        pays.push(
          bob.call('pay', run.id, { amount }).catch((e: { maybeApplied?: boolean }) => {
            if (e?.maybeApplied === false) run.failedForCertain += amount;
          }),
        );
        break;
      }
      case 'countersign':
        if (p) {
          const s = next(params, run.latest, p.ops, p.version);
          if (s) {
            await m.send(peer(bob), { type: 'countersign', channelId: run.id, version: p.version, signature: m.sign(params, s) });
            run.latest = s;
          }
        }
        break;
      case 'refuse':
      case 'refuse-bogus':
        if (p) {
          refused.push(p);
          await m.send(peer(bob), {
            type: 'reject',
            channelId: run.id,
            version: p.version,
            ...(a === 'refuse-bogus' ? { ops: [123_456_789n] } : {}),
            reason: 'policy',
            detail: 'no',
          });
        }
        break;
      case 'resurrect': {
        const r = refused.at(-1);
        const s = r && r.version > run.latest.version ? next(params, run.latest, r.ops, r.version) : undefined;
        if (r && s) {
          await m.send(peer(bob), { type: 'state', state: s, signatures: [r.signature, m.sign(params, s)] });
          run.latest = s;
        }
        break;
      }
      case 'replay': {
        const mine = m.inbox.filter((x) => x.type === 'propose');
        const old = mine[Math.floor(Math.random() * Math.max(1, mine.length))];
        if (old)
          await m.send(peer(bob), {
            type: 'countersign',
            channelId: run.id,
            version: (old as ProposeMessage).version,
            signature: new Uint8Array(65).fill(3),
          });
        break;
      }
      case 'request': {
        const op: Op = { kind: 'pay', id: BigInt(Math.floor(Math.random() * 1e9)) * 2n + 1n, by: 1, asset: 0, amount: 1n };
        await m.send(peer(bob), { type: 'request', channelId: run.id, ops: [op, op] });
        break;
      }
      case 'crash':
        await bob.kill('SIGKILL');
        bob = await start(dataDir, port, bobKey);
        run.bob = bob;
        break;
      case 'wait':
        await new Promise((r) => setTimeout(r, 300));
        break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // Let everything settle, with mallory cooperating from now on, then check bob's money.
  for (let i = 0; i < 20; i++) {
    for (; seen < m.inbox.length; seen++) {
      const msg = m.inbox[seen]!;
      if (msg.type === 'propose' && msg.channelId === run.id)
        released(
          run,
          msg.version,
          msg.signature,
          msg.ops.some((o) => o.kind === 'finalize'),
        );
    }
    const p = m.inbox
      .filter((x): x is ProposeMessage => x.type === 'propose' && x.channelId === run.id && x.version > run.latest.version)
      .at(-1);
    const s = p && next(params, run.latest, p.ops, p.version);
    if (p && s) {
      await m.send(peer(bob), { type: 'countersign', channelId: run.id, version: p.version, signature: m.sign(params, s) });
      run.latest = s;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  await Promise.race([Promise.allSettled(pays), new Promise((r) => setTimeout(r, 25_000))]);
  const info = await bob.call<{ balances: { mine: bigint }[]; version: bigint }>('channel', run.id);
  const floor = 10n * ETHER - (run.asked - run.failedForCertain);
  t.true(info.balances[0]!.mine >= floor, `bob holds ${info.balances[0]!.mine}, at least ${floor} expected`);
  t.true(run.signatures.size > 1, 'bob signed updates');
  await bob.kill('SIGKILL');
  await m.stop();
});

export type { Message };
