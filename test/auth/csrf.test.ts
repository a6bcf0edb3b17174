import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deriveKey } from '../../src/auth/crypto.js';
import { checkSameOrigin, checkUpgradeOrigin } from '../../src/auth/csrf/origin.js';
import { createCsrf } from '../../src/auth/csrf/token.js';
import { captureLogger, fakeRequest, flipLast, send, startGateway } from './helpers.js';

const PUBLIC_URL = 'https://berth.example.test';

describe('same-origin check for state-changing requests', () => {
  const cases: Array<[string, string, Array<[string, string]>, 'pass' | 'refuse']> = [
    ['a cross-origin GET (reading is not changing)', 'GET', [['Origin', 'https://evil.test'], ['Cookie', 'c=1']], 'pass'],
    ['a same-origin POST', 'POST', [['Origin', 'https://berth.example.test'], ['Cookie', 'c=1']], 'pass'],
    ['a same-origin POST with the default port spelled out', 'POST', [['Origin', 'https://berth.example.test:443']], 'pass'],
    ['a cross-origin POST', 'POST', [['Origin', 'https://evil.test'], ['Cookie', 'c=1']], 'refuse'],
    ['a POST from a sibling apps host (same site, other origin)', 'POST', [['Origin', 'https://alice-3000.apps.example.test']], 'refuse'],
    ['a POST from another port', 'POST', [['Origin', 'https://berth.example.test:8443']], 'refuse'],
    ['a POST from plain http', 'POST', [['Origin', 'http://berth.example.test']], 'refuse'],
    ['a POST with Origin: null (sandboxed frame)', 'POST', [['Origin', 'null']], 'refuse'],
    ['a cross-origin PUT', 'PUT', [['Origin', 'https://evil.test']], 'refuse'],
    ['a cross-origin DELETE', 'DELETE', [['Origin', 'https://evil.test']], 'refuse'],
    ['a cross-origin PATCH', 'PATCH', [['Origin', 'https://evil.test']], 'refuse'],
    ['a POST with Sec-Fetch-Site: same-origin and no Origin', 'POST', [['Sec-Fetch-Site', 'same-origin'], ['Cookie', 'c=1']], 'pass'],
    ['a POST with Sec-Fetch-Site: cross-site', 'POST', [['Sec-Fetch-Site', 'cross-site'], ['Cookie', 'c=1']], 'refuse'],
    ['a POST with Sec-Fetch-Site: same-site', 'POST', [['Sec-Fetch-Site', 'same-site']], 'refuse'],
    ['a POST with a same-origin Referer only', 'POST', [['Referer', 'https://berth.example.test/_berth/'], ['Cookie', 'c=1']], 'pass'],
    ['a POST with a cross-origin Referer only', 'POST', [['Referer', 'https://evil.test/form'], ['Cookie', 'c=1']], 'refuse'],
    ['a POST with an unparsable Referer', 'POST', [['Referer', 'not a url']], 'refuse'],
    ['a script POST with a bearer token and no cookie', 'POST', [['Authorization', 'Bearer abc']], 'pass'],
    ['a POST with a cookie but no Origin, Sec-Fetch-Site or Referer', 'POST', [['Cookie', 'berth_session=x']], 'refuse'],
  ];
  for (const [what, method, headers, expected] of cases) {
    it(`${expected === 'pass' ? 'lets through' : 'refuses'} ${what}`, () => {
      const refusal = checkSameOrigin(fakeRequest({ method, headers }), PUBLIC_URL);
      assert.equal(refusal === null ? 'pass' : 'refuse', expected, refusal?.logMessage);
      if (refusal) {
        assert.equal(refusal.code, 'csrf');
        assert.equal(refusal.status, 403);
      }
    });
  }

  it('names only the Referer\'s origin in its log message, never its path or query', () => {
    const refusal = checkSameOrigin(fakeRequest({ method: 'POST', headers: [['Referer', 'https://evil.test/cb?token=s3cret']] }), PUBLIC_URL);
    assert.match(refusal?.logMessage ?? '', /https:\/\/evil\.test/);
    assert.doesNotMatch(refusal?.logMessage ?? '', /s3cret/);
  });

  it('refuses a cross-origin POST and passes a same-origin one through a real listener', async () => {
    const { url } = await startGateway({ auth: { mode: 'header' } }, captureLogger().logger);
    const post = (origin: string) => send(`${url}/_berth/api/me/stop`, { method: 'POST', headers: { origin, 'x-forwarded-preferred-username': 'alice' } });
    assert.equal((await post('https://evil.test')).status, 403);
    assert.equal((await post(url)).status, 200);
  });
});

