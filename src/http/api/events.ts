import type { Store } from '../../store/store.js';
import { sendJson } from '../respond.js';
import type { Route } from '../routes.js';

/** How many of the user's events the dashboard shows. */
const RECENT = 20;

/** GET /_berth/api/me/events: the signed-in user's recent berth events (started, failed, stopped), newest first. */
export function eventRoutes(store: Store): Route[] {
  return [
    {
      method: 'GET',
      path: '/_berth/api/me/events',
      access: 'user',
      handler: async ({ res, user }) => {
        const events = await store.recentEvents(user.name, RECENT);
        sendJson(res, 200, { events: events.map((e) => ({ at: new Date(e.at).toISOString(), kind: e.kind, message: e.message })) });
      },
    },
  ];
}
