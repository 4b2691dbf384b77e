/**
 * The libp2p side of a node's link to its settlement coordinator (`/lanes/settle/1.0.0`), over
 * the node's own libp2p: it implements the engine's CoordinatorLink port
 * (src/node/coordinator-link.ts), which the composition root wires. `submit` resolves once the
 * coordinator has durably queued the item, with a promise of its on-chain result; it rejects when
 * the coordinator is unreachable or refuses, and the node then submits directly (the coordinator
 * is a convenience, never needed for safety).
 */
import { multiaddr } from '@multiformats/multiaddr';
import type { Libp2p } from 'libp2p';
import { SETTLE_PROTOCOL, type SettleItem, type SettlementFailure } from '../core/codec/settle.ts';
import { OperationTimeoutError, PeerUnreachableError, RejectedError } from '../sdk/errors.ts';
import { SettleStream } from './settle-stream.ts';

/** The shape of the engine's port (src/p2p may not import src/node: create-node.ts checks that they match). */
export interface SettleResult {
  readonly ok: boolean;
  readonly reason?: SettlementFailure;
  readonly transactionHash?: `0x${string}`;
}

export interface SettleClient {
  /** The coordinator's multiaddr. */
  readonly coordinator: string;
  /** Queues an item at the coordinator; resolves when it is stored there. */
  submit(item: SettleItem): Promise<{ itemId: bigint; result: Promise<SettleResult> }>;
  /** Whether a stream to the coordinator is open now. */
  reachable(): boolean;
  /** Opens the stream if it is not open; resolves whether the coordinator is reachable. */
  probe(): Promise<boolean>;
  close(): void;
}

interface Pending {
  accepted(itemId: bigint): void;
  refused(e: Error): void;
  result(r: SettleResult): void;
  acceptedYet: boolean;
}

export function createSettleClient(o: {
  libp2p: Libp2p;
  coordinator: string;
  timeoutMs?: number;
  /**
   * Called each time a new stream to the coordinator opens: the first, and each one after the
   * coordinator or the link came back. The node re-sends every watch then (the coordinator may
   * have come back without what it was sent).
   */
  onOpen?: () => void;
}): SettleClient {
  const timeoutMs = o.timeoutMs ?? 10_000;
  let stream: SettleStream | undefined;
  let opening: Promise<SettleStream> | undefined;
  const pending = new Map<bigint, Pending>();
  // Request ids stay distinct across restarts (the coordinator may still hold results for old ones).
  let nextId = BigInt(Date.now()) << 20n;

  let closed = false;

  function open(): Promise<SettleStream> {
    if (closed) return Promise.reject(new PeerUnreachableError(o.coordinator));
    if (stream?.open) return Promise.resolve(stream);
    opening ??= o.libp2p
      .dialProtocol(multiaddr(o.coordinator), SETTLE_PROTOCOL, { signal: AbortSignal.timeout(timeoutMs) })
      .then((raw) => {
        const s: SettleStream = new SettleStream(raw, {
          message: (r) => {
            if (!r.ok) return;
            const m = r.value;
            const p = pending.get(m.requestId);
            if (!p) return;
            if (m.type === 'accepted') {
              p.acceptedYet = true;
              p.accepted(m.itemId);
            } else if (m.type === 'refused') {
              pending.delete(m.requestId);
              p.refused(new RejectedError(m.reason, `the coordinator refused: ${m.detail}`));
            } else if (m.type === 'result') {
              pending.delete(m.requestId);
              p.result({
                ok: m.ok,
                ...(m.reason === undefined ? {} : { reason: m.reason }),
                ...(m.transactionHash === undefined ? {} : { transactionHash: m.transactionHash }),
              });
            }
          },
          close: () => {
            if (stream === s) stream = undefined;
            // Not yet stored: the caller falls back. Stored: the result arrives after a reconnect.
            for (const [id, p] of pending) {
              if (!p.acceptedYet) {
                pending.delete(id);
                p.refused(new PeerUnreachableError(o.coordinator));
              }
            }
          },
        });
        stream = s;
        o.onOpen?.();
        return s;
      })
      .finally(() => {
        opening = undefined;
      });
    return opening;
  }

  return {
    coordinator: o.coordinator,
    async submit(item) {
      const s = await open().catch((e: unknown) => {
        throw new PeerUnreachableError(o.coordinator, { cause: e });
      });
      const requestId = ++nextId;
      let resolveResult!: (r: SettleResult) => void;
      const result = new Promise<SettleResult>((r) => (resolveResult = r));
      const itemId = await new Promise<bigint>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(requestId);
          reject(new OperationTimeoutError('the coordinator did not answer', false));
        }, timeoutMs);
        pending.set(requestId, {
          acceptedYet: false,
          accepted: (id) => {
            clearTimeout(timer);
            resolve(id);
          },
          refused: (e) => {
            clearTimeout(timer);
            reject(e);
          },
          result: resolveResult,
        });
        if (!s.send({ type: 'submit', requestId, item })) {
          clearTimeout(timer);
          pending.delete(requestId);
          reject(new PeerUnreachableError(o.coordinator));
        }
      });
      return { itemId, result };
    },
    reachable: () => stream?.open === true,
    probe: () =>
      open().then(
        () => true,
        () => false,
      ),
    close() {
      closed = true;
      stream?.close();
      stream = undefined;
    },
  };
}
