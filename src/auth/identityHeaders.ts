import type { Config } from '../config/schema.js';

// The gateway's own token header and the visitor header it sets itself (after
// removing the client's), and the access tokens common auth proxies forward:
// a berth holding one could act as its user elsewhere.
const ALWAYS_STRIPPED = ['x-berth-token', 'x-berth-visitor', 'x-forwarded-access-token', 'x-auth-request-access-token'];

/**
 * Every header (lowercased) that carries identity and must never reach a
 * berth, in every auth mode: a berth's app must not be fooled by a client
 * sending X-Forwarded-User itself.
 */
export function identityHeaderNames(config: Config): string[] {
  const { userHeaders, emailHeaders, groupsHeaders } = config.auth.header;
  const configured = [...userHeaders, ...emailHeaders, ...groupsHeaders].map((name) => name.toLowerCase());
  return [...new Set([...configured, ...ALWAYS_STRIPPED])];
}
