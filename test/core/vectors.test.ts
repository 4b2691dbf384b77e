import test from 'ava';
import { readFileSync } from 'node:fs';
import { hexToBytes, nobleBackend, recoverAddress } from '../../src/core/index.ts';
import { type VectorJson, buildVectors } from '../vectors/build-vectors.ts';
import { alice, bob } from '../helpers/actors.ts';

const committed = JSON.parse(readFileSync(new URL('../vectors/eip712.json', import.meta.url), 'utf8')) as VectorJson[];

test('the code reproduces the committed golden vectors byte for byte', (t) => {
  t.true(committed.length >= 4);
  t.deepEqual(buildVectors(), committed);
});

test('each vector signature recovers to its signer', (t) => {
  for (const v of committed) {
    const digest = hexToBytes(v.digest);
    t.is(recoverAddress(hexToBytes(v.signatures[0]), digest, nobleBackend), alice.address, v.name);
    t.is(recoverAddress(hexToBytes(v.signatures[1]), digest, nobleBackend), bob.address, v.name);
  }
});