describe('same-origin check for WebSocket handshakes (cross-site WebSocket hijacking)', () => {
  const APP = 'https://alice-3000.apps.example.test';
  const cases: Array<[string, string, Array<[string, string]>, 'pass' | 'refuse']> = [
    ['its own origin, with a cookie', PUBLIC_URL, [['Origin', PUBLIC_URL], ['Cookie', 'berth_session=x']], 'pass'],
    ["an app host's own origin, with its cookie", APP, [['Origin', APP], ['Cookie', 'berth_app=x']], 'pass'],
    ['its own origin with the default port spelled out (the same origin)', PUBLIC_URL, [['Origin', 'https://berth.example.test:443'], ['Cookie', 'c=1']], 'pass'],
    ['its own origin in upper case (the same origin)', PUBLIC_URL, [['Origin', 'HTTPS://BERTH.EXAMPLE.TEST'], ['Cookie', 'c=1']], 'pass'],
    ['its own origin with a trailing slash (the same origin)', PUBLIC_URL, [['Origin', 'https://berth.example.test/'], ['Cookie', 'c=1']], 'pass'],
    ['no Origin and no cookie (a script: nothing ambient to abuse)', PUBLIC_URL, [], 'pass'],
    ['a sibling app host to the gateway', PUBLIC_URL, [['Origin', APP], ['Cookie', 'berth_session=x']], 'refuse'],
    ["the gateway's origin to an app host", APP, [['Origin', PUBLIC_URL], ['Cookie', 'berth_app=x']], 'refuse'],
    ["another user's app host", APP, [['Origin', 'https://bob-3000.apps.example.test'], ['Cookie', 'berth_app=x']], 'refuse'],
    ['another port of the same app', APP, [['Origin', 'https://alice-3001.apps.example.test'], ['Cookie', 'berth_app=x']], 'refuse'],
    ['plain http to an https gateway', PUBLIC_URL, [['Origin', 'http://berth.example.test'], ['Cookie', 'c=1']], 'refuse'],
    ['another port', PUBLIC_URL, [['Origin', 'https://berth.example.test:8443']], 'refuse'],
    ['Origin: null (sandboxed frame, file: page)', PUBLIC_URL, [['Origin', 'null'], ['Cookie', 'c=1']], 'refuse'],
    ['an unparsable Origin', PUBLIC_URL, [['Origin', 'berth.example.test'], ['Cookie', 'c=1']], 'refuse'],
    ['an empty Origin', PUBLIC_URL, [['Origin', ''], ['Cookie', 'c=1']], 'refuse'],
    ['a foreign Origin even without a cookie', PUBLIC_URL, [['Origin', 'https://evil.test']], 'refuse'],
    ['a cookie and no Origin', PUBLIC_URL, [['Cookie', 'berth_session=x']], 'refuse'],
    ['a cookie, no Origin, and a same-origin Sec-Fetch-Site (no fall-backs for handshakes)', PUBLIC_URL, [['Cookie', 'c=1'], ['Sec-Fetch-Site', 'same-origin']], 'refuse'],
    ['a cookie, no Origin, and a same-origin Referer', PUBLIC_URL, [['Cookie', 'c=1'], ['Referer', `${PUBLIC_URL}/`]], 'refuse'],
  ];
  for (const [what, expectedOrigin, headers, expected] of cases) {
    it(`${expected === 'pass' ? 'lets through' : 'refuses'} ${what}`, () => {
      const refusal = checkUpgradeOrigin(fakeRequest({ method: 'GET', headers: [['Upgrade', 'websocket'], ...headers] }), new URL(expectedOrigin).origin);
      assert.equal(refusal === null ? 'pass' : 'refuse', expected, refusal?.logMessage);
      if (refusal) {
        assert.equal(refusal.code, 'csrf');
        assert.equal(refusal.status, 403);
        assert.match(refusal.userMessage, /Berth token/, 'says what a script does instead');
      }
    });
  }
});

describe('CSRF tokens for gateway forms', () => {
  const csrf = createCsrf(deriveKey('k'.repeat(32), 'csrf'), PUBLIC_URL);
  const alice = { sessionId: 'session-a' };
  const formPost = (origin = PUBLIC_URL) => fakeRequest({ method: 'POST', headers: [['Origin', origin], ['Cookie', 'berth_session=x']] });

  it('accepts the token issued for the same sign-in', () => {
    assert.equal(csrf.verifyCsrf(formPost(), alice, csrf.csrfToken(alice)), null);
  });

  const bad: Array<[string, string | undefined]> = [
    ['a token from another sign-in', csrf.csrfToken({ sessionId: 'session-b' })],
    ['a token from another secret', createCsrf(deriveKey('j'.repeat(32), 'csrf'), PUBLIC_URL).csrfToken(alice)],
    ['a session cookie key used as a token', deriveKey('k'.repeat(32), 'session').toString('base64url')],
    ['a truncated token', csrf.csrfToken(alice).slice(0, -2)],
    ['a token differing only in spare bits (decodes to the same MAC)', flipLast(csrf.csrfToken(alice), 0b01)],
    ['a token with a stray character base64url decoding would skip', `${csrf.csrfToken(alice)}=`],
    ['no token', undefined],
    ['an empty token', ''],
  ];
  for (const [what, token] of bad) {
    it(`refuses ${what}`, () => {
      assert.equal(csrf.verifyCsrf(formPost(), alice, token)?.code, 'csrf');
    });
  }

  it('tells a script holding the cookie without a token to use an API token, and a page with a stale token to reload', () => {
    assert.match(csrf.verifyCsrf(formPost(), alice, undefined)?.userMessage ?? '', /API token \(Authorization: Bearer\)/);
    assert.match(csrf.verifyCsrf(formPost(), alice, csrf.csrfToken({ sessionId: 'session-b' }))?.userMessage ?? '', /reload the page/);
  });

  it('refuses the right token posted from another origin', () => {
    assert.equal(csrf.verifyCsrf(formPost('https://evil.test'), alice, csrf.csrfToken(alice))?.code, 'csrf');
  });
});
