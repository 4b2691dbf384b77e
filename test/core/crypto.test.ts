import test from 'ava';
import { privateKeyToAccount } from 'viem/accounts';
import { hashMessage } from 'viem';
import {
  CURVE_N,
  bytesToHex,
  checkSignatureEncoding,
  hexToBytes,
  nobleBackend,
  privateKeyToAddress,
  readWord,
  recoverAddress,
  writeWord,
} from '../../src/core/index.ts';
import { alice, bob } from '../helpers/actors.ts';

const digest = hexToBytes(hashMessage('lanes'));

test('addresses match viem for the same private key', (t) => {
  for (const who of [alice, bob]) {
    t.is(privateKeyToAddress(who.privateKey), privateKeyToAccount(bytesToHex(who.privateKey)).address.toLowerCase() as `0x${string}`);
  }
});

test('signatures are r‖s‖v, low-S, identical to viem, and recover to the signer', async (t) => {
  const sig = nobleBackend.sign(digest, alice.privateKey);
  t.is(sig.length, 65);
  t.true(sig[64] === 27 || sig[64] === 28);
  t.true(readWord(sig, 32) <= CURVE_N >> 1n);
  const viemSig = await privateKeyToAccount(bytesToHex(alice.privateKey)).sign({ hash: bytesToHex(digest) });
  t.is(bytesToHex(sig), viemSig);
  t.true(nobleBackend.verify(sig, digest, alice.publicKey));
  t.false(nobleBackend.verify(sig, digest, bob.publicKey));
  t.is(recoverAddress(sig, digest), alice.address);
});

test('high-S twins, bad v, and out-of-range r or s are refused', (t) => {
  const sig = nobleBackend.sign(digest, alice.privateKey);
  const twin = new Uint8Array(sig);
  writeWord(twin, 32, CURVE_N - readWord(sig, 32));
  twin[64] = sig[64] === 27 ? 28 : 27;
  t.like(checkSignatureEncoding(twin), { ok: false, reason: 'invalid-signature' });
  t.false(nobleBackend.verify(twin, digest, alice.publicKey), 'a valid but high-S signature is not accepted');
  t.is(nobleBackend.recover(twin, digest), undefined);
  for (const v of [0, 1, 26, 29]) {
    const bad = new Uint8Array(sig);
    bad[64] = v;
    t.like(checkSignatureEncoding(bad), { ok: false, reason: 'invalid-signature' });
  }
  const zeroR = new Uint8Array(sig);
  zeroR.fill(0, 0, 32);
  t.like(checkSignatureEncoding(zeroR), { ok: false });
  const bigS = new Uint8Array(sig);
  writeWord(bigS, 32, CURVE_N);
  t.like(checkSignatureEncoding(bigS), { ok: false });
  t.like(checkSignatureEncoding(sig.subarray(0, 64)), { ok: false });
});
