import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { BUSYBOX, ENGINES, removeByPrefix, runPrefix, withEngine, type TestEngine } from '../helpers/docker.js';
import { writeGatewayConfig } from '../helpers/gatewayConfig.js';
import { eventually, httpRequest } from '../helpers/http.js';
import { berthServe, stopServe, type Served } from '../helpers/serve.js';
import { clientOptions, makeKey, run, scratchDir, type ClientKey } from '../ssh/harness.js';

/*
 * Warm starts end to end: `berth serve` on a real engine with
 * idle.pauseAfterSeconds, the culler pausing an idle berth, and each way in
 * (a script's request, a browser navigation, an app host's request, an
 * OpenSSH login, a restarted gateway's next request) resuming it with its processes as they were. The
 * berth's own shell keeps a counter in memory and writes it where its web
 * server serves it: a restarted berth would start counting from 1 again, and
 * a frozen one does not count at all.
 */

const TICK_MS = 200;
// Written aside and renamed, so a read never finds the file emptied halfway through a write (it read as 0).
// The same files also on APP_PORT, reached through its app host (alice-3000.apps.test).
const APP_PORT = 3000;
const COUNTER = `mkdir -p /tmp/www; (i=0; while :; do i=$((i+1)); echo $i > /tmp/www/next; mv /tmp/www/next /tmp/www/count; sleep 0.2; done) & httpd -p ${APP_PORT} -h /tmp/www; exec httpd -f -p "$PORT" -h /tmp/www`;
const APPS_DOMAIN = 'apps.test';

