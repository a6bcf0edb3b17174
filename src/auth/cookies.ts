import type { IncomingMessage, ServerResponse } from 'node:http';
import { headerValues } from '../http/headerValues.js';

/**
 * The first cookie of that name: browsers send the most specific (longest
 * path) first. Read from the raw headers, because every signed-in request asks.
 */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const header of headerValues(req, 'cookie') ?? []) {
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
    }
  }
  return undefined;
}

export interface GatewayCookie {
  name: string;
  /** Only cookie-safe characters; the gateway's values are base64url. */
  value: string;
  /** 0 deletes the cookie. */
  maxAgeSeconds: number;
  secure: boolean;
}

/**
 * Every gateway cookie is HttpOnly (no script reads it), SameSite=Lax (not
 * sent on cross-site POSTs or subresources) and for the whole gateway.
 */
export function setCookie(res: ServerResponse, cookie: GatewayCookie): void {
  const parts = [`${cookie.name}=${cookie.value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${cookie.maxAgeSeconds}`];
  if (cookie.secure) parts.push('Secure');
  const existing = res.getHeader('set-cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('set-cookie', [...list, parts.join('; ')]);
}
