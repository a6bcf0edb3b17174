import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditRecorder } from '../../audit/kinds.js';
import type { Config } from '../../config/schema.js';
import { BerthError } from '../../core/errors.js';
import { parseUsername } from '../../core/safeName.js';
import type { Logger } from '../../log/logger.js';
import { signedIn, signedOut, signInRefused } from '../audit.js';
import { checkSameOrigin } from '../csrf/origin.js';
import { readForm } from '../form.js';
import { safeNext } from '../next.js';
import { LOGIN_PATH } from '../paths.js';
import type { Sessions } from '../session/sessions.js';
import type { RouteHandler } from '../types.js';
import { sendLoginPage } from './page.js';

export interface DevRoutesOptions {
  config: Config;
  sessions: Sessions;
  logger: Logger;
  audit: AuditRecorder;
}

function methodNotAllowed(method: string | undefined): BerthError {
  return new BerthError({
    code: 'bad_request',
    status: 405,
    userMessage: `${method ?? 'This method'} is not supported here; open ${LOGIN_PATH} in a browser.`,
  });
}

function seeOther(res: ServerResponse, location: string): void {
  res.writeHead(303, { location, 'cache-control': 'no-store' });
  res.end();
}

function requestQuery(req: IncomingMessage): URLSearchParams {
  // Only the path and query are read; the base is a placeholder.
  return new URL(req.url ?? '/', 'http://gateway.invalid').searchParams;
}

/** GET shows the form, POST signs in and goes to `next`; other methods are refused (405). */
export function devLogin({ config, sessions, logger, audit }: DevRoutesOptions): RouteHandler {
  return async (req, res) => {
    if (req.method === 'GET' || req.method === 'HEAD') {
      sendLoginPage(res, 200, { next: safeNext(requestQuery(req).get('next')) });
      return;
    }
    if (req.method !== 'POST') throw methodNotAllowed(req.method);
    // Without this a hostile page could sign the browser in as the attacker (login CSRF).
    const crossOrigin = checkSameOrigin(req, config.publicUrl);
    if (crossOrigin) throw crossOrigin;
    const form = await readForm(req);
    const next = safeNext(form.get('next'));
    const username = form.get('username') ?? '';
    const parsed = parseUsername(username);
    if ('problem' in parsed) {
      audit.record(signInRefused(req, 'dev', `unusable username: ${parsed.problem}`));
      sendLoginPage(res, 400, { next, username, error: `That username cannot be used: ${parsed.problem}.` });
      return;
    }
    sessions.issue(res, { name: parsed.name, groups: [] }, next);
    logger.info({ user: parsed.name }, 'signed in');
    audit.record(signedIn(req, parsed.name, 'dev'));
    seeOther(res, next);
  };
}

/**
 * Clears the session and goes back to the login page. GET is accepted so a
 * plain link works; a forged logout only signs someone out, so no origin check.
 */
export function devLogout({ sessions, logger, audit }: DevRoutesOptions): RouteHandler {
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'POST') throw methodNotAllowed(req.method);
    const current = sessions.read(req);
    sessions.clear(res);
    if (current) logger.info({ user: current.user.name }, 'signed out');
    if (current) audit.record(signedOut(req, current.user.name, 'dev'));
    seeOther(res, LOGIN_PATH);
  };
}
