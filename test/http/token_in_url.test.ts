import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import type { Reply } from '../helpers/http.js';
import { devSession, newToken, requestTo, serveWithApps, type ServedApps } from '../helpers/servedApps.js';

/*
 * A Berth token in a URL (?berth_token=) leaves it at once, wherever it
 * appears: an app host trades it for its cookie, every other route answers
 * 303 to the URL without it, a login `next` drops it, and neither the berth
 * nor a log line ever holds it. Against a real `berth serve` with a berth
 * that records every request head it receives.
 */

describe('berth_token in URLs (berth serve)', () => {
  let apps: ServedApps;
  let appPort: number;
  let gatewayUrl: string;
  let session: string;
  let token: string;

  const get = (path: string, headers: Record<string, string> = {}, base = gatewayUrl): Promise<Reply> => requestTo(apps, `${base}${path}`, { headers });
  const seen = async (): Promise<Array<{ url: string; upgrade?: boolean }>> => JSON.parse((await get('/seen', { cookie: session })).body) as Array<{ url: string }>;

  before(async () => {
    appPort = await freeLoopbackPort();
    apps = await serveWithApps({ gatewayHost: 'gateway.test', appsDomain: 'apps.test' });
    gatewayUrl = apps.gatewayUrl;
    session = await devSession(apps, 'alice');
    token = await newToken(apps, session, ['apps']);
    assert.equal((await get(`/open?port=${appPort}`, { cookie: session })).status, 200, 'the berth starts and listens on the app port');
  });
  after(() => apps?.close());

  it('answers a token on the main route with a 303 to the URL without it and no Referer, signed in or not, however the key is spelled', async () => {
    const cases: Array<[string, string]> = [
      [`/x?a=1&berth_token=${token}&b=2`, '/x?a=1&b=2'],
      [`/x?berth_token=${token}`, '/x'],
      [`/x?berth%5Ftoken=${token}`, '/x'],
      [`/x?berth_token=${token}&berth_token=${token}`, '/x'],
      [`/x?q=a+b&berth_token=${token}`, '/x?q=a+b'],
      [`/_berth/?berth_token=${token}`, '/_berth/'],
    ];
    for (const [path, location] of cases) {
      for (const headers of [{ cookie: session, accept: 'text/html' }, { accept: 'text/html' }, {}] as Array<Record<string, string>>) {
        const reply = await get(path, headers);
        assert.equal(reply.status, 303, path);
        assert.equal(reply.headers.location, location, path);
        assert.equal(reply.headers['referrer-policy'], 'no-referrer', path);
      }
    }
    const post = await requestTo(apps, `${gatewayUrl}/x?berth_token=${token}`, { method: 'POST', headers: { cookie: session, origin: gatewayUrl } });
    assert.equal(post.status, 400);
    assert.match(post.body, /X-Berth-Token/);
    // Look-alikes are the app's own parameters.
    assert.equal((await get('/x?berth_tokens=1&my_berth_token=2', { cookie: session })).status, 200);
  });

  it('drops the token from a login `next`, on the login page and after signing in', async () => {
    const next = encodeURIComponent(`/x?a=1&berth_token=${token}`);
    const page = await get(`/_berth/login?next=${next}`, { accept: 'text/html' });
    assert.equal(page.status, 200);
    assert.match(page.body, /name="next" value="\/x\?a=1"/);
    assert.equal(page.body.includes(token), false, 'the login form carries the token on');
    const posted = await requestTo(apps, `${gatewayUrl}/_berth/login`, {
      method: 'POST',
      headers: { origin: gatewayUrl, 'content-type': 'application/x-www-form-urlencoded' },
      body: `username=alice&next=${next}`,
    });
    assert.equal(posted.status, 303);
    assert.equal(posted.headers.location, '/x?a=1');
  });

  it('trades the token for the app cookie on an app host, redirecting without it and without a Referer', async () => {
    const reply = await get(`/page?x=1&berth_token=${token}`, {}, apps.appUrl('alice', appPort));
    assert.equal(reply.status, 303);
    assert.equal(reply.headers.location, '/page?x=1');
    assert.equal(reply.headers['referrer-policy'], 'no-referrer');
    assert.match(String(reply.headers['set-cookie']), /^berth_app=/);
  });

  it('cuts the token from a WebSocket handshake URL before the berth sees it', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${apps.port}/socket?keep=1&berth_token=${token}`, { headers: { host: new URL(gatewayUrl).host, cookie: session, origin: gatewayUrl } });
    await once(ws, 'open');
    ws.close();
    await once(ws, 'close');
    const handshakes = (await seen()).filter((s) => s.upgrade === true);
    assert.deepEqual(handshakes.map((s) => s.url), ['/socket?keep=1']);
  });

  it('lets the token reach neither the berth nor a log line', async () => {
    const reached = await seen();
    assert.ok(reached.length > 0);
    assert.equal(JSON.stringify(reached).includes(token), false, 'a request head with the token reached the berth');
    assert.equal(JSON.stringify(apps.served.lines).includes(token), false, 'the token is in the log');
    assert.equal(apps.served.output().includes(token), false, 'the token is in the output');
  });
});
