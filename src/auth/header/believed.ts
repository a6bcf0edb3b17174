import type { Config } from '../../config/schema.js';

/**
 * One line saying whom header sign-in believes, for the start-up log and
 * `berth config check`: a wrong header list is the mistake that lets clients
 * name themselves, so operators should see it without reading the code.
 * Null in the other auth modes.
 */
export function believedIdentity(config: Config): string | null {
  if (config.auth.mode !== 'header') return null;
  const { userHeaders, trustedProxies } = config.auth.header;
  const headers = userHeaders.length === 1 ? userHeaders[0] : `${userHeaders.join(', ')} (a request where they disagree is refused)`;
  return `header sign-in believes the user named in ${headers}, from ${trustedProxies.join(', ')} only`;
}
