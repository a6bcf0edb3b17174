import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Store } from '../../src/store/store.js';
import { SpawnLeases } from '../../src/store/spawnLeases.js';
import { openFresh, storeKinds } from '../helpers/stores.js';

/*
 * The spawn lease table on both stores: of gateways asking at once one gets
 * the lease; a holder that lets it lapse loses it to a newer generation, and
 * nothing the stale holder writes afterwards counts.
 */

const kinds = await storeKinds('spawn leases');
const TTL = 10_000;

for (const kind of kinds) {
  describe(`spawn leases on ${kind.name}`, () => {
    it('gives the lease to exactly one of twenty gateways asking at once', async () => {
      // Separate stores (pools) on one database, as separate gateways have.
      const { dataDir, options } = await kind.fresh();
      const stores = await Promise.all(Array.from({ length: kind.name === 'postgres' ? 5 : 1 }, () => Store.open(dataDir, options)));
      try {
        const now = Date.now();
        const taken = await Promise.all(
          Array.from({ length: 20 }, (_, i) => new SpawnLeases((stores[i % stores.length] as Store).db).take('alice', `gw${i}`, TTL, now)),
        );
        assert.deepEqual(taken.filter((g) => g !== null), [1]);
        const row = await new SpawnLeases((stores[0] as Store).db).read('alice');
        assert.equal(row?.state, 'spawning');
        assert.equal(row?.holder, `gw${taken.indexOf(1)}`);
        assert.equal(await new SpawnLeases((stores[0] as Store).db).take('bob', 'gw0', TTL, now), 1, "another user's lease is its own");
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    it('fences a holder whose lease lapsed and was taken over: its renewals and its end change nothing', async () => {
      const store = await openFresh(kind);
      try {
        const leases = new SpawnLeases(store.db);
        const t0 = Date.now();
        assert.equal(await leases.take('alice', 'dead', TTL, t0), 1);
        assert.equal(await leases.take('alice', 'b', TTL, t0 + 1), null, 'held until it lapses');
        assert.equal(await leases.renew('alice', 1, TTL, t0 + 5_000, [{ step: 'starting', message: 'Starting', elapsedMs: 1 }]), true);
        assert.equal(await leases.take('alice', 'b', TTL, t0 + TTL + 1), null, 'a renewal extends it');
        const later = t0 + 5_000 + TTL + 1;
        assert.equal(await leases.take('alice', 'b', TTL, later), 2, 'lapsed: the next generation');
        const fresh = await leases.read('alice');
        assert.deepEqual(fresh?.progress, [], 'the takeover starts its progress afresh');
        assert.equal(await leases.renew('alice', 1, TTL, later, []), false);
        assert.equal(await leases.finish('alice', 1, 'failed', [], { reason: 'stale', logTail: [], at: later }), false);
        await leases.abandon('alice', 1);
        const row = await leases.read('alice');
        assert.equal(row?.holder, 'b');
        assert.equal(row?.state, 'spawning');
        assert.equal(row?.failure, null);
        assert.ok((row?.expiresAt ?? 0) > later, 'the stale abandon did not free the new holder\'s lease');
      } finally {
        await store.close();
      }
    });

    it('ends a spawn with its outcome for followers, and frees the lease for the next spawn', async () => {
      const store = await openFresh(kind);
      try {
        const leases = new SpawnLeases(store.db);
        const now = Date.now();
        assert.equal(await leases.take('alice', 'a', TTL, now), 1);
        const failure = { reason: 'exited with code 3', exitCode: 3, logTail: ['broken'], at: now };
        const events = [{ step: 'failed' as const, message: 'exited', elapsedMs: 9, failure }];
        assert.equal(await leases.finish('alice', 1, 'failed', events, failure), true);
        const row = await leases.read('alice');
        assert.equal(row?.state, 'failed');
        assert.deepEqual(row?.failure, failure);
        assert.deepEqual(row?.progress, events);
        assert.equal(await leases.take('alice', 'b', TTL, now + 1), 2, 'an ended spawn holds nothing');
        await leases.abandon('alice', 2);
        assert.equal(await leases.take('alice', 'c', TTL, now + 2), 3, 'an abandoned one neither');
      } finally {
        await store.close();
      }
    });
  });
}
