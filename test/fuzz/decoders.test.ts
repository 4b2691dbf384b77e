/**
 * The decoder fuzzers' regression suite: every checked-in corpus input (test/fuzz/decoders/corpus)
 * through its fuzz target, the generated seeds against their generator, the bugs the fuzzers
 * found as unit tests, and one short real jazzer run, so the fuzzing toolchain itself (the
 * prebuilt libFuzzer addon, instrumentation of the .ts sources) is known to work.
 * `npm run fuzz:decoders` is the long run.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Packr } from 'msgpackr';
import { decodeMessage, decodeSettleMessage } from '../../src/core/index.ts';
import { DecodeError, InvalidArgumentError } from '../../src/core/errors.ts';
import { errorFromJson, errorToJson } from '../../src/sdk/error-registry.ts';
import { RejectedError } from '../../src/sdk/errors.ts';
import { decodeReplies } from '../../src/sdk/stream-frames.ts';
import { StoreCorruptError, decodeChannelRecord } from '../../src/store/record-codec.ts';
import { parseChannelId } from '../../src/sdk/json.ts';
import { TARGETS, type Target, corpusDir, corpusDrift, corpusFiles } from './decoders/corpus.ts';
import { coverageLine, runJazzer } from './decoders/jazzer.ts';
import { fuzz as wire } from './decoders/wire.ts';
import { fuzz as settle } from './decoders/settle.ts';
import { fuzz as store, sealed } from './decoders/store.ts';
import { fuzz as controlApi } from './decoders/control-api.ts';
import { fuzz as payments } from './decoders/payments.ts';
import { fuzz as graph } from './decoders/graph.ts';
import { fuzz as onion } from './decoders/onion.ts';
import { fuzz as stream } from './decoders/stream.ts';

const FUZZ: Record<Target, (data: Buffer) => void> = { wire, settle, store, 'control-api': controlApi, payments, graph, onion, stream };

for (const target of TARGETS) {
  test(`every ${target} corpus input holds the decoder properties`, (t) => {
    const files = corpusFiles(target);
    t.true(files.length >= 10, `${target} has a corpus`);
    const failures: string[] = [];
    for (const file of files) {
      try {
        FUZZ[target](readFileSync(join(corpusDir(target), file)));
      } catch (e) {
        failures.push(`${target}/${file}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    t.deepEqual(failures, []);
  });
}

test('the generated seeds are current (else: npm run fuzz:corpus)', (t) => {
  t.deepEqual(corpusDrift(), []);
});

// ---------------------------------------------------------------------------------------------
// What the fuzz properties found (the inputs are also in the corpus: seed-bad-*, seed-edge-*, regress-*)

const raw = new Packr({ useRecords: false });
/** `value` packed with its 0.5s written as float64 -0 (msgpackr writes -0 as the integer 0). */
function withNegativeZero(value: unknown): Uint8Array {
  const bytes = Buffer.from(raw.pack(value));
  const half = Buffer.from([0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0]);
  const at = bytes.indexOf(half);
  Buffer.from([0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0]).copy(bytes, at);
  return bytes;
}

test('a float64 -0 decodes as 0, not -0 (asset, participant, createdAt)', (t) => {
  const r = decodeMessage(withNegativeZero([3, new Uint8Array(32), [[7, 0, 0.5]]]));
  if (!r.ok || r.value.type !== 'request') return t.fail();
  t.true(Object.is(r.value.ops[0]!.by, 0));
  const pay = decodeMessage(withNegativeZero([3, new Uint8Array(32), [[1, 0, 1, 0.5, 5]]]));
  if (!pay.ok || pay.value.type !== 'request' || pay.value.ops[0]!.kind !== 'pay') return t.fail();
  t.true(Object.is(pay.value.ops[0]!.asset, 0));
  const fields = [new Uint8Array(32), [31337, new Uint8Array(20), new Uint8Array(20), new Uint8Array(20), [new Uint8Array(20)], 3600, 1]];
  const rest = [0, ['p', []], 'open', [[1, 1]], [], 0, 0, 1, 0.5, null];
  const record = decodeChannelRecord(sealed(Uint8Array.of(1, 1, ...withNegativeZero([...fields, ...rest]))));
  t.true(Object.is(record.createdAt, 0));
});

test('a settlement item kind must be a number, not "4", true or [4]', (t) => {
  const hash = new Uint8Array(32).fill(1);
  t.like(decodeSettleMessage(raw.pack([1, 1, [4, [hash]]])), { ok: true });
  for (const kind of ['4', [4], true]) {
    t.like(decodeSettleMessage(raw.pack([1, 1, [kind, [hash]]])), { ok: false, reason: 'malformed' });
  }
});

