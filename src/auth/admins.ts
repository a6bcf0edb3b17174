import type { Config } from '../config/schema.js';

/**
 * Admin rights are looked up on every request rather than stored in the
 * session, so removing someone from auth.admins takes effect on the next
 * request, not when their cookie expires.
 */
export function adminCheck(config: Config): (name: string) => boolean {
  const admins = new Set(config.auth.admins);
  return (name) => admins.has(name);
}
