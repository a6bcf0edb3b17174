import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { describeConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { createAuth } from '../../src/auth/registry.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { CLIENT_ID, CLIENT_SECRET, CookieJar, signInUntilCallback, startTestProvider, step, type TestProviderOptions } from '../helpers/oidcProvider.js';
import { captureLogger, startGateway, tempDir, testConfig } from './helpers.js';

/*
 * OpenID Connect sign-in against a real provider (oidc-provider) on
 * loopback, through a gateway in miniature that wires auth as the router does.
 */

type OidcInput = NonNullable<NonNullable<ConfigInput['auth']>['oidc']>;

async function oidcSetup(options: { oidc?: Partial<OidcInput>; admins?: string[]; provider?: Partial<TestProviderOptions> } = {}) {
  const port = await freeLoopbackPort();
  const gatewayUrl = `http://127.0.0.1:${port}`;
  const provider = await startTestProvider({ gatewayUrl, ...options.provider });
  after(() => provider.close());
  const { logger, text } = captureLogger();
  const oidc = { issuer: provider.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...options.oidc };
  const { url } = await startGateway({ auth: { mode: 'oidc', admins: options.admins ?? [], oidc } }, logger, port);
  return { url, provider, logs: text };
}

/** Visits the callback with the jar's cookies; returns the reply and the session cookie if one was set. */
async function callback(jar: CookieJar, callbackUrl: string) {
  const res = await step(jar, callbackUrl);
  return { res, body: await res.text(), session: jar.get('berth_session') };
}

describe('OpenID Connect sign-in', () => {
  it('signs in through the provider with PKCE, state and nonce, and the session cookie then authenticates', async () => {
    const { url, logs } = await oidcSetup({ admins: [] , oidc: { adminGroups: ['ops'] }, provider: { claims: (login) => ({ preferred_username: login, email: `${login}@example.test`, groups: ['ops', 'staff'] }) } });
    const login = await fetch(`${url}/_berth/login?next=%2Flab`);
    assert.equal(login.status, 200);
    assert.match(await login.text(), /Continue with single sign-on/);
    assert.match(String(login.headers.get('content-security-policy')), /script-src 'self'/);

    const { callbackUrl, jar } = await signInUntilCallback(url, 'alice');
    const authorize = new URL(callbackUrl);
    assert.ok(authorize.searchParams.get('code'), 'the provider sent a code');
    const { res, session } = await callback(jar, callbackUrl);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/');
    assert.ok(session, 'a session cookie was set');
    assert.equal(jar.get('berth_oidc'), undefined, 'the flow cookie is cleared');

    const me = await step(jar, `${url}/anything`);
    const body = (await me.json()) as { user: { name: string; email: string; groups: string[]; admin: boolean } };
    assert.deepEqual(body.user, { name: 'alice', email: 'alice@example.test', groups: ['ops', 'staff'], admin: true });

    const text = logs();
    for (const secret of [CLIENT_SECRET, authorize.searchParams.get('code') ?? '', authorize.searchParams.get('state') ?? '', session]) {
      assert.equal(text.includes(secret), false, 'a secret reached the log');
    }
    assert.match(text, /signed in/);
  });

  it('signs in when the provider drops, as the code exchange is sent, the connection the gateway kept since discovery (was: "Sign-in provider unreachable")', async () => {
    // 2 s: shorter than the 4 s a fetch keeps a connection to a server announcing 5 s, longer than the gateway keeps one.
    const { url, logs } = await oidcSetup({ provider: { resetsConnectionsIdleForMs: 2_000 } });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const { callbackUrl, jar } = await signInUntilCallback(url, 'alice');
    const { res, body, session } = await callback(jar, callbackUrl);
    assert.equal(res.status, 303, `${body}\n${logs()}`);
    assert.ok(session, 'a session cookie was set');
  });

  it('sends the browser to the provider with a PKCE challenge and no secret in the URL', async () => {
    const { url } = await oidcSetup();
    const jar = new CookieJar();
    const res = await step(jar, `${url}/_berth/login`, { method: 'POST', form: { next: '/x' }, origin: url });
    assert.equal(res.status, 303);
    const location = new URL(res.headers.get('location') ?? '');
    assert.equal(location.searchParams.get('code_challenge_method'), 'S256');
    for (const name of ['code_challenge', 'state', 'nonce']) assert.ok(location.searchParams.get(name), `${name} is sent`);
    assert.equal(location.searchParams.get('redirect_uri'), `${url}/_berth/oidc/callback`);
    assert.equal(location.href.includes(CLIENT_SECRET), false);
    assert.ok(jar.get('berth_oidc'), 'the flow is kept in a cookie');
  });

  it('refuses to start a sign-in posted from another origin', async () => {
    const { url } = await oidcSetup();
    const res = await step(new CookieJar(), `${url}/_berth/login`, { method: 'POST', form: { next: '/' }, origin: 'https://evil.test' });
    assert.equal(res.status, 403);
  });

  it('refuses a callback whose state is not the one this browser started, with a clear page', async () => {
    const { url, logs } = await oidcSetup();
    const { callbackUrl, jar } = await signInUntilCallback(url, 'alice');
    const forged = new URL(callbackUrl);
    forged.searchParams.set('state', 'someone-elses-state');
    const { res, body, session } = await callback(jar, forged.href);
    assert.equal(res.status, 400);
    assert.match(body, /does not belong to the sign-in started in this browser/);
    assert.match(body, /Sign in again/);
    assert.equal(session, undefined);
    assert.match(logs(), /state does not match/);
  });

  it('refuses a replayed code: without the flow cookie, and with it once the provider has seen the code', async () => {
    const { url, logs } = await oidcSetup();
    const { callbackUrl, jar } = await signInUntilCallback(url, 'alice');
    const flowCookie = jar.get('berth_oidc') ?? '';
    assert.equal((await callback(jar, callbackUrl)).res.status, 303);

    const elsewhere = await callback(new CookieJar(), callbackUrl);
    assert.equal(elsewhere.res.status, 400);
    assert.match(elsewhere.body, /already used, has expired, or was started in another browser/);

    const replayJar = new CookieJar();
    replayJar.set('berth_oidc', flowCookie);
    const replay = await callback(replayJar, callbackUrl);
    assert.equal(replay.res.status, 400);
    assert.match(replay.body, /already used or has expired/);
    assert.equal(replay.session, undefined);
    assert.match(logs(), /invalid_grant/);
    assert.equal(logs().includes(new URL(callbackUrl).searchParams.get('code') ?? ''), false);
  });

  it('refuses an ID token issued to another client', async () => {
    const { url, provider, logs } = await oidcSetup();
    provider.impersonateOtherClient = true;
    const { callbackUrl, jar } = await signInUntilCallback(url, 'alice');
    const { res, body, session } = await callback(jar, callbackUrl);
    assert.equal(res.status, 400);
    assert.match(body, /did not pass Berth&#39;s checks/);
    assert.equal(session, undefined);
    assert.match(logs(), /\\"aud\\" \(audience\)/);
  });

  it('shows the provider\'s own refusal rather than signing in', async () => {
    const { url } = await oidcSetup();
    const jar = new CookieJar();
    await step(jar, `${url}/_berth/login`, { method: 'POST', form: { next: '/' }, origin: url });
    const res = await step(jar, `${url}/_berth/oidc/callback?error=access_denied&error_description=End-User+aborted+interaction`);
    assert.equal(res.status, 403);
    assert.match(await res.text(), /End-User aborted interaction/);
  });

  it('lets in only allowed users and groups, with a clear 403 page for others', async () => {
    const { url } = await oidcSetup({
      oidc: { allowedUsers: ['alice'], allowedGroups: ['lab'] },
      provider: { claims: (login) => ({ preferred_username: login, groups: login === 'carol' ? ['lab'] : [] }) },
    });
    for (const [login, allowed] of [['alice', true], ['carol', true], ['mallory', false]] as const) {
      const { callbackUrl, jar } = await signInUntilCallback(url, login);
      const { res, body, session } = await callback(jar, callbackUrl);
      assert.equal(res.status, allowed ? 303 : 403, `${login}: ${body}`);
      assert.equal(session !== undefined, allowed);
      if (!allowed) assert.match(body, /You signed in as mallory, but this Berth is open only to some users and groups/);
    }
  });

  it('names the user by the fallback claim, and refuses an account with neither', async () => {
    const { url } = await oidcSetup({ provider: { claims: (login) => (login === 'nobody' ? {} : { email: `${login}@example.test` }) } });
    const first = await signInUntilCallback(url, 'dora');
    assert.equal((await callback(first.jar, first.callbackUrl)).res.status, 303);
    const me = (await (await step(first.jar, `${url}/x`)).json()) as { user: { name: string } };
    assert.equal(me.user.name, 'dora@example.test');
    const second = await signInUntilCallback(url, 'nobody');
    const refused = await callback(second.jar, second.callbackUrl);
    assert.equal(refused.res.status, 403);
    assert.match(refused.body, /no &#34;preferred_username&#34; or &#34;email&#34; claim/);
  });

  it('signs out at the provider too when it advertises end_session_endpoint', async () => {
    const { url, provider } = await oidcSetup();
    const { callbackUrl, jar } = await signInUntilCallback(url, 'alice');
    await callback(jar, callbackUrl);
    const res = await step(jar, `${url}/_berth/logout`, { method: 'POST', origin: url });
    assert.equal(res.status, 303);
    const location = new URL(res.headers.get('location') ?? '');
    assert.equal(location.origin, provider.issuer);
    assert.equal(location.searchParams.get('post_logout_redirect_uri'), `${url}/_berth/login`);
    assert.equal(location.searchParams.get('client_id'), CLIENT_ID);
    assert.equal(jar.get('berth_session'), undefined);
    const after = await step(jar, `${url}/x`);
    assert.equal(after.status, 303, 'signed out: back to the login page');
  });

  it('starts while the provider is unreachable, says so on the login page, and recovers when it comes up', async () => {
    const providerPort = await freeLoopbackPort();
    const port = await freeLoopbackPort();
    const { logger, text } = captureLogger();
    const { url } = await startGateway(
      { auth: { mode: 'oidc', oidc: { issuer: `http://127.0.0.1:${providerPort}`, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET } } },
      logger,
      port,
    );
    const down = await fetch(`${url}/_berth/login`);
    assert.equal(down.status, 503);
    assert.match(await down.text(), /The sign-in provider cannot be reached right now/);
    const provider = await startTestProvider({ gatewayUrl: url, port: providerPort });
    after(() => provider.close());
    const deadline = Date.now() + 15_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      await new Promise((r) => setTimeout(r, 500));
      status = (await fetch(`${url}/_berth/login`)).status;
    }
    assert.equal(status, 200, 'the login page works once the provider answers');
    assert.match(text(), /discovery failed/);
    assert.equal(text().includes(CLIENT_SECRET), false);
  });
});

describe('OpenID Connect configuration', () => {
  const base = (oidc: Partial<OidcInput>) => testConfig({ auth: { mode: 'oidc', oidc: { issuer: 'http://127.0.0.1:9', clientId: 'berth', ...oidc } } });

  const refused: Array<[string, Partial<OidcInput>, RegExp]> = [
    ['no issuer', { issuer: null }, /auth\.oidc\.issuer is not set/],
    ['no client id', { clientId: null }, /auth\.oidc\.clientId is not set/],
    ['a plain-http issuer beyond loopback', { issuer: 'http://sso.example.test/realms/main' }, /plain http/],
    ['both secret sources', { clientSecret: 'a', clientSecretFile: '/nonexistent' }, /not both/],
    ['an unreadable secret file', { clientSecretFile: '/nonexistent/secret' }, /clientSecretFile \/nonexistent\/secret cannot be read/],
    ['scopes without openid', { scopes: ['profile'] }, /must include "openid"/],
  ];
  for (const [what, oidc, message] of refused) {
    it(`refuses to start with ${what}`, async () => {
      await assert.rejects(createAuth(base(oidc), captureLogger().logger), (err: Error & { code?: string; userMessage?: string }) => {
        assert.equal(err.code, 'config_invalid');
        assert.match(err.userMessage ?? '', message);
        return true;
      });
    });
  }

  it('reads the client secret from a file and masks it in config check', async () => {
    const file = join(tempDir(), 'client-secret');
    writeFileSync(file, 'file-secret-value\n', { mode: 0o600 });
    const config = base({ clientSecretFile: file });
    await createAuth(config, captureLogger().logger);
    const shown = describeConfig({ ...config, auth: { ...config.auth, oidc: { ...config.auth.oidc, clientSecret: 'inline-secret' } } });
    assert.equal(shown.includes('inline-secret'), false);
    assert.match(shown, /clientSecret: "\*+"/);
  });
});
