import type { IncomingMessage, ServerResponse } from 'node:http';
import { headerValues } from '../http/headerValues.js';

/**
 * Every cookie the gateway sets, by purpose: its session, the OpenID Connect
 * sign-in in progress, the app hosts' sign-in. setCookie() takes only these,
 * so the proxy's rules (never forward them to a berth, never let a berth set
 * them) cover any cookie added here later.
 */
export const GATEWAY_COOKIES = {
  session: 'berth_session',
  oidcFlow: 'berth_oidc',
  app: 'berth_app',
} as const;

export type GatewayCookieKind = keyof typeof GATEWAY_COOKIES;

/**
 * Browsers accept a __Host- cookie only with Secure, Path=/ and no Domain,
 * and only from that host over https: no sibling host (an app host under a
 * shared parent domain) can set or shadow it.
 */
const HOST_PREFIX = '__Host-';
const PREFIXES = /^__(?:host|secure)-/i;

/** The name a gateway cookie goes by: with the __Host- prefix when the gateway is served over https. */
export function gatewayCookieName(kind: GatewayCookieKind, secure: boolean): string {
  return secure ? `${HOST_PREFIX}${GATEWAY_COOKIES[kind]}` : GATEWAY_COOKIES[kind];
}

/** Every name a gateway cookie goes by, over http or https: what the proxy removes from the Cookie header a berth receives. */
export const GATEWAY_COOKIE_NAMES: readonly string[] = Object.values(GATEWAY_COOKIES).flatMap((name) => [name, `${HOST_PREFIX}${name}`]);

const GATEWAY_BASE_NAMES = new Set<string>(Object.values(GATEWAY_COOKIES));

/**
 * Whether a cookie name is, or could pass for, one of the gateway's: in any
 * case and with or without a __Host- or __Secure- prefix (browsers match
 * prefixes in any case). Used on what berths set, where refusing a lookalike
 * costs nothing and missing one could shadow the gateway's cookie.
 */
export function isGatewayCookieName(name: string): boolean {
  return GATEWAY_BASE_NAMES.has(name.trim().replace(PREFIXES, '').toLowerCase());
}

/**
 * The first value of that gateway cookie that `accept` makes something of, trying
 * each in the order sent: browsers send the most specific (longest path)
 * first, and a stale or planted cookie of the same name sent before the
 * gateway's own must not hide it (that would be a sign-in loop). `present`
 * says whether the request carried the cookie at all, so a caller can clear
 * one that is no longer any good. Read from the raw headers, because every
 * signed-in request asks.
 */
export function readCookie<T>(
  req: IncomingMessage,
  kind: GatewayCookieKind,
  secure: boolean,
  accept: (value: string) => T | null,
): { value: T; present: true } | { value: null; present: boolean } {
  const name = gatewayCookieName(kind, secure);
  let present = false;
  for (const header of headerValues(req, 'cookie') ?? []) {
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
      present = true;
      const value = accept(part.slice(eq + 1).trim());
      if (value !== null) return { value, present };
    }
  }
  return { value: null, present };
}

export interface GatewayCookie {
  kind: GatewayCookieKind;
  /** Only cookie-safe characters; the gateway's values are base64url. */
  value: string;
  /** 0 deletes the cookie. */
  maxAgeSeconds: number;
  /** True when publicUrl is https: the cookie is then Secure and __Host- prefixed. */
  secure: boolean;
}

/**
 * Every gateway cookie is HttpOnly (no script reads it), SameSite=Lax (not
 * sent on cross-site POSTs or subresources), host-only (no Domain) and for
 * the whole gateway.
 */
export function setCookie(res: ServerResponse, cookie: GatewayCookie): void {
  const parts = [`${gatewayCookieName(cookie.kind, cookie.secure)}=${cookie.value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${cookie.maxAgeSeconds}`];
  if (cookie.secure) parts.push('Secure');
  const existing = res.getHeader('set-cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('set-cookie', [...list, parts.join('; ')]);
}
