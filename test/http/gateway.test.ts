import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config/load.js';
import { inProcessGateway } from '../helpers/inProcessGateway.js';
import { eventually, httpRequest } from '../helpers/http.js';

const asAlice = { 'X-Forwarded-Preferred-Username': 'alice' };

describe('gateway, header mode', () => {
  it('holds a first request until the berth is ready, then proxies it without identity headers', async () => {
    const gw = await inProcessGateway({ BERTH_AUTH_MODE: 'header' });
    try {
      const reply = await httpRequest(`${gw.base}/env`, { headers: { ...asAlice, 'X-Forwarded-Email': 'a@example.test', Authorization: 'Bearer app-own' } });
      assert.equal(reply.status, 200, reply.body);
      const seen = JSON.parse(reply.body) as { user: string; headers: Record<string, string> };
      assert.equal(seen.user, 'alice');
      assert.equal(seen.headers['x-forwarded-preferred-username'], undefined);
      assert.equal(seen.headers['x-forwarded-email'], undefined);
      assert.equal(seen.headers.authorization, 'Bearer app-own');
      assert.equal(seen.headers['x-forwarded-proto'], 'http');
    } finally {
      await gw.close();
    }
  });

  it('refuses identity headers from a peer outside trustedProxies with 403, starting nothing', async () => {
    const gw = await inProcessGateway({ BERTH_AUTH_MODE: 'header', BERTH_AUTH_HEADER_TRUSTED_PROXIES: '[10.0.0.0/8]' });
    try {
      const reply = await httpRequest(`${gw.base}/env`, { headers: asAlice });
      assert.equal(reply.status, 403);
      const berths = await httpRequest(`${gw.base}/_berth/api/me`, { headers: asAlice });
      assert.equal(berths.status, 403);
    } finally {
      await gw.close();
    }
  });

  it('answers 401 with a hint when the auth proxy sent no user header', async () => {
    const gw = await inProcessGateway({ BERTH_AUTH_MODE: 'header' });
    try {
      const reply = await httpRequest(`${gw.base}/`);
      assert.equal(reply.status, 401);
      assert.match(reply.body, /auth proxy/);
    } finally {
      await gw.close();
    }
  });

  it('starts exactly one berth for 50 concurrent first requests', async () => {
    const gw = await inProcessGateway({ BERTH_AUTH_MODE: 'header' });
    try {
      const replies = await Promise.all(Array.from({ length: 50 }, () => httpRequest(`${gw.base}/env`, { headers: asAlice })));
      assert.deepEqual([...new Set(replies.map((r) => r.status))], [200]);
      const ports = new Set(replies.map((r) => (JSON.parse(r.body) as { port: number }).port));
      assert.equal(ports.size, 1);
      const me = JSON.parse((await httpRequest(`${gw.base}/_berth/api/me`, { headers: asAlice })).body);
      assert.equal(me.berth.progress.filter((p: { step: string }) => p.step === 'ready').length, 1);
    } finally {
      await gw.close();
    }
  });

  it('does not let background browser traffic start a stopped berth', async () => {
    const gw = await inProcessGateway({ BERTH_AUTH_MODE: 'header' });
    try {
      const reply = await httpRequest(`${gw.base}/api/data`, { headers: { ...asAlice, 'Sec-Fetch-Mode': 'cors', 'Sec-Fetch-Site': 'same-origin' } });
      assert.equal(reply.status, 503);
      assert.equal(reply.headers['retry-after'], '5');
      assert.equal(JSON.parse(reply.body).state, 'stopped');
      const me = JSON.parse((await httpRequest(`${gw.base}/_berth/api/me`, { headers: asAlice })).body);
      assert.equal(me.berth.state, 'stopped');
    } finally {
      await gw.close();
    }
  });

  it('round-trips a WebSocket echo through the gateway', async () => {
    const gw = await inProcessGateway({ BERTH_AUTH_MODE: 'header' });
    try {
      await httpRequest(`${gw.base}/hello`, { headers: asAlice });
      const ws = new WebSocket(`${gw.base.replace('http', 'ws')}/ws`, { headers: asAlice });
      const echoed = await new Promise<string>((resolve, reject) => {
        ws.once('open', () => ws.send('ping through berth'));
        ws.once('message', (data) => resolve(String(data)));
        ws.once('error', reject);
        setTimeout(() => reject(new Error('no echo within 5 s')), 5000).unref();
      });
      ws.close();
      assert.equal(echoed, 'ping through berth');
      const metrics = (await httpRequest(`${gw.base}/_berth/metrics`)).body;
      assert.match(metrics, /berth_berths\{state="ready"\} 1/);
      assert.match(metrics, /berth_proxied_requests_total\{class="1xx"\} 1/);
    } finally {
      await gw.close();
    }
  });

  it('stops an idle berth and brings it back with its home intact', async () => {
    const gw = await inProcessGateway({ BERTH_AUTH_MODE: 'header', BERTH_IDLE_STOP_AFTER_SECONDS: '3', BERTH_IDLE_CHECK_EVERY_SECONDS: '1' });
    try {
      const first = await httpRequest(`${gw.base}/`, { headers: asAlice });
      assert.match(first.body, /<strong>1<\/strong> time/);
      const lastRequest = Date.now();
      await eventually(
        async () => {
          const me = JSON.parse((await httpRequest(`${gw.base}/_berth/api/me`, { headers: asAlice })).body);
          return me.berth.state === 'stopped' ? true : undefined;
        },
        12_000,
        'the culler to stop the berth',
      );
      assert.ok(Date.now() - lastRequest < 10_000);
      const again = await httpRequest(`${gw.base}/`, { headers: asAlice });
      assert.match(again.body, /<strong>2<\/strong> times?/, 'the visit counter in the home survived the stop');
    } finally {
      await gw.close();
    }
  });

  it('reports a berth whose command exits at once as failed, with exit code and output', async () => {
    const gw = await inProcessGateway({ BERTH_AUTH_MODE: 'header', BERTH_ENVIRONMENT_COMMAND: '[sh, -c, "echo cannot find model >&2; exit 3"]' });
    try {
      const reply = await httpRequest(`${gw.base}/`, { headers: asAlice });
      assert.equal(reply.status, 503);
      assert.equal(JSON.parse(reply.body).state, 'failed');
      const me = JSON.parse((await httpRequest(`${gw.base}/_berth/api/me`, { headers: asAlice })).body);
      assert.equal(me.berth.failure.exitCode, 3);
      assert.ok(me.berth.failure.logTail.includes('cannot find model'));
    } finally {
      await gw.close();
    }
  });

  it('answers health and readiness and serves its OpenAPI document', async () => {
    const gw = await inProcessGateway({ BERTH_AUTH_MODE: 'header' });
    try {
      assert.deepEqual(JSON.parse((await httpRequest(`${gw.base}/_berth/healthz`)).body), { status: 'ok', runtime: 'local' });
      assert.deepEqual(JSON.parse((await httpRequest(`${gw.base}/_berth/readyz`)).body), { status: 'ready', store: 'sqlite' });
      const doc = JSON.parse((await httpRequest(`${gw.base}/_berth/api/openapi.json`)).body);
      assert.ok(doc.paths['/me']);
      assert.deepEqual(doc.paths['/readyz'].servers, [{ url: '/_berth' }]);
      assert.equal((await httpRequest(`${gw.base}/_berth/api/berths`, { headers: asAlice })).status, 403);
    } finally {
      await gw.close();
    }
  });
});

