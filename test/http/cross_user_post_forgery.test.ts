import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { requestTo, serveWithApps, signedInOnAppHost, type ServedApps } from '../helpers/servedApps.js';

/*
 * Request forgery between users, against a real `berth serve` with a
 * non-browser client for the inputs a browser never sends. App hosts are
 * same-site with each other, so a form on bob's host carries alice's cookies
 * to her berth: a cookie-signed POST (or PUT, DELETE, ...) to a berth must
 * come from one of its owner's own pages, and a refused one never reaches
 * the berth. (test/browser/cross_user_post_forgery.test.ts has the attack
 * from a real page.)
 */
describe('cross-user request forgery (berth serve, non-browser client)', () => {
  let apps: ServedApps;
  let session: string;
  let appCookie: string;
  let token: string;
  let appPort: number;

  const seen = async (path: string): Promise<number> => {
    const all = JSON.parse((await requestTo(apps, `${apps.gatewayUrl}/seen`, { headers: { cookie: session } })).body) as Array<{ url: string }>;
    return all.filter((s) => s.url === path).length;
  };
  // Content-Length spelled out: Node's client sends a DELETE's body unframed otherwise.
  const post = (url: string, headers: Record<string, string>, method = 'POST') =>
    requestTo(apps, url, { method, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '5', ...headers }, body: 'do=it' });

  before(async () => {
    apps = await serveWithApps({ gatewayHost: 'gateway.test', appsDomain: 'apps.test' });
    ({ session, token, appPort, appCookie } = await signedInOnAppHost(apps, 'alice'));
  });
  after(() => apps?.close());

  it("passes a cookie POST from the owner's own pages: the gateway's origin, the same app host, and another of her app hosts", async () => {
    const app = apps.appUrl('alice', appPort);
    const own: Array<[string, string, string]> = [
      [`${apps.gatewayUrl}/main-from-gateway`, session, apps.gatewayUrl],
      [`${apps.gatewayUrl}/main-from-her-app`, session, apps.appUrl('alice', 3000)],
      [`${app}/app-from-itself`, appCookie, app],
      [`${app}/app-from-her-other-port`, appCookie, apps.appUrl('alice', 8888)],
      [`${app}/app-from-the-gateway`, appCookie, apps.gatewayUrl],
      [`${app}/app-upper-case-origin`, appCookie, app.toUpperCase().replace('HTTP://', 'http://')],
    ];
    for (const [url, cookie, origin] of own) {
      const reply = await post(url, { cookie, origin });
      assert.equal(reply.status, 200, `${url} from ${origin}: ${reply.body}`);
      assert.equal(await seen(new URL(url).pathname), 1);
    }
  });

  it('passes what no page of another host can make a browser send: no cookie, a Berth token, or neither Origin nor Sec-Fetch-Site', async () => {
    const app = apps.appUrl('alice', appPort);
    assert.equal((await post(`${app}/token-foreign-origin`, { 'x-berth-token': token, origin: `http://bob-3000.apps.test:${apps.port}` })).status, 200);
    assert.equal((await post(`${apps.gatewayUrl}/token-main`, { 'x-berth-token': token, origin: 'https://evil.test' })).status, 200);
    assert.equal((await post(`${apps.gatewayUrl}/cookie-no-origin`, { cookie: session })).status, 200);
    assert.equal((await post(`${app}/cookie-same-origin-fetch`, { cookie: appCookie, 'sec-fetch-site': 'same-origin' })).status, 200);
    // No cookie: nobody is signed in, so the refusal is the sign-in's, not the Origin rule's.
    assert.equal((await post(`${app}/anonymous`, { origin: `http://bob-3000.apps.test:${apps.port}` })).status, 401);
    for (const path of ['/token-foreign-origin', '/token-main', '/cookie-no-origin', '/cookie-same-origin-fetch']) assert.equal(await seen(path), 1, path);
  });

  // Functions of the gateway's port, which the test learns only once it is up.
  const foreign: Array<[string, (port: number) => Record<string, string>]> = [
    ["bob's app host", (port) => ({ origin: `http://bob-3000.apps.test:${port}` })],
    ['a name that ends like hers', (port) => ({ origin: `http://malice-3000.apps.test:${port}` })],
    ['her label under another domain', (port) => ({ origin: `http://alice-3000.apps.test.evil.test:${port}` })],
    ['her app host over https', (port) => ({ origin: `https://alice-3000.apps.test:${port}` })],
    ['her app host on another port', (port) => ({ origin: `http://alice-3000.apps.test:${port + 1}` })],
    ['her app host on the default port', () => ({ origin: 'http://alice-3000.apps.test' })],
    ['the apps domain itself', (port) => ({ origin: `http://apps.test:${port}` })],
    ['a host two labels deep', (port) => ({ origin: `http://x.alice-3000.apps.test:${port}` })],
    ['Origin: null', () => ({ origin: 'null' })],
    ['an empty Origin', () => ({ origin: '' })],
    ['an unparsable Origin', () => ({ origin: 'http://[' })],
    ['Sec-Fetch-Site same-site and no Origin', () => ({ 'sec-fetch-site': 'same-site' })],
    ['Sec-Fetch-Site cross-site and no Origin', () => ({ 'sec-fetch-site': 'cross-site' })],
  ];
  for (const [what, headersAt] of foreign) {
    it(`refuses a cookie POST with ${what} (403) on the main route and on an app host, before it reaches the berth`, async () => {
      const path = `/forged-${what.replace(/\W+/g, '-')}`;
      const headers = headersAt(apps.port);
      const main = await post(`${apps.gatewayUrl}${path}`, { cookie: session, ...headers });
      assert.equal(main.status, 403, main.body);
      assert.equal((JSON.parse(main.body) as { error: { code: string } }).error.code, 'csrf');
      assert.equal((await post(`${apps.appUrl('alice', appPort)}${path}`, { cookie: appCookie, ...headers })).status, 403);
      assert.equal(await seen(path), 0);
    });
  }

  it('refuses every state-changing method, and lets reads through from anywhere', async () => {
    const app = apps.appUrl('alice', appPort);
    const bob = `http://bob-3000.apps.test:${apps.port}`;
    for (const method of ['PUT', 'DELETE', 'PATCH', 'PROPFIND']) {
      const reply = await post(`${app}/method-${method}`, { cookie: appCookie, origin: bob }, method);
      assert.equal(reply.status, 403, `${method}: ${reply.body}`);
      assert.equal(await seen(`/method-${method}`), 0, method);
    }
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      const reply = await requestTo(apps, `${app}/read-${method}`, { method, headers: { cookie: appCookie, origin: bob } });
      assert.equal(reply.status, 200, method);
      assert.equal(await seen(`/read-${method}`), 1, method);
    }
  });

  it('logs each refusal at warn with the Origin that gave it away, never the cookie', () => {
    const refusals = apps.served.lines.filter((l) => l.msg === 'request refused' && l.code === 'csrf');
    assert.ok(refusals.length > 0);
    assert.ok(refusals.every((l) => l.level === 40 && l.status === 403));
    assert.ok(refusals.some((l) => String(l.detail).includes(`cross-user POST refused: Origin "http://bob-3000.apps.test:${apps.port}"`)), JSON.stringify(refusals[0]));
    const secret = [session, appCookie].map((c) => c.split('=')[1] as string);
    assert.equal(secret.some((s) => JSON.stringify(refusals).includes(s)), false);
  });
});
