import type { Config } from '../../config/schema.js';
import { fail, ok, skip, withTimeout, type CheckResult } from './types.js';

const CHECK = 'oidc-provider';

/** Whether the OpenID provider's discovery document answers, for the configured issuer, as the sign-in will ask for it. */
export async function oidcCheck(config: Config): Promise<CheckResult> {
  if (config.auth.mode !== 'oidc') return skip(CHECK, `auth.mode is ${config.auth.mode}: no OpenID provider`);
  const { issuer, clientId, clientSecret, clientSecretFile } = config.auth.oidc;
  if (issuer === null || clientId === null || (clientSecret === null && clientSecretFile === null)) {
    return fail(CHECK, 'auth.mode oidc needs auth.oidc.issuer, clientId and clientSecret (or clientSecretFile)', 'set them from the client registered at the provider, with redirect URI <publicUrl>/_berth/oidc/callback');
  }
  const discovery = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const fix = `check that ${issuer} is the issuer's exact URL and reachable from the gateway (proxy settings, firewall, DNS), and that the provider runs`;
  let document: { issuer?: unknown; authorization_endpoint?: unknown };
  try {
    const res = await withTimeout(discovery, fetch(discovery, { redirect: 'manual' }));
    if (!res.ok) return fail(CHECK, `${discovery} answered ${res.status}`, fix);
    document = (await res.json()) as typeof document;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return fail(CHECK, `${discovery} does not answer: ${cause ?? (err as Error).message}`, fix);
  }
  if (document.issuer !== issuer) return fail(CHECK, `${discovery} names issuer ${String(document.issuer)}, not ${issuer}`, `set auth.oidc.issuer to ${String(document.issuer)}, exactly as the provider names itself`);
  return ok(CHECK, `${issuer} answers discovery (sign-in at ${String(document.authorization_endpoint)})`);
}
