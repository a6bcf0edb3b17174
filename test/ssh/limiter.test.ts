import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailureLimiter } from '../../src/ssh/auth/limiter.js';

describe('FailureLimiter', () => {
  it('blocks an address past its failures until the window ends', () => {
    const limiter = new FailureLimiter(3, 1000);
    for (let i = 0; i < 3; i++) {
      assert.equal(limiter.blocked('10.0.0.1', 0), false);
      limiter.recordFailure('10.0.0.1', 0);
    }
    assert.equal(limiter.blocked('10.0.0.1', 10), true);
    assert.equal(limiter.blocked('10.0.0.2', 10), false, 'other addresses are not affected');
    assert.equal(limiter.blocked('10.0.0.1', 1000), false, 'a new window starts clean');
  });

  it('tracks a bounded number of addresses', () => {
    const limiter = new FailureLimiter(1, 60_000, 100);
    for (let i = 0; i < 1000; i++) limiter.recordFailure(`10.0.${i >> 8}.${i & 255}`, 0);
    const tracked = (limiter as unknown as { windows: Map<string, unknown> }).windows.size;
    assert.ok(tracked <= 100, `${tracked} addresses tracked`);
    assert.equal(limiter.blocked('10.0.3.231', 1), true, 'the newest are kept');
  });
});