function pausedSuites(on: TestEngine): Promise<void> {
  const prefix = runPrefix();
  const network = `${prefix}-net`;
  return withEngine(`paused berths on ${on.kind}`, () => {
    describe(`paused berths on ${on.kind}`, { timeout: 180_000 }, () => {
      const dir = mkdtempSync(join(tmpdir(), 'berth-paused-'));
      const scratch = scratchDir();
      const configFile = join(dir, 'berth.yaml');
      let key: ClientKey;
      let gateway: Served;
      let sshPort: number;
      /** alice's API token with the apps scope, which signs her in on her app hosts (X-Berth-Token). */
      let appsToken: string;
      const as = { 'X-Forwarded-Preferred-Username': 'alice' };

      const container = async () => (await on.client.getContainer(`${prefix}-alice`).inspect()).State;
      const count = async (headers: Record<string, string> = {}) => {
        const reply = await httpRequest(`${gateway.base}/count`, { headers: { ...as, ...headers }, timeoutMs: 30_000 });
        assert.equal(reply.status, 200, reply.body);
        return Number(reply.body.trim());
      };
      const apiState = async () => JSON.parse((await httpRequest(`${gateway.base}/_berth/api/me`, { headers: as })).body).berth.state as string;
      const untilPaused = () =>
        eventually(async () => ((await container()).Paused && (await apiState()) === 'paused' ? true : undefined), 20_000, 'the culler to pause the idle berth');
      const serve = async (env: Record<string, string> = {}) => {
        gateway = await berthServe(['--config', configFile], { BERTH_LISTEN_SSH: `127.0.0.1:${sshPort}`, ...env });
      };

      before(async () => {
        key = makeKey(scratch.dir, 'alice');
        sshPort = await freeLoopbackPort();
        writeGatewayConfig(configFile, {
          listen: {},
          log: { level: 'info' },
          auth: { mode: 'header' },
          runtime: { kind: 'docker', docker: { socket: on.socket, namePrefix: prefix, network } },
          environment: { image: BUSYBOX, command: ['sh', '-c', COUNTER] },
          idle: { pauseAfterSeconds: 2, stopAfterSeconds: 3600, checkEverySeconds: 1 },
          apps: { domain: APPS_DOMAIN },
        });
        await serve();
        const added = await httpRequest(`${gateway.base}/_berth/api/me/keys`, {
          method: 'POST',
          headers: { ...as, 'content-type': 'application/json' },
          body: JSON.stringify({ key: key.publicKey }),
        });
        assert.equal(added.status, 201, added.body);
        const issued = await httpRequest(`${gateway.base}/_berth/api/me/tokens`, {
          method: 'POST',
          headers: { ...as, 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'app host', scopes: ['apps'], expiresInSeconds: 3600 }),
        });
        assert.equal(issued.status, 201, issued.body);
        appsToken = (JSON.parse(issued.body) as { token: string }).token;
      });

      after(async () => {
        await stopServe(gateway, 'SIGKILL');
        await removeByPrefix(prefix, [network], on);
        rmSync(dir, { recursive: true, force: true });
        scratch.remove();
      });

      it('resumes a paused berth on a request with its in-memory counter, which did not count while paused', async () => {
        const first = await count();
        const firstAt = Date.now();
        const { StartedAt: started } = await container();
        await untilPaused();
        const pausedAt = Date.now();
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const background = await httpRequest(`${gateway.base}/count`, { headers: { ...as, 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin' } });
        assert.equal(background.status, 503, 'a background tab does not resume it');
        assert.equal((await container()).Paused, true, 'still paused after the background request');

        const resumed = await count();
        const frozenMs = Date.now() - pausedAt;
        assert.ok(resumed > first, `the counter went on from ${first} (got ${resumed}): the same process, not a new one`);
        const unfrozenTicks = (Date.now() - firstAt - frozenMs) / TICK_MS;
        assert.ok(resumed - first <= unfrozenTicks + 3, `no counting while paused: ${resumed - first} ticks in ${Date.now() - firstAt} ms, ${frozenMs} ms of it paused`);
        const now = await container();
        assert.equal(now.Paused, false);
        assert.equal(now.StartedAt, started, 'not restarted');
        assert.equal(await apiState(), 'ready');
      });

      it('resumes a paused berth on a browser navigation, held rather than shown the loading page', async () => {
        const before = await count();
        await untilPaused();
        const navigated = await count({ 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'none', 'sec-fetch-dest': 'document', accept: 'text/html' });
        assert.ok(navigated > before, `${navigated} after ${before}`);
      });

      it('resumes a paused berth on a request to one of its app hosts', async () => {
        const before = await count();
        await untilPaused();
        const { port } = new URL(gateway.base);
        const reply = await httpRequest(`${gateway.base}/count`, {
          headers: { host: `alice-${APP_PORT}.${APPS_DOMAIN}:${port}`, 'x-berth-token': appsToken },
          timeoutMs: 30_000,
        });
        assert.equal(reply.status, 200, reply.body);
        assert.ok(Number(reply.body.trim()) > before, `${reply.body.trim()} after ${before}`);
        assert.equal((await container()).Paused, false);
      });

      it('resumes a paused berth on an ssh login', async () => {
        const before = await count();
        await untilPaused();
        const result = await run('ssh', [...clientOptions(key), '-p', String(sshPort), 'alice@127.0.0.1', '--', 'cat /tmp/www/count'], { timeoutMs: 60_000 });
        assert.equal(result.code, 0, result.stderr);
        assert.ok(Number(result.stdout.trim()) > before, `${result.stdout.trim()} after ${before}`);
      });

      it('adopts a paused berth as paused after the gateway is SIGKILLed, resumes it on the next request, and stops it after stopAfterSeconds', async () => {
        const before = await count();
        const { StartedAt: started } = await container();
        await untilPaused();
        await stopServe(gateway, 'SIGKILL');
        await serve({ BERTH_IDLE_STOP_AFTER_SECONDS: '8' });
        assert.equal(await apiState(), 'paused', 'adopted as paused');
        assert.equal((await container()).Paused, true, 'adoption wakes nothing');

        const after = await count();
        assert.ok(after > before, `${after} after ${before}`);
        assert.equal((await container()).StartedAt, started, 'the same process, not restarted');

        await untilPaused();
        await eventually(async () => ((await container()).Running === false && (await apiState()) === 'stopped' ? true : undefined), 30_000, 'the culler to stop the paused berth');
      });
    });
  }, on);
}

for (const on of ENGINES) await pausedSuites(on);
