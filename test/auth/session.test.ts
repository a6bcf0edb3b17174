import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { deriveKey } from '../../src/auth/crypto.js';
import { loadSessionSecret } from '../../src/auth/session/secret.js';
import { GATEWAY_COOKIES } from '../../src/auth/cookies.js';
import { Sessions } from '../../src/auth/session/sessions.js';
import { BerthError } from '../../src/core/errors.js';
import { captureLogger, fakeRequest, flipLast, testConfig } from './helpers.js';

const HOUR = 3600;
const SESSION_COOKIE = GATEWAY_COOKIES.session;

function sessions(options: { secret?: string; now?: () => number; secure?: boolean; admins?: string[] } = {}) {
  const { logger, text } = captureLogger();
  const admins = new Set(options.admins ?? []);
  const store = new Sessions({
    key: deriveKey(options.secret ?? 's'.repeat(32), 'session'),
    lifetimeSeconds: HOUR,
    secure: options.secure ?? false,
    isAdmin: (name) => admins.has(name),
    logger,
    ...(options.now ? { now: options.now } : {}),
  });
  return { store, admins, logs: text };
}

/** The Set-Cookie lines a signed-in response carries. */
function issue(store: Sessions, identity = { name: 'alice', email: 'alice@example.test', groups: ['devs'] }): string[] {
  const res = new ServerResponse(new IncomingMessage({} as Socket));
  store.issue(res, identity, '/');
  return res.getHeader('set-cookie') as string[];
}

const cookieValue = (setCookie: string[]): string => (setCookie[0] ?? '').split(';')[0]!.slice(SESSION_COOKIE.length + 1);
const withCookie = (value: string) => fakeRequest({ peer: '127.0.0.1', headers: [['Cookie', `theme=dark; ${SESSION_COOKIE}=${value}`]] });

