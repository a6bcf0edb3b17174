import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { eventually, httpRequest } from '../helpers/http.js';
import { postgresForTests } from '../helpers/postgres.js';
import { berthServe, stopServe, type Served } from '../helpers/serve.js';

/*
 * Two `berth serve` processes on one PostgreSQL store, each with its own data
 * directory, as behind a load balancer with no stickiness: a cookie made on
 * one is good on the other, a sign-in hand-off begun on one ends on the other
 * (and only once), OpenSSH's ssh-keyscan sees one host key on both, and on
 * SIGTERM readiness fails before the listener closes.
 */

const cluster = await postgresForTests('two gateways on one store');

if (cluster !== null) {
  describe('two gateways on one PostgreSQL store', () => {
    const dirs: string[] = [];
    after(() => {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    async function gateway(url: string, publicUrl: string, listen: string, extra: Record<string, string> = {}): Promise<Served & { sshPort: number }> {
      const dataDir = mkdtempSync(join(tmpdir(), 'berth-gw-'));
      dirs.push(dataDir);
      const sshPort = await freeLoopbackPort();
      const served = await berthServe([], {
        BERTH_DATA_DIR: dataDir,
        BERTH_PUBLIC_URL: publicUrl,
        BERTH_LISTEN_HTTP: listen,
        BERTH_LISTEN_SSH: `127.0.0.1:${sshPort}`,
        BERTH_AUTH_MODE: 'dev',
        BERTH_APPS_DOMAIN: 'apps.test',
        BERTH_STORE_KIND: 'postgres',
        BERTH_STORE_URL: url,
        ...extra,
      });
      return { ...served, sshPort };
    }

    it('serves any request from either gateway and drains on SIGTERM', { timeout: 120_000 }, async () => {
      const url = await cluster.freshDatabase();
      const [portA, portB] = [await freeLoopbackPort(), await freeLoopbackPort()];
      // One public name, as behind a balancer: here gateway A's address.
      const publicUrl = `http://127.0.0.1:${portA}`;
      const [a, b] = await Promise.all([
        gateway(url, publicUrl, `127.0.0.1:${portA}`, { BERTH_HTTP_DRAIN_SECONDS: '2' }),
        gateway(url, publicUrl, `127.0.0.1:${portB}`),
      ]);
      try {
        for (const g of [a, b]) assert.deepEqual(JSON.parse((await httpRequest(`${g.base}/_berth/readyz`)).body), { status: 'ready', store: 'postgres' });

        const login = await httpRequest(`${a.base}/_berth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: publicUrl },
          body: 'username=alice',
        });
        assert.equal(login.status, 303, login.body);
        const cookie = String(login.headers['set-cookie']).split(';')[0] as string;
        const me = await httpRequest(`${b.base}/_berth/api/me`, { headers: { cookie } });
        assert.equal(me.status, 200, me.body);
        assert.equal(JSON.parse(me.body).user.name, 'alice');

        // The app-host hand-off: the code is issued by A and redeemed on B, once.
        const next = `http://alice-8080.apps.test:${portA}/page`;
        const authorize = await httpRequest(`${a.base}/_berth/apps/authorize?next=${encodeURIComponent(next)}`, { headers: { cookie } });
        assert.equal(authorize.status, 303, authorize.body);
        const callback = new URL(String(authorize.headers.location));
        const onApp = { host: callback.host };
        const redeemed = await httpRequest(`${b.base}${callback.pathname}${callback.search}`, { headers: onApp });
        assert.equal(redeemed.status, 303, redeemed.body);
        assert.match(String(redeemed.headers['set-cookie']), /HttpOnly/i);
        const replayed = await httpRequest(`${a.base}${callback.pathname}${callback.search}`, { headers: onApp });
        assert.equal(replayed.status, 401, 'a code is spent on every gateway');

        const keys = (port: number) =>
          execFileSync('ssh-keyscan', ['-p', String(port), '-t', 'ed25519,rsa', '127.0.0.1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 })
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => line.split(' ').slice(1).join(' '))
            .sort();
        const seenOnA = keys(a.sshPort);
        assert.equal(seenOnA.length, 2, 'an ed25519 and an RSA host key');
        assert.deepEqual(keys(b.sshPort), seenOnA);

        a.child.kill('SIGTERM');
        const draining = await eventually(
          () => httpRequest(`${a.base}/_berth/readyz`).then((r) => (r.status === 503 ? r : undefined)),
          5_000,
          'readyz to fail while draining',
        );
        assert.equal(JSON.parse(draining.body).status, 'draining');
        assert.equal((await httpRequest(`${a.base}/_berth/healthz`)).status, 200, 'still alive and serving while draining');
        assert.equal(await a.exited, 0, a.output());
        assert.equal((await httpRequest(`${b.base}/_berth/readyz`)).status, 200);

        cluster.stop();
        const down = await eventually(
          () => httpRequest(`${b.base}/_berth/readyz`).then((r) => (r.status === 503 ? r : undefined)),
          15_000,
          'readyz to fail with the store gone',
        );
        assert.equal(JSON.parse(down.body).status, 'unavailable');
        assert.doesNotMatch(down.body, /postgres:\/\//);
      } finally {
        await Promise.all([stopServe(a, 'SIGKILL'), stopServe(b, 'SIGKILL')]);
      }
    });
  });
}
