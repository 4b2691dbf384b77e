/**
 * Length-prefixed frames on a byte stream: `varint(length) ‖ body`, where the body is one
 * message from the core codec and the length is an unsigned LEB128 varint (the multiformats
 * `unsigned-varint` that libp2p uses elsewhere).
 *
 * The reader is our own rather than `LengthPrefixedDecoder` from `@libp2p/utils`: one libp2p
 * 'message' event can carry up to a whole yamux window (16 MB) of frames, which that decoder
 * refuses unless it is fed in slices. This reader walks each chunk in place, so it takes chunks
 * of any size, never buffers more than the frame it is in the middle of (at most
 * `maxFrameBytes`), and hands out whole frames as views with no copy when a frame lies in one
 * chunk. It reports an oversize or garbled length as a value and never throws, because it runs
 * inside event listeners where an exception would be uncaught.
 */
import { DEFAULT_LIMITS, encodeMessage } from '../core/codec/wire.ts';
import type { Message } from '../core/codec/messages.ts';
import { type Result, ok, reject } from '../core/result.ts';

/** Bytes of the varint for `value` (value < 2^53). */
function varintLength(value: number): number {
  let length = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) length++;
  return length;
}

function writeVarint(out: Uint8Array, value: number): number {
  let offset = 0;
  let v = value;
  while (v >= 0x80) {
    out[offset++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[offset++] = v;
  return offset;
}

/**
 * A body with its length prefix, without any check: for tests and fault injection that must put
 * exactly these bytes on the wire. Everything else uses {@link encodeFrame}.
 */
export function frameBytes(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(varintLength(body.length) + body.length);
  out.set(body, writeVarint(out, body.length));
  return out;
}

/**
 * Encodes a message as one frame. Rejects (`malformed`) a message whose body exceeds
 * `maxFrameBytes` (the receiver would drop the stream over it) or that the codec cannot encode;
 * never throws, so a transport's `send()` can keep its no-throw promise.
 */
export function encodeFrame(message: Message, maxFrameBytes: number = DEFAULT_LIMITS.maxMessageBytes): Result<Uint8Array> {
  let body: Uint8Array;
  try {
    body = encodeMessage(message);
  } catch (e) {
    return reject('malformed', `message does not encode: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (body.length > maxFrameBytes) {
    return reject('malformed', `message of ${body.length} bytes exceeds the limit of ${maxFrameBytes}`);
  }
  return ok(frameBytes(body));
}

/** Why a byte stream stopped making sense. After one, the stream must be dropped. */
export interface FrameError {
  readonly kind: 'oversize' | 'bad-length';
  readonly detail: string;
}

export interface FrameReaderOptions {
  /** Largest body accepted (default `DEFAULT_LIMITS.maxMessageBytes`). */
  readonly maxFrameBytes?: number;
  /**
   * Called with each whole body, in order. The view is only valid during the call (it may point
   * into the caller's chunk). Return false to stop reading: later frames are discarded.
   */
  readonly onFrame: (body: Uint8Array) => boolean | void;
}

/** Incremental frame reader for one direction of one stream (see the module comment). */
export class FrameReader {
  private readonly maxFrameBytes: number;
  private readonly maxLengthBytes: number;
  private readonly onFrame: (body: Uint8Array) => boolean | void;
  // Length prefix being read: accumulated value, its shift, bytes seen.
  private lengthValue = 0;
  private lengthScale = 1;
  private lengthBytes = 0;
  // Body being assembled across chunks, and how much of it is filled.
  private body: Uint8Array | undefined;
  private filled = 0;
  private stopped: FrameError | 'stopped' | undefined;

  constructor(options: FrameReaderOptions) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_LIMITS.maxMessageBytes;
    this.maxLengthBytes = varintLength(this.maxFrameBytes);
    this.onFrame = options.onFrame;
  }

  /** True while part of a frame is buffered: a stream that ends now ended mid-frame. */
  get midFrame(): boolean {
    return this.lengthBytes > 0 || this.body !== undefined;
  }

  /**
   * Feeds bytes: a Uint8Array, or any iterable of them (a libp2p `Uint8ArrayList` iterates its
   * chunks). Returns the error that ended the stream, if any; once ended, input is ignored and
   * the same error is returned.
   */
  push(data: Uint8Array | Iterable<Uint8Array>): FrameError | undefined {
    const chunks = data instanceof Uint8Array ? [data] : data;
    for (const chunk of chunks) {
      if (this.stopped !== undefined) break;
      this.consume(chunk);
    }
    return this.stopped === 'stopped' ? undefined : this.stopped;
  }

  private consume(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length && this.stopped === undefined) {
      offset = this.body === undefined ? this.readLength(chunk, offset) : this.readBody(chunk, offset);
    }
  }

  /** Reads length-prefix bytes; on the last one, starts the body (in place when it is all here). */
  private readLength(chunk: Uint8Array, start: number): number {
    let offset = start;
    while (offset < chunk.length) {
      const byte = chunk[offset++]!;
      this.lengthValue += (byte & 0x7f) * this.lengthScale;
      this.lengthScale *= 0x80;
      this.lengthBytes++;
      if (this.lengthValue > this.maxFrameBytes)
        return this.fail('oversize', `frame of at least ${this.lengthValue} bytes exceeds ${this.maxFrameBytes}`);
      if (byte < 0x80) return this.startBody(chunk, offset);
      if (this.lengthBytes >= this.maxLengthBytes)
        return this.fail('bad-length', `frame length prefix longer than ${this.maxLengthBytes} bytes`);
    }
    return offset;
  }

  private startBody(chunk: Uint8Array, offset: number): number {
    const length = this.lengthValue;
    this.lengthValue = 0;
    this.lengthScale = 1;
    this.lengthBytes = 0;
    if (chunk.length - offset >= length) {
      this.deliver(chunk.subarray(offset, offset + length));
      return offset + length;
    }
    this.body = new Uint8Array(length);
    this.filled = 0;
    return offset;
  }

  private readBody(chunk: Uint8Array, offset: number): number {
    const body = this.body!;
    const take = Math.min(body.length - this.filled, chunk.length - offset);
    body.set(chunk.subarray(offset, offset + take), this.filled);
    this.filled += take;
    if (this.filled === body.length) {
      this.body = undefined;
      this.deliver(body);
    }
    return offset + take;
  }

  private deliver(body: Uint8Array): void {
    if (this.onFrame(body) === false) this.stopped = 'stopped';
  }

  private fail(kind: FrameError['kind'], detail: string): number {
    this.stopped = { kind, detail };
    this.body = undefined;
    return Number.MAX_SAFE_INTEGER;
  }
}
