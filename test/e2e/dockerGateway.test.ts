import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUSYBOX, ENGINES, engineProxy, removeByPrefix, runPrefix, withEngine, type TestEngine } from '../helpers/docker.js';
import { writeGatewayConfig } from '../helpers/gatewayConfig.js';
import { eventually, httpRequest } from '../helpers/http.js';
import { berthServe, stopServe, type Served } from '../helpers/serve.js';

/*
 * `berth serve` as a user runs it, on the real engine: a separate process
 * from a YAML file, in header mode, reached over HTTP. The engine socket is
 * a proxy this test can take away, so "dockerd goes away" disturbs no other
 * test on the same engine. The same file runs on each engine (Docker,
 * Podman's API service).
 */

/** Every suite of this file, against one engine. */
function serveSuites(on: TestEngine): Promise<void> {
  const prefix = runPrefix();
  const network = `${prefix}-net`;
  const USERS = Array.from({ length: 20 }, (_, i) => `user${String(i + 1).padStart(2, '0')}`);
  const GREETER = 'mkdir -p /tmp/www && echo "hello $BERTH_USER" > /tmp/www/index.html && exec httpd -f -p "$PORT" -h /tmp/www';

  const as = (user: string) => ({ headers: { 'X-Forwarded-Preferred-Username': user }, timeoutMs: 60_000 });

  async function containerOf(user: string) {
    const info = await on.client.getContainer(`${prefix}-${user}`).inspect();
    return { id: info.Id, startedAt: info.State.StartedAt, restarts: info.RestartCount, running: info.State.Running };
  }

  return withEngine(`berth serve on ${on.kind}`, () => {
    describe(`berth serve on ${on.kind}`, { timeout: 240_000 }, () => {
      const dir = mkdtempSync(join(tmpdir(), 'berth-e2e-docker-'));
      const socket = engineProxy(join(dir, 'engine.sock'), on);
      const configFile = join(dir, 'berth.yaml');
      let gateway: Served;

      before(async () => {
        await socket.up();
        writeGatewayConfig(configFile, {
          auth: { mode: 'header' },
          runtime: { kind: 'docker', docker: { socket: `unix://${socket.path}`, namePrefix: prefix, network } },
          environment: { image: BUSYBOX, command: ['sh', '-c', GREETER] },
        });
        gateway = await berthServe(['--config', configFile], {});
      });

      after(async () => {
        await stopServe(gateway, 'SIGKILL');
        await socket.down();
        await removeByPrefix(prefix, [network], on);
        rmSync(dir, { recursive: true, force: true });
      });

      it('creates exactly one container for 50 concurrent first requests of one user', async () => {
        const replies = await Promise.all(Array.from({ length: 50 }, () => httpRequest(`${gateway.base}/`, as('crowd'))));
        assert.deepEqual(new Set(replies.map((r) => `${r.status} ${r.body.trim()}`)), new Set(['200 hello crowd']));
        const made = await on.client.listContainers({ all: true, filters: { label: ['berth.user=crowd'], name: [`${prefix}-`] } });
        assert.equal(made.length, 1, 'one container');
      });

      it('keeps serving 20 running berths from the same containers after the gateway is killed and restarted', async () => {
        const first = await Promise.all(USERS.map((user) => httpRequest(`${gateway.base}/`, as(user))));
        assert.deepEqual(first.map((r) => r.body.trim()), USERS.map((user) => `hello ${user}`));
        const before = await Promise.all(USERS.map(containerOf));

        await stopServe(gateway, 'SIGKILL');
        gateway = await berthServe(['--config', configFile], {});

        const me = await httpRequest(`${gateway.base}/_berth/api/me`, as(USERS[0] as string));
        assert.equal((JSON.parse(me.body) as { berth: { state: string } }).berth.state, 'ready', 'adopted, not starting');
        const again = await Promise.all(USERS.map((user) => httpRequest(`${gateway.base}/`, as(user))));
        assert.deepEqual(again.map((r) => `${r.status} ${r.body.trim()}`), USERS.map((user) => `200 hello ${user}`));
        assert.deepEqual(await Promise.all(USERS.map(containerOf)), before, 'same containers, never restarted');
      });

      it('answers 503 naming the engine while it is away, and recovers by itself when it is back', async () => {
        await socket.down();
        const health = await httpRequest(`${gateway.base}/_berth/healthz`);
        assert.equal(health.status, 503);
        assert.ok(health.body.includes(socket.path), `health names the socket: ${health.body}`);
        const refused = await httpRequest(`${gateway.base}/`, as('newcomer'));
        assert.equal(refused.status, 503);
        assert.ok(refused.body.includes(socket.path), `the refusal names the socket: ${refused.body}`);

        await socket.up();
        await eventually(
          () => httpRequest(`${gateway.base}/_berth/healthz`).then((r) => (r.status === 200 ? true : undefined)),
          30_000,
          'health to recover',
        );
        const served = await httpRequest(`${gateway.base}/`, as('newcomer'));
        assert.equal(`${served.status} ${served.body.trim()}`, '200 hello newcomer');
      });
    });
  });
}

for (const on of ENGINES) await serveSuites(on);
