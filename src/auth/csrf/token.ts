import type { IncomingMessage } from 'node:http';
import { BerthError } from '../../core/errors.js';
import { equalText, hmac } from '../crypto.js';
import type { Authenticated } from '../types.js';
import { checkSameOrigin } from './origin.js';

export type CsrfBinding = Pick<Authenticated, 'sessionId'>;

export interface Csrf {
  /** The hidden form field's value: bound to the sign-in, so it dies with the session. */
  csrfToken(session: CsrfBinding): string;
  /** Same origin and the right token for this sign-in, else a 'csrf' BerthError to answer with. */
  verifyCsrf(req: IncomingMessage, session: CsrfBinding, token: string | null | undefined): BerthError | null;
}

/**
 * HMAC tokens rather than double-submit cookies: nothing more to store or set,
 * and a sibling host that can plant cookies cannot forge one.
 */
export function createCsrf(key: Buffer, publicUrl: string): Csrf {
  const tokenFor = (session: CsrfBinding): string => hmac(key, session.sessionId).toString('base64url');
  return {
    csrfToken: tokenFor,
    verifyCsrf(req, session, token) {
      const crossOrigin = checkSameOrigin(req, publicUrl);
      if (crossOrigin) return crossOrigin;
      if (token && equalText(tokenFor(session), token)) return null;
      if (!token) {
        // Berth's pages always send the token, so its absence means a script holding the browser's cookie.
        return new BerthError({
          code: 'csrf',
          userMessage:
            "This change came with Berth's session cookie but without the CSRF token its pages send; from a script, use an API token (Authorization: Bearer) instead of the cookie, or make the change on the dashboard.",
          logMessage: 'CSRF token missing',
        });
      }
      return new BerthError({
        code: 'csrf',
        userMessage: 'This form has expired or did not come from this page: reload the page and try again.',
        logMessage: 'CSRF token does not match the session',
      });
    },
  };
}
