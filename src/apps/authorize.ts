import { BerthError } from '../core/errors.js';
import type { Config } from '../config/schema.js';
import { redirect } from '../http/respond.js';
import type { Route } from '../http/routes.js';
import type { BerthDirectory } from '../spawner/types.js';
import type { Store } from '../store/store.js';
import { ownerOf, verdict } from './access.js';
import { AUTHORIZE_PATH, CALLBACK_PATH } from './appHosts.js';
import type { HandOffCodes } from './codes.js';
import { appOrigin } from './hostLabel.js';
import { checkRedirectTarget } from './redirectTarget.js';

/**
 * GET /_berth/apps/authorize?next=<absolute URL>: the gateway's half of the
 * sign-in hand-off. The visitor is signed in on the gateway (else the router
 * sent them to log in first, coming back here); if they may see the app host
 * named by `next`, they go on to its callback with a one-time code for that
 * host. `next` must be on the apps domain or the gateway itself.
 */
export function authorizeRoute(deps: { config: Config; directory: BerthDirectory; store: Store; codes: HandOffCodes }): Route {
  const { config, directory, store, codes } = deps;
  return {
    method: 'GET',
    path: AUTHORIZE_PATH,
    access: 'user',
    handler: async ({ res, url, user }) => {
      const target = checkRedirectTarget(url.searchParams.get('next'), config.publicUrl, config.apps.domain);
      if (target === null) {
        throw new BerthError({
          code: 'bad_request',
          userMessage: `The gateway only sends you on to its own pages or to app addresses under ${config.apps.domain ?? 'the apps domain'}; open the app's address again.`,
          logMessage: 'sign-in hand-off to a refused target',
        });
      }
      await store.rememberUser(user.name);
      if (target.kind === 'gateway') return redirect(res, target.url.href, 303);
      const { app } = target;
      const owner = await ownerOf(app.safeName, directory, store);
      if (owner === null) throw new BerthError({ code: 'not_found', userMessage: `No app answers at ${app.host}.` });
      const share = await store.share(owner, app.port);
      if (verdict(share, owner, user.name) !== 'allowed') {
        throw new BerthError({
          code: 'forbidden',
          userMessage: `${app.host} is private to its owner; ask them to share port ${app.port} with signed-in users.`,
          logMessage: `${user.name} may not visit ${app.host} (share ${share})`,
        });
      }
      const code = await codes.issue(user.name, app.host);
      const next = encodeURIComponent(target.url.pathname + target.url.search);
      redirect(res, `${appOrigin(config.publicUrl, app.host)}${CALLBACK_PATH}?code=${code}&next=${next}`, 303);
    },
  };
}
