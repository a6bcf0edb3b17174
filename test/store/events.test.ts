import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openFresh, storeKinds } from '../helpers/stores.js';

for (const kind of await storeKinds('store events')) {
  describe(`store events on ${kind.name}`, () => {
    it('keeps the newest 200 events per user, whether written one by one or in batches', async () => {
      const store = await openFresh(kind);
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
      }
    });

    it('keeps millisecond times beyond 32 bits and reads them back as numbers', async () => {
      const store = await openFresh(kind);
      try {
        const at = Date.UTC(2038, 0, 20);
        await store.addEvent({ user: 'bob', at, kind: 'ready', message: 'after 2038' });
        const [event] = await store.recentEvents(null, 1);
        assert.equal(event?.at, at);
        assert.equal(typeof event?.at, 'number');
      } finally {
        await store.close();
      }
    });
  });
}
