import type { IncomingMessage } from 'node:http';
import type { BerthError } from '../../core/errors.js';
import type { Authenticated } from '../types.js';
import { checkSameOrigin, isSafeMethod } from './origin.js';
import type { Csrf } from './token.js';

/** The header the gateway's own pages send their CSRF token in (they read it from `<meta name="berth-csrf">`). */
export const CSRF_HEADER = 'x-berth-csrf';

/**
 * The CSRF step of the request path for the gateway's own routes. Every
 * state-changing request must come from the gateway's origin; one signed in
 * by the session cookie (a browser) must also carry the token bound to that
 * session, so a same-site page that slips past the origin check (an old
 * browser, a proxy dropping Origin) still cannot act. Header and token
 * sign-ins carry no ambient cookie, so the origin check is all they need.
 */
export function checkRequestCsrf(req: IncomingMessage, csrf: Csrf, signIn: Authenticated, publicUrl: string): BerthError | null {
  if (isSafeMethod(req.method)) return null;
  if (!signIn.browser) return checkSameOrigin(req, publicUrl);
  const token = req.headers[CSRF_HEADER];
  return csrf.verifyCsrf(req, signIn, Array.isArray(token) ? token[0] : token);
}
