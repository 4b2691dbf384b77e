/** Invoices for tests: signed by a named actor, fields overridable. */
import { type InvoiceFields, completeInvoice, paymentHashOf, prepareInvoice } from '../../src/core/payments/invoice.ts';
import { NATIVE_ASSET, nobleBackend } from '../../src/core/index.ts';
import type { Bytes32 } from '../../src/core/bytes.ts';
import { type Actor, alice } from './actors.ts';
import { ADJUDICATOR } from './factories.ts';

export const SECRET: Bytes32 = `0x${'5e'.repeat(32)}`;
export const NOW = 1_800_000_000n;

/** Field overrides; `amount: undefined` makes an any-amount invoice. */
export type InvoiceOverrides = { readonly [K in keyof InvoiceFields]?: InvoiceFields[K] | undefined };

export function invoiceFields(overrides: InvoiceOverrides = {}, payee: Actor = alice): InvoiceFields {
  const fields = {
    chainId: 31337n,
    adjudicator: ADJUDICATOR,
    payee: payee.address,
    paymentHash: paymentHashOf(SECRET),
    asset: NATIVE_ASSET,
    amount: 10n ** 15n,
    createdAt: NOW,
    expiresAt: NOW + 3600n,
    memo: 'coffee',
    routeHints: [],
    ...overrides,
  };
  const { amount, ...rest } = fields;
  return (amount === undefined ? rest : { ...rest, amount }) as InvoiceFields;
}

/** Signs `fields` with `signer`'s key (the payee's, unless a test forges). */
export function signInvoice(fields: InvoiceFields, signer: Actor = alice): string {
  const prepared = prepareInvoice(fields);
  if (!prepared.ok) throw new Error(`test invoice refused: ${prepared.detail}`);
  return completeInvoice(prepared.value, nobleBackend.sign(prepared.value.digest, signer.privateKey));
}

export function makeInvoice(overrides: InvoiceOverrides = {}, payee: Actor = alice): string {
  return signInvoice(invoiceFields(overrides, payee), payee);
}
