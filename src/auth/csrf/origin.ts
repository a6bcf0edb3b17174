import type { IncomingMessage } from 'node:http';
import { BerthError } from '../../core/errors.js';
import { headerToken } from '../token/tokens.js';

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
 * The one Origin rule behind every request a browser could be made to send
 * with an ambient credential: it must come from `expected`, the origin of the
 * host it is sent to. Browsers send Origin on every cross-origin request,
 * every POST and every WebSocket handshake; Sec-Fetch-Site and Referer are the
 * fall-backs where `fallbacks` allows them. A request with none of them and
 * no cookie at all comes from a script, whose credentials (an API token) no
 * other site can make a browser attach, so it passes. Sibling hosts (the apps
 * domain) are "same-site" but not same-origin and are refused. Returns the
 * evidence for the log, or null when the request passes.
 */
function crossOriginEvidence(req: IncomingMessage, expected: string, fallbacks: boolean): string | null {
  const origin = single(req, 'origin');
  // Parsed rather than compared as text, so a default port or upper case spelled out still match;
  // "null" (sandboxed frames, file: pages) and anything unparsable never do.
  if (origin !== undefined) return originOf(origin) === expected ? null : `Origin ${JSON.stringify(origin)}`;
  if (fallbacks) {
    const site = single(req, 'sec-fetch-site');
    if (site !== undefined) return site === 'same-origin' || site === 'none' ? null : `Sec-Fetch-Site ${JSON.stringify(site)}`;
    const referer = single(req, 'referer');
    // Only the Referer's origin is named: its path and query may carry secrets.
    if (referer !== undefined) {
      const refererOrigin = originOf(referer);
      return refererOrigin === expected ? null : `Referer from ${refererOrigin ?? 'an unparsable URL'}`;
    }
  }
  if (req.headers.cookie !== undefined) return fallbacks ? 'cookies but no Origin, Sec-Fetch-Site or Referer' : 'cookies but no Origin';
  return null;
}

/** Refusals made by the Origin rule, so the audit log can tell them from a missing CSRF token (both are code "csrf"). */
const originRefusals = new WeakSet<BerthError>();

export function isOriginRefusal(error: BerthError): boolean {
  return originRefusals.has(error);
}

function originRefusal(error: BerthError): BerthError {
  originRefusals.add(error);
  return error;
}

/** Refuses a state-changing request that a page on another origin made the browser send. */
export function checkSameOrigin(req: IncomingMessage, publicUrl: string): BerthError | null {
  const method = req.method ?? 'GET';
  if (isSafeMethod(method)) return null;
  const expected = new URL(publicUrl).origin;
  const evidence = crossOriginEvidence(req, expected, true);
  if (evidence === null) return null;
  return originRefusal(new BerthError({
    code: 'csrf',
    userMessage: `This ${method} did not come from Berth's own pages, so the gateway refused it. Open Berth at ${expected} and try again; scripts send "Origin: ${expected}" or use an API token.`,
    logMessage: `cross-origin ${method} refused: ${evidence}, expected ${expected}`,
  }));
}

/**
 * Refuses a WebSocket (or any Upgrade) handshake that a page on another
 * origin opened with the browser's cookies (cross-site WebSocket hijacking):
 * SameSite=Lax does not stop a sibling app host, which is same-site.
 * `expected` is the origin of the host the handshake is sent to: the
 * gateway's for its main route and tunnels, the app host's own for an app
 * host. Browsers always send Origin on a handshake, so there are no
 * fall-backs: a cookie without an Origin is refused. Callers skip this for a
 * handshake that signs in with a Berth token, which no page can make a
 * browser attach.
 */
export function checkUpgradeOrigin(req: IncomingMessage, expected: string): BerthError | null {
  const evidence = crossOriginEvidence(req, expected, false);
  if (evidence === null) return null;
  return originRefusal(new BerthError({
    code: 'csrf',
    userMessage: `This WebSocket was not opened by a page of ${expected}, so the gateway refused it. Open it from a page of ${expected}; a script signs in with a Berth token instead of a cookie.`,
    logMessage: `cross-origin upgrade refused: ${evidence}, expected ${expected}`,
  }));
}

/**
 * Refuses a state-changing request to a berth (on the main route or an app
 * host) that a page of another user's host made the browser send with its
 * cookies: sibling app hosts are same-site, so SameSite=Lax lets a form or a
 * no-cors fetch on one user's host carry a visitor's cookies to every other
 * user's berth (request forgery between users). `mayAct` says whether a
 * page of a (parsed) origin may act on this berth: its owner's own pages
 * may, so a front end on one port can call an API on another. A request
 * with no cookie, or with neither Origin nor Sec-Fetch-Site (a script, an
 * old browser posting to its own page), passes as before: no page of another
 * host can make a browser send one; so does one signed in by a Berth token
 * (X-Berth-Token), which no page can make a browser attach. Reads cost
 * nothing here: the method is looked at first.
 */
export function checkBerthRequestOrigin(req: IncomingMessage, mayAct: (origin: string) => boolean): BerthError | null {
  const method = req.method ?? 'GET';
  if (isSafeMethod(method) || req.headers.cookie === undefined || headerToken(req) !== null) return null;
  const evidence = foreignPageEvidence(req, mayAct);
  if (evidence === null) return null;
  return originRefusal(new BerthError({
    code: 'csrf',
    userMessage: `This ${method} was sent by a page that is not one of this environment's owner's, so the gateway refused it. Send it from the owner's own pages; a script signs in with a Berth token (X-Berth-Token) instead of a cookie.`,
    logMessage: `cross-user ${method} refused: ${evidence}`,
  }));
}

function foreignPageEvidence(req: IncomingMessage, mayAct: (origin: string) => boolean): string | null {
  const origin = single(req, 'origin');
  if (origin !== undefined) {
    const parsed = originOf(origin);
    return parsed !== null && mayAct(parsed) ? null : `Origin ${JSON.stringify(origin)}`;
  }
  const site = single(req, 'sec-fetch-site');
  return site === undefined || site === 'same-origin' || site === 'none' ? null : `Sec-Fetch-Site ${JSON.stringify(site)} and no Origin`;
}
