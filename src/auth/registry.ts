import type { Config } from '../config/schema.js';
import { BerthError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { adminCheck } from './admins.js';
import { deriveKey } from './crypto.js';
import { createCsrf, type Csrf } from './csrf/token.js';
import { createDevAuthenticator } from './dev/authenticator.js';
import { createHeaderAuthenticator } from './header/authenticator.js';
import { loadSessionSecret } from './session/secret.js';
import { Sessions } from './session/sessions.js';
import type { AuthContext, AuthMode, Authenticator } from './types.js';

/** One factory per auth.mode; a new mode is a folder and a line here. */
const modes: Record<AuthMode, (context: AuthContext) => Authenticator> = {
  dev: createDevAuthenticator,
  header: createHeaderAuthenticator,
  oidc: () => {
    throw new BerthError({
      code: 'config_invalid',
      userMessage:
        'auth.mode "oidc" is not available in this version of Berth yet: use "header" behind an auth proxy such as oauth2-proxy, or "dev" on your own machine.',
    });
  },
};

export interface Auth {
  authenticator: Authenticator;
  csrf: Csrf;
  /** Signs the app hosts' cookies (src/apps/appCookie.ts); derived, so it can sign nothing else. */
  appKey: Buffer;
  isAdmin: (name: string) => boolean;
}

/**
 * Builds the configured authenticator at start-up. Throws a BerthError
 * (config_invalid) for a configuration that must not serve: dev mode beyond
 * loopback, a mode not built yet, an unusable session.key.
 */
export async function createAuth(config: Config, rootLogger: Logger): Promise<Auth> {
  const logger = rootLogger.child({ component: 'auth' });
  const secret = await loadSessionSecret(config, logger);
  const isAdmin = adminCheck(config);
  const sessions = new Sessions({
    key: deriveKey(secret, 'session'),
    lifetimeSeconds: config.auth.sessionSeconds,
    secure: new URL(config.publicUrl).protocol === 'https:',
    isAdmin,
    logger,
  });
  const authenticator = modes[config.auth.mode]({ config, logger, sessions, isAdmin });
  return { authenticator, csrf: createCsrf(deriveKey(secret, 'csrf'), config.publicUrl), appKey: deriveKey(secret, 'apps'), isAdmin };
}