describe('gateway, dev login', () => {
  it('signs alice and bob in and gives each their own berth, loading page first', async () => {
    const gw = await inProcessGateway({ BERTH_AUTH_MODE: 'dev' });
    try {
      const cookies: Record<string, string> = {};
      for (const name of ['alice', 'bob']) {
        const login = await httpRequest(`${gw.base}/_berth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: gw.base },
          body: `username=${name}`,
        });
        assert.equal(login.status, 303);
        cookies[name] = String(login.headers['set-cookie']).split(';')[0] as string;
      }
      const navigate = { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'none' };
      const loading = await httpRequest(`${gw.base}/`, { headers: { ...navigate, cookie: cookies.alice as string } });
      assert.equal(loading.status, 200);
      assert.match(loading.body, /Starting your environment/);
      assert.match(String(loading.headers['content-security-policy']), /script-src 'self'/);
      const envOf = async (name: string) =>
        eventually(
          async () => {
            const r = await httpRequest(`${gw.base}/env`, { headers: { cookie: cookies[name] as string } });
            return r.status === 200 ? (JSON.parse(r.body) as { user: string; home: string; port: number; headers: Record<string, string> }) : undefined;
          },
          15_000,
          `${name}'s berth`,
        );
      const alice = await envOf('alice');
      const bob = await envOf('bob');
      assert.equal(alice.user, 'alice');
      assert.equal(bob.user, 'bob');
      assert.notEqual(alice.home, bob.home);
      assert.notEqual(alice.port, bob.port);
      assert.equal(alice.headers.cookie, undefined, 'the gateway session cookie never reaches the berth');
      const app = await httpRequest(`${gw.base}/`, { headers: { ...navigate, cookie: cookies.alice as string } });
      assert.match(app.body, /Welcome aboard, alice/);
    } finally {
      await gw.close();
    }
  });

  it('sends an unauthenticated browser to the login page with the way back', async () => {
    const gw = await inProcessGateway({ BERTH_AUTH_MODE: 'dev' });
    try {
      const reply = await httpRequest(`${gw.base}/lab/tree?x=1`, { headers: { accept: 'text/html' } });
      assert.equal(reply.status, 303);
      assert.equal(reply.headers.location, '/_berth/login?next=%2Flab%2Ftree%3Fx%3D1');
    } finally {
      await gw.close();
    }
  });

  it('refuses a cross-origin POST to the API', async () => {
    const gw = await inProcessGateway({ BERTH_AUTH_MODE: 'dev' });
    try {
      const login = await httpRequest(`${gw.base}/_berth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: gw.base },
        // To the dashboard, so the sign-in itself starts nothing (spawn.startOnSignIn).
        body: 'username=alice&next=%2F_berth%2F',
      });
      const cookie = String(login.headers['set-cookie']).split(';')[0] as string;
      const forged = await httpRequest(`${gw.base}/_berth/api/me/start`, { method: 'POST', headers: { cookie, origin: 'https://evil.test' } });
      assert.equal(forged.status, 403);
      const me = JSON.parse((await httpRequest(`${gw.base}/_berth/api/me`, { headers: { cookie } })).body);
      assert.equal(me.berth.state, 'stopped');
    } finally {
      await gw.close();
    }
  });
});

describe('configuration errors at start-up', () => {
  it('names listen.http when its port is out of range', () => {
    assert.throws(() => loadConfig({ env: { BERTH_LISTEN_HTTP: '127.0.0.1:70000' } }), /listen\.http/);
  });
});
