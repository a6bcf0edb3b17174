import type { Socket } from 'node:net';
import { BerthError } from '../core/errors.js';
import { writeRawJson } from './rawResponse.js';

/**
 * The answer to a request the HTTP parser gave up on, before any handler saw
 * it: 408 for a head slower than http.headersTimeoutSeconds, 431 for one
 * larger than Node's limit (16 KiB), 400 for one that is not HTTP. Written on
 * the raw socket, then the connection closes.
 */
export function clientErrorOf(err: NodeJS.ErrnoException, headersTimeoutSeconds: number): BerthError {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new BerthError({
        code: 'request_timeout',
        userMessage: `The request head did not arrive within ${headersTimeoutSeconds} seconds; send it at once (or raise http.headersTimeoutSeconds).`,
      });
    case 'HPE_HEADER_OVERFLOW':
      return new BerthError({
        code: 'headers_too_large',
        userMessage: 'The request head is larger than 16 KiB; send fewer or smaller headers (often: cookies of other sites on this domain).',
      });
    default:
      return new BerthError({ code: 'bad_request', userMessage: 'This is not a well-formed HTTP/1.1 request.', logMessage: err.code ?? err.message });
  }
}

export function answerClientError(err: NodeJS.ErrnoException, socket: Socket, headersTimeoutSeconds: number): void {
  // A reset or half-sent request leaves nothing to answer on.
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const error = clientErrorOf(err, headersTimeoutSeconds);
  writeRawJson(socket, error.status, { error: { code: error.code, message: error.userMessage } });
}
