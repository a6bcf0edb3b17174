import type { IncomingMessage } from 'node:http';
import type { BerthPort } from '../../runtime/types.js';
import { headerValues } from '../headerValues.js';
import { removeCookies, rewriteSetCookie, setCookieName, withoutCookieClearing, type BerthCookieRules } from './cookies.js';
import type { ForwardOptions } from './options.js';

/**
 * What of the client's request never reaches a berth: the gateway's identity
 * headers and tokens, and its own cookies. Built once at start-up with
 * stripRules() because the proxy consults it on every request.
 */
export interface StripRules {
  /** Lower-case header names. */
  readonly headers: ReadonlySet<string>;
  /** Exact cookie names (cookie names are case-sensitive). */
  readonly cookies: ReadonlySet<string>;
}

export function stripRules(spec: { headers?: readonly string[]; cookies?: readonly string[] }): StripRules {
  return {
    headers: new Set((spec.headers ?? []).map((name) => name.toLowerCase())),
    cookies: new Set(spec.cookies ?? []),
  };
}

export interface ForwardContext {
  /** The scheme the client used to reach the gateway, for X-Forwarded-Proto. */
  scheme: 'http' | 'https';
  strip: StripRules | undefined;
  /** Set after stripping; a client-sent header of the same name is dropped, so these cannot be forged. */
  add: Readonly<Record<string, string>> | undefined;
  /** The berth's port, named in Host (as localhost, which is what the berth's server is to itself) for the rare client that sent none (HTTP/1.0): HTTP/1.1 requires one. */
  target: BerthPort;
}

export interface ForwardedRequest {
  /** Flat [name, value, ...] as undici takes it: no per-header object, duplicates kept. */
  headers: string[];
  /** Whether a body follows the head (so the proxy streams it rather than ending at once). */
  body: boolean;
  /** The protocol the client asked to upgrade to (WebSocket); the upgrade path sends it on with Connection: Upgrade. */
  upgrade: string | undefined;
}

/** A response head as undici parses it: lower-case names, repeated headers as arrays. */
export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection and must not be
 * forwarded; "Proxy" too, since CGI-style backends read it as HTTP_PROXY (httpoxy).
 */
function isHopByHop(key: string): boolean {
  switch (key) {
    case 'connection':
    case 'keep-alive':
    case 'te':
    case 'trailer':
    case 'transfer-encoding':
    case 'upgrade':
    case 'proxy':
      return true;
    default:
      return key.startsWith('proxy-');
  }
}

/**
 * End-to-end headers a sender's Connection header cannot declare hop-by-hop:
 * the berth must get the Host the client asked for and the body's framing,
 * and a client must not strip what a trusted proxy in front or the gateway
 * itself says about the request (X-Forwarded-*, Forwarded, X-Real-IP,
 * X-Berth-*). "Connection: close, Host" is thus only "Connection: close".
 */
function mayBeNamedHopByHop(key: string): boolean {
  switch (key) {
    case 'host':
    case 'content-length':
    case 'transfer-encoding':
    case 'forwarded':
    case 'x-real-ip':
      return false;
    default:
      return !key.startsWith('x-forwarded-') && !key.startsWith('x-berth-');
  }
}

/**
 * Header names Connection values declare hop-by-hop ("Connection: close, X-Foo"),
 * or undefined in the usual case of only keep-alive/close/upgrade. Names that
 * must travel end to end (mayBeNamedHopByHop) are ignored, so a Connection
 * header only ever removes headers that describe one connection.
 */
function connectionNamed(values: readonly string[]): Set<string> | undefined {
  let named: Set<string> | undefined;
  for (const value of values) {
    for (const token of value.split(',')) {
      const key = token.trim().toLowerCase();
      if (key === '' || key === 'close' || key === 'keep-alive' || key === 'upgrade' || !mayBeNamedHopByHop(key)) continue;
      (named ??= new Set()).add(key);
    }
  }
  return named;
}

