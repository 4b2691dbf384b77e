/**
 * The control API's JSON forms, shared by the daemon (src/api) and the remote client
 * (connect.ts): amounts and versions travel as decimal strings, addresses and ids as lowercase
 * 0x hex. `parse*` functions validate input at the edge and throw InvalidArgumentError with a
 * message that says what was wrong and where.
 */
import { type Address, type Bytes32, MAX_UINT256, hexToBytes, isAddress, isBytes32 } from '../core/bytes.ts';
import type { ParticipantIndex } from '../core/params.ts';
import type { SignedState } from '../core/validate.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import type {
  ChannelInfo,
  ChannelLoss,
  CloseResult,
  CreditedBalance,
  LanesEventName,
  LanesEvents,
  NodeInfo,
  OpenChannelParameters,
  PaymentResult,
  PeerInfo,
  SignedStateJson,
  SwapResult,
  WithdrawParameters,
  WithdrawResult,
} from './api.ts';
import { readPaymentEvent } from './payments-json.ts';

/** Any value with its bigints as decimal strings (for JSON.stringify). */
export function jsonify(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(jsonify);
  if (value instanceof Uint8Array) return value;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = jsonify(v);
    return out;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Parsing input (server side)

type Json = Record<string, unknown>;

function object(x: unknown, where: string): Json {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) throw new InvalidArgumentError(`${where} must be a JSON object`);
  return x as Json;
}

/** A non-negative integer in base units, given as a decimal string (or a safe JSON integer). */
export function parseAmount(x: unknown, where: string, { positive = true } = {}): bigint {
  let v: bigint;
  if (typeof x === 'string' && /^[0-9]{1,78}$/.test(x)) v = BigInt(x);
  else if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) v = BigInt(x);
  else
    throw new InvalidArgumentError(
      `${where} must be a whole number of base units as a decimal string (e.g. "1000000000000000000" for 1 ETH), got ${describe(x)}`,
    );
  if (v > MAX_UINT256) throw new InvalidArgumentError(`${where} exceeds 2^256 - 1`);
  if (positive && v === 0n) throw new InvalidArgumentError(`${where} must be above zero`);
  return v;
}

export function parseAddress(x: unknown, where: string): Address {
  if (typeof x !== 'string' || !isAddress(x.toLowerCase()))
    throw new InvalidArgumentError(`${where} must be a 0x address of 40 hex digits, got ${describe(x)}`);
  return x.toLowerCase() as Address;
}

export function parseChannelId(x: unknown, where = 'channel id'): Bytes32 {
  if (typeof x !== 'string' || !isBytes32(x.toLowerCase()))
    throw new InvalidArgumentError(`${where} must be 0x and 64 hex digits, got ${describe(x)}`);
  return x.toLowerCase() as Bytes32;
}

export function parseMultiaddr(x: unknown, where: string): string {
  if (typeof x !== 'string' || !x.startsWith('/') || x.length > 1024)
    throw new InvalidArgumentError(`${where} must be a multiaddr such as /ip4/127.0.0.1/tcp/4001/p2p/16Uiu2…, got ${describe(x)}`);
  return x;
}

function optional<T>(x: unknown, parse: (x: unknown) => T): T | undefined {
  return x === undefined || x === null ? undefined : parse(x);
}

function amounts(x: unknown, where: string): bigint[] {
  if (!Array.isArray(x) || x.length === 0 || x.length > 8)
    throw new InvalidArgumentError(`${where} must be an array of 1 to 8 amounts, one per asset`);
  return x.map((a, i) => parseAmount(a, `${where}[${i}]`, { positive: false }));
}

