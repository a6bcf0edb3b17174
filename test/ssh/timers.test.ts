import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { connectionTimers } from '../../src/ssh/limits.js';

describe('connection timers', () => {
  it('call idle after no activity, not while there is some, and not while the gateway is busy', async () => {
    const fired: string[] = [];
    const timers = connectionTimers({ idleSeconds: 0.5, maxSeconds: 0, onIdle: () => fired.push('idle'), onMaxLength: () => fired.push('max') });
    try {
      for (let i = 0; i < 5; i++) {
        await sleep(100);
        timers.activity();
      }
      assert.deepEqual(fired, [], 'activity kept it open');
      await timers.busy(sleep(800));
      assert.deepEqual(fired, [], 'a berth starting is no idleness');
      await sleep(900);
      assert.deepEqual(fired, ['idle']);
      timers.activity();
      await sleep(700);
      assert.deepEqual(fired, ['idle'], 'fires once: activity after the end re-arms nothing');
    } finally {
      timers.stop();
    }
  });

  it('call max length once the connection is that old, activity or not', async () => {
    const fired: string[] = [];
    const timers = connectionTimers({ idleSeconds: 0, maxSeconds: 0.2, onIdle: () => fired.push('idle'), onMaxLength: () => fired.push('max') });
    const ticking = setInterval(() => timers.activity(), 20);
    await sleep(350);
    clearInterval(ticking);
    timers.stop();
    assert.deepEqual(fired, ['max']);
  });
});
