import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import { Culler } from '../../src/spawner/culler.js';
import { cullerLeadership } from '../../src/store/leader.js';
import { removeByPrefix, runPrefix, withEngine } from '../helpers/docker.js';
import type { SpawnerParts } from '../helpers/gatewayParts.js';
import { gatewaysOn } from '../helpers/gatewaysOnPostgres.js';
import { eventually } from '../helpers/http.js';
import { postgresForTests } from '../helpers/postgres.js';

/*
 * The idle culler across gateways on one PostgreSQL store: exactly one
 * gateway leads it; it culls berths started on another gateway, but not one
 * held open there (an SSH session), whose activity that gateway flushes; and
 * when the leader goes, another leads within seconds and culls on time.
 */

const cluster = await postgresForTests('the idle culler across gateways');
const IDLE = { stopAfterSeconds: 8, checkEverySeconds: 1 };

await withEngine('the idle culler across gateways', () => {
  if (cluster === null) return;
  describe('the idle culler across gateways on one PostgreSQL store', () => {
    const prefix = runPrefix();
    after(() => removeByPrefix(prefix, [`${prefix}-net`]));

    it('one leader culls what idles anywhere, spares a berth held open on another gateway, and is replaced when it goes', { timeout: 180_000 }, async () => {
      const parts = (await gatewaysOn(prefix, await cluster.freshDatabase(), 3)) as SpawnerParts[];
      const leaderships = parts.map((p) => cullerLeadership(p.store, createLogger('silent')));
      const cullers = parts.map((p, i) => new Culler(p.spawner, IDLE, createLogger('silent'), leaderships[i]));
      for (const culler of cullers) culler.start();
      try {
        const leaderIndex = await eventually(
          async () => {
            const leading = leaderships.flatMap((l, i) => (l.isLeader() ? [i] : []));
            return leading.length === 1 ? (leading[0] as number) : undefined;
          },
          10_000,
          'exactly one culler leader',
        );
        const others = parts.filter((_, i) => i !== leaderIndex) as [SpawnerParts, SpawnerParts];
        // Both berths start on a gateway that does not lead; one is held open there, as by an SSH session.
        await Promise.all([others[0].spawner.ready('held', 'ssh', 60_000), others[0].spawner.ready('idle', 'http', 60_000)]);
        const release = others[0].spawner.hold('held');
        const began = Date.now();
        await eventually(async () => (others[0].spawner.status('idle').state === 'stopped' ? true : undefined), 30_000, 'the leader to cull the idle berth');
        const culledAfter = (Date.now() - began) / 1000;
        assert.ok(culledAfter >= IDLE.stopAfterSeconds - 1, `culled after ${culledAfter} s, not before it idled`);
        assert.equal(leaderships.filter((l) => l.isLeader()).length, 1);
        // The leader records its events in a batch of their own, so the other gateways may hear of the stop first.
        const [latest] = await eventually(
          async () => {
            const events = await others[0].store.recentEvents('idle', 5);
            return events[0]?.kind === 'stopped' ? events : undefined;
          },
          5_000,
          "the leader's stopped event in the store",
        );
        assert.equal(latest?.message, 'idle');
        // Twice the idle time later the held berth still runs.
        await new Promise((resolve) => setTimeout(resolve, (IDLE.stopAfterSeconds * 2 - culledAfter) * 1000));
        assert.equal(others[0].spawner.status('held').state, 'ready', 'an SSH session on another gateway keeps its berth alive');
        release();

        // The leader goes (its store connection with it); another leads and culls on time.
        await cullers[leaderIndex]?.close();
        const newLeader = await eventually(
          async () => {
            const leading = leaderships.flatMap((l, i) => (i !== leaderIndex && l.isLeader() ? [i] : []));
            return leading.length === 1 ? leading[0] : undefined;
          },
          6_000,
          'another gateway to lead the culler',
        );
        assert.notEqual(newLeader, leaderIndex);
        const released = Date.now();
        await eventually(async () => (others[0].spawner.status('held').state === 'stopped' ? true : undefined), 30_000, 'the new leader to cull the released berth');
        assert.ok((Date.now() - released) / 1000 < IDLE.stopAfterSeconds + 8, 'on time');
      } finally {
        await Promise.all(cullers.map((c) => c.close()));
        await Promise.all(parts.map((p) => p.close()));
      }
    });
  });
});
