/**
 * How long a client may take to send a request (HTTP_REQUEST_TIMEOUT_MS), and what a
 * client whose request cannot be read gets back. Node's http server enforces the time on
 * its own: headers and the whole request must arrive within it, checked every
 * `connectionsCheckingInterval`, and a late one is a `clientError` with the code
 * ERR_HTTP_REQUEST_TIMEOUT. Both the api's Fastify server and the door (the server that
 * really listens) are built from these, so the limit holds on the port whichever app it
 * serves.
 */
import { STATUS_CODES, type ServerOptions } from 'node:http';
import type { Duplex } from 'node:stream';

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** Options for `http.createServer`: headers and body within `ms`, checked often enough to be on time. */
export function requestTimeouts(
  ms: number,
): Pick<ServerOptions, 'requestTimeout' | 'headersTimeout' | 'connectionsCheckingInterval'> {
  // Node checks every 30 s by default, which would let a 1 s limit run to 31 s.
  const connectionsCheckingInterval = Math.max(10, Math.min(1_000, Math.floor(ms / 4)));
  return { requestTimeout: ms, headersTimeout: ms, connectionsCheckingInterval };
}

function answer(status: number, error: string): string {
  const body = JSON.stringify({ error });
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    '',
    body,
  ].join('\r\n');
}

/**
 * The server's `clientError` listener: a request too slow to arrive gets 408, headers too
 * large 431, anything unparseable 400, each in the contract's error shape; then the
 * connection closes. A socket already answering (or gone) is just closed.
 */
export function clientErrorHandler(timeoutMs: number) {
  const slow = answer(408, `request timeout: headers and body must arrive within ${timeoutMs} ms`);
  const tooLarge = answer(431, 'request headers too large');
  const bad = answer(400, 'malformed HTTP request');
  return function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const answering = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (err.code === 'ECONNRESET' || !socket.writable || answering) {
      socket.destroy();
      return;
    }
    const response =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? slow : err.code === 'HPE_HEADER_OVERFLOW' ? tooLarge : bad;
    // end() flushes the answer; destroy() then closes even if the client never closes its side.
    socket.end(response, () => socket.destroy());
  };
}
