import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { safeName } from '../../src/core/safeName.js';
import { isOwnBerth } from '../../src/ssh/forwarding.js';
import { envAllowed } from '../../src/ssh/session.js';

describe('forwarding destinations', () => {
  const cases: Array<[string, string, boolean]> = [
    ['localhost', 'alice', true],
    ['LOCALHOST', 'alice', true],
    ['127.0.0.1', 'alice', true],
    ['::1', 'alice', true],
    ['alice', 'alice', true],
    [safeName('Alice Smith'), 'Alice Smith', true],
    ['Alice Smith', 'Alice Smith', false],
    ['bob', 'alice', false],
    ['127.0.0.2', 'alice', false],
    ['10.0.0.1', 'alice', false],
    ['169.254.169.254', 'alice', false],
    ['localhost.', 'alice', false],
    ['0.0.0.0', 'alice', false],
    ['', 'alice', false],
  ];
  for (const [host, user, own] of cases) {
    it(`${JSON.stringify(host)} for ${user} is ${own ? 'their berth' : 'refused'}`, () => assert.equal(isOwnBerth(host, user), own));
  }
});

describe('the env allowlist', () => {
  const allowlist = ['LANG', 'LC_*', 'TERM'];
  const cases: Array<[string, boolean]> = [
    ['LANG', true],
    ['LC_ALL', true],
    ['LC_', true],
    ['TERM', true],
    ['LANGUAGE', false],
    ['PATH', false],
    ['LD_PRELOAD', false],
    ['lang', false],
    ['LC_A=B', false],
    ['LC_\nX', false],
  ];
  for (const [name, allowed] of cases) {
    it(`${JSON.stringify(name)} is ${allowed ? 'passed' : 'dropped'}`, () => assert.equal(envAllowed(allowlist, name), allowed));
  }
});
