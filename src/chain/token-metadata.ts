/**
 * An ERC-20's `symbol()` and `decimals()`, read without trusting the token: each is an
 * `eth_call` of its selector whose raw return data is decoded here, so a token that returns a
 * `bytes32` symbol (as MKR does), nothing, too much, or junk gives `undefined` rather than an
 * error. What counts as a symbol or decimals fit to show is decided above (src/sdk/asset-info.ts).
 */
import { type Hex, type PublicClient, HttpRequestError, TimeoutError, WebSocketRequestError, BaseError } from 'viem';
import type { Address } from '../core/bytes.ts';

/** What a token said about itself, decoded; fields it did not answer are absent. */
export interface TokenMetadata {
  readonly symbol?: string;
  readonly decimals?: number;
}

const SYMBOL = '0x95d89b41';
const DECIMALS = '0x313ce567';
/** The longest symbol decoded at all (longer ones are junk): 64 bytes. */
const MAX_SYMBOL_BYTES = 64;
/**
 * Gas for each call: a real `symbol()` or `decimals()` costs a few thousand. The cap keeps a
 * token that burns gas or returns megabytes (memory costs gas) from costing the RPC node, or us,
 * more than that.
 */
const CALL_GAS = 100_000n;

export async function readTokenMetadata(client: PublicClient, token: Address): Promise<TokenMetadata> {
  const [symbol, decimals] = await Promise.all([rawCall(client, token, SYMBOL), rawCall(client, token, DECIMALS)]);
  const s = symbol === undefined ? undefined : decodeSymbol(symbol);
  const d = decimals === undefined ? undefined : decodeDecimals(decimals);
  return { ...(s === undefined ? {} : { symbol: s }), ...(d === undefined ? {} : { decimals: d }) };
}

/**
 * The return data of a call, or undefined when the call reverted (the token has no such
 * function). A failure to reach the chain is thrown: it says nothing about the token, and
 * must not be remembered as its answer.
 */
async function rawCall(client: PublicClient, to: Address, data: Hex): Promise<Uint8Array | undefined> {
  try {
    const r = await client.call({ to, data, gas: CALL_GAS });
    return r.data === undefined ? new Uint8Array(0) : hexBytes(r.data);
  } catch (e) {
    if (!(e instanceof BaseError) || isTransportError(e)) throw e;
    return undefined;
  }
}

/** Whether a viem error means the chain was not reached (rather than an answer from the token). */
export function isTransportError(e: BaseError): boolean {
  return e.walk((x) => x instanceof HttpRequestError || x instanceof TimeoutError || x instanceof WebSocketRequestError) !== null;
}

function hexBytes(h: Hex): Uint8Array {
  return Uint8Array.from(Buffer.from(h.slice(2), 'hex'));
}

function word(b: Uint8Array, at: number): bigint | undefined {
  if (at + 32 > b.length) return undefined;
  let v = 0n;
  for (let i = at; i < at + 32; i++) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** An ABI-encoded `string`, or a `bytes32` (right-padded with zeros); undefined for anything else. */
export function decodeSymbol(b: Uint8Array): string | undefined {
  if (b.length === 32) {
    // bytes32: the text, then zero bytes only.
    let end = 32;
    while (end > 0 && b[end - 1] === 0) end--;
    if (end === 0 || b.subarray(0, end).includes(0)) return undefined;
    return text(b.subarray(0, end));
  }
  const offset = word(b, 0);
  if (offset !== 32n) return undefined;
  const length = word(b, 32);
  if (length === undefined || length === 0n || length > BigInt(MAX_SYMBOL_BYTES) || 64 + Number(length) > b.length) return undefined;
  return text(b.subarray(64, 64 + Number(length)));
}

function text(b: Uint8Array): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

/** A `uint8` (as a 32-byte word); undefined when the word is not one. */
export function decodeDecimals(b: Uint8Array): number | undefined {
  if (b.length !== 32) return undefined;
  const v = word(b, 0)!;
  return v > 255n ? undefined : Number(v);
}
