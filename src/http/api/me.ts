import type { Config } from '../../config/schema.js';
import type { BerthDirectory } from '../../spawner/types.js';
import { sendJson } from '../respond.js';
import type { Route } from '../routes.js';
import { berthView } from './berthView.js';
import { openApiDocument } from './openapi.js';
import { progressStream } from './progress.js';

/** The signed-in user's own berth, and the admins' view of all of them. */
export function berthRoutes(config: Config, directory: BerthDirectory): Route[] {
  const view = (user: string) => berthView(directory.status(user), config);
  return [
    {
      method: 'GET',
      path: '/_berth/api/me',
      access: 'user',
      handler: ({ res, user }) => sendJson(res, 200, { user: { name: user.name, admin: user.admin }, berth: view(user.name) }),
    },
    {
      method: 'POST',
      path: '/_berth/api/me/start',
      access: 'user',
      handler: ({ res, user }) => {
        directory.start(user.name, 'api');
        sendJson(res, 202, view(user.name));
      },
    },
    {
      method: 'POST',
      path: '/_berth/api/me/stop',
      access: 'user',
      handler: async ({ res, user }) => {
        await directory.stop(user.name, `stopped by ${user.name}`);
        sendJson(res, 200, view(user.name));
      },
    },
    {
      method: 'POST',
      path: '/_berth/api/me/restart',
      access: 'user',
      handler: async ({ res, user }) => {
        await directory.stop(user.name, `restarted by ${user.name}`);
        directory.start(user.name, 'api');
        sendJson(res, 202, view(user.name));
      },
    },
    { method: 'GET', path: '/_berth/api/me/progress', access: 'user', handler: progressStream(directory) },
    {
      method: 'GET',
      path: '/_berth/api/berths',
      access: 'admin',
      handler: ({ res }) => sendJson(res, 200, { berths: directory.list().map((s) => berthView(s, config)) }),
    },
    { method: 'GET', path: '/_berth/api/openapi.json', access: 'public', handler: ({ res }) => sendJson(res, 200, openApiDocument) },
  ];
}
