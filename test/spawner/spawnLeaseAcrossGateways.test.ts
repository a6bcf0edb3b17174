import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { BerthError } from '../../src/core/errors.js';
import { berthSpecFor } from '../../src/runtime/spec.js';
import { SpawnLeases } from '../../src/store/spawnLeases.js';
import { removeByPrefix, runPrefix, withEngine } from '../helpers/docker.js';
import type { SpawnerParts } from '../helpers/gatewayParts.js';
import { containersOf, dockerRuntimeOf, gatewayConfig as configFor, gatewaysOn } from '../helpers/gatewaysOnPostgres.js';
import { httpThrough } from '../helpers/http.js';
import { postgresForTests } from '../helpers/postgres.js';

/*
 * Gateways sharing one PostgreSQL store and one Docker engine, each with its
 * own spawner, runtime client and connection pool (as separate processes
 * have): one user gets one container however the first requests spread, a
 * spawn whose holder died is finished by another gateway, and a holder whose
 * lease was taken over cannot replace what the new holder made.
 */

const cluster = await postgresForTests('spawn leases across gateways');

await withEngine('spawn leases across gateways', () => {
  if (cluster === null) return;
  describe('spawn leases across gateways on one PostgreSQL store', () => {
    const prefix = runPrefix();
    after(() => removeByPrefix(prefix, [`${prefix}-net`]));

    const gateways = (url: string, count: number) => gatewaysOn(prefix, url, count);
    const gatewayConfig = (url: string) => configFor(prefix, url);

    it('makes one container for 30 first requests spread over three gateways, and every gateway serves it', { timeout: 120_000 }, async () => {
      const parts = await gateways(await cluster.freshDatabase(), 3);
      try {
        const targets = await Promise.all(Array.from({ length: 30 }, (_, i) => (parts[i % 3] as SpawnerParts).spawner.ready('alice', 'http', 60_000)));
        assert.equal(new Set(targets.map((t) => `${t.name}:${t.port}`)).size, 1);
        const containers = await containersOf(prefix, 'alice');
        assert.equal(containers.length, 1, 'one container');
        assert.equal(containers[0]?.Labels['berth.generation'], '1', 'made under the first lease');
        for (const part of parts) {
          assert.equal(part.spawner.status('alice').state, 'ready');
          assert.equal((await httpThrough(() => part.spawner.connect(targets[0] as never))).body, 'hello from alice\n');
        }
        // The followers showed the holder's steps on their own loading pages.
        const steps = parts.map((p) => p.spawner.status('alice').progress.map((e) => e.step));
        for (const s of steps) assert.deepEqual([s.includes('starting'), s.at(-1)], [true, 'ready']);
      } finally {
        await Promise.all(parts.map((p) => p.close()));
      }
    });

    it('finishes on another gateway the spawn of a holder that died after creating the container: no orphan, no duplicate', { timeout: 120_000 }, async () => {
      const url = await cluster.freshDatabase();
      const b = (await gateways(url, 1))[0] as SpawnerParts;
      try {
        // The dead gateway took the lease for 3 s and made the container, then was gone.
        const dead = gatewayConfig(url);
        const spec = berthSpecFor(dead, 'bob');
        assert.equal(await new SpawnLeases(b.store.db).take('bob', 'dead-gateway', 3_000, Date.now()), 1);
        const deadRuntime = dockerRuntimeOf(dead);
        const made = await deadRuntime.ensure(spec, () => undefined, 1);
        await deadRuntime.close();

        const began = Date.now();
        const target = await b.spawner.ready('bob', 'http', 60_000);
        assert.ok(Date.now() - began >= 1_500, 'it waited for the lease to lapse rather than racing the holder');
        assert.equal((await httpThrough(() => b.spawner.connect(target))).body, 'hello from bob\n');
        const containers = await containersOf(prefix, 'bob');
        assert.deepEqual(containers.map((c) => c.Id), [made.id], 'the dead holder\'s container, adopted');
        const lease = await new SpawnLeases(b.store.db).read('bob');
        assert.deepEqual([lease?.generation, lease?.state], [2, 'ready']);
      } finally {
        await b.close();
      }
    });

    it('refuses a stale holder\'s create or re-create once a newer generation made the berth', { timeout: 120_000 }, async () => {
      const url = await cluster.freshDatabase();
      const b = (await gateways(url, 1))[0] as SpawnerParts;
      try {
        // A holder that took the lease and stalled before making anything.
        assert.equal(await new SpawnLeases(b.store.db).take('carol', 'stalled-gateway', 1_000, Date.now()), 1);
        await b.spawner.ready('carol', 'http', 60_000);
        const [container] = await containersOf(prefix, 'carol');
        assert.equal(container?.Labels['berth.generation'], '2');

        const stale = gatewayConfig(url);
        const staleRuntime = dockerRuntimeOf(stale);
        try {
          const superseded = (err: unknown) => err instanceof BerthError && err.code === 'spawn_superseded';
          await assert.rejects(staleRuntime.ensure(berthSpecFor(stale, 'carol'), () => undefined, 1), superseded);
          // A changed environment would re-create the container: not for a stale holder.
          stale.environment.env = { CHANGED: '1' };
          await assert.rejects(staleRuntime.ensure(berthSpecFor(stale, 'carol'), () => undefined, 1), superseded);
        } finally {
          await staleRuntime.close();
        }
        const after = await containersOf(prefix, 'carol');
        assert.deepEqual(after.map((c) => [c.Id, c.State]), [[container?.Id, 'running']]);
        assert.equal(b.spawner.status('carol').state, 'ready');
      } finally {
        await b.close();
      }
    });
  });
});
