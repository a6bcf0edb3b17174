import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BerthError } from '../../src/core/errors.js';
import type { BerthPort } from '../../src/runtime/types.js';
import { Culler } from '../../src/spawner/culler.js';
import type { Spawner } from '../../src/spawner/spawner.js';
import { createLogger } from '../../src/log/logger.js';
import { localSpawner, testConfig } from '../helpers/gatewayParts.js';
import { httpThrough } from '../helpers/http.js';

async function fetchText(spawner: Spawner, target: BerthPort): Promise<string> {
  return (await httpThrough(() => spawner.connect(target))).body;
}

describe('spawner', () => {
  it('creates one berth however many first requests arrive at once', async () => {
    const parts = await localSpawner(testConfig());
    try {
      const endpoints = await Promise.all(Array.from({ length: 50 }, () => parts.spawner.ready('alice', 'http')));
      assert.equal(new Set(endpoints.map((e) => `${e.name}:${e.port}`)).size, 1);
      const berths = await parts.runtime.list();
      assert.equal(berths.length, 1);
      assert.equal(await fetchText(parts.spawner, endpoints[0] as BerthPort), 'hello from alice');
      const steps = parts.spawner.status('alice').progress.map((p) => p.step);
      assert.deepEqual([...new Set(steps)], ['starting', 'waiting', 'ready']);
    } finally {
      await parts.close();
    }
  });

  it('gives different users different berths', async () => {
    const parts = await localSpawner(testConfig());
    try {
      const [a, b] = await Promise.all([parts.spawner.ready('alice', 'http'), parts.spawner.ready('bob', 'http')]);
      assert.notEqual(a.port, b.port);
      assert.equal(await fetchText(parts.spawner, b), 'hello from bob');
    } finally {
      await parts.close();
    }
  });

  it('queues spawns beyond spawn.concurrency and says so in their progress', async () => {
    const parts = await localSpawner(testConfig({ BERTH_SPAWN_CONCURRENCY: '1' }));
    try {
      await Promise.all(['u1', 'u2', 'u3'].map((u) => parts.spawner.ready(u, 'http')));
      const queued = ['u1', 'u2', 'u3'].filter((u) => parts.spawner.status(u).progress.some((p) => p.step === 'queued'));
      assert.equal(queued.length, 2);
      assert.match(parts.spawner.status('u3').progress[0]?.message ?? '', /ahead of you/);
    } finally {
      await parts.close();
    }
  });

  it('reports a command that exits at once as failed, with its exit code and output', async () => {
    const config = testConfig({ BERTH_ENVIRONMENT_COMMAND: '[sh, -c, "echo broken config >&2; exit 3"]' });
    const parts = await localSpawner(config);
    try {
      await assert.rejects(parts.spawner.ready('alice', 'http'), (err: BerthError) => err.code === 'spawn_failed');
      const status = parts.spawner.status('alice');
      assert.equal(status.state, 'failed');
      assert.equal(status.failure?.exitCode, 3);
      assert.ok(status.failure?.logTail.some((l) => l.includes('broken config')));
      assert.equal(status.progress.at(-1)?.step, 'failed');
    } finally {
      await parts.close();
    }
  });

  it('fails a berth that never listens within spawn.timeoutSeconds, and stops it', async () => {
    const config = testConfig({ BERTH_ENVIRONMENT_COMMAND: '[sleep, "30"]', BERTH_SPAWN_TIMEOUT_SECONDS: '1' });
    const parts = await localSpawner(config);
    try {
      await assert.rejects(parts.spawner.ready('alice', 'http'), /did not answer on port/);
      assert.equal(parts.spawner.status('alice').state, 'failed');
      assert.equal((await parts.runtime.list()).filter((b) => b.state === 'running').length, 0);
    } finally {
      await parts.close();
    }
  });

  it('marks a berth that crashes while running as failed and starts it again on the next request', async () => {
    const parts = await localSpawner(testConfig());
    try {
      const stopped: string[] = [];
      parts.spawner.onStopped((user) => stopped.push(user));
      await parts.spawner.ready('alice', 'http');
      const { id } = await parts.runtime.inspect('alice');
      process.kill(Number(id), 'SIGKILL');
      for (let i = 0; i < 100 && parts.spawner.status('alice').state !== 'failed'; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(parts.spawner.status('alice').state, 'failed');
      assert.equal(parts.spawner.status('alice').failure?.exitCode, 137);
      assert.deepEqual(stopped, ['alice']);
      const again = await parts.spawner.ready('alice', 'http');
      assert.equal(await fetchText(parts.spawner, again), 'hello from alice');
    } finally {
      await parts.close();
    }
  });

  it('waits at most waitMs for a berth that is still starting', async () => {
    const config = testConfig({ BERTH_ENVIRONMENT_COMMAND: '[sleep, "30"]', BERTH_SPAWN_TIMEOUT_SECONDS: '20' });
    const parts = await localSpawner(config);
    try {
      const began = Date.now();
      await assert.rejects(parts.spawner.ready('alice', 'http', 300), (err: BerthError) => err.code === 'berth_not_ready');
      assert.ok(Date.now() - began < 3000);
      assert.equal(parts.spawner.status('alice').state, 'starting');
      const stopping = Date.now();
      await parts.spawner.stop('alice', 'test');
      assert.ok(Date.now() - stopping < 3000, 'a stop does not wait out the spawn timeout');
      assert.equal(parts.spawner.status('alice').state, 'stopped');
    } finally {
      await parts.close();
    }
  });

  it('stops berths idle past stopAfterSeconds, but not ones held open', async () => {
    const parts = await localSpawner(testConfig());
    try {
      await Promise.all([parts.spawner.ready('idle', 'http'), parts.spawner.ready('busy', 'ssh')]);
      const release = parts.spawner.hold('busy');
      const culler = new Culler(parts.spawner, { stopAfterSeconds: 60, checkEverySeconds: 60 }, createLogger('silent'));
      assert.deepEqual(await culler.pass(Date.now() + 61_000), ['idle']);
      assert.equal(parts.spawner.status('idle').state, 'stopped');
      assert.equal(parts.spawner.status('busy').state, 'ready');
      release();
      assert.deepEqual(await culler.pass(Date.now() + 61_000), ['busy']);
    } finally {
      await parts.close();
    }
  });

  it('adopts running berths with their idle clocks from the store', async () => {
    const parts = await localSpawner(testConfig());
    try {
      await parts.spawner.ready('alice', 'http');
      await parts.store.saveActivity(new Map([['alice', 1234]]));
      const { Spawner } = await import('../../src/spawner/spawner.js');
      const second = new Spawner({ config: testConfig(), runtime: parts.runtime, store: parts.store, logger: createLogger('silent'), metrics: parts.metrics });
      assert.equal(await second.adopt(), 1);
      assert.equal(second.status('alice').state, 'ready');
      assert.equal(second.status('alice').lastActivity, 1234);
      await second.close({ stopBerths: false });
    } finally {
      await parts.close();
    }
  });
});
