import { BerthError } from '../../core/errors.js';
import { LOGIN_PATH, LOGOUT_PATH } from '../paths.js';
import type { AuthContext, Authenticator } from '../types.js';
import { accessCheck } from './claims.js';
import { FlowCookies } from './flowCookie.js';
import { oidcCallback, oidcLogin, oidcLogout } from './handlers.js';
import { ProviderConnection } from './provider.js';
import { CALLBACK_PATH, oidcSettings } from './settings.js';
import { servesHttps } from '../../config/publicUrl.js';

/**
 * auth.mode "oidc": Berth is an OpenID Connect relying party (authorization
 * code flow with PKCE). The provider vouches for the user once; after that
 * the gateway's own signed session cookie carries the sign-in, exactly as in
 * dev mode. Throws config_invalid at start-up for a configuration that cannot
 * work; a provider that cannot be reached only makes the login page say so.
 */
export function createOidcAuthenticator({ config, logger, sessions, keyFor, audit }: AuthContext): Authenticator {
  const settings = oidcSettings(config);
  const provider = new ProviderConnection(settings, logger);
  void provider.start();
  const flows = new FlowCookies(keyFor('oidc-flow'), servesHttps(config));
  const options = { config, settings, provider, flows, sessions, logger, audit };
  const allowed = accessCheck(config);
  return {
    mode: 'oidc',
    routes: new Map([
      [LOGIN_PATH, oidcLogin(options)],
      [CALLBACK_PATH, oidcCallback(options)],
      [LOGOUT_PATH, oidcLogout(options)],
    ]),
    async authenticate(req) {
      const session = sessions.authenticate(req);
      if ('challenge' in session) return session;
      // The allowlist is checked on every request too, so narrowing it takes effect without waiting for cookies to expire.
      if (!allowed(session.user)) {
        return {
          refused: new BerthError({
            code: 'forbidden',
            userMessage: `You are signed in as ${session.user.name}, but this Berth is open only to some users and groups. Ask the operator for access, or sign out at ${LOGOUT_PATH}.`,
            logMessage: `${session.user.name} is no longer in auth.oidc.allowedUsers or allowedGroups`,
          }),
        };
      }
      return session;
    },
  };
}
