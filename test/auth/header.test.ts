import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GATEWAY_COOKIE_NAMES } from '../../src/auth/cookies.js';
import { identityHeaderNames } from '../../src/auth/identityHeaders.js';
import { createAuth } from '../../src/auth/registry.js';
import type { AuthResult } from '../../src/auth/types.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { captureLogger, expectChallenge, expectRefused, expectUser, fakeRequest, send, startGateway, testConfig } from './helpers.js';

async function headerAuth(header: NonNullable<ConfigInput['auth']>['header'] = {}, admins: string[] = []) {
  const { logger, text } = captureLogger();
  const config = testConfig({ auth: { mode: 'header', admins, header } });
  const auth = await createAuth(config, logger);
  const authenticate = (peer: string | undefined, headers: Array<[string, string]>): Promise<AuthResult> =>
    auth.authenticator.authenticate(fakeRequest({ ...(peer === undefined ? {} : { peer }), headers }));
  return { auth, config, authenticate, logs: text };
}

const userOf = (result: AuthResult): string => expectUser(result).user.name;

describe('header mode: who is believed', () => {
  // '::ffff:7f00:1' is 127.0.0.1 too, written the other way an IPv4-mapped address can be.
  const trustedPeers = ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1'];
  for (const peer of trustedPeers) {
    it(`believes the user header from trusted peer ${peer}`, async () => {
      const { authenticate } = await headerAuth();
      assert.equal(userOf(await authenticate(peer, [['X-Forwarded-Preferred-Username', 'alice']])), 'alice');
    });
  }

  const untrusted: Array<[string | undefined, string]> = [
    ['10.1.2.3', 'X-Forwarded-Preferred-Username'],
    ['::ffff:10.1.2.3', 'X-Forwarded-Preferred-Username'],
    ['2001:db8::1', 'x-forwarded-preferred-username'],
    ['::ffff:a01:203', 'X-Forwarded-Preferred-Username'],
    [undefined, 'X-Forwarded-Preferred-Username'],
    ['10.1.2.3', 'X-Forwarded-Email'],
    ['10.1.2.3', 'X-Forwarded-Groups'],
  ];
  for (const [peer, header] of untrusted) {
    it(`refuses ${header} from untrusted peer ${peer} with 403 and a log line naming header and peer, not the value`, async () => {
      const { authenticate, logs } = await headerAuth();
      const refused = expectRefused(await authenticate(peer, [[header, 'secret-value-7']]));
      assert.equal(refused.code, 'untrusted_identity_header');
      assert.equal(refused.status, 403);
      const line = logs();
      assert.match(line, /"level":40/);
      assert.match(line, new RegExp(header.toLowerCase()));
      if (peer !== undefined) assert.equal(line.includes(`"peer":"${peer}"`), true, line);
      assert.doesNotMatch(line, /secret-value-7/);
      assert.doesNotMatch(refused.userMessage, /secret-value-7/);
    });
  }

  it('believes a proxy only inside auth.header.trustedProxies', async () => {
    const { authenticate } = await headerAuth({ trustedProxies: ['10.0.0.0/8'] });
    assert.equal(userOf(await authenticate('::ffff:10.9.9.9', [['X-Forwarded-Preferred-Username', 'alice']])), 'alice');
    expectRefused(await authenticate('127.0.0.1', [['X-Forwarded-Preferred-Username', 'alice']]));
  });

  it('challenges an untrusted peer without identity headers (no login page to send it to)', async () => {
    const { authenticate } = await headerAuth();
    const challenge = expectChallenge(await authenticate('10.1.2.3', [['Accept', 'text/html']]));
    assert.equal(challenge.loginPath, null);
    assert.equal(challenge.error.status, 401);
  });

  it('answers a trusted peer without a user header with 401 and a hint naming the headers', async () => {
    const { authenticate } = await headerAuth();
    const challenge = expectChallenge(await authenticate('127.0.0.1', [['X-Forwarded-Email', 'a@example.test']]));
    assert.equal(challenge.loginPath, null);
    assert.equal(challenge.error.status, 401);
    assert.match(challenge.error.userMessage, /^no user header from the auth proxy: check that it sets X-Forwarded-Preferred-Username \(auth\.header\.userHeaders\)/);
  });
});

