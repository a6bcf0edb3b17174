const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A header value as text. Node's HTTP parser hands header bytes over as
 * Latin-1 (one character per byte); what auth proxies send in identity
 * headers is UTF-8 (oauth2-proxy, mod_auth_openidc, Traefik), so the bytes are
 * decoded again, strictly: overlong forms, surrogate halves and stray bytes are
 * not UTF-8 and give null rather than a guess. Plain ASCII, the usual case, is
 * returned as it is.
 */
export function headerUtf8(value: string): string | null {
  let ascii = true;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    // Above 0xFF it cannot have come from the wire as one byte.
    if (code > 0xff) return null;
    if (code > 0x7f) ascii = false;
  }
  if (ascii) return value;
  try {
    return utf8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return null;
  }
}
