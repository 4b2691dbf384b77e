/**
 * Fewer write system calls on TCP connections (measured: docs/adr/0007).
 *
 * Below Lanes' own per-tick coalescing (FrameWriter), each frame still cost two to four
 * `write` system calls: @libp2p/tcp writes every chunk it is given separately (Noise hands it a
 * 2-byte length and the ciphertext), and yamux answers every data frame it receives with a
 * window-update frame of its own. On loopback each call runs the receiver's TCP path too and
 * wakes it. This replaces the connection's `sendData` with one that collects what the
 * connection sends during one turn of the event loop and writes it with a single call in the
 * check phase (`setImmediate`), before the loop polls again: the same bytes in the same order,
 * at most one loop turn later (tens of microseconds).
 *
 * Back-pressure is unchanged: while the socket asks for a drain, `canSendMore` is false and
 * libp2p waits for the socket's 'drain'. Whatever closes the socket first (a graceful close, a
 * listener destroying its sockets on stop) writes what is queued before it, as the unpatched
 * connection would have.
 *
 * It reaches into the connection's internals (`maConn.socket`, `sendData`, `sendClose`), which
 * libp2p does not promise to keep: the patch applies only when they look exactly as expected,
 * and test/p2p/coalesce-writes.test.ts fails if an upgrade changes them.
 */
import type { Connection } from '@libp2p/interface';

interface ChunkList {
  readonly byteLength: number;
  subarray(): Uint8Array;
}

interface Socket {
  write(chunk: Uint8Array): boolean;
  destroy(error?: Error): unknown;
  readonly writableNeedDrain: boolean;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
}

interface TcpMaConn {
  sendData(data: ChunkList): { sentBytes: number; canSendMore: boolean };
  sendClose(options?: unknown): Promise<void>;
  readonly socket: Socket;
}

const PATCHED = Symbol.for('lanes.coalescedWrites');

function tcpMaConn(connection: Connection): TcpMaConn | undefined {
  const maConn = (connection as unknown as { maConn?: Partial<TcpMaConn> }).maConn;
  if (maConn === undefined || typeof maConn.sendData !== 'function' || typeof maConn.sendClose !== 'function') return undefined;
  const socket = maConn.socket as Partial<Socket> | undefined;
  if (socket === undefined || typeof socket.write !== 'function' || typeof socket.destroy !== 'function') return undefined;
  if (typeof socket.writableNeedDrain !== 'boolean') return undefined;
  return maConn as TcpMaConn;
}

/** Coalesces the connection's socket writes per event-loop turn; false if it is not a TCP connection we recognise. */
export function coalesceWrites(connection: Connection): boolean {
  const maConn = tcpMaConn(connection);
  if (maConn === undefined) return false;
  const marked = maConn as unknown as Record<symbol, boolean>;
  if (marked[PATCHED]) return true;
  const { socket } = maConn;
  let queue: Uint8Array[] = [];
  let queued = 0;
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (queue.length === 0) return;
    const out = queue.length === 1 ? queue[0]! : Buffer.concat(queue, queued);
    queue = [];
    queued = 0;
    if (socket.destroyed || socket.writableEnded) return;
    socket.write(out);
  };
  maConn.sendData = (data) => {
    const bytes = data.subarray(); // the single chunk itself, or one copy of several
    queue.push(bytes);
    queued += bytes.byteLength;
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
    return { sentBytes: bytes.byteLength, canSendMore: !socket.writableNeedDrain };
  };
  const sendClose = maConn.sendClose.bind(maConn);
  maConn.sendClose = (options) => {
    flush();
    return sendClose(options);
  };
  // A listener that stops destroys its sockets directly, without a graceful close.
  const destroy = socket.destroy.bind(socket);
  socket.destroy = (error) => {
    flush();
    return destroy(error);
  };
  marked[PATCHED] = true;
  return true;
}

/** Whether {@link coalesceWrites} applies to this connection (for tests). */
export function writesCoalesced(connection: Connection): boolean {
  const maConn = tcpMaConn(connection) as unknown as Record<symbol, boolean> | undefined;
  return maConn?.[PATCHED] === true;
}
