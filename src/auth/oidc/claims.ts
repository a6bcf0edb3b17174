import type { Config } from '../../config/schema.js';
import { parseUsername } from '../../core/safeName.js';
import type { Identity } from '../session/sessions.js';

export type Claims = Record<string, unknown>;

export type IdentityResult = { identity: Identity } | { problem: string };

/**
 * The user the provider vouches for: the username from usernameClaim, else
 * fallbackUsernameClaim, checked with the same rules as every other mode;
 * groups from groupsClaim (a list, or one comma-separated string as some
 * providers send).
 */
export function identityFromClaims(claims: Claims, oidc: Config['auth']['oidc']): IdentityResult {
  const candidates = [oidc.usernameClaim, ...(oidc.fallbackUsernameClaim === null ? [] : [oidc.fallbackUsernameClaim])];
  const name = candidates.map((claim) => claims[claim]).find((value): value is string => typeof value === 'string' && value !== '');
  if (name === undefined) {
    return { problem: `your account at the sign-in provider has no ${candidates.map((c) => `"${c}"`).join(' or ')} claim to name you by` };
  }
  const username = parseUsername(name);
  if ('problem' in username) return username;
  const email = typeof claims.email === 'string' ? claims.email : undefined;
  return { identity: { name: username.name, ...(email === undefined ? {} : { email }), groups: groupsOf(claims[oidc.groupsClaim]) } };
}

function groupsOf(value: unknown): string[] {
  if (typeof value === 'string') return value.split(',').map((g) => g.trim()).filter(Boolean);
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string' && g !== '');
  return [];
}

/** The claims the identity is read from: when the ID token lacks them, the provider's userinfo has them. */
export function needsUserInfo(claims: Claims, oidc: Config['auth']['oidc']): boolean {
  return claims[oidc.usernameClaim] === undefined || claims[oidc.groupsClaim] === undefined;
}

/**
 * Who may sign in: everyone when allowedUsers and allowedGroups are both
 * empty, else those listed by name or group. Administrators (auth.admins,
 * adminGroups) are always let in, so an allowlist cannot lock them out.
 */
export function accessCheck(config: Config): (identity: Pick<Identity, 'name' | 'groups'>) => boolean {
  const { allowedUsers, allowedGroups, adminGroups } = config.auth.oidc;
  if (allowedUsers.length === 0 && allowedGroups.length === 0) return () => true;
  const users = new Set([...allowedUsers, ...config.auth.admins]);
  const groups = new Set([...allowedGroups, ...adminGroups]);
  return ({ name, groups: mine }) => users.has(name) || mine.some((g) => groups.has(g));
}
