import type { Config } from '../config/schema.js';

/**
 * Admin rights are looked up on every request rather than stored in the
 * session, so removing someone from auth.admins takes effect on the next
 * request, not when their cookie expires. In oidc mode membership of one of
 * auth.oidc.adminGroups (from the groups claim) also makes an admin.
 */
export function adminCheck(config: Config): (name: string, groups?: readonly string[]) => boolean {
  const admins = new Set(config.auth.admins);
  const adminGroups = new Set(config.auth.mode === 'oidc' ? config.auth.oidc.adminGroups : []);
  return (name, groups = []) => admins.has(name) || groups.some((group) => adminGroups.has(group));
}
