import type { IncomingMessage } from 'node:http';

/**
 * Every value the request carries for one header (`lowerName` in lower case),
 * or undefined when it has none, read from Node's raw list. The hot path asks
 * for two or three headers; `req.headers` and `req.headersDistinct` would each
 * build an object of all of them on every request (bench:proxy).
 */
export function headerValues(req: IncomingMessage, lowerName: string): string[] | undefined {
  const raw = req.rawHeaders;
  let values: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) (values ??= []).push(raw[i + 1] as string);
  }
  return values;
}
