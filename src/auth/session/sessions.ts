import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BerthError } from '../../core/errors.js';
import type { Logger } from '../../log/logger.js';
import { readCookie, setCookie } from '../cookies.js';
import type { Authenticated } from '../types.js';
import { decodeSession, encodeSession } from './codec.js';

export const SESSION_COOKIE = 'berth_session';

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

/** Signed session cookies: issued by a login page, read on every request. */
export class Sessions {
  private readonly now: () => number;

  constructor(private readonly options: SessionsOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The signed-in user, or null when the cookie is absent, tampered with, expired or malformed. */
  read(req: IncomingMessage): Authenticated | null {
    const value = readCookie(req, SESSION_COOKIE);
    if (value === undefined) return null;
    const decoded = decodeSession(this.options.key, value, this.nowSeconds());
    if ('problem' in decoded) {
      this.options.logger.debug({ problem: decoded.problem }, 'session cookie ignored');
      return null;
    }
    const { claims } = decoded;
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

  issue(res: ServerResponse, identity: Identity): void {
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
    setCookie(res, { name: SESSION_COOKIE, value, maxAgeSeconds: this.options.lifetimeSeconds, secure: this.options.secure });
  }

  clear(res: ServerResponse): void {
    setCookie(res, { name: SESSION_COOKIE, value: '', maxAgeSeconds: 0, secure: this.options.secure });
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }
}
