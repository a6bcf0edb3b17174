import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { BerthError } from '../../core/errors.js';
import type { BerthPort } from '../../runtime/types.js';

/** Why the berth did not answer, in words for the person and detail for the log. */
export function upstreamFailure(err: unknown, target: BerthPort): BerthError {
  // The runtime's connect already said what went wrong and what to do.
  if (err instanceof BerthError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const detail = err instanceof Error ? err.message : String(err);
  // undici refuses a head it cannot send as given (a second Host, say): the client's request is at fault, not the berth.
  if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') {
    return new BerthError({
      code: 'bad_request',
      userMessage: `This request cannot be forwarded to your berth (${detail}); send it with well-formed headers.`,
      logMessage: `request to port ${target.port} of berth ${target.name} refused before sending: ${detail}`,
      cause: err,
    });
  }
  return new BerthError({
    code: 'upstream_failed',
    userMessage: userReason(code),
    logMessage: `proxy to port ${target.port} of berth ${target.name} failed: ${detail}`,
    cause: err,
  });
}

function userReason(code: string | undefined): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'Your berth is not accepting connections on its port (connection refused).';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'Your berth did not accept the connection in time.';
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
      return 'Your berth closed the connection before it answered.';
    default:
      return `Your berth could not be reached${code === undefined ? '' : ` (${code})`}.`;
  }
}

/** `{"error": {code, message}}` on one line, the shape of every gateway error body. */
function body(error: BerthError): string {
  return `${JSON.stringify({ error: { code: error.code, message: error.userMessage } })}\n`;
}

/** The failure as a response if the head is not out yet; otherwise cutting the connection is the only honest signal. */
export function sendFailure(res: ServerResponse, error: BerthError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = body(error);
  res.writeHead(error.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** The same response written by hand on an upgrade socket, which has no ServerResponse. */
export function sendFailureRaw(socket: Duplex, error: BerthError): void {
  const text = body(error);
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(text)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${text}`,
  );
}
