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