/** The request head as the berth receives it. */
export function forwardRequestHeaders(req: IncomingMessage, ctx: ForwardContext): ForwardedRequest {
  const raw = req.rawHeaders;
  const connection = headerValues(req, 'connection');
  const named = connection === undefined ? undefined : connectionNamed(connection);
  const stripped = ctx.strip?.headers;
  const cookies = ctx.strip !== undefined && ctx.strip.cookies.size > 0 ? ctx.strip.cookies : undefined;
  const added = ctx.add === undefined ? undefined : Object.keys(ctx.add).map((name) => name.toLowerCase());
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let host: string | undefined;
  let upgrade: string | undefined;
  let chunked = false;
  let length = false;

  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    // CGI-style frameworks (WSGI, Rack, PHP) file X_Forwarded_User under the
    // same key as X-Forwarded-User, and Content_Length beside Content-Length:
    // such names would slip identities, forwarding headers or framing past the
    // rules below, so they are dropped, as nginx and gunicorn do by default.
    if (name.includes('_')) continue;
    let value = raw[i + 1] as string;
    const key = name.toLowerCase();
    if (stripped?.has(key) || named?.has(key) || added?.includes(key)) continue;
    switch (key) {
      case 'host':
        host = value;
        break;
      case 'content-length':
        length = value !== '0';
        break;
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        continue;
      // Set below from what the gateway itself saw; a client's own are not believed.
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
        continue;
      // The body is framed anew towards the berth (chunked when its length is unknown).
      case 'transfer-encoding':
        chunked = true;
        continue;
      // The gateway's server already told the client to go on (100 Continue); the body follows unasked.
      case 'expect':
        continue;
      case 'upgrade':
        upgrade = value;
        continue;
      case 'cookie':
        if (cookies === undefined) break;
        value = removeCookies(value, cookies);
        if (value === '') continue;
        break;
      default:
        if (isHopByHop(key)) continue;
    }
    out.push(name, value);
  }

  const peer = req.socket.remoteAddress;
  if (peer !== undefined) out.push('X-Forwarded-For', forwardedFor === undefined ? peer : `${forwardedFor}, ${peer}`);
  else if (forwardedFor !== undefined) out.push('X-Forwarded-For', forwardedFor);
  out.push('X-Forwarded-Proto', ctx.scheme);
  if (host !== undefined) out.push('X-Forwarded-Host', host);
  else out.push('Host', `localhost:${ctx.target.port}`);
  if (ctx.add !== undefined) for (const name in ctx.add) out.push(name, ctx.add[name] as string);
  return { headers: out, body: chunked || length, upgrade };
}

/**
 * The response head as the client receives it: the berth's headers less the
 * hop-by-hop ones (Node frames the body for the client itself), its
 * Set-Cookie lines put through `opts.cookies` (each stays a line of its own)
 * and, under the same rules, its Clear-Site-Data less clearing cookies.
 * With `upgrade`, Upgrade is kept and the caller adds Connection: Upgrade.
 */
export function forwardResponseHeaders(headers: ResponseHeaders, upgrade: boolean, opts: Pick<ForwardOptions, 'cookies' | 'onDroppedCookie'>): string[] {
  const connection = headers.connection;
  const named = connection === undefined ? undefined : connectionNamed(typeof connection === 'string' ? [connection] : connection);
  const out: string[] = [];
  for (const key in headers) {
    if ((isHopByHop(key) && !(upgrade && key === 'upgrade')) || named?.has(key)) continue;
    const value = headers[key];
    if (value === undefined) continue;
    // Only responses that set cookies pay for the cookie rules.
    if (key === 'set-cookie' && opts.cookies !== undefined) {
      if (typeof value === 'string') pushSetCookie(out, value, opts);
      else for (const line of value) pushSetCookie(out, line, opts);
    } else if (key === 'clear-site-data' && opts.cookies !== undefined) {
      pushClearSiteData(out, typeof value === 'string' ? value : value.join(', '), opts);
    } else if (typeof value === 'string') out.push(key, value);
    else for (const each of value) out.push(key, each);
  }
  return out;
}

function pushClearSiteData(out: string[], value: string, opts: Pick<ForwardOptions, 'onDroppedCookie'>): void {
  const { kept, dropped } = withoutCookieClearing(value);
  if (kept !== null) out.push('clear-site-data', kept);
  if (dropped) opts.onDroppedCookie?.('Clear-Site-Data "cookies"');
}

function pushSetCookie(out: string[], line: string, opts: Pick<ForwardOptions, 'cookies' | 'onDroppedCookie'>): void {
  const kept = rewriteSetCookie(line, opts.cookies as BerthCookieRules);
  if (kept !== null) out.push('set-cookie', kept);
  else opts.onDroppedCookie?.(setCookieName(line));
}
