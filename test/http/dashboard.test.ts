import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { inProcessGateway } from '../helpers/inProcessGateway.js';
import { eventually, httpRequest } from '../helpers/http.js';

const gatewayWith = async (overrides: Record<string, string>) => inProcessGateway({ BERTH_LISTEN_SSH: `127.0.0.1:${await freeLoopbackPort()}`, ...overrides });

describe('dashboard and CSRF, dev sign-in', () => {
  let gw: Awaited<ReturnType<typeof gatewayWith>>;
  let cookie: string;
  before(async () => {
    gw = await gatewayWith({ BERTH_AUTH_MODE: 'dev' });
    const login = await httpRequest(`${gw.base}/_berth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: gw.base },
      // To the dashboard, so the sign-in itself starts nothing (spawn.startOnSignIn starts berths only for a way back into one).
      body: 'username=alice&next=%2F_berth%2F',
    });
    cookie = String(login.headers['set-cookie']).split(';')[0] as string;
  });
  after(() => gw?.close());

  const post = (path: string, headers: Record<string, string> = {}) =>
    httpRequest(`${gw.base}${path}`, { method: 'POST', headers: { cookie, origin: gw.base, ...headers } });

  it('serves the dashboard with a CSRF token, the SSH command and a strict CSP', async () => {
    const page = await httpRequest(`${gw.base}/_berth/`, { headers: { cookie, accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(page.body, /<meta name="berth-csrf" content="[A-Za-z0-9_-]{43}">/);
    assert.match(page.body, /ssh -p \d+ alice@127\.0\.0\.1/);
    assert.match(page.body, /SHA256:\S+ \(ED25519\)/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.doesNotMatch(page.body, /<script>|<style>|style="/, 'no inline script or style');
    for (const asset of ['common.js', 'dashboard.js', 'admin.js', 'loading.js', 'berth.css']) {
      const reply = await httpRequest(`${gw.base}/_berth/assets/${asset}`);
      assert.equal(reply.status, 200, asset);
    }
  });

  it('refuses a POST from the browser session without the CSRF token, and accepts it with the token', async () => {
    const refused = await post('/_berth/api/me/start');
    assert.equal(refused.status, 403);
    assert.equal(JSON.parse(refused.body).error.code, 'csrf');
    const wrong = await post('/_berth/api/me/start', { 'x-berth-csrf': 'x'.repeat(43) });
    assert.equal(wrong.status, 403);
    const page = await httpRequest(`${gw.base}/_berth/`, { headers: { cookie, accept: 'text/html' } });
    const token = /name="berth-csrf" content="([^"]+)"/.exec(page.body)?.[1] ?? '';
    const crossOrigin = await post('/_berth/api/me/start', { 'x-berth-csrf': token, origin: 'https://evil.test' });
    assert.equal(crossOrigin.status, 403, 'the right token from another origin is still refused');
    const me = JSON.parse((await httpRequest(`${gw.base}/_berth/api/me`, { headers: { cookie } })).body);
    assert.equal(me.berth.state, 'stopped', 'nothing was started by the refused requests');
    const started = await post('/_berth/api/me/start', { 'x-berth-csrf': token });
    assert.equal(started.status, 202);
    await eventually(
      async () => ((await httpRequest(`${gw.base}/_berth/api/me/events`, { headers: { cookie } })).body.includes('"kind":"ready"') ? true : undefined),
      15_000,
      'a ready event',
    );
    const restarted = await post('/_berth/api/me/restart', { 'x-berth-csrf': token });
    assert.equal(restarted.status, 202);
    await eventually(
      async () => {
        const { events } = JSON.parse((await httpRequest(`${gw.base}/_berth/api/me/events`, { headers: { cookie } })).body) as { events: Array<{ kind: string; message: string }> };
        return events.some((e) => e.kind === 'stopped' && e.message === 'restarted by alice') ? true : undefined;
      },
      10_000,
      'the restart recorded as an event',
    );
  });

  it('shows the admin page to admins only', async () => {
    const reply = await httpRequest(`${gw.base}/_berth/admin`, { headers: { cookie, accept: 'text/html' } });
    assert.equal(reply.status, 403);
    assert.match(reply.body, /Not allowed/);
  });
});

describe('admin API, header sign-in', () => {
  let gw: Awaited<ReturnType<typeof gatewayWith>>;
  before(async () => {
    gw = await gatewayWith({ BERTH_AUTH_MODE: 'header', BERTH_AUTH_ADMINS: '[root]' });
  });
  after(() => gw?.close());
  const as = (user: string) => ({ 'x-forwarded-preferred-username': user, origin: gw.base, 'content-type': 'application/json' });

  it('stops and restarts another user\'s berth, and refuses non-admins and unknown users', async () => {
    assert.equal((await httpRequest(`${gw.base}/env`, { headers: { 'x-forwarded-preferred-username': 'bob' } })).status, 200);
    const byBob = await httpRequest(`${gw.base}/_berth/api/berths/stop`, { method: 'POST', headers: as('bob'), body: '{"user":"bob"}' });
    assert.equal(byBob.status, 403);
    const page = await httpRequest(`${gw.base}/_berth/admin`, { headers: { 'x-forwarded-preferred-username': 'root', accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(page.body, /All berths/);
    const stop = await httpRequest(`${gw.base}/_berth/api/berths/stop`, { method: 'POST', headers: as('root'), body: '{"user":"bob"}' });
    assert.equal(stop.status, 200, stop.body);
    assert.equal(JSON.parse(stop.body).state, 'stopped');
    const restart = await httpRequest(`${gw.base}/_berth/api/berths/restart`, { method: 'POST', headers: as('root'), body: '{"user":"bob"}' });
    assert.equal(restart.status, 202);
    const unknown = await httpRequest(`${gw.base}/_berth/api/berths/stop`, { method: 'POST', headers: as('root'), body: '{"user":"nobody"}' });
    assert.equal(unknown.status, 404);
    const missing = await httpRequest(`${gw.base}/_berth/api/berths/stop`, { method: 'POST', headers: as('root'), body: '{}' });
    assert.equal(missing.status, 400);
    const crossOrigin = await httpRequest(`${gw.base}/_berth/api/berths/stop`, { method: 'POST', headers: { ...as('root'), origin: 'https://evil.test' }, body: '{"user":"bob"}' });
    assert.equal(crossOrigin.status, 403);
  });

  it('describes the new routes in the OpenAPI document', async () => {
    const doc = JSON.parse((await httpRequest(`${gw.base}/_berth/api/openapi.json`)).body) as { paths: Record<string, unknown> };
    for (const path of ['/me/restart', '/me/events', '/berths/stop', '/berths/restart']) assert.ok(doc.paths[path], path);
  });
});
