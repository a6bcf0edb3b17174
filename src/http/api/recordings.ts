import { createReadStream } from 'node:fs';
import { BerthError } from '../../core/errors.js';
import type { Recordings } from '../../terminal/recordings.js';
import { sendJson } from '../respond.js';
import type { Route } from '../routes.js';

/**
 * GET /_berth/api/recordings[?user=] lists session recordings, newest first
 * (admins: everyone's, or one user's; users: their own), and
 * GET /_berth/api/recordings/<id> returns one as application/x-asciicast.
 * Someone else's recording is "not found" to a user who is no admin, so
 * ids reveal nothing.
 */
export function recordingRoutes(recordings: Recordings): Route[] {
  return [
    {
      method: 'GET',
      path: '/_berth/api/recordings',
      access: 'user',
      handler: async ({ res, url, user }) => {
        const asked = url.searchParams.get('user') || null;
        if (!user.admin && asked !== null && asked !== user.name) {
          throw new BerthError({ code: 'forbidden', userMessage: "Only administrators may list other users' recordings; leave out ?user= to list yours." });
        }
        sendJson(res, 200, { recordings: await recordings.list(user.admin ? asked : user.name) });
      },
    },
    {
      method: 'GET',
      path: '/_berth/api/recordings/:id',
      access: 'user',
      handler: async ({ res, user, params }) => {
        const found = await recordings.find(params.id ?? '');
        if (found === null || (!user.admin && found.entry.user !== user.name)) {
          throw new BerthError({ code: 'not_found', userMessage: 'No such recording; GET /_berth/api/recordings lists the ones you may see.' });
        }
        res.writeHead(200, {
          'content-type': 'application/x-asciicast',
          'content-length': found.entry.bytes,
          'content-disposition': `attachment; filename="${found.entry.id}.cast"`,
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
        });
        createReadStream(found.path, { end: found.entry.bytes - 1 }).on('error', () => res.destroy()).pipe(res);
      },
    },
  ];
}