describe('session cookies', () => {
  it('round-trips the user, recomputing admin from the current admins on every read', () => {
    const { store, admins } = sessions();
    const value = cookieValue(issue(store));
    const first = store.read(withCookie(value));
    assert.deepEqual(first?.user, { name: 'alice', email: 'alice@example.test', groups: ['devs'], admin: false });
    admins.add('alice');
    assert.equal(store.read(withCookie(value))?.user.admin, true);
  });

  it('gives each sign-in its own session id', () => {
    const { store } = sessions();
    const a = store.read(withCookie(cookieValue(issue(store))));
    const b = store.read(withCookie(cookieValue(issue(store))));
    assert.notEqual(a?.sessionId, b?.sessionId);
  });

  it('is HttpOnly, SameSite=Lax, Path=/, lives auth.sessionSeconds, and is Secure only behind https', () => {
    const [plain] = issue(sessions().store);
    assert.match(plain ?? '', /; Path=\/; HttpOnly; SameSite=Lax; Max-Age=3600$/);
    const [secure] = issue(sessions({ secure: true }).store);
    assert.match(secure ?? '', /; Max-Age=3600; Secure$/);
  });

  it('is named __Host-berth_session behind https, so no sibling host can set or shadow it, and reads only that name there', () => {
    const { store } = sessions({ secure: true });
    const [line] = issue(store);
    assert.match(line ?? '', /^__Host-berth_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=3600; Secure$/);
    assert.doesNotMatch(line ?? '', /Domain/i);
    const value = (line ?? '').split(';')[0]!.slice('__Host-berth_session='.length);
    assert.equal(store.read(fakeRequest({ headers: [['Cookie', `__Host-berth_session=${value}`]] }))?.user.name, 'alice');
    assert.equal(store.read(fakeRequest({ headers: [['Cookie', `berth_session=${value}`]] })), null, 'the unprefixed name is not believed behind https');
  });

  it('does not loop the sign-in when a stale or planted cookie of the same name comes first: a valid one wins, in either order', () => {
    const { store } = sessions();
    const valid = cookieValue(issue(store));
    const planted = cookieValue(issue(sessions({ secret: 'p'.repeat(32) }).store));
    for (const cookie of [
      `berth_session=${planted}; berth_session=${valid}`,
      `berth_session=${valid}; berth_session=${planted}`,
      `berth_session=; berth_session=${valid}`,
      `berth_session=garbage;berth_session = ${valid}`,
    ]) {
      const read = store.authenticate(fakeRequest({ headers: [['Cookie', cookie]] }));
      assert.equal('user' in read ? read.user.name : 'challenged', 'alice', cookie);
    }
    const twoHeaders = fakeRequest({ headers: [['Cookie', `berth_session=${planted}`], ['Cookie', `berth_session=${valid}`]] });
    assert.equal(store.read(twoHeaders)?.user.name, 'alice', 'two Cookie headers are both read');
  });

  it('treats the request as signed out when no cookie of that name is valid, and clears the stale one with the challenge', () => {
    const { store } = sessions();
    const stale = store.authenticate(fakeRequest({ headers: [['Cookie', 'berth_session=one; theme=dark; berth_session=two']] }));
    assert.ok('challenge' in stale);
    const res = new ServerResponse(new IncomingMessage({} as Socket));
    assert.ok(stale.challenge.clearStale, 'a present but useless cookie is to be cleared');
    stale.challenge.clearStale(res);
    assert.deepEqual(res.getHeader('set-cookie'), [`${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`]);
    const absent = store.authenticate(fakeRequest({ headers: [['Cookie', 'theme=dark']] }));
    assert.ok('challenge' in absent);
    assert.equal(absent.challenge.clearStale, undefined, 'nothing to clear when the browser sent none');
  });

  it('clears the cookie with Max-Age=0', () => {
    const { store } = sessions();
    const res = new ServerResponse(new IncomingMessage({} as Socket));
    store.clear(res);
    assert.deepEqual(res.getHeader('set-cookie'), [`${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`]);
  });

  const tamperings: Array<[string, (value: string) => string]> = [
    ['a changed payload byte', (v) => v.replace(/^v1\.(.)/, (_m, c: string) => `v1.${c === 'A' ? 'B' : 'A'}`)],
    ['a changed signature bit', (v) => flipLast(v, 0b100)],
    ['a signature differing only in spare bits (decodes to the same MAC)', (v) => flipLast(v, 0b01)],
    [
      'a payload naming someone else, re-encoded but not re-signed',
      (v) => {
        const [version, payload, mac] = v.split('.') as [string, string, string];
        const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
        return [version, Buffer.from(JSON.stringify({ ...claims, sub: 'root' })).toString('base64url'), mac].join('.');
      },
    ],
    ['the signature removed', (v) => v.slice(0, v.lastIndexOf('.'))],
    ['another version', (v) => v.replace(/^v1/, 'v2')],
    ['empty', () => ''],
    ['garbage', () => 'not-a-session'],
    ['a signature with characters base64url lacks', (v) => v.slice(0, -2) + '+/'],
  ];
  for (const [what, tamper] of tamperings) {
    it(`treats a cookie with ${what} as absent, logging at debug without the value`, () => {
      const { store, logs } = sessions();
      const bad = tamper(cookieValue(issue(store)));
      assert.equal(store.read(withCookie(bad)), null);
      assert.match(logs(), /"level":20.*session cookie ignored/);
      if (bad) assert.equal(logs().includes(bad), false);
    });
  }

  it('treats an expired cookie as absent, and accepts it until then', () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const { store, logs } = sessions({ now: () => now });
    const value = cookieValue(issue(store));
    now += (HOUR - 1) * 1000;
    assert.equal(store.read(withCookie(value))?.user.name, 'alice');
    now += 1000;
    assert.equal(store.read(withCookie(value)), null);
    assert.match(logs(), /"problem":"expired"/);
  });

  it('refuses a cookie signed with another secret', () => {
    const value = cookieValue(issue(sessions({ secret: 'a'.repeat(32) }).store));
    const { store, logs } = sessions({ secret: 'b'.repeat(32) });
    assert.equal(store.read(withCookie(value)), null);
    assert.match(logs(), /"problem":"bad signature"/);
  });

  it('refuses to issue a cookie browsers would drop for its size', () => {
    const { store } = sessions();
    const groups = Array.from({ length: 400 }, (_, i) => `group-number-${i}`);
    assert.throws(() => issue(store, { name: 'alice', email: 'a@example.test', groups }), BerthError);
  });
});

describe('the session secret', () => {
  it('is generated once into <dataDir>/session.key with mode 0600 and reused across restarts', async () => {
    const config = testConfig();
    const { logger, text } = captureLogger();
    const first = await loadSessionSecret(config, logger);
    const path = join(config.dataDir, 'session.key');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(await loadSessionSecret(config, logger), first);
    assert.equal(first.length, 64);
    assert.equal(text().includes(first), false);
  });

  it('a cookie issued before a restart is accepted after it', async () => {
    const config = testConfig();
    const { logger } = captureLogger();
    const before = sessions({ secret: await loadSessionSecret(config, logger) }).store;
    const value = cookieValue(issue(before));
    const after = sessions({ secret: await loadSessionSecret(config, logger) }).store;
    assert.equal(after.read(withCookie(value))?.user.name, 'alice');
  });

  it('comes from auth.sessionSecret when set, writing no file', async () => {
    const secret = randomBytes(24).toString('base64url');
    const config = testConfig({ auth: { sessionSecret: secret } });
    assert.equal(await loadSessionSecret(config, captureLogger().logger), secret);
    assert.equal(existsSync(join(config.dataDir, 'session.key')), false);
  });

  it('refuses to start on a truncated session.key, and warns when it is readable by others', async () => {
    const config = testConfig();
    const path = join(config.dataDir, 'session.key');
    writeFileSync(path, 'short\n', { mode: 0o644 });
    const { logger, text } = captureLogger();
    await assert.rejects(loadSessionSecret(config, logger), (err: unknown) => err instanceof BerthError && err.code === 'config_invalid');
    assert.match(text(), /readable by other users/);
    assert.equal(readFileSync(path, 'utf8'), 'short\n');
  });
});
