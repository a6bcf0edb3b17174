import { randomBytes } from 'node:crypto';
import type { Config } from '../../config/schema.js';
import { terminalPage } from '../pages/terminal.js';
import { contentSecurityPolicy, readJsonBody, sendHtml, sendJson } from '../respond.js';
import type { Route } from '../routes.js';
import { terminalOwner } from './owner.js';
import type { TerminalTickets } from './tickets.js';

/** How long a ticket is good for: HandOffCodes' lifetime. */
const TICKET_SECONDS = 60;

/**
 * GET /_berth/terminal[?user=], the full-window terminal page, and
 * POST /_berth/api/me/terminal/tickets {"user"?}, which gives the page the
 * single-use ticket its socket (./socket.ts) must offer. The POST goes
 * through the gateway's CSRF step like every state change.
 */
export function terminalRoutes(config: Config, tickets: TerminalTickets): Route[] {
  return [
    {
      method: 'GET',
      path: '/_berth/terminal',
      access: 'user',
      handler: ({ res, url, user, csrfToken = '' }) => {
        const owner = terminalOwner(url.searchParams.get('user'), user, config);
        const styleNonce = randomBytes(16).toString('base64url');
        sendHtml(res, 200, terminalPage({ user: user.name, owner, csrfToken, styleNonce }), {
          'content-security-policy': contentSecurityPolicy([], { styleNonce }),
        });
      },
    },
    {
      method: 'POST',
      path: '/_berth/api/me/terminal/tickets',
      access: 'user',
      handler: async ({ req, res, user, sessionId = '' }) => {
        const body = (await readJsonBody(req)) as { user?: unknown };
        const owner = terminalOwner(typeof body.user === 'string' ? body.user : null, user, config);
        const ticket = await tickets.issue(sessionId, user.name, owner);
        sendJson(res, 201, { ticket, user: owner, expiresInSeconds: TICKET_SECONDS });
      },
    },
  ];
}
