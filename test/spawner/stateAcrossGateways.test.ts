import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { NOTIFY_PURPOSE } from '../../src/store/notifications.js';
import { removeByPrefix, runPrefix, withEngine } from '../helpers/docker.js';
import type { SpawnerParts } from '../helpers/gatewayParts.js';
import { containersOf, gatewaysOn } from '../helpers/gatewaysOnPostgres.js';
import { eventually } from '../helpers/http.js';
import { postgresForTests, type PostgresCluster } from '../helpers/postgres.js';

/*
 * Berth state changes reach every gateway on the store through
 * LISTEN/NOTIFY: a berth started or stopped on one is ready or stopped on
 * the others within a second (a stop there is no crash), and a gateway
 * whose listening connection was lost re-reads, once it is back, what it
 * missed meanwhile.
 */

const cluster = await postgresForTests('berth state across gateways');

async function admin<T>(on: PostgresCluster, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: on.host, port: on.port, user: on.user, database: 'postgres' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

await withEngine('berth state across gateways', () => {
  if (cluster === null) return;
  describe('berth state across gateways on one PostgreSQL store', () => {
    const prefix = runPrefix();
    after(() => removeByPrefix(prefix, [`${prefix}-net`]));

    it('tells the other gateway within a second that a berth is ready, then stopped (no crash)', { timeout: 120_000 }, async () => {
      const [a, b] = (await gatewaysOn(prefix, await cluster.freshDatabase(), 2)) as [SpawnerParts, SpawnerParts];
      try {
        const stops: string[] = [];
        b.spawner.onStopped((user, why) => stops.push(`${user}: ${why}`));
        await a.spawner.ready('alice', 'http', 60_000);
        const readyAt = Date.now();
        await eventually(async () => (b.spawner.status('alice').state === 'ready' ? true : undefined), 5_000, 'gateway B to know alice is ready');
        assert.ok(Date.now() - readyAt < 1_000, `B learnt it in ${Date.now() - readyAt} ms`);
        assert.notEqual(b.spawner.readyTarget('alice'), null);

        let stoppedOnA = 0;
        a.spawner.onStopped(() => (stoppedOnA = Date.now()));
        const stopping = a.spawner.stop('alice', 'stopped by an admin');
        const stoppedOnB = await eventually(async () => (b.spawner.status('alice').state === 'stopped' ? Date.now() : undefined), 10_000, 'gateway B to know alice stopped');
        await stopping;
        assert.ok(stoppedOnB - stoppedOnA < 1_000, `B learnt it ${stoppedOnB - stoppedOnA} ms after A stopped it`);
        assert.equal(b.spawner.readyTarget('alice'), null);
        assert.deepEqual(stops, ['alice: stopped by an admin']);
        // Give a die event on B's engine stream time to arrive: it must not turn the stop into a crash there.
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        assert.equal(b.spawner.status('alice').state, 'stopped');
        await b.spawner.close({ stopBerths: false });
        const kinds = (await b.store.recentEvents('alice', 10)).map((e) => e.kind);
        assert.ok(!kinds.includes('failed'), `no gateway recorded a failure: ${kinds.join(', ')}`);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('tells the other gateway within a second that a berth was paused, and that it runs again once the other resumed it', { timeout: 120_000 }, async () => {
      const [a, b] = (await gatewaysOn(prefix, await cluster.freshDatabase(), 2)) as [SpawnerParts, SpawnerParts];
      const engineState = async () => (await containersOf(prefix, 'dora'))[0]?.State;
      try {
        await a.spawner.ready('dora', 'http', 60_000);
        await eventually(async () => (b.spawner.status('dora').state === 'ready' ? true : undefined), 5_000, 'gateway B to know dora is ready');

        // What A's culler does after idle.pauseAfterSeconds.
        const pausing = Date.now();
        assert.equal(await a.spawner.pause('dora'), true);
        const pausedOnB = await eventually(async () => (b.spawner.status('dora').state === 'paused' ? Date.now() : undefined), 5_000, 'gateway B to know dora is paused');
        assert.ok(pausedOnB - pausing < 1_000, `B learnt it in ${pausedOnB - pausing} ms`);
        assert.equal(await engineState(), 'paused');
        assert.equal(b.spawner.readyTarget('dora'), null, 'B sends no request into the frozen berth');

        // A use on B thaws it there, and A learns it runs.
        const resuming = Date.now();
        await b.spawner.ready('dora', 'http', 30_000);
        assert.equal(await engineState(), 'running');
        const readyOnA = await eventually(async () => (a.spawner.status('dora').state === 'ready' ? Date.now() : undefined), 5_000, 'gateway A to know dora runs again');
        assert.ok(readyOnA - resuming < 2_000, `A learnt it ${readyOnA - resuming} ms after B began resuming`);
        assert.notEqual(a.spawner.readyTarget('dora'), null);
        // Resumed, not started afresh: one spawn in the shared events, then the pause and B's resume (written soon after).
        const kinds = await eventually(async () => {
          const seen = (await a.store.recentEvents('dora', 10)).map((e) => e.kind).reverse();
          return seen.includes('resumed') ? seen : undefined;
        }, 5_000, "B's resume in the shared events");
        assert.deepEqual(kinds.filter((k) => ['ready', 'paused', 'resumed'].includes(k)), ['ready', 'paused', 'resumed']);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('re-reads what it missed while its listening connection was cut off, once it is back', { timeout: 120_000 }, async () => {
      const url = await cluster.freshDatabase();
      const database = new URL(url).pathname.slice(1);
      const [a, b] = (await gatewaysOn(prefix, url, 2)) as [SpawnerParts, SpawnerParts];
      try {
        await a.spawner.ready('bob', 'http', 60_000);
        await eventually(async () => (b.spawner.status('bob').state === 'ready' ? true : undefined), 5_000, 'gateway B to know bob is ready');
        // B's listener is cut off and cannot come back; the pools' open connections stay.
        await admin(cluster, async (client) => {
          await client.query(`alter database ${database} allow_connections false`);
          const cut = await client.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and application_name = $2`, [database, `berth ${NOTIFY_PURPOSE}`]);
          assert.equal(cut.rowCount, 2, "both gateways' listeners");
        });
        await eventually(async () => (b.spawner.notificationProblem() !== null ? true : undefined), 5_000, 'B to say it is not listening');
        assert.match(b.spawner.notificationProblem() ?? '', /not receiving other gateways' berth changes/);
        await a.spawner.stop('bob', 'stopped by an admin');
        await a.spawner.ready('carol', 'http', 60_000);
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal(b.spawner.status('carol').state, 'stopped', 'B missed carol starting');

        await admin(cluster, (client) => client.query(`alter database ${database} allow_connections true`));
        await eventually(async () => (b.spawner.notificationProblem() === null ? true : undefined), 15_000, 'B to listen again');
        await eventually(async () => (b.spawner.status('carol').state === 'ready' ? true : undefined), 5_000, 'B to find carol ready');
        assert.notEqual(b.spawner.readyTarget('carol'), null);
        assert.equal(b.spawner.status('bob').state === 'ready', false, 'B no longer sends requests to bob');
      } finally {
        await admin(cluster, (client) => client.query(`alter database ${database} allow_connections true`));
        await Promise.all([a.close(), b.close()]);
      }
    });
  });
});
