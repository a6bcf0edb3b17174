import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Store } from '../../src/store/store.js';

describe('store events', () => {
  it('keeps the newest 200 events per user, whether written one by one or in batches', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
    const store = await Store.open(dir);
    try {
      for (let i = 0; i < 5; i++) await store.addEvent({ user: 'alice', at: i, kind: 'ready', message: `single ${i}` });
      const batch = Array.from({ length: 1200 }, (_, i) => ({ user: i % 2 === 0 ? 'alice' : `user${i}`, at: 100 + i, kind: 'stopped', message: `batch ${i}` }));
      await store.addEvents(batch);
      const alice = await store.recentEvents('alice', 1000);
      assert.equal(alice.length, 200);
      assert.equal(alice[0]?.message, 'batch 1198');
      assert.equal(alice.at(-1)?.message, `batch ${1198 - 199 * 2}`);
      assert.deepEqual(await store.recentEvents('user1', 10), [{ user: 'user1', at: 101, kind: 'stopped', message: 'batch 1' }]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
