import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BerthError } from '../../core/errors.js';
import type { Logger } from '../../log/logger.js';
import { readCookie, setCookie } from '../cookies.js';
import { LOGIN_PATH } from '../paths.js';
import type { Authenticated, Challenge } from '../types.js';
import { decodeSession, encodeSession, type SessionClaims } from './codec.js';

// Browsers silently drop larger cookies, which would look like a sign-in loop.
const MAX_COOKIE_BYTES = 4000;

export interface SessionsOptions {
  key: Buffer;
  lifetimeSeconds: number;
  /** True when publicUrl is https. */
  secure: boolean;
  isAdmin: (name: string, groups: readonly string[]) => boolean;
  logger: Logger;
  now?: () => number;
}

export interface Identity {
  name: string;
  email?: string;
  groups: string[];
}

/** Told of a completed sign-in, with where the browser goes next. */
export type SignInListener = (identity: Identity, landing: string) => void;

/** Signed session cookies: issued by a login page, read on every request. */
export class Sessions {
  private readonly now: () => number;
  private readonly issuedListeners = new Set<SignInListener>();

  constructor(private readonly options: SessionsOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The signed-in user, or null when no session cookie is present and valid (absent, tampered with, expired or malformed). */
  read(req: IncomingMessage): Authenticated | null {
    return this.lookup(req).value;
  }

  /**
   * The sign-in, or the challenge to sign in (dev and oidc modes). A session
   * cookie that is present but no good is cleared with the challenge's
   * answer, so the browser stops sending it.
   */
  authenticate(req: IncomingMessage): Authenticated | { challenge: Challenge } {
    const { value, present } = this.lookup(req);
    if (value !== null) return value;
    return {
      challenge: {
        loginPath: LOGIN_PATH,
        error: new BerthError({ code: 'unauthenticated', userMessage: `Sign in first at ${LOGIN_PATH}.` }),
        ...(present ? { clearStale: (res: ServerResponse) => this.clear(res) } : {}),
      },
    };
  }

  private lookup(req: IncomingMessage): ReturnType<typeof readCookie<Authenticated>> {
    return readCookie(req, 'session', this.options.secure, this.accept);
  }

  /** Made once: every signed-in request asks. */
  private readonly accept = (value: string): Authenticated | null => {
    const decoded = decodeSession(this.options.key, value, this.nowSeconds());
    if ('claims' in decoded) return this.signedIn(decoded.claims);
    this.options.logger.debug({ problem: decoded.problem }, 'session cookie ignored');
    return null;
  };

  private signedIn(claims: SessionClaims): Authenticated {
    return {
      user: {
        name: claims.name,
        ...(claims.email === undefined ? {} : { email: claims.email }),
        groups: claims.groups,
        admin: this.options.isAdmin(claims.name, claims.groups),
      },
      sessionId: claims.id,
      browser: true,
    };
  }

  /** `landing` is where the browser goes next (a safe path on the gateway), for the sign-in listeners. */
  issue(res: ServerResponse, identity: Identity, landing: string): void {
    const issuedAt = this.nowSeconds();
    const value = encodeSession(this.options.key, {
      id: randomBytes(16).toString('base64url'),
      ...identity,
      issuedAt,
      expiresAt: issuedAt + this.options.lifetimeSeconds,
    });
    if (value.length > MAX_COOKIE_BYTES) {
      throw new BerthError({
        code: 'internal',
        userMessage: 'Your sign-in carries too much information (many groups?) to fit in a cookie; ask the operator to narrow it.',
        logMessage: `session cookie for ${identity.name} would be ${value.length} bytes with ${identity.groups.length} groups`,
      });
    }
    setCookie(res, { kind: 'session', value, maxAgeSeconds: this.options.lifetimeSeconds, secure: this.options.secure });
    for (const listener of this.issuedListeners) {
      try {
        listener(identity, landing);
      } catch (err) {
        this.options.logger.error({ err, user: identity.name }, 'a sign-in listener failed');
      }
    }
  }

  /** Called on every completed sign-in (each mode's login issues its session here), once the cookie is set. */
  onIssued(listener: SignInListener): void {
    this.issuedListeners.add(listener);
  }

  clear(res: ServerResponse): void {
    setCookie(res, { kind: 'session', value: '', maxAgeSeconds: 0, secure: this.options.secure });
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }
}
