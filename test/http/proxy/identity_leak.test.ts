import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IncomingHttpHeaders } from 'node:http';
import { stripRules } from '../../../src/http/proxy/index.js';
import { fetchText, startDemoBerth, startGateway, type Berth, type Gateway } from './harness.js';

/** The gateway's identity headers, tokens and session cookie never reach a berth; what the gateway adds cannot be forged. */
describe('identity never leaks to the berth', () => {
  let berth: Berth;
  let gateway: Gateway;
  before(async () => {
    berth = await startDemoBerth();
    gateway = await startGateway(berth.endpoint, {
      scheme: 'https',
      strip: stripRules({ headers: ['X-Forwarded-Preferred-Username', 'X-Forwarded-User', 'X-Berth-Token'], cookies: ['berth_session'] }),
      addHeaders: { 'X-Berth-Visitor': 'alice' },
    });
  });
  after(async () => {
    await gateway.close();
    await berth.close();
  });

  async function seen(headers: Record<string, string | string[]>): Promise<IncomingHttpHeaders> {
    const reply = await fetchText(gateway.endpoint, '/env', { headers });
    assert.equal(reply.status, 200);
    return (JSON.parse(reply.body) as { headers: IncomingHttpHeaders }).headers;
  }

  it('strips identity headers and tokens in any letter case', async () => {
    const at = await seen({ 'x-forwarded-preferred-username': 'alice', 'X-FORWARDED-USER': 'alice', 'X-Berth-Token': 'bt_secret', 'X-Other': 'kept' });
    assert.equal(at['x-forwarded-preferred-username'], undefined);
    assert.equal(at['x-forwarded-user'], undefined);
    assert.equal(at['x-berth-token'], undefined);
    assert.equal(at['x-other'], 'kept');
  });

  it('drops underscore spellings, which CGI-style frameworks read as the same headers', async () => {
    const at = await seen({ X_Forwarded_User: 'mallory', 'X-Forwarded_Preferred-Username': 'mallory', X_Berth_Visitor: 'mallory', Content_Length: '5' });
    assert.equal(at.content_length, undefined);
    assert.equal(at.x_forwarded_user, undefined);
    assert.equal(at['x-forwarded_preferred-username'], undefined);
    assert.equal(at.x_berth_visitor, undefined);
    assert.equal(at['x-berth-visitor'], 'alice');
  });

  it('strips the session cookie and keeps the app’s cookies', async () => {
    assert.equal((await seen({ Cookie: 'theme=dark; berth_session=s3cret; lang=en' })).cookie, 'theme=dark; lang=en');
    assert.equal((await seen({ Cookie: 'berth_session=s3cret' })).cookie, undefined);
    assert.equal((await seen({ Cookie: ['berth_session=s3cret', 'app=1'] })).cookie, 'app=1');
  });

  it('replaces a forged X-Berth-Visitor with the gateway’s', async () => {
    const at = await seen({ 'x-berth-visitor': 'mallory' });
    assert.equal(at['x-berth-visitor'], 'alice');
  });

  it('passes Authorization unchanged', async () => {
    assert.equal((await seen({ Authorization: 'Basic dXNlcjpwdw==' })).authorization, 'Basic dXNlcjpwdw==');
  });
});