test('rejection details quote at most a short part of what was received', (t) => {
  const long = 'x'.repeat(100_000);
  for (const r of [
    decodeMessage(raw.pack([long, 1])),
    decodeMessage(raw.pack([3, new Uint8Array(32), [[long]]])),
    decodeSettleMessage(raw.pack([1, 1, [long]])),
  ]) {
    t.like(r, { ok: false, reason: 'malformed' });
    if (!r.ok) t.true(r.detail.length < 100, r.detail.slice(0, 120));
  }
  const fields = [new Uint8Array(32), [31337, new Uint8Array(20), new Uint8Array(20), new Uint8Array(20), [new Uint8Array(20)], 3600, 1]];
  const bytes = sealed(Uint8Array.of(1, 1, ...raw.pack([...fields, 0, ['p', []], long, [[1, 1]], [], 0, 0, 1, 1, null])));
  const e = t.throws(() => decodeChannelRecord(bytes), { instanceOf: StoreCorruptError });
  t.true((e?.message.length ?? Infinity) < 200);
});

test("a record's layout is its format's: 12 fields in format 1, 14 in format 2", (t) => {
  const fields = [new Uint8Array(32), [31337, new Uint8Array(20), new Uint8Array(20), new Uint8Array(20), [new Uint8Array(20)], 3600, 1]];
  const rest = [0, ['p', []], 'open', [[1, 1]], [], 0, 0, 1, 1, null];
  const record = (format: number, extra: unknown[]) => sealed(Uint8Array.of(1, format, ...raw.pack([...fields, ...rest, ...extra])));
  t.is(decodeChannelRecord(record(1, [])).status, 'open');
  t.is(decodeChannelRecord(record(2, [null, null])).status, 'open');
  t.throws(() => decodeChannelRecord(record(2, [])), { instanceOf: StoreCorruptError, message: /format 2 record must have 14 elements/ });
  t.throws(() => decodeChannelRecord(record(1, [null, null])), {
    instanceOf: StoreCorruptError,
    message: /format 1 record must have 12 elements/,
  });
});

test('an invalid channel id is an InvalidArgumentError, its echo bounded', (t) => {
  const e = t.throws(() => parseChannelId(`0x${'\u0000'.repeat(5000)}`), { instanceOf: InvalidArgumentError });
  t.true((e?.message.length ?? Infinity) < 1000);
});

// ---------------------------------------------------------------------------------------------
// The real fuzzer, briefly

test('jazzer runs a target with coverage feedback from the instrumented decoder', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lanes-fuzz-'));
  try {
    const run = await runJazzer('wire', [dir, corpusDir('wire'), '--', '-runs=3000', '-seed=1', `-artifact_prefix=${dir}/`], 120);
    t.is(run.code, 0, run.output.slice(-3000));
    const inited = run.output.split('\n').find((l) => l.includes('INITED'));
    // Edges come from src/core/codec (instrumented); without instrumentation there would be a handful.
    t.true(coverageLine(inited).cov >= 100, inited);
    t.regex(run.output, /Done 3000 runs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an error with a stray reason is rebuilt by its code, as the same error served again is (regress-error-class-by-stray-reason)', (t) => {
  // A `reason` that is not a refusal's made the client fall back to a plain LanesError, while the
  // same error served again without it was an InvalidArgumentError: the class hung on a stray field.
  const stray = errorFromJson({ code: 'INVALID_ARGUMENT', message: 'bad', reason: 5 }, 400);
  t.true(stray instanceof InvalidArgumentError);
  t.is(stray.code, 'INVALID_ARGUMENT');
  const again = errorFromJson(errorToJson(stray), 400);
  t.is(again.constructor, stray.constructor);
  // A refusal's reason with fields that do not fit: read by its code too (MALFORMED is a DecodeError).
  t.true(errorFromJson({ code: 'MALFORMED', message: 'm', reason: 'malformed', detail: 5 }, 500) instanceof DecodeError);
  // A whole refusal is still a RejectedError, whatever its code.
  t.true(
    errorFromJson({ code: 'MALFORMED', message: 'm', reason: 'malformed', detail: 'x', maybeApplied: false }, 422) instanceof RejectedError,
  );
  // Through the stream client's decoder, as the fuzzer found it.
  const { replies } = decodeReplies('[{"id":1,"error":{"code":"INVALID_ARGUMENT","message":"bad","reason":"nope"}}]');
  t.like(replies[0], { kind: 'error', id: 1 });
  t.true(replies[0]?.kind === 'error' && replies[0].error instanceof InvalidArgumentError);
});