export function parseOpen(body: unknown): OpenChannelParameters {
  const b = object(body, 'request body');
  const assets = optional(b.assets, (x) => {
    if (!Array.isArray(x) || x.length === 0 || x.length > 8) throw new InvalidArgumentError('assets must be an array of 1 to 8 addresses');
    return x.map((a, i) => parseAddress(a, `assets[${i}]`));
  });
  const counterpartyDeposit = optional(b.counterpartyDeposit, (x) => amounts(x, 'counterpartyDeposit'));
  const challengeDuration = optional(b.challengeDuration, (x) => parseAmount(x, 'challengeDuration'));
  const waitFor = optional(b.waitFor, (x) => oneOf(x, ['open', 'signed'] as const, 'waitFor'));
  const isPublic = optional(b.public, (x) => {
    if (typeof x !== 'boolean') throw new InvalidArgumentError('public must be true or false');
    return x;
  });
  if (typeof b.peer !== 'string' || b.peer.length === 0) throw new InvalidArgumentError('peer must be a multiaddr or a connected peer id');
  return {
    peer: b.peer,
    deposit: amounts(b.deposit, 'deposit'),
    ...(assets === undefined ? {} : { assets }),
    ...(counterpartyDeposit === undefined ? {} : { counterpartyDeposit }),
    ...(challengeDuration === undefined ? {} : { challengeDuration }),
    ...(waitFor === undefined ? {} : { waitFor }),
    ...(isPublic === undefined ? {} : { public: isPublic }),
  };
}

export function parsePay(body: unknown): { asset?: Address; amount: bigint } {
  const b = object(body, 'request body');
  const asset = optional(b.asset, (x) => parseAddress(x, 'asset'));
  return { amount: parseAmount(b.amount, 'amount'), ...(asset === undefined ? {} : { asset }) };
}

export function parseSwap(body: unknown): {
  give: { asset: Address; amount: bigint };
  take: { asset: Address; amount: bigint };
  expiresIn?: number;
} {
  const b = object(body, 'request body');
  const leg = (x: unknown, where: string) => {
    const l = object(x, where);
    return { asset: parseAddress(l.asset, `${where}.asset`), amount: parseAmount(l.amount, `${where}.amount`) };
  };
  const expiresIn = optional(b.expiresIn, (x) => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x <= 0 || x > 86_400)
      throw new InvalidArgumentError('expiresIn must be a whole number of seconds, 1 to 86400');
    return x;
  });
  return { give: leg(b.give, 'give'), take: leg(b.take, 'take'), ...(expiresIn === undefined ? {} : { expiresIn }) };
}

export function parseClose(body: unknown): { mode?: 'cooperative' | 'force'; waitFor?: 'closed' | 'submitted'; direct?: boolean } {
  const b = body === undefined || body === null ? {} : object(body, 'request body');
  const mode = optional(b.mode, (x) => oneOf(x, ['cooperative', 'force'] as const, 'mode'));
  const waitFor = optional(b.waitFor, (x) => oneOf(x, ['closed', 'submitted'] as const, 'waitFor'));
  const direct = optional(b.direct, (x) => {
    if (typeof x !== 'boolean') throw new InvalidArgumentError('direct must be true or false');
    return x;
  });
  return {
    ...(mode === undefined ? {} : { mode }),
    ...(waitFor === undefined ? {} : { waitFor }),
    ...(direct === undefined ? {} : { direct }),
  };
}

export function parseWithdraw(body: unknown): WithdrawParameters {
  const b = body === undefined || body === null ? {} : object(body, 'request body');
  const asset = optional(b.asset, (x) => parseAddress(x, 'asset'));
  const to = optional(b.to, (x) => parseAddress(x, 'to'));
  return { ...(asset === undefined ? {} : { asset }), ...(to === undefined ? {} : { to }) };
}

function oneOf<T extends string>(x: unknown, values: readonly T[], where: string): T {
  if (typeof x !== 'string' || !values.includes(x as T))
    throw new InvalidArgumentError(`${where} must be one of ${values.join(', ')}, got ${describe(x)}`);
  return x as T;
}

function describe(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x.length > 80 ? `${x.slice(0, 80)}…` : x);
  if (x === undefined) return 'nothing';
  return typeof x === 'object' ? (Array.isArray(x) ? 'an array' : 'an object') : String(x);
}

// ---------------------------------------------------------------------------------------------
// Reading results (client side): the inverse of jsonify for each result type

const big = (x: unknown) => BigInt(x as string);

