import type { Config } from '../../config/schema.js';
import { isLoopbackHost, parseHostPort } from '../../core/net.js';
import { isLocalAddress, resolveAll } from './localAddresses.js';
import { fail, ok, warn, type CheckResult } from './types.js';

const CHECK = 'public-url';

/** Where browsers connect, as publicUrl says: its host's addresses and port. */
export interface PublicEndpoint {
  url: URL;
  port: number;
  addresses: string[];
  /** Every address is this host's: browsers reach a process here (the gateway itself, or a proxy beside it). */
  onThisHost: boolean;
}

export async function publicEndpoint(config: Config): Promise<PublicEndpoint | { problem: string }> {
  const url = new URL(config.publicUrl);
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  let addresses: string[];
  try {
    addresses = await resolveAll(url.hostname);
  } catch (err) {
    return { problem: `publicUrl's host ${url.hostname} does not resolve here: ${(err as Error).message}` };
  }
  return { url, port, addresses, onThisHost: addresses.length > 0 && addresses.every(isLocalAddress) };
}

/**
 * Whether publicUrl fits listen.http: Berth serves plain HTTP, so https in
 * publicUrl means a TLS proxy in front, on another port; header mode means an
 * auth proxy in front, so browsers must not be sent to the listener itself.
 */
export async function publicUrlCheck(config: Config): Promise<CheckResult> {
  const endpoint = await publicEndpoint(config);
  if ('problem' in endpoint) return fail(CHECK, endpoint.problem, 'set publicUrl (BERTH_PUBLIC_URL) to the address browsers use, with a DNS name that resolves');
  const listen = parseHostPort(config.listen.http);
  const direct = listen !== null && endpoint.onThisHost && endpoint.port === listen.port;
  const https = endpoint.url.protocol === 'https:';
  if (direct && https) {
    return fail(
      CHECK,
      `publicUrl ${config.publicUrl} is https, but it points at listen.http ${config.listen.http}, which serves plain HTTP`,
      'put a TLS proxy (nginx, Caddy, Apache) on the https port and point it at listen.http on another port (README "TLS in front"), or use an http:// publicUrl',
    );
  }
  if (direct && config.auth.mode === 'header') {
    return fail(
      CHECK,
      `auth.mode is header, but publicUrl ${config.publicUrl} sends browsers straight to listen.http ${config.listen.http}, past the auth proxy`,
      'set publicUrl to the auth proxy\'s address and move listen.http to a port only the proxy reaches',
    );
  }
  if (!https && !isLoopbackHost(endpoint.url.hostname) && config.auth.mode !== 'dev') {
    return warn(
      CHECK,
      `publicUrl ${config.publicUrl} is plain http on a non-loopback host: session cookies travel without Secure, readable on the network`,
      'put TLS in front and set publicUrl to https://… (cookies then get Secure and the __Host- prefix)',
    );
  }
  return ok(CHECK, `publicUrl ${config.publicUrl} ${direct ? 'is served by listen.http itself' : `reaches the gateway through a proxy in front (listen.http ${config.listen.http})`}${https ? '; cookies get Secure and the __Host- prefix' : ''}`);
}
