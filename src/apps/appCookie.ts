import type { IncomingMessage, ServerResponse } from 'node:http';
import { readCookie, setCookie } from '../auth/cookies.js';
import { hmac } from '../auth/crypto.js';
import { decodeSession, encodeSession } from '../auth/session/codec.js';

/** The app hosts' own sign-in cookie: a name distinct from the gateway's, so neither is mistaken for the other. */
export const APP_COOKIE = 'berth_app';

export interface AppCookiesOptions {
  /** deriveKey(secret, 'apps'): app cookies can never pass as gateway sessions or the other way round. */
  key: Buffer;
  lifetimeSeconds: number;
  secure: boolean;
  now?: () => number;
}

/**
 * Signed, host-only cookies naming who visits one app host. Each host signs
 * with its own key (the apps key MACed with the host name), so a cookie set
 * on alice-3000.<domain> is worthless on any other host even if a browser or
 * a person carried it there. HttpOnly, SameSite=Lax, no Domain attribute.
 */
export class AppCookies {
  private readonly now: () => number;

  constructor(private readonly options: AppCookiesOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Signs `user` in on `host` for the cookie lifetime, or until `untilMs` when that comes first (a token's expiry). */
  issue(res: ServerResponse, host: string, user: string, untilMs: number | null = null): void {
    const issuedAt = Math.floor(this.now() / 1000);
    const lifetime = untilMs === null ? this.options.lifetimeSeconds : Math.min(this.options.lifetimeSeconds, Math.floor(untilMs / 1000) - issuedAt);
    const value = encodeSession(this.keyFor(host), { id: host, name: user, groups: [], issuedAt, expiresAt: issuedAt + lifetime });
    setCookie(res, { name: APP_COOKIE, value, maxAgeSeconds: lifetime, secure: this.options.secure });
  }

  /** The visitor this host's cookie names, or null (absent, forged, expired, or made for another host). */
  read(req: IncomingMessage, host: string): string | null {
    const value = readCookie(req, APP_COOKIE);
    if (value === undefined) return null;
    const decoded = decodeSession(this.keyFor(host), value, Math.floor(this.now() / 1000));
    return 'claims' in decoded && decoded.claims.id === host ? decoded.claims.name : null;
  }

  private keyFor(host: string): Buffer {
    return hmac(this.options.key, `host/${host}`);
  }
}