describe('header mode: which header and what value', () => {
  it('believes only X-Forwarded-Preferred-Username by default: lower-ranked headers of old are not read', async () => {
    const { authenticate } = await headerAuth();
    for (const header of ['X-Forwarded-User', 'X-Auth-Request-User', 'X-Auth-Request-Preferred-Username', 'Remote-User']) {
      expectChallenge(await authenticate('127.0.0.1', [[header, 'mallory']]));
    }
    assert.equal(userOf(await authenticate('127.0.0.1', [['x-FORWARDED-preferred-USERNAME', 'dave']])), 'dave');
  });

  it('treats an empty or white-space-only header as absent', async () => {
    const { authenticate } = await headerAuth({ userHeaders: ['Remote-User', 'X-Forwarded-User'] });
    assert.equal(userOf(await authenticate('127.0.0.1', [['Remote-User', ''], ['X-Forwarded-User', 'bob']])), 'bob');
    assert.equal(userOf(await authenticate('127.0.0.1', [['Remote-User', '  '], ['X-Forwarded-User', 'bob']])), 'bob');
    expectChallenge(await authenticate('127.0.0.1', [['Remote-User', ' \t ']]));
  });

  it('believes several listed headers only when they agree', async () => {
    const { authenticate } = await headerAuth({ userHeaders: ['Remote-User', 'X-Forwarded-User'] });
    assert.equal(userOf(await authenticate('127.0.0.1', [['X-Forwarded-User', 'a'], ['Remote-User', 'a']])), 'a');
    assert.equal(userOf(await authenticate('127.0.0.1', [['X-Forwarded-User', 'b']])), 'b');
  });
  const badUsernames: Array<[string, string]> = [
    ['leading white space', ' alice'],
    ['a control character', 'ali\u0001ce'],
    ['a format character', 'ali\u200bce'],
    ['300 characters', 'x'.repeat(300)],
  ];
  for (const [what, name] of badUsernames) {
    it(`answers 400 to a username with ${what}, without logging it`, async () => {
      const { authenticate, logs } = await headerAuth();
      // As the HTTP parser hands them over: the UTF-8 bytes, one Latin-1 character each.
      const refused = expectRefused(await authenticate('127.0.0.1', [['X-Forwarded-Preferred-Username', Buffer.from(name).toString('latin1')]]));
      assert.equal(refused.code, 'bad_username');
      assert.equal(refused.status, 400);
      assert.equal(logs().includes(name.trim()), false);
    });
  }

  it('refuses an identity header sent twice with different values (a proxy appending to the client\'s copy), naming it', async () => {
    const { authenticate, logs } = await headerAuth();
    const cases: Array<[string, Array<[string, string]>]> = [
      ['x-forwarded-preferred-username', [['X-Forwarded-Preferred-Username', 'mallory'], ['X-Forwarded-Preferred-Username', 'alice']]],
      ['x-forwarded-email', [['X-Forwarded-Preferred-Username', 'alice'], ['X-Forwarded-Email', 'admin@example.test'], ['x-forwarded-email', 'a@example.test']]],
      ['x-forwarded-groups', [['X-Forwarded-Preferred-Username', 'alice'], ['X-Forwarded-Groups', 'admins'], ['X-Forwarded-Groups', 'devs']]],
    ];
    for (const [header, headers] of cases) {
      const refused = expectRefused(await authenticate('127.0.0.1', headers));
      assert.equal(refused.status, 400, header);
      assert.match(refused.userMessage, new RegExp(`\\(${header} disagree\\)`));
    }
    assert.doesNotMatch(logs(), /mallory|admins|admin@/);
  });

  it('believes an identity header sent twice with the same value: both copies name one user', async () => {
    const { authenticate } = await headerAuth();
    assert.equal(userOf(await authenticate('127.0.0.1', [['X-Forwarded-Preferred-Username', 'alice'], ['X-Forwarded-Preferred-Username', 'alice']])), 'alice');
  });

  it('reads email and comma-separated groups, and admin from auth.admins (exact name)', async () => {
    const { authenticate } = await headerAuth({}, ['alice']);
    const alice = await authenticate('127.0.0.1', [
      ['X-Forwarded-Preferred-Username', 'alice'],
      ['X-Forwarded-Email', 'alice@example.test'],
      ['X-Forwarded-Groups', 'devs, ops,,'],
    ]);
    assert.deepEqual(alice, {
      user: { name: 'alice', email: 'alice@example.test', groups: ['devs', 'ops'], admin: true },
      sessionId: 'header:alice',
    });
    assert.equal(expectUser(await authenticate('127.0.0.1', [['X-Forwarded-Preferred-Username', 'Alice']])).user.admin, false);
  });

  it('needs no cookie: every request is answered from its headers', async () => {
    const { authenticate } = await headerAuth();
    const result = await authenticate('127.0.0.1', [['X-Forwarded-Preferred-Username', 'alice'], ['Cookie', 'berth_session=junk']]);
    assert.equal(userOf(result), 'alice');
  });
});

describe('header mode through a real listener', () => {
  it('serves a trusted loopback proxy and refuses the same request when loopback is not trusted', async () => {
    for (const [trustedProxies, status] of [[['127.0.0.0/8'], 200], [['10.0.0.0/8'], 403]] as const) {
      const { url } = await startGateway({ auth: { mode: 'header', header: { trustedProxies: [...trustedProxies] } } }, captureLogger().logger);
      const reply = await send(`${url}/`, { headers: { 'X-Forwarded-Preferred-Username': 'alice' } });
      assert.equal(reply.status, status, reply.body);
    }
  });
});

describe('what must never reach a berth', () => {
  it('lists every configured identity header, lowercased, and the gateway\'s own', () => {
    const config = testConfig({ auth: { header: { userHeaders: ['Remote-User'], emailHeaders: ['Remote-Email'], groupsHeaders: ['Remote-Groups'] } } });
    const names = identityHeaderNames(config);
    for (const name of ['remote-user', 'remote-email', 'remote-groups', 'x-berth-token', 'x-forwarded-access-token']) {
      assert.equal(names.includes(name), true, name);
    }
    assert.deepEqual(names, names.map((name) => name.toLowerCase()));
    assert.equal(new Set(names).size, names.length);
    // Headers auth.header no longer lists by default are still removed: a berth's app may read any of them.
    const defaults = identityHeaderNames(testConfig());
    for (const name of ['x-forwarded-preferred-username', 'x-forwarded-user', 'x-auth-request-user', 'x-auth-request-preferred-username', 'x-auth-request-email', 'x-auth-request-groups', 'remote-user', 'x-remote-user']) {
      assert.equal(defaults.includes(name), true, name);
    }
    assert.deepEqual(GATEWAY_COOKIE_NAMES, ['berth_session', '__Host-berth_session', 'berth_oidc', '__Host-berth_oidc', 'berth_app', '__Host-berth_app']);
  });
});
