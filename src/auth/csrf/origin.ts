import type { IncomingMessage } from 'node:http';
import { BerthError } from '../../core/errors.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Methods that only read: no origin or token check applies to them. */
export function isSafeMethod(method: string | undefined): boolean {
  return SAFE_METHODS.has(method ?? 'GET');
}

function originOf(url: string): string | null {
  try {
    const origin = new URL(url).origin;
    return origin === 'null' ? null : origin;
  } catch {
    return null;
  }
}

function single(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Refuses a state-changing request that a page on another origin made the
 * browser send. Browsers send Origin on every cross-origin and every POST
 * request; Sec-Fetch-Site and Referer are the fall-backs. A request with none
 * of them and no cookie at all comes from a script, whose credentials (an API
 * token) no other site can make a browser attach, so it passes. Sibling hosts
 * (the apps domain) are "same-site" but not same-origin and are refused.
 */
export function checkSameOrigin(req: IncomingMessage, publicUrl: string): BerthError | null {
  const method = req.method ?? 'GET';
  if (isSafeMethod(method)) return null;
  const expected = new URL(publicUrl).origin;
  const refuse = (evidence: string): BerthError =>
    new BerthError({
      code: 'csrf',
      userMessage: `This ${method} did not come from Berth's own pages, so the gateway refused it. Open Berth at ${expected} and try again; scripts send "Origin: ${expected}" or use an API token.`,
      logMessage: `cross-origin ${method} refused: ${evidence}, expected ${expected}`,
    });

  const origin = single(req, 'origin');
  if (origin !== undefined) return originOf(origin) === expected ? null : refuse(`Origin ${JSON.stringify(origin)}`);
  const site = single(req, 'sec-fetch-site');
  if (site !== undefined) return site === 'same-origin' || site === 'none' ? null : refuse(`Sec-Fetch-Site ${JSON.stringify(site)}`);
  const referer = single(req, 'referer');
  // Only the Referer's origin is named: its path and query may carry secrets.
  if (referer !== undefined) {
    const refererOrigin = originOf(referer);
    return refererOrigin === expected ? null : refuse(`Referer from ${refererOrigin ?? 'an unparsable URL'}`);
  }
  if (req.headers.cookie !== undefined) return refuse('cookies but no Origin, Sec-Fetch-Site or Referer');
  return null;
}
