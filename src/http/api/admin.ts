import { NO_AUDIT, type AuditRecorder } from '../../audit/kinds.js';
import type { Config } from '../../config/schema.js';
import { BerthError } from '../../core/errors.js';
import type { BerthDirectory } from '../../spawner/types.js';
import { readJsonBody, sendJson } from '../respond.js';
import type { Route, RouteContext } from '../routes.js';
import { berthView } from './berthView.js';
import { requester } from './requester.js';

/**
 * Admins acting on someone else's berth: POST /_berth/api/berths/stop and
 * /restart with {"user": "<name>"} (a body, not a path parameter, so the
 * exact-path route table suffices). The home is kept either way.
 */
export function adminRoutes(config: Config, directory: BerthDirectory, audit: AuditRecorder = NO_AUDIT): Route[] {
  const target = async ({ req }: RouteContext): Promise<string> => {
    const body = await readJsonBody(req);
    const user = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).user : undefined;
    if (typeof user !== 'string' || user === '') {
      throw new BerthError({ code: 'bad_request', userMessage: 'Send {"user": "<username>"}, a user from GET /_berth/api/berths.' });
    }
    if (!directory.list().some((status) => status.user === user)) {
      throw new BerthError({ code: 'not_found', userMessage: `${user} has no berth; GET /_berth/api/berths lists them.` });
    }
    return user;
  };
  const action = (name: 'stop' | 'restart', status: number): Route => ({
    method: 'POST',
    path: `/_berth/api/berths/${name}`,
    access: 'admin',
    handler: async (context) => {
      const user = await target(context);
      audit.record({ kind: 'admin.action', ...requester(context), target: user, outcome: 'ok', detail: { action: name } });
      await directory.stop(user, `${name === 'stop' ? 'stopped' : 'restarted'} by administrator ${context.user.name}`);
      if (name === 'restart') directory.start(user, 'api');
      sendJson(context.res, status, berthView(directory.status(user), config));
    },
  });
  return [action('stop', 200), action('restart', 202)];
}
