/**
 * The open /viz/events streams and how a frame reaches them. A client that does not read
 * leaves what is written to it in the server's buffers; once that passes
 * `bufferLimitBytes` the client is dropped (its stream destroyed), so a stalled reader
 * costs a bounded amount of memory and frees its slot. A slow reader below the bound just
 * catches up: each frame is a whole snapshot, so nothing is lost by being late.
 */
export const SSE_BUFFER_LIMIT_BYTES = 64 * 1024;

/** What the hub needs of a stream; a ServerResponse is one. */
export interface SseStream {
  write(chunk: string): boolean;
  readonly writableLength: number;
  readonly destroyed: boolean;
  destroy(): void;
  end(): void;
  once(event: 'close', listener: () => void): unknown;
}

export interface SseHub {
  /** Adds a stream; it leaves the hub when it closes, and `onLeave` runs once. */
  add(stream: SseStream, onLeave: () => void): void;
  /** Writes to one stream (if still in the hub); false if it was dropped for not reading. */
  send(stream: SseStream, frame: string): boolean;
  broadcast(frame: string): void;
  /** Ends every stream (server closing). */
  endAll(): void;
  readonly size: number;
}

export function createSseHub(opts: { bufferLimitBytes?: number; onDrop?: (unread: number) => void } = {}): SseHub {
  const limit = opts.bufferLimitBytes ?? SSE_BUFFER_LIMIT_BYTES;
  const streams = new Map<SseStream, () => void>();

  const leave = (stream: SseStream): void => {
    const onLeave = streams.get(stream);
    if (!onLeave) return;
    streams.delete(stream);
    onLeave();
  };

  const send = (stream: SseStream, frame: string): boolean => {
    if (!streams.has(stream)) return false;
    // write() answers false once the buffers are past their high-water mark; the bound is on
    // what is still unread, so a client that reads, however slowly, is not dropped for one spike.
    if (stream.write(frame) || stream.writableLength <= limit) return true;
    const unread = stream.writableLength;
    leave(stream);
    stream.destroy();
    opts.onDrop?.(unread);
    return false;
  };

  return {
    add(stream, onLeave) {
      streams.set(stream, onLeave);
      stream.once('close', () => leave(stream));
    },
    send,
    broadcast(frame) {
      for (const stream of [...streams.keys()]) send(stream, frame);
    },
    endAll() {
      for (const stream of [...streams.keys()]) {
        leave(stream);
        stream.end();
      }
    },
    get size() {
      return streams.size;
    },
  };
}
