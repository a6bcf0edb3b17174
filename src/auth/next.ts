import { withoutQueryParameter } from '../core/query.js';
import { LOGIN_PATH, LOGOUT_PATH } from './paths.js';
import { TOKEN_QUERY } from './token/tokens.js';

const FALLBACK = '/';
const MAX_LENGTH = 2048;
// Browsers read "\" as "/" and drop tabs and newlines inside URLs, so "/\evil.test"
// and "/\t/evil.test" would leave the site: refuse them outright.
export const UNSAFE_CHARACTERS = /[\u0000-\u0020\u007f\\]/;
const PROBE_ORIGIN = 'http://berth.invalid';

/**
 * Where to go after signing in: only a path on this gateway ("/x?y"), never
 * another origin ("https://evil.test", "//evil.test"); anything else is "/".
 */
export function safeNext(raw: string | null | undefined): string {
  if (!raw || raw.length > MAX_LENGTH || !raw.startsWith('/') || raw.startsWith('//') || UNSAFE_CHARACTERS.test(raw)) {
    return FALLBACK;
  }
  const resolved = new URL(raw, PROBE_ORIGIN);
  if (resolved.origin !== PROBE_ORIGIN) return FALLBACK;
  // Landing on the login or logout page again after signing in would only confuse.
  if (resolved.pathname === LOGIN_PATH || resolved.pathname === LOGOUT_PATH) return FALLBACK;
  // A token in the URL would ride along to the login page, its form and the page after it.
  return withoutQueryParameter(raw, TOKEN_QUERY);
}

/** The login page's address with the page the user asked for to come back to. */
export function loginLocation(loginPath: string, requestUrl: string | undefined): string {
  const next = safeNext(requestUrl);
  return next === FALLBACK ? loginPath : `${loginPath}?next=${encodeURIComponent(next)}`;
}
