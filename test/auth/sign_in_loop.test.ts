import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { httpRequest, type Reply } from '../helpers/http.js';
import { berthServe, stopServe, type Served } from '../helpers/serve.js';

/*
 * Two cookies of one gateway name (a stale one, or one a sibling host planted
 * with Domain= and a longer Path, which browsers send first) must not trap a
 * browser in a sign-in loop; behind https the gateway's cookies carry the
 * __Host- prefix so no sibling host can set or shadow them. Against a real
 * `berth serve` in dev mode, over plain HTTP on loopback (behind https, a
 * TLS-terminating proxy would sit in front).
 */

async function serveDev(publicScheme: 'http' | 'https'): Promise<{ served: Served; base: string; origin: string; close(): Promise<void> }> {
  const port = await freeLoopbackPort();
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-sign-in-loop-'));
  const origin = `${publicScheme}://127.0.0.1:${port}`;
  const served = await berthServe([], {
    BERTH_LISTEN_HTTP: `127.0.0.1:${port}`,
    BERTH_PUBLIC_URL: origin,
    BERTH_LISTEN_SSH: 'null',
    BERTH_AUTH_MODE: 'dev',
    BERTH_DATA_DIR: dataDir,
  });
  return {
    served,
    base: served.base,
    origin,
    async close() {
      await stopServe(served, 'SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function setCookies(reply: Reply): string[] {
  const value = reply.headers['set-cookie'];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

async function signIn(gateway: { base: string; origin: string }, who: string): Promise<string> {
  const reply = await httpRequest(`${gateway.base}/_berth/login`, {
    method: 'POST',
    headers: { origin: gateway.origin, 'content-type': 'application/x-www-form-urlencoded' },
    body: `username=${who}&next=%2F_berth%2F`,
  });
  assert.equal(reply.status, 303, reply.body);
  const [line] = setCookies(reply);
  assert.ok(line, 'the login sets the session cookie');
  return line;
}

const pair = (setCookie: string) => setCookie.split(';')[0] as string;
const asPage = (cookie: string) => ({ cookie, accept: 'text/html' });

describe('sign-in loop from two cookies of one name (berth serve, http)', () => {
  let gateway: Awaited<ReturnType<typeof serveDev>>;
  let valid: string;

  before(async () => {
    gateway = await serveDev('http');
    valid = pair(await signIn(gateway, 'alice'));
  });
  after(() => gateway?.close());

  it('believes the valid one whichever comes first, in one Cookie header or two', async () => {
    const stale = 'berth_session=v1.eyJzaWQiOiJ4In0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    for (const cookie of [`${stale}; ${valid}`, `${valid}; ${stale}`, `berth_session=; ${valid}`, `berth_session=%00junk; theme=dark; ${valid}`]) {
      const me = await httpRequest(`${gateway.base}/_berth/api/me`, { headers: { cookie } });
      assert.equal(me.status, 200, `${cookie}: ${me.body}`);
      assert.equal((JSON.parse(me.body) as { user: { name: string } }).user.name, 'alice');
    }
  });

  it('treats only stale ones as signed out: one redirect to the login page, which clears the cookie', async () => {
    const page = await httpRequest(`${gateway.base}/_berth/`, { headers: asPage('berth_session=old; berth_session=older') });
    assert.equal(page.status, 303);
    assert.match(String(page.headers.location), /^\/_berth\/login/);
    assert.deepEqual(setCookies(page), ['berth_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0']);
    const api = await httpRequest(`${gateway.base}/_berth/api/me`, { headers: { cookie: 'berth_session=old' } });
    assert.equal(api.status, 401);
    assert.deepEqual(setCookies(api), ['berth_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0']);
    const none = await httpRequest(`${gateway.base}/_berth/`, { headers: asPage('theme=dark') });
    assert.equal(none.status, 303);
    assert.deepEqual(setCookies(none), [], 'nothing to clear when none was sent');
  });

  it('ends after one sign-in even when a planted cookie the gateway cannot clear keeps coming first', async () => {
    // A Domain= cookie from a sibling host survives the gateway's clearing (that names the host-only one).
    const planted = 'berth_session=planted-by-a-sibling';
    assert.equal((await httpRequest(`${gateway.base}/_berth/`, { headers: asPage(planted) })).status, 303);
    const fresh = pair(await signIn(gateway, 'alice'));
    const back = await httpRequest(`${gateway.base}/_berth/`, { headers: asPage(`${planted}; ${fresh}`) });
    assert.equal(back.status, 200, 'signed in, not sent to the login page again');
  });
});

describe('__Host- cookies behind https (berth serve)', () => {
  let gateway: Awaited<ReturnType<typeof serveDev>>;

  before(async () => {
    gateway = await serveDev('https');
  });
  after(() => gateway?.close());

  it('names the session __Host-berth_session: Secure, Path=/, no Domain; the unprefixed name is not believed, and neither reaches the berth', async () => {
    const line = await signIn(gateway, 'alice');
    assert.match(line, /^__Host-berth_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+; Secure$/);
    assert.doesNotMatch(line, /domain/i);
    const value = pair(line).slice('__Host-berth_session='.length);
    assert.equal((await httpRequest(`${gateway.base}/_berth/api/me`, { headers: { cookie: `__Host-berth_session=${value}` } })).status, 200);
    assert.equal((await httpRequest(`${gateway.base}/_berth/api/me`, { headers: { cookie: `berth_session=${value}` } })).status, 401);
    const env = await httpRequest(`${gateway.base}/env`, { headers: { cookie: `theme=dark; __Host-berth_session=${value}; berth_session=${value}` } });
    assert.equal(env.status, 200, env.body);
    assert.equal((JSON.parse(env.body) as { headers: Record<string, string> }).headers.cookie, 'theme=dark', 'no form of the session cookie reaches the berth');
    const cleared = await httpRequest(`${gateway.base}/_berth/logout`, { headers: { cookie: `__Host-berth_session=${value}` } });
    assert.deepEqual(setCookies(cleared), ['__Host-berth_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure']);
  });
});
