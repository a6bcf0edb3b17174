import type { IncomingMessage, ServerResponse } from 'node:http';
import * as client from 'openid-client';
import type { AuditRecorder } from '../../audit/kinds.js';
import type { Config } from '../../config/schema.js';
import { BerthError } from '../../core/errors.js';
import type { Logger } from '../../log/logger.js';
import { signedIn, signedOut, signInRefused } from '../audit.js';
import { equalText } from '../crypto.js';
import { checkSameOrigin } from '../csrf/origin.js';
import { readForm } from '../form.js';
import { safeNext } from '../next.js';
import { LOGIN_PATH } from '../paths.js';
import type { Sessions } from '../session/sessions.js';
import type { RouteHandler } from '../types.js';
import { accessCheck, identityFromClaims, needsUserInfo, type Claims } from './claims.js';
import type { FlowCookies } from './flowCookie.js';
import { sendRefusalPage, sendSignInPage } from './page.js';
import { describeFailure, type ProviderConnection, type ProviderState } from './provider.js';
import type { OidcSettings } from './settings.js';

export interface OidcRoutesOptions {
  config: Config;
  settings: OidcSettings;
  provider: ProviderConnection;
  flows: FlowCookies;
  sessions: Sessions;
  logger: Logger;
  audit: AuditRecorder;
}

/** The `state` the provider echoes back after RP-initiated logout, so the login page can say "signed out". */
const SIGNED_OUT_STATE = 'signed-out';

function methodNotAllowed(method: string | undefined): BerthError {
  return new BerthError({ code: 'bad_request', status: 405, userMessage: `${method ?? 'This method'} is not supported here; open ${LOGIN_PATH} in a browser.` });
}

function seeOther(res: ServerResponse, location: string): void {
  res.writeHead(303, { location, 'cache-control': 'no-store' });
  res.end();
}

function queryOf(req: IncomingMessage): URLSearchParams {
  return new URL(req.url ?? '/', 'http://gateway.invalid').searchParams;
}

function unreachable(state: ProviderState, now: number) {
  return state.kind === 'ready' ? undefined : { reason: state.reason, retryInSeconds: Math.max(0, Math.ceil((state.nextAttemptAt - now) / 1000)) };
}


/**
 * GET shows the sign-in page (or says the provider is unreachable); POST
 * starts the authorization code flow with PKCE, state and nonce kept in the
 * flow cookie, and sends the browser to the provider.
 */
