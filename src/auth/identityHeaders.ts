import type { Config } from '../config/schema.js';

// The gateway's own token header and the visitor header it sets itself (after
// removing the client's), and the access tokens common auth proxies forward:
// a berth holding one could act as its user elsewhere.
const ALWAYS_STRIPPED = ['x-berth-token', 'x-berth-visitor', 'x-forwarded-access-token', 'x-auth-request-access-token'];

// The identity headers common auth proxies set (oauth2-proxy upstream and
// auth_request modes, Authelia/Caddy/Traefik set-ups, Apache's REMOTE_USER
// passed on): removed whichever of them auth.header lists, since a berth's app
// may read any of them.
const KNOWN_IDENTITY = [
  'x-forwarded-preferred-username',
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-groups',
  'x-auth-request-preferred-username',
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-groups',
  'remote-user',
  'remote-email',
  'remote-groups',
  'remote-name',
  'x-remote-user',
  'x-user',
  'x-email',
];

/**
 * Every header (lowercased) that carries identity and must never reach a
 * berth, in every auth mode: a berth's app must not be fooled by a client
 * sending X-Forwarded-User itself.
 */
export function identityHeaderNames(config: Config): string[] {
  const { userHeaders, emailHeaders, groupsHeaders } = config.auth.header;
  const configured = [...userHeaders, ...emailHeaders, ...groupsHeaders].map((name) => name.toLowerCase());
  return [...new Set([...configured, ...KNOWN_IDENTITY, ...ALWAYS_STRIPPED])];
}
