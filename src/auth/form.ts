import type { IncomingMessage } from 'node:http';
import { BerthError } from '../core/errors.js';

// Gateway forms hold a few short fields; anything larger is not one of them.
const LIMIT_BYTES = 16 * 1024;

function tooLarge(): BerthError {
  return new BerthError({ code: 'bad_request', status: 413, userMessage: 'The form is too large.' });
}

/** Reads an HTML form body (application/x-www-form-urlencoded), bounded in size. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new BerthError({
      code: 'bad_request',
      status: 415,
      userMessage: 'Send the form as application/x-www-form-urlencoded.',
      logMessage: `form with content type ${JSON.stringify(type)}`,
    });
  }
  if (Number(req.headers['content-length'] ?? 0) > LIMIT_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > LIMIT_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
