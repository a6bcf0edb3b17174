/**
 * Query parameters of a request target ("/path?a=1&b=2"), read as
 * URLSearchParams and web frameworks read them: keys percent-decoded, '+' as
 * a space. Used to keep secrets (?berth_token=) out of what a berth or a log
 * receives, so a key spelled "berth%5Ftoken" counts as "berth_token".
 */

function keyOf(part: string): string {
  const key = part.split('=', 1)[0] as string;
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}

/**
 * Whether the target's query has a parameter `name`. Costs one indexOf on a
 * target without a query, the common case on the proxy's path.
 */
export function hasQueryParameter(target: string | undefined, name: string): boolean {
  if (target === undefined) return false;
  const q = target.indexOf('?');
  if (q === -1) return false;
  const query = target.slice(q + 1);
  // Without the name or any escape in it, no key can decode to the name.
  if (!query.includes(name) && !query.includes('%') && !query.includes('+')) return false;
  return query.split('&').some((part) => keyOf(part) === name);
}

/** The request target without one query parameter, every other byte of it kept as sent. */
export function withoutQueryParameter(target: string, name: string): string {
  const q = target.indexOf('?');
  if (q === -1) return target;
  const kept = target
    .slice(q + 1)
    .split('&')
    .filter((part) => part !== '' && keyOf(part) !== name);
  return kept.length === 0 ? target.slice(0, q) : `${target.slice(0, q)}?${kept.join('&')}`;
}
