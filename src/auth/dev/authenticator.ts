import { LOGIN_PATH, LOGOUT_PATH } from '../paths.js';
import type { AuthContext, Authenticator } from '../types.js';
import { assertDevModeAllowed } from './guard.js';
import { devLogin, devLogout } from './handlers.js';

/** auth.mode "dev": a username form, no password, for one's own machine; throws at start-up beyond loopback. */
export function createDevAuthenticator({ config, logger, sessions, audit }: AuthContext): Authenticator {
  assertDevModeAllowed(config);
  const routes = { config, sessions, logger, audit };
  return {
    mode: 'dev',
    routes: new Map([
      [LOGIN_PATH, devLogin(routes)],
      [LOGOUT_PATH, devLogout(routes)],
    ]),
    async authenticate(req) {
      return sessions.authenticate(req);
    },
  };
}
