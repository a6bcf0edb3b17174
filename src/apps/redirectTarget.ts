import { UNSAFE_CHARACTERS } from '../auth/next.js';
import { parseAppHost, type AppHost } from './hostLabel.js';

const MAX_LENGTH = 2048;

export type RedirectTarget = { kind: 'gateway'; url: URL } | { kind: 'app'; url: URL; app: AppHost };

/**
 * Where the sign-in hand-off may send a browser: an absolute URL on the
 * gateway itself or on a well-formed app host of apps.domain, with the
 * gateway's scheme and port (app hosts are served by the same listener, so
 * they share both). Everything else (other hosts, credentials in the URL,
 * relative or protocol-relative forms, characters browsers rewrite) is null:
 * the gateway never redirects anywhere else.
 */
export function checkRedirectTarget(raw: string | null | undefined, publicUrl: string, domain: string | null): RedirectTarget | null {
  if (!raw || raw.length > MAX_LENGTH || UNSAFE_CHARACTERS.test(raw)) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  const gateway = new URL(publicUrl);
  if (url.protocol !== gateway.protocol || url.port !== gateway.port || url.username !== '' || url.password !== '') return null;
  if (url.hostname === gateway.hostname) return { kind: 'gateway', url };
  const app = domain === null ? null : parseAppHost(url.hostname, domain);
  return app === null ? null : { kind: 'app', url, app };
}
