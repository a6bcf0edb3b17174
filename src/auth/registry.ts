import { NO_AUDIT, type AuditRecorder } from '../audit/kinds.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/store.js';
import { adminCheck } from './admins.js';
import { deriveKey } from './crypto.js';
import { createCsrf, type Csrf } from './csrf/token.js';
import { createDevAuthenticator } from './dev/authenticator.js';
import { createHeaderAuthenticator } from './header/authenticator.js';
import { createOidcAuthenticator } from './oidc/authenticator.js';
import { loadSessionSecret } from './session/secret.js';
import { Sessions, type SignInListener } from './session/sessions.js';
import type { AuthContext, AuthMode, Authenticator } from './types.js';
import { servesHttps } from '../config/publicUrl.js';

/** One factory per auth.mode; a new mode is a folder and a line here. */
const modes: Record<AuthMode, (context: AuthContext) => Authenticator> = {
  dev: createDevAuthenticator,
  header: createHeaderAuthenticator,
  oidc: createOidcAuthenticator,
};

export interface Auth {
  authenticator: Authenticator;
  csrf: Csrf;
  /** Signs the app hosts' cookies (src/apps/appCookie.ts); derived, so it can sign nothing else. */
  appKey: Buffer;
  isAdmin: (name: string) => boolean;
  /** Called on every completed sign-in through the gateway's own login (dev, oidc); header mode has none. */
  onSignIn: (listener: SignInListener) => void;
}

/** Without a runtime (tests of auth alone) no address is a berth's. */
const noBerths = (): boolean => false;

/**
 * Builds the configured authenticator at start-up. `isBerthAddress` comes
 * from the runtime: connections from berths are never believed as a proxy.
 * `store` is needed on PostgreSQL, which keeps the session secret. Throws a
 * BerthError (config_invalid) for a configuration that must not serve: dev
 * mode beyond loopback, an incomplete auth.oidc, an unusable session.key.
 */
export async function createAuth(
  config: Config,
  rootLogger: Logger,
  isBerthAddress: AuthContext['isBerthAddress'] = noBerths,
  store?: Store,
  audit: AuditRecorder = NO_AUDIT,
): Promise<Auth> {
  const logger = rootLogger.child({ component: 'auth' });
  const secret = await loadSessionSecret(config, logger, store);
  const isAdmin = adminCheck(config);
  const sessions = new Sessions({
    key: deriveKey(secret, 'session'),
    lifetimeSeconds: config.auth.sessionSeconds,
    secure: servesHttps(config),
    isAdmin,
    logger,
  });
  const keyFor = (purpose: string) => deriveKey(secret, purpose);
  const authenticator = modes[config.auth.mode]({ config, logger, sessions, isAdmin, keyFor, isBerthAddress, audit });
  return {
    authenticator,
    csrf: createCsrf(deriveKey(secret, 'csrf'), config.publicUrl),
    appKey: deriveKey(secret, 'apps'),
    isAdmin,
    onSignIn: (listener) => sessions.onIssued(listener),
  };
}
