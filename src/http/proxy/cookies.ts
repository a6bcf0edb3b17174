/**
 * Removes the named cookies from one Cookie header value ("a=1; b=2").
 * Returns the value unchanged (same string, no allocation) when none of the
 * names occurs in it, which is the common case on the hot path, and '' when
 * every cookie was removed so the caller can drop the header.
 * Cookie names are case-sensitive (RFC 6265 §5.4), so no folding here.
 */
export function removeCookies(value: string, names: ReadonlySet<string>): string {
  if (!mentionsAny(value, names)) return value;
  let kept = '';
  for (const pair of value.split(';')) {
    const trimmed = pair.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    // A pair without '=' is a nameless value to browsers: nothing of ours.
    const name = eq === -1 ? '' : trimmed.slice(0, eq).trimEnd();
    if (names.has(name)) continue;
    kept = kept === '' ? trimmed : `${kept}; ${trimmed}`;
  }
  return kept;
}

function mentionsAny(value: string, names: ReadonlySet<string>): boolean {
  for (const name of names) if (value.includes(name)) return true;
  return false;
}

/**
 * What a berth's Set-Cookie may do, built once at start-up: a berth must
 * never set, replace or clear one of the gateway's cookies, and (unless the
 * operator allows it) never set a cookie for a whole domain, which a browser
 * would send to every other user's app host and, under a shared parent
 * domain, to the gateway (cookie tossing, session fixation).
 */
export interface BerthCookieRules {
  /** Whether a cookie name is, or could pass for, one of the gateway's. */
  readonly reserved: (name: string) => boolean;
  /** apps.allowDomainCookies: keep the Domain attribute as the berth sent it. */
  readonly allowDomain: boolean;
}

/**
 * The name a browser files a Set-Cookie line under (RFC 6265bis §5.6): the
 * text before the first '=' of the part before the first ';', trimmed. A
 * cookie without a name ("=berth_session=x", or no '=' at all) is sent back
 * as its bare value, which the gateway would read as a cookie named by the
 * value's own text before '=': that is the name it goes by.
 */
export function setCookieName(line: string): string {
  const semicolon = line.indexOf(';');
  const pair = semicolon === -1 ? line : line.slice(0, semicolon);
  const eq = pair.indexOf('=');
  const name = eq === -1 ? '' : pair.slice(0, eq).trim();
  if (name !== '') return name;
  const value = pair.slice(eq + 1).trim();
  const inner = value.indexOf('=');
  return (inner === -1 ? value : value.slice(0, inner)).trim();
}

/**
 * A berth's Clear-Site-Data less what would clear cookies: browsers apply
 * "cookies" (and "*", which includes it) to the whole registrable domain,
 * so any app host would sign its visitor out of the gateway and of every
 * other app host. The origin's own types ("cache", "storage",
 * "executionContexts", ...) are kept; `kept` is null when none is left.
 */
export function withoutCookieClearing(value: string): { kept: string | null; dropped: boolean } {
  const types = value.split(',').map((type) => type.trim()).filter((type) => type !== '');
  const kept = types.filter((type) => !CLEARS_COOKIES.has(type.toLowerCase()));
  return { kept: kept.length === 0 ? null : kept.join(', '), dropped: kept.length < types.length };
}

const CLEARS_COOKIES = new Set(['"cookies"', '"*"']);

// Cheap first look, so a Set-Cookie without the attribute is passed on as the same string.
const MENTIONS_DOMAIN = /;\s*domain\s*(?:=|;|$)/i;

/**
 * One Set-Cookie line of a berth's response as the browser receives it: null
 * when it names a gateway cookie (dropped), else the line less any Domain
 * attribute (so the cookie is host-only: sent back to the host that set it
 * and no other), every other attribute and byte kept as the berth sent it.
 * Attribute names match in any case and with any spacing, as browsers read them.
 */
export function rewriteSetCookie(line: string, rules: BerthCookieRules): string | null {
  if (rules.reserved(setCookieName(line))) return null;
  if (rules.allowDomain || !MENTIONS_DOMAIN.test(line)) return line;
  const parts = line.split(';');
  let kept = parts[0] as string;
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i] as string;
    const eq = part.indexOf('=');
    if ((eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase() === 'domain') continue;
    kept += `;${part}`;
  }
  return kept;
}
