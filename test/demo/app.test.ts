import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { startServer } from '../../bench/lib/processes.js';
import { createDemoServer, type DemoServer } from '../../src/demo/server.js';
import type { HostPort } from '../../src/core/net.js';
import { fetchText, listen } from '../http/proxy/harness.js';

describe('demo app', () => {
  let home: string;
  let demo: DemoServer;
  let endpoint: HostPort;
  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'berth-demo-test-'));
    demo = createDemoServer({ user: 'alice<b>', home, port: 0 });
    endpoint = await listen(demo.server);
  });
  after(async () => {
    await demo.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('answers the plain endpoints tests and benches use', async () => {
    assert.deepEqual(await fetchText(endpoint, '/healthz').then((r) => [r.status, r.body]), [200, 'ok']);
    assert.match((await fetchText(endpoint, '/hello')).body, /^Hello from alice<b>'s berth/);
    assert.equal((await fetchText(endpoint, '/nope')).status, 404);
  });

  it('shows what reached it on /env', async () => {
    const env = JSON.parse((await fetchText(endpoint, '/env', { headers: { 'X-Probe': 'seen' } })).body) as Record<string, unknown> & {
      headers: Record<string, string>;
    };
    assert.equal(env.user, 'alice<b>');
    assert.equal(env.home, home);
    assert.equal(env.headers['x-probe'], 'seen');
  });

  it('echoes a POST body and streams n bytes', async () => {
    assert.equal((await fetchText(endpoint, '/echo', { method: 'POST', body: 'round trip' })).body, 'round trip');
    const bytes = await fetchText(endpoint, '/bytes?n=200000');
    assert.equal(bytes.body.length, 200_000);
    assert.equal(bytes.headers['content-length'], '200000');
    assert.equal((await fetchText(endpoint, '/bytes?n=-1')).status, 400);
    assert.equal((await fetchText(endpoint, '/bytes')).status, 400);
  });

  it('shows the user, home and files, escaped, and counts visits in the home across restarts', async () => {
    const first = await fetchText(endpoint, '/');
    assert.equal(first.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(first.body, /alice&#60;b&#62;/);
    assert.doesNotMatch(first.body, /alice<b>/);
    assert.match(first.body, /opened this page <strong>1<\/strong> time\b/);
    assert.match((await fetchText(endpoint, '/')).body, /<strong>2<\/strong> times/);
    assert.match((await fetchText(endpoint, '/')).body, /<code>berth-demo-visits\.txt<\/code>/);

    const again = createDemoServer({ user: 'alice', home, port: 0 });
    try {
      assert.match((await fetchText(await listen(again.server), '/')).body, /<strong>4<\/strong> times/);
    } finally {
      await again.stop();
    }
  });

  it('echoes on a WebSocket at /ws', async () => {
    const ws = new WebSocket(`ws://${endpoint.host}:${endpoint.port}/ws`);
    await once(ws, 'open');
    ws.send('ping');
    const [data] = (await once(ws, 'message')) as [Buffer];
    assert.equal(data.toString(), 'ping');
    ws.close();
    await once(ws, 'close');
  });

  it('runs as a process from PORT, BERTH_USER and HOME, and stops promptly on SIGTERM', async () => {
    const app = await startServer('src/demo/app.ts', { PORT: '0', BERTH_USER: 'bob', HOME: home });
    try {
      const reply = await fetchText({ host: '127.0.0.1', port: app.port }, '/env');
      assert.deepEqual(JSON.parse(reply.body).user, 'bob');
      // Hold a WebSocket open: stopping must not wait for the client.
      const ws = new WebSocket(`ws://127.0.0.1:${app.port}/ws`);
      ws.on('error', () => {});
      await once(ws, 'open');
    } finally {
      const started = Date.now();
      await app.stop();
      assert.ok(Date.now() - started < 4_000, 'exited on SIGTERM rather than being killed');
    }
  });
});