/** A co-signed state back from its JSON form (a backup, `lanes channel state --json`), e.g. to dispute with. */
export function readSignedState(j: SignedStateJson): SignedState {
  return {
    state: {
      channelId: j.channelId,
      version: BigInt(j.state.version),
      balances: j.state.balances.map(([a, b]) => [BigInt(a), BigInt(b)] as const),
      locks: j.state.locks.map((l) => ({
        id: BigInt(l.id),
        asset: l.asset,
        amount: BigInt(l.amount),
        sender: l.sender as ParticipantIndex,
        receiver: l.receiver as ParticipantIndex,
        hashlock: l.hashlock,
        expiry: BigInt(l.expiry),
      })),
      isFinal: j.state.isFinal,
    },
    signatures: [hexToBytes(j.signatures[0]), hexToBytes(j.signatures[1])],
  };
}

export function readNodeInfo(j: Json): NodeInfo {
  return { ...(j as unknown as NodeInfo), chainId: big(j.chainId) };
}

export function readPeer(j: Json): PeerInfo {
  return j as unknown as PeerInfo;
}

export function readChannel(j: Json): ChannelInfo {
  const balances = (j.balances as Json[]).map((b) => ({
    asset: b.asset as Address,
    mine: big(b.mine),
    theirs: big(b.theirs),
    locked: big(b.locked),
  }));
  return {
    ...(j as unknown as ChannelInfo),
    balances,
    version: big(j.version),
    challengeDuration: big(j.challengeDuration),
    ...(j.loss === undefined || j.loss === null ? {} : { loss: readLoss(j.loss as Json) }),
  };
}

function readLoss(j: Json): ChannelLoss {
  return {
    version: big(j.version),
    latest: big(j.latest),
    assets: (j.assets as Json[]).map((a) => ({
      asset: a.asset as Address,
      expected: big(a.expected),
      ...(a.paid === undefined || a.paid === null ? {} : { paid: big(a.paid) }),
    })),
  };
}

export function readPayment(j: Json): PaymentResult {
  return { ...(j as unknown as PaymentResult), id: big(j.id), version: big(j.version), amount: big(j.amount) };
}

const leg = (l: Json) => ({ asset: l.asset as Address, amount: big(l.amount) });

export function readSwap(j: Json): SwapResult {
  return { ...(j as unknown as SwapResult), id: big(j.id), version: big(j.version), give: leg(j.give as Json), take: leg(j.take as Json) };
}

export function readClose(j: Json): CloseResult {
  const credited = j.credited === undefined ? {} : { credited: (j.credited as Json[]).map(leg) };
  return { ...(j as unknown as CloseResult), version: big(j.version), ...credited };
}

export function readCredited(j: Json[]): CreditedBalance[] {
  return j.map(leg);
}

export function readWithdraw(j: Json): WithdrawResult {
  return {
    to: j.to as Address,
    withdrawals: (j.withdrawals as Json[]).map((w) => ({ ...leg(w), transactionHash: w.transactionHash as Bytes32 })),
  };
}

/** Events: bigint fields by event name. */
export function readEvent<E extends LanesEventName>(event: E, j: Json): LanesEvents[E] {
  switch (event) {
    case 'channel-opened':
      return { channel: readChannel(j.channel as Json) } as LanesEvents[E];
    case 'channel-updated':
    case 'channel-closing':
    case 'channel-closed':
      return { ...j, version: big(j.version) } as LanesEvents[E];
    case 'payment-received':
      return { ...j, id: big(j.id), version: big(j.version), amount: big(j.amount) } as LanesEvents[E];
    case 'swap-executed':
      return { ...j, version: big(j.version), gave: leg(j.gave as Json), received: leg(j.received as Json) } as LanesEvents[E];
    case 'stale-state-answered':
      return { ...j, registered: big(j.registered), answered: big(j.answered) } as LanesEvents[E];
    case 'channel-loss':
      return { ...j, loss: readLoss(j.loss as Json) } as LanesEvents[E];
    case 'balance-credited':
      return { ...j, amount: big(j.amount), total: big(j.total) } as LanesEvents[E];
    case 'payment-settled':
    case 'payment-failed':
    case 'payment-forwarded':
      return readPaymentEvent(event, j) as LanesEvents[E];
    default:
      return j as LanesEvents[E];
  }
}
