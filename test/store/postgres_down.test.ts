import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { eventually, httpRequest } from '../helpers/http.js';
import { postgresForTests } from '../helpers/postgres.js';
import { berthServe, ECHO_BERTH, stopServe } from '../helpers/serve.js';

/*
 * PostgreSQL going away under a running gateway: a ready berth is still
 * proxied (its path needs no store), what needs the store is refused with
 * 503 and the reason, /_berth/healthz and /_berth/readyz say so, and once
 * the database is back the gateway recovers by itself, without a restart.
 */

const cluster = await postgresForTests('PostgreSQL down under a gateway');

if (cluster !== null) {
  describe('PostgreSQL down under a gateway', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-pgdown-'));
    after(() => rmSync(dataDir, { recursive: true, force: true }));

    it('keeps proxying the ready berth, refuses what needs the store with 503 and the reason, and recovers by itself', { timeout: 120_000 }, async () => {
      const port = await freeLoopbackPort();
      const served = await berthServe([], {
        BERTH_LISTEN_HTTP: `127.0.0.1:${port}`,
        BERTH_PUBLIC_URL: `http://127.0.0.1:${port}`,
        BERTH_DATA_DIR: dataDir,
        BERTH_AUTH_MODE: 'dev',
        BERTH_STORE_KIND: 'postgres',
        BERTH_STORE_URL: await cluster.freshDatabase(),
        BERTH_LISTEN_SSH: '',
        BERTH_ENVIRONMENT_COMMAND: ECHO_BERTH,
      });
      try {
        const login = await httpRequest(`${served.base}/_berth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: served.base },
          body: 'username=alice',
        });
        assert.equal(login.status, 303, login.body);
        const cookie = String(login.headers['set-cookie']).split(';')[0] as string;
        const fromBerth = async () => {
          const r = await httpRequest(`${served.base}/some/page`, { headers: { cookie, accept: 'application/json' } });
          return r.status === 200 && r.body.startsWith('{') ? (JSON.parse(r.body) as { user: string }) : undefined;
        };
        assert.equal((await eventually(fromBerth, 30_000, 'the berth to answer')).user, 'alice');
        assert.equal((await httpRequest(`${served.base}/_berth/api/me/tokens`, { headers: { cookie } })).status, 200);

        cluster.down();
        for (let i = 0; i < 20; i++) assert.equal((await fromBerth())?.user, 'alice', `proxied request ${i} with the store down`);
        const tokens = await httpRequest(`${served.base}/_berth/api/me/tokens`, { headers: { cookie } });
        assert.equal(tokens.status, 503, tokens.body);
        const refused = JSON.parse(tokens.body) as { error: { code: string; message: string } };
        assert.equal(refused.error.code, 'store_unavailable');
        assert.match(refused.error.message, /database does not answer .*still served.*Try again/);
        assert.doesNotMatch(tokens.body, /postgres:\/\//);
        const health = await eventually(
          () => httpRequest(`${served.base}/_berth/healthz`).then((r) => (r.status === 503 ? r : undefined)),
          10_000,
          'healthz to report the store',
        );
        const body = JSON.parse(health.body) as { status: string; store: string; reason: string };
        assert.equal(body.status, 'degraded');
        assert.equal(body.store, 'postgres');
        assert.match(body.reason, /store does not answer.*check that the database is up/);
        assert.equal((await httpRequest(`${served.base}/_berth/readyz`)).status, 503);
        assert.ok(
          served.lines.some((l) => String(l.msg).includes('lost the store connection that listens')),
          'the lost listening connection is logged',
        );

        cluster.up();
        await eventually(() => httpRequest(`${served.base}/_berth/healthz`).then((r) => (r.status === 200 ? true : undefined)), 20_000, 'healthz to recover');
        assert.equal((await httpRequest(`${served.base}/_berth/api/me/tokens`, { headers: { cookie } })).status, 200);
        assert.equal((await httpRequest(`${served.base}/_berth/readyz`)).status, 200);
        assert.equal((await fromBerth())?.user, 'alice');
      } catch (err) {
        // What the gateway printed (a crash, a stack) says more than a reset connection.
        throw new Error(`${(err as Error).message}; exit code ${served.child.exitCode}; it printed:\n${served.output()}`, { cause: err });
      } finally {
        await stopServe(served, 'SIGTERM');
      }
    });
  });
}
