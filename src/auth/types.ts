import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditRecorder } from '../audit/kinds.js';
import type { Config } from '../config/schema.js';
import type { BerthError } from '../core/errors.js';
import type { User } from '../core/user.js';
import type { Logger } from '../log/logger.js';
import type { Sessions } from './session/sessions.js';

export type AuthMode = Config['auth']['mode'];

/** A request whose sender is known. */
export interface Authenticated {
  user: User;
  /**
   * Names this sign-in (a cookie session, a header-mode user, later a token),
   * so CSRF tokens can be bound to it. Not a secret.
   */
  sessionId: string;
  /**
   * True when the gateway's own session cookie carried the sign-in, i.e. a
   * browser: its state-changing requests must then carry the CSRF token too
   * (see auth/csrf/request.ts), not only come from the gateway's origin.
   */
  browser?: boolean;
}

/**
 * The request carries no credentials this authenticator understands. The
 * router sends an HTML navigation to `loginPath` (with `next`, see
 * loginLocation) when there is one, and answers everything else with
 * `error` (401, its userMessage says what to do).
 */
export interface Challenge {
  /** Null when sign-in happens elsewhere (header mode: the auth proxy in front). */
  loginPath: string | null;
  error: BerthError;
  /**
   * Present when the request carried this mode's cookie but none of its
   * values is valid any more: the router calls it on the response it answers
   * with, so the browser stops sending the stale cookie.
   */
  clearStale?: (res: ServerResponse) => void;
}

/**
 * `challenge` means "nothing of mine here", `refused` means "credentials were
 * present and are wrong or not to be believed" (answer `refused.status`, never
 * a login redirect). That split lets a later authenticator (API tokens) be
 * tried first and fall through to the mode's own on a challenge.
 */
export type AuthResult = Authenticated | { challenge: Challenge } | { refused: BerthError };

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface Authenticator {
  readonly mode: AuthMode;
  /** Never throws for anything a client sends; reads the request headers only. */
  authenticate(req: IncomingMessage): Promise<AuthResult>;
  /**
   * Gateway pages of this mode by exact pathname (dev: login and logout; oidc
   * adds its callback). Mounted before authentication; they do their own
   * origin checks and throw BerthError for refusals.
   */
  readonly routes: ReadonlyMap<string, RouteHandler>;
}

/** What every mode's factory receives from the registry. */
export interface AuthContext {
  config: Config;
  logger: Logger;
  sessions: Sessions;
  isAdmin: (name: string, groups?: readonly string[]) => boolean;
  /** A key for one purpose, derived from the session secret (see crypto.ts deriveKey). */
  keyFor: (purpose: string) => Buffer;
  /** Whether a peer address is one of the runtime's berths (Runtime.isBerthAddress): never a trusted proxy. */
  isBerthAddress: (address: string | undefined) => boolean;
  /** Where sign-ins, sign-outs and refused sign-ins are recorded. */
  audit: AuditRecorder;
}
