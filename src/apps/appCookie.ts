import type { IncomingMessage, ServerResponse } from 'node:http';
import { readCookie, setCookie } from '../auth/cookies.js';
import { hmac } from '../auth/crypto.js';
import { decodeSession, encodeSession } from '../auth/session/codec.js';
import type { StoredToken } from '../store/store.js';

const TOKEN_MARK = '#';

export interface AppVisitor {
  name: string;
  /** The token the cookie was made from (`?berth_token=`), or null for a sign-in through the gateway. */
  tokenId: string | null;
}

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

  /**
   * Signs `user` in on `host` for the cookie lifetime. A cookie made from a
   * token ends with the token's expiry when that comes first, and names the
   * token so that the visitor is checked against it (revocation) on every use.
   */
  issue(res: ServerResponse, host: string, user: string, token: Pick<StoredToken, 'id' | 'expiresAt'> | null = null): void {
    const issuedAt = Math.floor(this.now() / 1000);
    const untilMs = token?.expiresAt ?? null;
    const lifetime = untilMs === null ? this.options.lifetimeSeconds : Math.min(this.options.lifetimeSeconds, Math.floor(untilMs / 1000) - issuedAt);
    // The session id field names the host, and after TOKEN_MARK the token: neither a host name nor a token id has that character.
    const id = token === null ? host : `${host}${TOKEN_MARK}${token.id}`;
    const value = encodeSession(this.keyFor(host), { id, name: user, groups: [], issuedAt, expiresAt: issuedAt + lifetime });
    setCookie(res, { kind: 'app', value, maxAgeSeconds: lifetime, secure: this.options.secure });
  }

  /** The visitor this host's cookie names and the token it came from, or null (absent, forged, expired, or made for another host). */
  read(req: IncomingMessage, host: string): AppVisitor | null {
    return readCookie(req, 'app', this.options.secure, (value) => this.decode(value, host)).value;
  }

  private decode(value: string, host: string): AppVisitor | null {
    const decoded = decodeSession(this.keyFor(host), value, Math.floor(this.now() / 1000));
    if (!('claims' in decoded)) return null;
    const { id, name } = decoded.claims;
    const mark = id.indexOf(TOKEN_MARK);
    if ((mark === -1 ? id : id.slice(0, mark)) !== host) return null;
    return { name, tokenId: mark === -1 ? null : id.slice(mark + 1) };
  }

  private keyFor(host: string): Buffer {
    return hmac(this.options.key, `host/${host}`);
  }
}
