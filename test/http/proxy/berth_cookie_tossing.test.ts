import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { isGatewayCookieName } from '../../../src/auth/cookies.js';
import { rewriteSetCookie, setCookieName, withoutCookieClearing, type BerthCookieRules } from '../../../src/http/proxy/cookies.js';
import { fetchText, startBerth, startGateway, type Gateway } from './harness.js';

/*
 * A berth's Set-Cookie can neither touch the gateway's cookies nor reach
 * beyond the host that set it: Domain= is removed (cookie tossing onto other
 * users' app hosts and, under a shared parent domain, onto the gateway), and a
 * gateway cookie name is dropped in every spelling a browser would file under it.
 * Nor can its Clear-Site-Data clear cookies, which browsers do for the whole
 * registrable domain: the gateway's and every other app host's.
 */

const HOST_ONLY: BerthCookieRules = { reserved: isGatewayCookieName, allowDomain: false };
const DOMAIN_ALLOWED: BerthCookieRules = { reserved: isGatewayCookieName, allowDomain: true };

describe('rewriteSetCookie: Domain= becomes host-only, every other attribute kept', () => {
  const cases: Array<[string, string]> = [
    ['theme=dark; Domain=apps.example.test; Path=/', 'theme=dark; Path=/'],
    ['theme=dark; Path=/; Domain=.apps.example.test', 'theme=dark; Path=/'],
    ['theme=dark;domain=apps.example.test;path=/', 'theme=dark;path=/'],
    ['theme=dark;   DOMAIN   =   example.test  ; Secure', 'theme=dark; Secure'],
    ['theme=dark; DoMaIn=example.test; HttpOnly; SameSite=None; Secure; Partitioned', 'theme=dark; HttpOnly; SameSite=None; Secure; Partitioned'],
    ['theme=dark;\tDomain=example.test;\tMax-Age=60', 'theme=dark;\tMax-Age=60'],
    ['theme=dark; Domain; Path=/', 'theme=dark; Path=/'],
    ['theme=dark; Domain=', 'theme=dark'],
    ['theme=dark; Domain=a.example.test; Domain=b.example.test; Expires=Wed, 21 Oct 2037 07:28:00 GMT', 'theme=dark; Expires=Wed, 21 Oct 2037 07:28:00 GMT'],
    ['sid="quoted; Domain=x"; Domain=example.test', 'sid="quoted'],
    ['empty=; Domain=example.test; Max-Age=0', 'empty=; Max-Age=0'],
    ['__Secure-id=1; Domain=example.test; Secure; Path=/', '__Secure-id=1; Secure; Path=/'],
    ['__Host-id=1; Secure; Path=/', '__Host-id=1; Secure; Path=/'],
    // Not the Domain attribute: a cookie named "domain", a value mentioning it, look-alike attributes.
    ['domain=example.test; Path=/', 'domain=example.test; Path=/'],
    ['note=Domain=example.test; Path=/', 'note=Domain=example.test; Path=/'],
    ['theme=dark; Domains=example.test; X-Domain=y', 'theme=dark; Domains=example.test; X-Domain=y'],
    ['theme=dark; Path=/domain', 'theme=dark; Path=/domain'],
  ];
  for (const [line, expected] of cases) {
    it(`${JSON.stringify(line)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(rewriteSetCookie(line, HOST_ONLY), expected);
    });
  }

  it('passes a line without a Domain attribute on as the very same string', () => {
    const line = 'theme=dark; Path=/; HttpOnly; SameSite=Lax; Max-Age=600';
    assert.equal(rewriteSetCookie(line, HOST_ONLY), line);
  });

  it('keeps Domain= as sent when apps.allowDomainCookies is on', () => {
    const line = 'theme=dark; Domain=apps.example.test; Path=/';
    assert.equal(rewriteSetCookie(line, DOMAIN_ALLOWED), line);
  });
});

describe('rewriteSetCookie: a berth never sets, replaces or clears a gateway cookie', () => {
  const dropped = [
    'berth_session=forged; Path=/',
    'berth_session=; Max-Age=0; Path=/',
    'berth_session=x; Domain=example.test; Path=/_berth/',
    'berth_oidc=x',
    'berth_app=x; Path=/',
    '__Host-berth_session=x; Secure; Path=/',
    '__Secure-berth_session=x; Secure',
    '__host-berth_app=x; Secure; Path=/',
    'BERTH_SESSION=x',
    'Berth_App=x',
    '  berth_session  =x',
    'berth_session',
    '=berth_session=forged',
    ' = berth_app=forged; Path=/',
  ];
  for (const line of dropped) {
    it(`drops ${JSON.stringify(line)} even with Domain cookies allowed`, () => {
      assert.equal(rewriteSetCookie(line, HOST_ONLY), null);
      assert.equal(rewriteSetCookie(line, DOMAIN_ALLOWED), null);
    });
  }

  const kept = ['my_berth_session=1', 'berth_session_x=1', 'berth=1', 'session=1', 'x=berth_session', '__Host-theme=1; Secure; Path=/'];
  for (const line of kept) {
    it(`keeps the app's own ${JSON.stringify(line)}`, () => {
      assert.equal(rewriteSetCookie(line, HOST_ONLY), line);
    });
  }

  it('names a cookie as the browser files it, nameless ones by their value', () => {
    assert.equal(setCookieName(' theme = dark; Path=/'), 'theme');
    assert.equal(setCookieName('=berth_session=forged'), 'berth_session');
    assert.equal(setCookieName('bare'), 'bare');
    assert.equal(setCookieName(''), '');
  });
});

