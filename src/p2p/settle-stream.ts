/**
 * One `/lanes/settle/1.0.0` stream: length-prefixed settle messages both ways (the framing of
 * the channel protocol, framing.ts). Settlement traffic is light (a few messages per channel
 * lifetime, plus one watch update per channel per second at most), so writes go out as they
 * come and libp2p buffers them.
 */
import type { Stream } from '@libp2p/interface';
import { type SettleMessage, decodeSettleMessage, encodeSettleMessage } from '../core/codec/settle.ts';
import type { Result } from '../core/result.ts';
import { FrameReader, frameBytes } from './framing.ts';

export interface SettleStreamHandlers {
  message(message: Result<SettleMessage>): void;
  close(): void;
}

export class SettleStream {
  readonly #stream: Stream;
  #open = true;

  constructor(stream: Stream, handlers: SettleStreamHandlers) {
    this.#stream = stream;
    const reader = new FrameReader({
      onFrame: (body) => {
        handlers.message(decodeSettleMessage(body.slice()));
      },
    });
    stream.addEventListener('message', (evt) => {
      const error = reader.push(evt.data as Iterable<Uint8Array>);
      if (error) this.abort(new Error(`settle framing: ${error.detail}`));
    });
    stream.addEventListener('remoteCloseWrite', () => void stream.close().catch(() => undefined));
    stream.addEventListener('close', () => {
      this.#open = false;
      handlers.close();
    });
  }

  get open(): boolean {
    return this.#open && this.#stream.writeStatus === 'writable';
  }

  send(message: SettleMessage): boolean {
    if (!this.open) return false;
    try {
      this.#stream.send(frameBytes(encodeSettleMessage(message)));
      return true;
    } catch {
      return false;
    }
  }

  abort(error: Error): void {
    this.#open = false;
    try {
      this.#stream.abort(error);
    } catch {
      // already closed
    }
  }

  close(): void {
    this.#open = false;
    void this.#stream.close().catch(() => undefined);
  }
}
