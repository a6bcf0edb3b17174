import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigInput } from '../../src/config/schema.js';
import { captureLogger, cookieFrom, send, startGateway, type Reply } from './helpers.js';

async function devGateway(input: ConfigInput = {}) {
  const { logger, text } = captureLogger();
  const { url, config } = await startGateway({ auth: { mode: 'dev' }, ...input }, logger);
  const login = (fields: Record<string, string>, headers: Record<string, string> = { origin: url }): Promise<Reply> =>
    send(`${url}/_berth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  return { url, config, login, logs: text };
}

describe('dev login', () => {
  it('serves a self-contained login form that keeps a same-origin next', async () => {
    const { url } = await devGateway();
    const reply = await send(`${url}/_berth/login?next=${encodeURIComponent('/lab/tree?path=a&b=1')}`);
    assert.equal(reply.status, 200);
    assert.match(reply.headers['content-type'] ?? '', /^text\/html/);
    assert.match(String(reply.headers['content-security-policy']), /default-src 'none'.*form-action 'self'/);
    assert.match(reply.body, /<form method="post" action="\/_berth\/login">/);
    assert.match(reply.body, /name="next" value="\/lab\/tree\?path=a&#38;b=1"/);
    assert.doesNotMatch(reply.body, /(src|href)="(https?:)?\/\//);
  });

  it('sends an unauthenticated browser to the login page with next, and answers scripts 401', async () => {
    const { url } = await devGateway();
    const html = await send(`${url}/notebooks/a?b=1`, { headers: { accept: 'text/html' } });
    assert.equal(html.status, 303);
    assert.equal(html.headers.location, `/_berth/login?next=${encodeURIComponent('/notebooks/a?b=1')}`);
    const api = await send(`${url}/notebooks/a`);
    assert.equal(api.status, 401);
    assert.match(JSON.parse(api.body).message, /\/_berth\/login/);
  });

  it('signs in with a form post, sets the session cookie and authenticates with it', async () => {
    const { url, login, logs } = await devGateway({ auth: { mode: 'dev', admins: ['alice'] } });
    const reply = await login({ username: 'alice', next: '/lab?x=1' });
    assert.equal(reply.status, 303);
    assert.equal(reply.headers.location, '/lab?x=1');
    const cookie = cookieFrom(reply, 'berth_session');
    assert.ok(cookie !== undefined, 'no session cookie set');
    const me = await send(`${url}/anything`, { headers: { cookie } });
    assert.equal(me.status, 200, me.body);
    assert.deepEqual(JSON.parse(me.body).user, { name: 'alice', groups: [], admin: true });
    assert.equal(logs().includes(cookie.split('=')[1]!), false, 'the cookie value was logged');
  });

  const openRedirects = [
    'https://evil.test',
    '//evil.test',
    '/\\evil.test',
    '\\\\evil.test',
    '/\t/evil.test',
    '/%0a/evil.test'.replace('%0a', '\n'),
    'javascript:alert(1)',
    'http:/evil.test',
    'evil.test',
    '',
    '/_berth/login',
  ];
  for (const next of openRedirects) {
    it(`goes to / after signing in with next=${JSON.stringify(next)}`, async () => {
      const { login } = await devGateway();
      const reply = await login({ username: 'alice', next });
      assert.equal(reply.status, 303);
      assert.equal(reply.headers.location, '/');
    });
  }

  it('keeps odd but local next paths on this gateway', async () => {
    const { url, login } = await devGateway();
    for (const next of ['/..//evil.test', '/%2F%2Fevil.test', '/./evil.test', '/a/../b?c=//evil.test']) {
      const location = (await login({ username: 'alice', next })).headers.location ?? '';
      assert.equal(new URL(location, url).origin, url, `${next} led to ${location}`);
    }
  });

  it('does not carry an off-site next into the form', async () => {
    const { url } = await devGateway();
    const reply = await send(`${url}/_berth/login?next=${encodeURIComponent('//evil.test/x')}`);
    assert.match(reply.body, /name="next" value="\/"/);
  });

  const badUsernames: Array<[string, string]> = [
    ['an empty username', ''],
    ['a username with a newline', 'al\nice'],
    ['a padded username', ' alice '],
  ];
  for (const [what, username] of badUsernames) {
    it(`refuses ${what} with 400 and the form again, setting no cookie`, async () => {
      const { login } = await devGateway();
      const reply = await login({ username, next: '/x' });
      assert.equal(reply.status, 400);
      assert.match(reply.body, /role="alert">That username cannot be used/);
      assert.match(reply.body, /name="next" value="\/x"/);
      assert.equal(reply.headers['set-cookie'], undefined);
    });
  }

  it('refuses a login posted from another origin (login CSRF), setting no cookie', async () => {
    const { login } = await devGateway();
    const crossOrigin: Array<Record<string, string>> = [
      { origin: 'https://evil.test' },
      { 'sec-fetch-site': 'cross-site' },
      { referer: 'https://evil.test/page' },
    ];
    for (const headers of crossOrigin) {
      const reply = await login({ username: 'mallory' }, headers);
      assert.equal(reply.status, 403, JSON.stringify(headers));
      assert.equal(JSON.parse(reply.body).code, 'csrf');
      assert.equal(reply.headers['set-cookie'], undefined);
    }
  });

  it('refuses a login that is not a form (415) or is too large (413), and other methods (405)', async () => {
    const { url } = await devGateway();
    const json = await send(`${url}/_berth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(json.status, 415);
    const large = await send(`${url}/_berth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `username=${'a'.repeat(20_000)}`,
    });
    assert.equal(large.status, 413);
    assert.equal((await send(`${url}/_berth/login`, { method: 'PUT' })).status, 405);
  });

  it('logs out with GET or POST: clears the cookie and goes to the login page', async () => {
    const { url, login, logs } = await devGateway();
    const cookie = cookieFrom(await login({ username: 'alice' }), 'berth_session') ?? '';
    for (const method of ['GET', 'POST']) {
      const reply = await send(`${url}/_berth/logout`, { method, headers: { cookie } });
      assert.equal(reply.status, 303, method);
      assert.equal(reply.headers.location, '/_berth/login');
      assert.equal(cookieFrom(reply, 'berth_session'), 'berth_session=');
      assert.match(reply.headers['set-cookie']?.[0] ?? '', /Max-Age=0/);
    }
    assert.match(logs(), /"user":"alice".*signed out/);
    assert.equal((await send(`${url}/_berth/logout`, { method: 'DELETE' })).status, 405);
  });

  it('keeps users signed in across a restart (the secret persists in dataDir)', async () => {
    const first = await devGateway();
    const cookie = cookieFrom(await first.login({ username: 'alice' }), 'berth_session') ?? '';
    const restarted = await startGateway({ dataDir: first.config.dataDir, auth: { mode: 'dev' } }, captureLogger().logger);
    const me = await send(`${restarted.url}/`, { headers: { cookie } });
    assert.equal(me.status, 200, me.body);
  });
});