export function oidcLogin({ config, settings, provider, flows, sessions, logger }: OidcRoutesOptions): RouteHandler {
  const providerName = settings.issuer.host;
  // Where the sign-in form's redirect lands: the authorization endpoint, or (not discovered yet) the issuer's origin.
  const formTarget = (state: ProviderState): string =>
    new URL((state.kind === 'ready' ? state.configuration.serverMetadata().authorization_endpoint : undefined) ?? settings.issuer.href).origin;
  return async (req, res) => {
    if (req.method === 'GET' || req.method === 'HEAD') {
      const query = queryOf(req);
      const next = safeNext(query.get('next'));
      if (sessions.read(req)) return seeOther(res, next);
      const state = await provider.ready();
      const signedOut = query.get('signedOut') !== null || query.get('state') === SIGNED_OUT_STATE;
      const down = unreachable(state, Date.now());
      return sendSignInPage(res, down ? 503 : 200, {
        next,
        provider: providerName,
        formActionOrigin: formTarget(state),
        unreachable: down,
        ...(signedOut ? { notice: 'You are signed out.' } : {}),
      });
    }
    if (req.method !== 'POST') throw methodNotAllowed(req.method);
    // Without this a hostile page could start a sign-in that ends in the attacker's account (login CSRF).
    const crossOrigin = checkSameOrigin(req, config.publicUrl);
    if (crossOrigin) throw crossOrigin;
    const next = safeNext((await readForm(req)).get('next'));
    const state = await provider.ready();
    if (state.kind !== 'ready') {
      return sendSignInPage(res, 503, { next, provider: providerName, unreachable: unreachable(state, Date.now()), formActionOrigin: formTarget(state) });
    }
    const flow = { state: client.randomState(), nonce: client.randomNonce(), codeVerifier: client.randomPKCECodeVerifier(), next };
    const authorizationUrl = client.buildAuthorizationUrl(state.configuration, {
      redirect_uri: settings.redirectUri,
      scope: settings.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(flow.codeVerifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
    });
    flows.set(res, flow);
    logger.debug('sign-in started at the OpenID provider');
    seeOther(res, authorizationUrl.href);
  };
}

interface Refusal {
  status: number;
  title: string;
  message: string;
  /** For the operator: what was checked and failed, never a code, token or secret. */
  log: string;
  signOut?: boolean;
}

/**
 * The provider's redirect back. Every check that fails ends on a page that
 * says what happened and offers to sign in again: no flow cookie (expired,
 * another browser, replayed URL), a state that is not this flow's, an error
 * from the provider, a code the provider refuses (already used), an ID token
 * that fails validation (another client's, wrong nonce or issuer), a
 * username that cannot be used, or a user not on the allowlist.
 */
export function oidcCallback({ config, settings, provider, flows, sessions, logger, audit }: OidcRoutesOptions): RouteHandler {
  const allowed = accessCheck(config);
  const refuse = (req: IncomingMessage, res: ServerResponse, next: string, refusal: Refusal): void => {
    logger.warn({ peer: req.socket.remoteAddress, status: refusal.status, detail: refusal.log }, 'sign-in callback refused');
    audit.record(signInRefused(req, 'oidc', refusal.log));
    sendRefusalPage(res, refusal.status, { title: refusal.title, message: refusal.message, next, ...(refusal.signOut ? { signOut: true } : {}) });
  };
  return async (req, res) => {
    if (req.method !== 'GET') throw methodNotAllowed(req.method);
    const query = queryOf(req);
    const flow = flows.read(req);
    flows.clear(res);
    if (flow === null) {
      return refuse(req, res, '/', {
        status: 400,
        title: 'Sign-in expired',
        message: 'This sign-in link was already used, has expired, or was started in another browser, so it was refused. Sign in again from here.',
        log: 'callback without a sign-in in progress (no valid flow cookie)',
      });
    }
    const { next } = flow;
    const providerError = query.get('error');
    if (providerError !== null) {
      const description = query.get('error_description');
      return refuse(req, res, next, {
        status: providerError === 'access_denied' ? 403 : 400,
        title: 'Sign-in was not completed',
        message: `The sign-in provider answered "${description ?? providerError}". Sign in again, and ask the operator if it keeps happening.`,
        log: `provider returned error ${providerError}`,
      });
    }
    if (!equalText(query.get('state') ?? '', flow.state)) {
      return refuse(req, res, next, {
        status: 400,
        title: 'Sign-in refused',
        message: 'This sign-in response does not belong to the sign-in started in this browser (its state does not match), so it was refused. Sign in again.',
        log: 'callback state does not match the flow cookie',
      });
    }
    const state = await provider.ready();
    if (state.kind !== 'ready') {
      return refuse(req, res, next, {
        status: 503,
        title: 'Sign-in provider unreachable',
        message: `The sign-in provider cannot be reached right now (${state.reason}). Try again in a moment.`,
        log: `provider unreachable at callback: ${state.reason}`,
      });
    }
    let claims: Claims;
    try {
      const currentUrl = new URL(settings.redirectUri);
      currentUrl.search = query.toString();
      const tokens = await client.authorizationCodeGrant(state.configuration, currentUrl, {
        pkceCodeVerifier: flow.codeVerifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      claims = { ...(tokens.claims() ?? {}) };
      if (needsUserInfo(claims, config.auth.oidc) && state.configuration.serverMetadata().userinfo_endpoint) {
        const info = await client.fetchUserInfo(state.configuration, tokens.access_token, String(claims.sub));
        claims = { ...info, ...claims };
      }
    } catch (err) {
      return refuse(req, res, next, exchangeRefusal(err));
    }
    const result = identityFromClaims(claims, config.auth.oidc);
    if ('problem' in result) {
      return refuse(req, res, next, {
        status: 403,
        title: 'No usable username',
        message: `You signed in, but Berth cannot name you: ${result.problem}. Ask the operator to check auth.oidc.usernameClaim.`,
        log: `unusable identity from the provider: ${result.problem}`,
        signOut: true,
      });
    }
    const { identity } = result;
    if (!allowed(identity)) {
      return refuse(req, res, next, {
        status: 403,
        title: 'No access to Berth',
        message: `You signed in as ${identity.name}, but this Berth is open only to some users and groups, and you are not among them. Ask the operator for access, or sign out and use another account.`,
        log: `${identity.name} is not in auth.oidc.allowedUsers or allowedGroups`,
        signOut: true,
      });
    }
    sessions.issue(res, identity, next);
    logger.info({ user: identity.name, groups: identity.groups.length }, 'signed in');
    audit.record(signedIn(req, identity.name, 'oidc'));
    seeOther(res, next);
  };
}

/** Why the code exchange or the ID token was refused, in words for the person and the log. */
function exchangeRefusal(err: unknown): Refusal {
  if (err instanceof client.ResponseBodyError) {
    const used = err.error === 'invalid_grant';
    return {
      status: 400,
      title: 'Sign-in refused',
      message: used
        ? 'The sign-in provider refused this sign-in code: it was already used or has expired. Sign in again.'
        : `The sign-in provider refused to finish the sign-in (${err.error}). Sign in again, and tell the operator if it keeps happening.`,
      log: `token endpoint answered ${err.error}${err.error === 'invalid_client' ? ': check auth.oidc.clientId and the client secret' : ''}`,
    };
  }
  if (err instanceof client.ClientError && err.code !== undefined && err.code.startsWith('OAUTH_')) {
    return {
      status: 400,
      title: 'Sign-in refused',
      message: "The sign-in provider's answer did not pass Berth's checks (it may be meant for another application), so it was refused. Sign in again.",
      log: `ID token or response refused (${err.code}): ${describeFailure(err)}`,
    };
  }
  return {
    status: 502,
    title: 'Sign-in provider unreachable',
    message: 'The sign-in provider did not answer while finishing the sign-in. Try again in a moment.',
    log: `code exchange failed: ${describeFailure(err)}`,
  };
}

/**
 * Clears the session and, when the provider advertises an end_session
 * endpoint, signs out there too (RP-initiated logout); otherwise back to
 * the login page. GET is accepted so a plain link works: a forged logout
 * only signs someone out.
 */
export function oidcLogout({ settings, provider, flows, sessions, logger, audit }: OidcRoutesOptions): RouteHandler {
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'POST') throw methodNotAllowed(req.method);
    const current = sessions.read(req);
    sessions.clear(res);
    flows.clear(res);
    if (current) logger.info({ user: current.user.name }, 'signed out');
    if (current) audit.record(signedOut(req, current.user.name, 'oidc'));
    const state = provider.current();
    if (state.kind === 'ready' && state.configuration.serverMetadata().end_session_endpoint) {
      const url = client.buildEndSessionUrl(state.configuration, { post_logout_redirect_uri: settings.postLogoutRedirectUri, state: SIGNED_OUT_STATE });
      return seeOther(res, url.href);
    }
    seeOther(res, `${LOGIN_PATH}?signedOut=1`);
  };
}
