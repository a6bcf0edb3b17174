import type { IncomingMessage } from 'node:http';
import type { Config } from '../../config/schema.js';
import { joinHostPort } from '../../core/net.js';
import { resolveSelection, visibleProfiles } from '../../profiles/profiles.js';
import type { BerthDirectory } from '../../spawner/types.js';
import { sendJson } from '../respond.js';
import type { Route } from '../routes.js';
import { berthView } from './berthView.js';
import { readProfileRequest } from './profileRequest.js';
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
      handler: async ({ req, res, user }) => {
        const asked = await readProfileRequest(req);
        // Checked here as well as at the spawn, so a refused choice is a 403 to this request, not a failed berth.
        const selection = asked ? resolveSelection(config.profiles, user, asked) : null;
        const current = directory.status(user.name);
        const switching = selection !== null && JSON.stringify(current.profile) !== JSON.stringify(selection);
        if (switching && (current.state === 'ready' || current.state === 'starting')) {
          // The berth is made again from the new template at its start; the home stays.
          await directory.stop(user.name, `switching to the profile ${selection.profile}`);
        }
        const address = remoteAddress(req);
        directory.start(user.name, 'api', { ...(asked ? { choice: asked } : {}), groups: user.groups, ...(address ? { remoteAddress: address } : {}) });
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
    {
      method: 'GET',
      path: '/_berth/api/me/profiles',
      access: 'user',
      handler: ({ res, user }) =>
        sendJson(res, 200, {
          profiles: visibleProfiles(config.profiles, user).map(profileView),
          current: directory.status(user.name).profile,
        }),
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

/** What a person sees of a profile: its names and choices, never who else may use it or what it overrides. */
function profileView(profile: Config['profiles'][number]) {
  return {
    slug: profile.slug,
    displayName: profile.displayName,
    description: profile.description,
    default: profile.default,
    options: profile.options.map((o) => ({
      slug: o.slug,
      displayName: o.displayName,
      choices: o.choices.map((c) => ({ slug: c.slug, displayName: c.displayName, description: c.description, default: c.default })),
    })),
  };
}

function remoteAddress(req: IncomingMessage): string | undefined {
  const { remoteAddress: address, remotePort: port } = req.socket;
  return address === undefined || port === undefined ? undefined : joinHostPort(address, port);
}
