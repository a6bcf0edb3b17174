import type { AuditLog } from '../../audit/auditLog.js';
import type { StoredAuditEvent } from '../../audit/kinds.js';
import { BerthError } from '../../core/errors.js';
import type { AuditQuery } from '../../store/audit.js';
import { sendJson } from '../respond.js';
import type { Route, RouteContext } from '../routes.js';

export const AUDIT_PATH = '/_berth/api/audit';
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 500;
/** A kind ("ssh.session.opened") or a family ending in a dot ("ssh."). */
const KIND = /^[a-z]+(\.[a-z]+)*\.?$/;

/**
 * GET /_berth/api/audit: administrators read every event, filtered by user,
 * kind (a family by its prefix), time and page; everyone else reads only the
 * events they did or that concern them, and asking for another user's is
 * refused, never silently narrowed.
 */
export function auditRoutes(audit: AuditLog): Route[] {
  return [
    {
      method: 'GET',
      path: AUDIT_PATH,
      access: 'user',
      handler: async (context) => {
        const query = readQuery(context);
        const events = await audit.query(query);
        const last = events.at(-1);
        sendJson(context.res, 200, {
          events: events.map(eventView),
          nextCursor: events.length === query.limit && last !== undefined ? String(last.id) : null,
        });
      },
    },
  ];
}

function readQuery({ url, user }: RouteContext): AuditQuery {
  const params = url.searchParams;
  const named = params.get('user');
  if (!user.admin && named !== null && named !== user.name) {
    throw new BerthError({
      code: 'forbidden',
      userMessage: `Only administrators may read another user's activity; leave out user= to read your own (${user.name}).`,
      logMessage: `${user.name} asked for the audit events of another user`,
    });
  }
  const query: AuditQuery = { limit: readLimit(params.get('limit')) };
  const who = user.admin ? named : user.name;
  if (who !== null && who !== '') query.user = who;
  const kind = params.get('kind');
  if (kind !== null && kind !== '') {
    if (!KIND.test(kind)) throw badQuery(`kind must be an event kind such as ssh.session.opened, or a family ending in a dot such as ssh.; got ${JSON.stringify(kind.slice(0, 40))}.`);
    query.kind = kind;
  }
  const since = readTime(params.get('since'), 'since');
  if (since !== undefined) query.since = since;
  const until = readTime(params.get('until'), 'until');
  if (until !== undefined) query.until = until;
  const cursor = params.get('cursor');
  if (cursor !== null && cursor !== '') {
    if (!/^[1-9][0-9]{0,15}$/.test(cursor)) throw badQuery('cursor must be the nextCursor of the previous page, unchanged.');
    query.before = Number(cursor);
  }
  return query;
}

function readLimit(text: string | null): number {
  if (text === null || text === '') return DEFAULT_LIMIT;
  const limit = /^[0-9]{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(limit >= 1 && limit <= MAX_LIMIT)) throw badQuery(`limit must be a whole number from 1 to ${MAX_LIMIT}.`);
  return limit;
}

/** An ISO 8601 time ("2026-01-31" or "2026-01-31T12:00:00Z"). */
function readTime(text: string | null, name: string): number | undefined {
  if (text === null || text === '') return undefined;
  const at = /^\d{4}-\d\d-\d\d/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(at)) throw badQuery(`${name} must be an ISO 8601 time such as 2026-01-31 or 2026-01-31T12:00:00Z.`);
  return at;
}

function badQuery(message: string): BerthError {
  return new BerthError({ code: 'bad_request', userMessage: `${message} See GET /_berth/api/openapi.json for ${AUDIT_PATH}.` });
}

function eventView(event: StoredAuditEvent) {
  const { at, ...rest } = event;
  return { ...rest, id: String(event.id), at: new Date(at).toISOString() };
}
