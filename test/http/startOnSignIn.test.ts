import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { inProcessGateway, type InProcessGateway } from '../helpers/inProcessGateway.js';
import { eventually, httpRequest, type Reply } from '../helpers/http.js';
import { CLIENT_ID, CLIENT_SECRET, CookieJar, signInUntilCallback, startTestProvider, step, type TestProvider } from '../helpers/oidcProvider.js';

/*
 * spawn.startOnSignIn on the whole gateway (serve.ts) with local berths: a
 * completed sign-in (the dev login's POST, the OIDC callback from a real
 * provider) on its way to the berth has the berth starting before the
 * browser follows the redirect, and the loading page it lands on follows
 * that spawn rather than making another. The berth listens only after
 * LISTEN_DELAY_MS, so "starting" is there to be seen.
 */

const LISTEN_DELAY_MS = 1500;
const SLOW_BERTH = JSON.stringify([
  process.execPath,
  '-e',
  `setTimeout(()=>require('http').createServer((q,s)=>s.end('hello from '+process.env.BERTH_USER)).listen(+process.env.PORT,'127.0.0.1'),${LISTEN_DELAY_MS})`,
]);
const NAVIGATION = { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'same-origin', 'sec-fetch-dest': 'document' };
const BACKGROUND = { 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin', 'sec-fetch-dest': 'empty' };
const PROFILES = JSON.stringify([
  { slug: 'small', displayName: 'Small', default: true },
  { slug: 'large', displayName: 'Large' },
]);

type TestGateway = InProcessGateway;

const gatewayWith = (overrides: Record<string, string>, port?: number) => inProcessGateway({ BERTH_ENVIRONMENT_COMMAND: SLOW_BERTH, ...overrides }, port);

/** The dev login's form POST, as the browser sends it; the 303 is not followed. */
function devSignIn(gw: TestGateway, username: string, next: string): Promise<Reply> {
  return httpRequest(`${gw.base}/_berth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: gw.base },
    body: new URLSearchParams({ username, next }).toString(),
  });
}

function sessionCookie(reply: Reply): string {
  const set = ([] as string[]).concat(reply.headers['set-cookie'] ?? []);
  const cookie = set.map((line) => line.split(';')[0] ?? '').find((pair) => pair.startsWith('berth_session='));
  assert.ok(cookie, `no session cookie in ${JSON.stringify(set)}`);
  return cookie;
}

async function berthOf(gw: TestGateway, cookie: string): Promise<{ state: string; progress: Array<{ step: string }> }> {
  const reply = await httpRequest(`${gw.base}/_berth/api/me`, { headers: { cookie } });
  assert.equal(reply.status, 200, reply.body);
  return (JSON.parse(reply.body) as { berth: { state: string; progress: Array<{ step: string }> } }).berth;
}

describe('start on sign-in, dev login', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await gatewayWith({ BERTH_AUTH_MODE: 'dev' });
  });
  after(() => gw?.close());

  it('starts the berth on the sign-in POST, and the loading page the redirect lands on follows that spawn', async () => {
    const signedIn = await devSignIn(gw, 'alice', '/notebooks?x=1');
    assert.equal(signedIn.status, 303);
    assert.equal(signedIn.headers.location, '/notebooks?x=1');
    const cookie = sessionCookie(signedIn);
    assert.equal((await berthOf(gw, cookie)).state, 'starting', 'starting before the browser follows the redirect');

    const landed = await httpRequest(`${gw.base}/notebooks?x=1`, { headers: { ...NAVIGATION, cookie } });
    assert.equal(landed.status, 200);
    assert.match(landed.body, /Starting your environment/);
    const served = await eventually(async () => {
      const reply = await httpRequest(`${gw.base}/notebooks`, { headers: { cookie } });
      return reply.status === 200 ? reply : undefined;
    }, 20_000, "alice's berth to answer");
    assert.equal(served.body, 'hello from alice');
    const berth = await berthOf(gw, cookie);
    assert.equal(berth.state, 'ready');
    assert.equal(berth.progress.filter((p) => p.step === 'ready').length, 1, 'one spawn: the loading page joined the one in flight');
  });

  it('starts nothing for a sign-in on its way to the dashboard or the admin page', async () => {
    for (const [user, next] of [
      ['bob', '/_berth/'],
      ['carol', '/_berth/admin'],
      ['dave', '/_berth'],
    ] as const) {
      const signedIn = await devSignIn(gw, user, next);
      assert.equal(signedIn.status, 303);
      assert.equal((await berthOf(gw, sessionCookie(signedIn))).state, 'stopped', `${user} signing in to ${next}`);
    }
  });

  it('never lets a background request of the signed-in browser start the stopped berth', async () => {
    const cookie = sessionCookie(await devSignIn(gw, 'erin', '/_berth/'));
    const background = await httpRequest(`${gw.base}/api/poll`, { headers: { ...BACKGROUND, cookie } });
    assert.equal(background.status, 503);
    assert.equal((await berthOf(gw, cookie)).state, 'stopped');
  });
});

describe('start on sign-in, turned off or left to a profile choice', () => {
  it('with spawn.startOnSignIn false, a sign-in starts nothing and the first navigation does', async () => {
    const gw = await gatewayWith({ BERTH_AUTH_MODE: 'dev', BERTH_SPAWN_START_ON_SIGN_IN: 'false' });
    try {
      const cookie = sessionCookie(await devSignIn(gw, 'frank', '/'));
      assert.equal((await berthOf(gw, cookie)).state, 'stopped');
      const landed = await httpRequest(`${gw.base}/`, { headers: { ...NAVIGATION, cookie } });
      assert.match(landed.body, /Starting your environment/);
      assert.equal((await berthOf(gw, cookie)).state, 'starting');
    } finally {
      await gw.close();
    }
  });

  it('leaves a person who has two profiles to choose from to choose', async () => {
    const gw = await gatewayWith({ BERTH_AUTH_MODE: 'dev', BERTH_PROFILES: PROFILES });
    try {
      const cookie = sessionCookie(await devSignIn(gw, 'gina', '/'));
      assert.equal((await berthOf(gw, cookie)).state, 'stopped', 'no profile picked for her');
    } finally {
      await gw.close();
    }
  });
});

describe('start on sign-in, OpenID Connect callback', () => {
  let gw: TestGateway;
  let provider: TestProvider;
  before(async () => {
    const port = await freeLoopbackPort();
    provider = await startTestProvider({ gatewayUrl: `http://127.0.0.1:${port}` });
    gw = await gatewayWith({ BERTH_AUTH_MODE: 'oidc', BERTH_AUTH_OIDC_ISSUER: provider.issuer, BERTH_AUTH_OIDC_CLIENT_ID: CLIENT_ID, BERTH_AUTH_OIDC_CLIENT_SECRET: CLIENT_SECRET }, port);
  });
  after(async () => {
    await gw?.close();
    await provider?.close();
  });

  it("starts the berth on the provider's redirect back, before the browser follows the gateway's", async () => {
    const { callbackUrl, jar } = await signInUntilCallback(gw.base, 'hana', new CookieJar());
    const back = await step(jar, callbackUrl);
    assert.equal(back.status, 303);
    assert.equal(back.headers.get('location'), '/');
    const me = await fetch(`${gw.base}/_berth/api/me`, { headers: { cookie: jar.header() } });
    const { user, berth } = (await me.json()) as { user: { name: string }; berth: { state: string } };
    assert.equal(user.name, 'hana');
    assert.equal(berth.state, 'starting');
  });
});