describe('Set-Cookie through the proxy', () => {
  let gateway: Gateway;
  let berth: Awaited<ReturnType<typeof startBerth>>;
  const dropped: string[] = [];
  const lines = [
    'a=1; Domain=apps.example.test; Path=/; HttpOnly',
    'berth_session=forged; Path=/',
    'b=2; Path=/x; Secure; SameSite=None; Partitioned',
    '__Host-berth_app=forged; Secure; Path=/',
    'c=3; Max-Age=60; domain=.example.test',
  ];

  before(async () => {
    berth = await startBerth((_req, res) => {
      res.setHeader('set-cookie', lines);
      res.end('ok');
    });
    const sockets = new WebSocketServer({ server: berth.server });
    sockets.on('headers', (headers) => headers.push('Set-Cookie: berth_session=forged; Path=/', 'Set-Cookie: ws=1; Domain=example.test'));
    sockets.on('connection', (ws) => ws.close());
    gateway = await startGateway(berth.endpoint, { scheme: 'http', cookies: HOST_ONLY, onDroppedCookie: (name) => dropped.push(name) });
  });
  after(async () => {
    await gateway.close();
    await berth.close();
  });

  it('keeps several Set-Cookie headers several, each rewritten on its own, and reports the dropped ones', async () => {
    const reply = await fetchText(gateway.endpoint, '/');
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.headers['set-cookie'], ['a=1; Path=/; HttpOnly', 'b=2; Path=/x; Secure; SameSite=None; Partitioned', 'c=3; Max-Age=60']);
    assert.deepEqual(dropped.splice(0), ['berth_session', '__Host-berth_app']);
  });

  it('applies the same rule to the Set-Cookie of a WebSocket handshake (101)', async () => {
    const ws = new WebSocket(`ws://${gateway.endpoint.host}:${gateway.endpoint.port}/`);
    const [response] = (await once(ws, 'upgrade')) as [{ headers: Record<string, string | string[]> }];
    assert.deepEqual(response.headers['set-cookie'], ['ws=1']);
    assert.deepEqual(dropped.splice(0), ['berth_session']);
    await once(ws, 'close');
  });
});

describe('withoutCookieClearing: a berth clears its own origin, never the cookies of the whole domain', () => {
  const cases: Array<[string, string | null, boolean]> = [
    ['"cookies"', null, true],
    ['"*"', null, true],
    ['"cache", "cookies", "storage"', '"cache", "storage"', true],
    ['"COOKIES","executionContexts"', '"executionContexts"', true],
    ['  "cookies" ,  "*" ', null, true],
    ['"cache", "storage", "executionContexts"', '"cache", "storage", "executionContexts"', false],
    // Unquoted is not a type browsers act on, so it is no threat and passes as sent (less spacing).
    ['cookies', 'cookies', false],
    ['"cookies2"', '"cookies2"', false],
    ['', null, false],
  ];
  for (const [value, kept, dropped] of cases) {
    it(`${JSON.stringify(value)} → ${JSON.stringify(kept)}`, () => {
      assert.deepEqual(withoutCookieClearing(value), { kept, dropped });
    });
  }
});

describe('Clear-Site-Data through the proxy', () => {
  let gateway: Gateway;
  let berth: Awaited<ReturnType<typeof startBerth>>;
  const dropped: string[] = [];

  before(async () => {
    berth = await startBerth((req, res) => {
      res.setHeader('clear-site-data', decodeURIComponent((req.url ?? '/').slice(1)));
      res.end('ok');
    });
    gateway = await startGateway(berth.endpoint, { scheme: 'http', cookies: HOST_ONLY, onDroppedCookie: (name) => dropped.push(name) });
  });
  after(async () => {
    await gateway.close();
    await berth.close();
  });

  it('drops "cookies" and "*" from the header, keeps the rest, and reports it', async () => {
    const mixed = await fetchText(gateway.endpoint, `/${encodeURIComponent('"cache", "cookies"')}`);
    assert.equal(mixed.headers['clear-site-data'], '"cache"');
    const only = await fetchText(gateway.endpoint, `/${encodeURIComponent('"*"')}`);
    assert.equal(only.status, 200);
    assert.equal(only.headers['clear-site-data'], undefined, 'nothing left to clear: no header');
    const harmless = await fetchText(gateway.endpoint, `/${encodeURIComponent('"storage"')}`);
    assert.equal(harmless.headers['clear-site-data'], '"storage"');
    assert.deepEqual(dropped.splice(0), ['Clear-Site-Data "cookies"', 'Clear-Site-Data "cookies"']);
  });
});
