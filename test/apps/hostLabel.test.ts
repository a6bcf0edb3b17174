import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { withoutQueryParameter } from '../../src/core/query.js';
import { appHostName, appLabel, hostNameOf, LABEL_MAX, parseAppHost } from '../../src/apps/hostLabel.js';
import { checkRedirectTarget } from '../../src/apps/redirectTarget.js';
import { safeName } from '../../src/core/safeName.js';

const DOMAIN = 'apps.test';

describe('app host labels', () => {
  const cases: Array<[string, { safeName: string; port: number } | null]> = [
    ['alice-3000.apps.test', { safeName: 'alice', port: 3000 }],
    ['mary-jane-8080.apps.test', { safeName: 'mary-jane', port: 8080 }],
    ['alice-3000-80.apps.test', { safeName: 'alice-3000', port: 80 }],
    ['bob-x2abcdefghi-1.apps.test', { safeName: 'bob-x2abcdefghi', port: 1 }],
    ['alice-65535.apps.test', { safeName: 'alice', port: 65535 }],
    ['alice-0.apps.test', null],
    ['alice-99999.apps.test', null],
    ['alice-65536.apps.test', null],
    ['alice-080.apps.test', null],
    ['alice-.apps.test', null],
    ['alice.apps.test', null],
    ['-80.apps.test', null],
    ['1alice-80.apps.test', null],
    ['alice--80.apps.test', null],
    ['x.alice-80.apps.test', null],
    ['alice_b-80.apps.test', null],
    ['alice-80.apps.test.evil.test', null],
    ['alice-80.other.test', null],
    ['alice-80apps.test', null],
    ['apps.test', null],
    [`${'a'.repeat(41)}-80.apps.test`, null],
  ];
  for (const [host, expected] of cases) {
    it(`${host} -> ${expected === null ? 'refused' : `${expected.safeName}:${expected.port}`}`, () => {
      const parsed = parseAppHost(host, DOMAIN);
      assert.deepEqual(parsed === null ? null : { safeName: parsed.safeName, port: parsed.port }, expected);
    });
  }

  it('reads Host headers case-insensitively, without port or a trailing dot', () => {
    assert.equal(hostNameOf('ALICE-3000.Apps.Test:8000'), 'alice-3000.apps.test');
    assert.equal(hostNameOf('alice-3000.apps.test.'), 'alice-3000.apps.test');
    assert.equal(hostNameOf('[::1]:80'), null);
    assert.equal(hostNameOf('alice-3000.apps.test:http'), null);
    assert.equal(hostNameOf(''), null);
    assert.equal(parseAppHost(hostNameOf('ALICE-3000.APPS.TEST:8000') as string, 'Apps.Test')?.host, 'alice-3000.apps.test');
  });

  it('round-trips every username and port, within 63 characters, injectively (bounded random loop)', () => {
    const seen = new Map<string, string>();
    const alphabet = ['a', 'Z', '-', '_', '.', '@', ' ', '0', '9', 'é', 'ß', '中', '😀', 'x', '--'];
    for (let i = 0; i < 3000; i++) {
      const length = randomInt(1, 90);
      let user = '';
      while (user.length < length) user += i % 3 === 0 ? randomBytes(4).toString('base64url') : alphabet[randomInt(alphabet.length)];
      const port = [1, 80, 65535, randomInt(1, 65536)][i % 4] as number;
      const host = appHostName(safeName(user), port, DOMAIN);
      assert.ok(appLabel(safeName(user), port).length <= LABEL_MAX, `label of ${JSON.stringify(user)} too long`);
      const parsed = parseAppHost(host, DOMAIN);
      assert.deepEqual(parsed && { safeName: parsed.safeName, port: parsed.port }, { safeName: safeName(user), port }, `round trip of ${JSON.stringify(user)}`);
      const key = `${user}\u0000${port}`;
      const other = seen.get(host);
      assert.ok(other === undefined || other === key, `${JSON.stringify(user)} and ${JSON.stringify(other)} share ${host}`);
      seen.set(host, key);
    }
  });

  it('refuses random junk labels without throwing (bounded random loop)', () => {
    const chars = 'ab-.0_9Z:';
    for (let i = 0; i < 3000; i++) {
      let label = '';
      for (let n = randomInt(0, 20); n > 0; n--) label += chars[randomInt(chars.length)];
      const parsed = parseAppHost(`${label}.${DOMAIN}`, DOMAIN);
      if (parsed === null) continue;
      // Anything accepted is canonical: it prints back to the same host.
      assert.equal(appHostName(parsed.safeName, parsed.port, DOMAIN), `${label}.${DOMAIN}`);
    }
  });
});

