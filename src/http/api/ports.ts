import { SHARE_LEVELS } from '../../apps/access.js';
import { NO_AUDIT, type AuditRecorder } from '../../audit/kinds.js';
import { appHostName, appOrigin } from '../../apps/hostLabel.js';
import type { Config } from '../../config/schema.js';
import { BerthError } from '../../core/errors.js';
import { safeName } from '../../core/safeName.js';
import type { ListeningPort } from '../../runtime/types.js';
import type { BerthDirectory } from '../../spawner/types.js';
import type { ShareLevel, Store } from '../../store/store.js';
import { readJsonBody, sendJson } from '../respond.js';
import type { Route } from '../routes.js';
import { requester } from './requester.js';

const PATH = '/_berth/api/me/ports';

/**
 * The signed-in user's ports: GET lists the TCP ports listening in the berth
 * (read live from the berth, nothing started; those bound only to the
 * berth's loopback marked, and why when this gateway cannot reach them) and
 * every port shared beyond its owner; PUT /<port> {"share": …} sets a port's share level.
 */
export function portRoutes(config: Config, directory: BerthDirectory, store: Store, audit: AuditRecorder = NO_AUDIT): Route[] {
  const urlOf = (user: string, port: number): string | null =>
    config.apps.domain === null ? null : `${appOrigin(config.publicUrl, appHostName(safeName(user), port, config.apps.domain))}/`;
  return [
    {
      method: 'GET',
      path: PATH,
      access: 'user',
      handler: async ({ res, user }) => {
        const [listening, shares] = await Promise.all([
          directory.readyTarget(user.name) === null ? Promise.resolve<ListeningPort[]>([]) : directory.listening(user.name),
          store.listShares(user.name),
        ]);
        const live = new Map(listening.map((listener) => [listener.port, listener]));
        const ports = [...new Set([...live.keys(), ...shares.keys()])].sort((a, b) => a - b);
        sendJson(res, 200, {
          ports: ports.map((port) => {
            const listener = live.get(port);
            return {
              port,
              url: urlOf(user.name, port),
              share: shares.get(port) ?? 'owner',
              listening: listener !== undefined,
              loopbackOnly: listener?.loopbackOnly ?? false,
              ...(listener?.unreachable === undefined ? {} : { unreachable: listener.unreachable }),
            };
          }),
        });
      },
    },
    {
      method: 'PUT',
      path: `${PATH}/:port`,
      access: 'user',
      handler: async (context) => {
        const { req, res, user, params } = context;
        const port = /^[1-9][0-9]{0,4}$/.test(params.port as string) ? Number(params.port) : NaN;
        if (!(port >= 1 && port <= 65535)) {
          throw new BerthError({ code: 'bad_request', userMessage: `Name a port from 1 to 65535: PUT ${PATH}/3000.` });
        }
        const body = await readJsonBody(req);
        const share = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).share : undefined;
        if (!SHARE_LEVELS.includes(share as ShareLevel)) {
          throw new BerthError({ code: 'bad_request', userMessage: 'Send {"share": "owner"}, {"share": "users"} (any signed-in user) or {"share": "public"} (anyone).' });
        }
        await store.setShare(user.name, port, share as ShareLevel);
        await store.rememberUser(user.name);
        audit.record({ kind: 'share.changed', ...requester(context), target: user.name, outcome: 'ok', detail: { port, share: share as ShareLevel } });
        sendJson(res, 200, { port, share, url: urlOf(user.name, port) });
      },
    },
  ];
}
