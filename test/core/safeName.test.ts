import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { SAFE_NAME_MAX, isPlainName, safeName, usernameProblem } from '../../src/core/safeName.js';

const DNS_LABEL = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;

describe('safe names', () => {
  const adversarial = [
    'alice',
    'Alice',
    'ALICE',
    'a.b',
    'a-b',
    'a_b',
    'a--b',
    '../etc',
    '..',
    '.',
    '/',
    'x'.repeat(300),
    'x'.repeat(299),
    'Ålice',
    'alice\u0301',
    'aliće',
    '山田',
    '-x-',
    'x-',
    '-x',
    '0day',
    'alice-xabcdefghij',
    'alice@example.com',
    'alice@example.org',
    'root',
    ' alice',
  ];

  it('maps plain DNS-label usernames to themselves', () => {
    for (const name of ['alice', 'bob-smith', 'u2', 'a']) assert.equal(safeName(name), name);
  });

  it('never maps two adversarial usernames to one name', () => {
    const seen = new Map<string, string>();
    for (const user of adversarial) {
      const name = safeName(user);
      assert.equal(seen.get(name), undefined, `${JSON.stringify(user)} and ${JSON.stringify(seen.get(name))} share ${name}`);
      seen.set(name, user);
    }
  });

  it('always yields a DNS label short enough for a prefix and a suffix', () => {
    for (const user of adversarial) {
      const name = safeName(user);
      assert.match(name, DNS_LABEL, `${JSON.stringify(user)} → ${name}`);
      assert.ok(name.length <= SAFE_NAME_MAX, `${name} is ${name.length} long`);
      assert.ok(`berth-${name}-home`.length <= 63);
    }
  });

  it('keeps every name inside a parent directory', () => {
    const root = resolve('/data/homes');
    for (const user of adversarial) assert.equal(resolve(root, safeName(user)), `${root}/${safeName(user)}`);
  });

  it('is injective on random usernames and their case and punctuation variants (property, bounded)', () => {
    const seen = new Map<string, string>();
    const deadline = Date.now() + 2000;
    for (let i = 0; i < 20_000 && Date.now() < deadline; i++) {
      const base = randomBytes(1 + (i % 12)).toString('base64').replace(/=+$/, '');
      for (const user of [base, base.toLowerCase(), base.toUpperCase(), base.replace(/[+/]/g, '-')]) {
        const name = safeName(user);
        const previous = seen.get(name);
        assert.ok(previous === undefined || previous === user, `${previous} and ${user} share ${name}`);
        seen.set(name, user);
        assert.match(name, DNS_LABEL);
      }
    }
  });

  it('never treats a hashed form as plain, so the two ranges cannot meet', () => {
    for (const user of adversarial) {
      const name = safeName(user);
      if (name !== user) assert.equal(isPlainName(name), false);
    }
  });
});

describe('username validation', () => {
  const cases: Array<[string, string | null]> = [
    ['alice', null],
    ['', 'the username is empty'],
    ['a\nb', 'the username contains control characters'],
    ['a\u200Bb', 'the username contains control characters'],
    [' alice', 'the username starts or ends with white space'],
    ['x'.repeat(257), 'the username is longer than 256 characters'],
    ['山田', null],
  ];
  for (const [input, problem] of cases) {
    it(`${JSON.stringify(input.slice(0, 20))} → ${problem ?? 'accepted'}`, () => assert.equal(usernameProblem(input), problem));
  }
});