describe('sign-in redirect targets', () => {
  const publicUrl = 'http://gateway.test:8000';
  const cases: Array<[string, 'gateway' | 'app' | null]> = [
    ['http://alice-3000.apps.test:8000/x?y=1', 'app'],
    ['http://ALICE-3000.apps.test:8000/', 'app'],
    ['http://gateway.test:8000/_berth/', 'gateway'],
    ['https://evil.test', null],
    ['http://evil.test:8000/', null],
    ['http://alice-3000.apps.test.evil.test:8000/', null],
    ['http://x.alice-3000.apps.test:8000/', null],
    ['http://alice-0.apps.test:8000/', null],
    ['http://nosuchuser.apps.test:8000/', null],
    ['https://alice-3000.apps.test:8000/', null],
    ['http://alice-3000.apps.test:9000/', null],
    ['http://alice-3000.apps.test/', null],
    ['http://user:pw@alice-3000.apps.test:8000/', null],
    ['//alice-3000.apps.test:8000/', null],
    ['/relative', null],
    ['javascript:alert(1)', null],
    ['http://alice-3000.apps.test:8000/\\evil', null],
    ['http://alice-3000.apps.test:8000/\nx', null],
    ['', null],
  ];
  for (const [target, expected] of cases) {
    it(`${JSON.stringify(target)} -> ${expected ?? 'refused'}`, () => {
      assert.equal(checkRedirectTarget(target, publicUrl, 'apps.test')?.kind ?? null, expected);
    });
  }

  it('accepts nothing but the gateway and app hosts (bounded random loop)', () => {
    const pieces = ['http://', 'https://', '//', 'evil.test', 'alice-3000', '.apps.test', ':8000', '/', '@', '\\', '.', 'gateway.test', '?next=', '#', '%2e', 'x'];
    for (let i = 0; i < 5000; i++) {
      let raw = '';
      for (let n = randomInt(1, 8); n > 0; n--) raw += pieces[randomInt(pieces.length)];
      const target = checkRedirectTarget(raw, publicUrl, 'apps.test');
      if (target === null) continue;
      const url = new URL(raw);
      assert.ok(url.hostname === 'gateway.test' || /^[a-z][a-z0-9-]*-[1-9][0-9]*\.apps\.test$/.test(url.hostname), `accepted ${JSON.stringify(raw)}`);
      assert.equal(url.origin.endsWith(':8000'), true);
    }
  });

  it('refuses app hosts when no apps domain is configured', () => {
    assert.equal(checkRedirectTarget('http://alice-3000.apps.test:8000/', publicUrl, null), null);
  });
});

describe('removing the token from a URL', () => {
  const cases: Array<[string, string]> = [
    ['/x?berth_token=berth_abc', '/x'],
    ['/x?a=1&berth_token=t&b=%20+2', '/x?a=1&b=%20+2'],
    ['/x?berth%5Ftoken=t&a', '/x?a'],
    ['/x?berth_token=1&berth_token=2', '/x'],
    ['/x?berth_tokens=1', '/x?berth_tokens=1'],
    ['/x', '/x'],
  ];
  for (const [input, expected] of cases) {
    it(`${input} -> ${expected}`, () => assert.equal(withoutQueryParameter(input, 'berth_token'), expected));
  }
});
