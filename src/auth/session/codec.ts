import { z } from 'zod';
import { equalText, hmac } from '../crypto.js';

/** What a session cookie says, times in seconds since the epoch. */
export interface SessionClaims {
  id: string;
  name: string;
  email?: string;
  groups: string[];
  issuedAt: number;
  expiresAt: number;
}

// Short keys: the cookie travels with every request, and browsers drop any over 4 KiB.
const wire = z.object({
  sid: z.string(),
  sub: z.string(),
  em: z.string().optional(),
  grp: z.array(z.string()),
  iat: z.number().int(),
  exp: z.number().int(),
});

// "v1.<payload>.<mac>", base64url; the version lets the format change without misreading old cookies.
const VERSION = 'v1';
const SHAPE = /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/;

export type DecodeResult = { claims: SessionClaims } | { problem: 'malformed' | 'bad signature' | 'expired' };

export function encodeSession(key: Buffer, claims: SessionClaims): string {
  const body: z.input<typeof wire> = {
    sid: claims.id,
    sub: claims.name,
    em: claims.email,
    grp: claims.groups,
    iat: claims.issuedAt,
    exp: claims.expiresAt,
  };
  const signed = `${VERSION}.${Buffer.from(JSON.stringify(body), 'utf8').toString('base64url')}`;
  return `${signed}.${hmac(key, signed).toString('base64url')}`;
}

export function decodeSession(key: Buffer, value: string, nowSeconds: number): DecodeResult {
  if (!SHAPE.test(value)) return { problem: 'malformed' };
  const cut = value.lastIndexOf('.');
  const signed = value.slice(0, cut);
  if (!equalText(hmac(key, signed).toString('base64url'), value.slice(cut + 1))) return { problem: 'bad signature' };
  let parsed: z.output<typeof wire>;
  try {
    parsed = wire.parse(JSON.parse(Buffer.from(signed.slice(VERSION.length + 1), 'base64url').toString('utf8')));
  } catch {
    return { problem: 'malformed' };
  }
  if (parsed.exp <= nowSeconds) return { problem: 'expired' };
  return {
    claims: {
      id: parsed.sid,
      name: parsed.sub,
      ...(parsed.em === undefined ? {} : { email: parsed.em }),
      groups: parsed.grp,
      issuedAt: parsed.iat,
      expiresAt: parsed.exp,
    },
  };
}
