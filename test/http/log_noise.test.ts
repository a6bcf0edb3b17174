import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { throttledLog } from '../../src/log/throttled.js';
import { captureLogger } from '../auth/helpers.js';
import { httpRequest, rawExchange } from '../helpers/http.js';
import { berthServe, ECHO_BERTH, stopServe, type Served } from '../helpers/serve.js';

const ROUNDS = 60;

describe('log noise: what any client can cause is a rate-limited warning', () => {
  let gw: Served;
  let dataDir: string;
  const alice = { 'X-Forwarded-Preferred-Username': 'alice' };
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-noise-'));
    gw = await berthServe([], {
      BERTH_DATA_DIR: dataDir,
      BERTH_LISTEN_SSH: 'null',
      BERTH_AUTH_MODE: 'header',
      BERTH_APPS_DOMAIN: 'apps.test',
      BERTH_ENVIRONMENT_COMMAND: ECHO_BERTH,
    });
    assert.equal((await httpRequest(`${gw.base}/`, { headers: alice, timeoutMs: 30_000 })).status, 200);
  });
  after(async () => {
    await stopServe(gw, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  const refusals = (code: string) => gw.lines.filter((l) => l.msg === 'request refused' && l.code === code);

  it('answers every request to an app-host port nobody listens on with 502, logging a few warnings and no error', async () => {
    const put = await httpRequest(`${gw.base}/_berth/api/me/ports/9`, {
      method: 'PUT',
      // The gateway's publicUrl, left at its default: the origin the CSRF rule expects.
      headers: { ...alice, origin: 'http://127.0.0.1:8000', 'content-type': 'application/json' },
      body: JSON.stringify({ share: 'public' }),
    });
    assert.equal(put.status, 200, put.body);
    for (let i = 0; i < ROUNDS; i++) {
      const reply = await httpRequest(`${gw.base}/`, { headers: { host: 'alice-9.apps.test' } });
      assert.equal(reply.status, 502, reply.body);
    }
    // The port is dialled through the berth's connect when the proxy opens its connection, so the failure is the proxy's.
    const lines = gw.lines.filter((l) => l.code === 'upstream_failed');
    assert.ok(lines.length >= 1 && lines.length <= 10, `${lines.length} lines for ${ROUNDS} requests`);
    assert.ok(lines.every((l) => l.level === 40));
    assert.equal(gw.lines.filter((l) => (l.level as number) >= 50).length, 0, 'no error lines');
    const metrics = await httpRequest(`${gw.base}/_berth/metrics`);
    const failed = Number(/^berth_proxied_requests_total\{class="5xx"\} (\d+)$/m.exec(metrics.body)?.[1]);
    assert.ok(failed >= ROUNDS, `every failed request is still counted (${failed})`);
  });

  it('logs refused upgrades at warn, rate-limited', async () => {
    const upgrade = (path: string, headers: string[] = []) =>
      rawExchange(gw.base, `GET ${path} HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${headers.join('\r\n')}${headers.length ? '\r\n' : ''}\r\n`);
    for (let i = 0; i < ROUNDS; i++) {
      assert.equal((await upgrade('/_berth/nothing')).status, 404);
      assert.equal((await upgrade('/ws')).status, 401);
    }
    for (const code of ['not_found', 'unauthenticated']) {
      const lines = refusals(code);
      assert.ok(lines.length >= 1 && lines.length <= 10, `${code}: ${lines.length} lines`);
      assert.ok(lines.every((l) => (l.level as number) <= 40));
    }
    assert.equal(gw.lines.filter((l) => (l.level as number) >= 50).length, 0, 'no error lines');
  });

  it('serves /_berth/metrics to loopback, and refuses it for a client a proxy forwards from elsewhere', async () => {
    assert.equal((await httpRequest(`${gw.base}/_berth/metrics`)).status, 200);
    assert.equal((await httpRequest(`${gw.base}/_berth/metrics`, { headers: { 'X-Forwarded-For': '10.1.2.3, 192.168.0.9' } })).status, 200);
    const forwarded: Array<Record<string, string>> = [
      { 'X-Forwarded-For': '203.0.113.9' },
      { 'X-Forwarded-For': '10.1.2.3, 203.0.113.9' },
      { 'X-Real-IP': '198.51.100.7' },
      { Forwarded: 'for="[2001:db8::1]:443";proto=https' },
      { Forwarded: 'for=unknown' },
      { 'X-Forwarded-For': '203.0.113.9:5000' },
    ];
    for (const headers of forwarded) {
      const reply = await httpRequest(`${gw.base}/_berth/metrics`, { headers });
      assert.equal(reply.status, 403, JSON.stringify(headers));
      assert.match(reply.body, /metrics\.allowFrom/);
      assert.doesNotMatch(reply.body, /berth_/);
    }
  });
});

describe('log noise: metrics.allowFrom set to another network', () => {
  it('refuses even loopback', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-noise-'));
    const gw = await berthServe([], { BERTH_DATA_DIR: dataDir, BERTH_LISTEN_SSH: 'null', BERTH_METRICS_ALLOW_FROM: '[10.0.0.0/8]' });
    try {
      const reply = await httpRequest(`${gw.base}/_berth/metrics`);
      assert.equal(reply.status, 403);
      assert.match(reply.body, /only from metrics\.allowFrom \(10\.0\.0\.0\/8\)/);
    } finally {
      await stopServe(gw, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('log noise: the throttle', () => {
  it('writes `burst` lines per key and window, then says how many it dropped', () => {
    const { logger, text } = captureLogger();
    let now = 0;
    const log = throttledLog(logger, { burst: 2, windowMs: 1000, now: () => now });
    for (let i = 0; i < 5; i++) log.write('warn', 'a', { i }, 'same');
    log.write('warn', 'b', { i: 9 }, 'other key');
    now = 1000;
    log.write('info', 'a', { i: 5 }, 'same');
    const lines = text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((l) => [l.i, l.suppressed, l.level]), [[0, undefined, 40], [1, undefined, 40], [9, undefined, 40], [5, 3, 30]]);
  });
});
