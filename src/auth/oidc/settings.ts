import { readFileSync } from 'node:fs';
import type { Config } from '../../config/schema.js';
import { BerthError } from '../../core/errors.js';
import { isLoopbackHost } from '../../core/net.js';
import { LOGIN_PATH } from '../paths.js';

/** Where the provider sends the browser back with the code; register it at the provider. */
export const CALLBACK_PATH = '/_berth/oidc/callback';

export interface OidcSettings {
  issuer: URL;
  clientId: string;
  /** Null for a public client (PKCE only). */
  clientSecret: string | null;
  redirectUri: string;
  /** Where the provider sends the browser after RP-initiated logout; register it too. */
  postLogoutRedirectUri: string;
  /** Plain http is accepted for a provider on loopback only (tests, a provider beside the gateway). */
  allowInsecure: boolean;
  scopes: string[];
}

function invalid(userMessage: string): BerthError {
  return new BerthError({ code: 'config_invalid', userMessage });
}

/**
 * Reads auth.oidc into what the flow needs, at start-up: a missing issuer or
 * client id, two sources for the secret, an unreadable secret file or a
 * plain-http provider beyond loopback stop the gateway with the key named.
 */
export function oidcSettings(config: Config): OidcSettings {
  const oidc = config.auth.oidc;
  if (oidc.issuer === null) throw invalid('auth.mode is "oidc" but auth.oidc.issuer is not set: set it to your provider\'s issuer URL, e.g. https://sso.example.com/realms/main.');
  if (oidc.clientId === null || oidc.clientId === '') throw invalid('auth.mode is "oidc" but auth.oidc.clientId is not set: set it to the client id registered for Berth at your provider.');
  if (oidc.clientSecret !== null && oidc.clientSecretFile !== null) {
    throw invalid('Set auth.oidc.clientSecret or auth.oidc.clientSecretFile, not both.');
  }
  if (!oidc.scopes.includes('openid')) throw invalid('auth.oidc.scopes must include "openid".');
  const issuer = new URL(oidc.issuer);
  const allowInsecure = issuer.protocol === 'http:';
  if (allowInsecure && !isLoopbackHost(issuer.hostname.replace(/^\[|\]$/g, ''))) {
    throw invalid(`auth.oidc.issuer (${oidc.issuer}) uses plain http: use the provider's https address (http is accepted on loopback only).`);
  }
  const base = new URL(config.publicUrl);
  return {
    issuer,
    clientId: oidc.clientId,
    clientSecret: oidc.clientSecretFile === null ? oidc.clientSecret : readSecretFile(oidc.clientSecretFile),
    redirectUri: new URL(CALLBACK_PATH, base).href,
    postLogoutRedirectUri: new URL(LOGIN_PATH, base).href,
    allowInsecure,
    scopes: oidc.scopes,
  };
}

function readSecretFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw invalid(`auth.oidc.clientSecretFile ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): check the path and that the gateway's user may read it.`);
  }
  if (text === '') throw invalid(`auth.oidc.clientSecretFile ${path} is empty: put the client secret in it.`);
  return text;
}
