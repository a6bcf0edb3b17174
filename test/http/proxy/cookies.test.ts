import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { removeCookies } from '../../../src/http/proxy/cookies.js';

describe('removeCookies', () => {
  const ours = new Set(['berth_session', 'berth_csrf']);
  const cases: Array<[string, string]> = [
    ['berth_session=abc', ''],
    ['a=1; berth_session=abc; b=2', 'a=1; b=2'],
    ['berth_session=abc;b=2', 'b=2'],
    ['  berth_session = abc ;  b=2  ', 'b=2'],
    ['a=1; berth_session=abc; berth_csrf=x', 'a=1'],
    ['berth_session=abc; berth_session=def', ''],
    // Look-alikes are the app's own cookies and stay.
    ['my_berth_session=1; berth_session_x=2', 'my_berth_session=1; berth_session_x=2'],
    ['Berth_Session=1', 'Berth_Session=1'],
    ['x=berth_session', 'x=berth_session'],
    ['a=1; b=2', 'a=1; b=2'],
    ['nameless; berth_session=1', 'nameless'],
    [';;berth_session=1;;a=1;', 'a=1'],
    ['', ''],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(removeCookies(input, ours), expected);
    });
  }

  it('returns the very same string when none of ours is there', () => {
    const value = 'a=1; b=2';
    assert.equal(removeCookies(value, ours), value);
  });
});
