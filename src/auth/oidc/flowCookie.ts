import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { readCookie, setCookie } from '../cookies.js';
import { equalText, hmac } from '../crypto.js';

/** Long enough to type a password and answer a second factor, short enough that a stale one is useless. */
export const FLOW_SECONDS = 600;

/** One sign-in in progress: what the callback must find again, bound to this browser. */
export interface Flow {
  state: string;
  nonce: string;
  codeVerifier: string;
  next: string;
}

const wire = z.object({ s: z.string(), n: z.string(), v: z.string(), x: z.string(), exp: z.number().int() });

/**
 * The flow travels in a signed, HttpOnly, SameSite=Lax cookie rather than
 * server memory, so any gateway behind a load balancer can finish it and a
 * restart does not break a sign-in in progress. The PKCE verifier in it is
 * useless without the code, which only the provider's redirect carries.
 */
export class FlowCookies {
  constructor(
    private readonly key: Buffer,
    private readonly secure: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  set(res: ServerResponse, flow: Flow): void {
    const body = { s: flow.state, n: flow.nonce, v: flow.codeVerifier, x: flow.next, exp: this.nowSeconds() + FLOW_SECONDS };
    const payload = Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
    const value = `${payload}.${hmac(this.key, payload).toString('base64url')}`;
    setCookie(res, { kind: 'oidcFlow', value, maxAgeSeconds: FLOW_SECONDS, secure: this.secure });
  }

  /** The flow this browser started, or null when absent, forged or expired. */
  read(req: IncomingMessage): Flow | null {
    return readCookie(req, 'oidcFlow', this.secure, (value) => this.decode(value)).value;
  }

  private decode(value: string): Flow | null {
    const dot = value.indexOf('.');
    if (dot <= 0) return null;
    const payload = value.slice(0, dot);
    if (!equalText(hmac(this.key, payload).toString('base64url'), value.slice(dot + 1))) return null;
    try {
      const parsed = wire.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
      if (parsed.exp <= this.nowSeconds()) return null;
      return { state: parsed.s, nonce: parsed.n, codeVerifier: parsed.v, next: parsed.x };
    } catch {
      return null;
    }
  }

  /** A flow is good for one callback: cleared before the code is even tried. */
  clear(res: ServerResponse): void {
    setCookie(res, { kind: 'oidcFlow', value: '', maxAgeSeconds: 0, secure: this.secure });
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }
}
