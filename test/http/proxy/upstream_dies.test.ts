import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import type { BerthError } from '../../../src/core/errors.js';
import { listen, rawExchange, startBerth, startGateway, fetchText } from './harness.js';

/** A berth that refuses or dies gives a prompt 502 or a cut connection, never a hang. */
describe('upstream dies', () => {
  it('answers 502 with a one-line JSON reason when the berth refuses the connection', async () => {
    const server = createServer();
    const endpoint = await listen(server);
    await new Promise<void>((resolve) => server.close(() => resolve())); // nothing listens there now
    const errors: BerthError[] = [];
    const statuses: number[] = [];
    const gateway = await startGateway(endpoint, { scheme: 'http', onError: (e) => errors.push(e), onStatus: (s) => statuses.push(s) });
    try {
      const started = Date.now();
      const reply = await fetchText(gateway.endpoint, '/anything');
      assert.equal(reply.status, 502);
      assert.equal(reply.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(reply.body.trim().split('\n').length, 1);
      const body = JSON.parse(reply.body) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'upstream_failed');
      assert.match(body.error.message, /connection refused/);
      assert.ok(Date.now() - started < 1_000);
      assert.deepEqual(statuses, [502]);
      assert.equal(errors.length, 1);
      assert.match(errors[0]?.logMessage ?? '', /ECONNREFUSED/);
    } finally {
      await gateway.close();
    }
  });

  it('answers 502 when the berth closes the connection without answering', async () => {
    const berth = await startBerth((req) => req.socket.destroy());
    const gateway = await startGateway(berth.endpoint);
    try {
      const reply = await fetchText(gateway.endpoint, '/', { method: 'POST', body: 'some body' });
      assert.equal(reply.status, 502);
      assert.match(reply.body, /closed the connection before it answered/);
    } finally {
      await gateway.close();
      await berth.close();
    }
  });

  it('cuts the client connection when the berth dies mid-response', async () => {
    const berth = await startBerth((req, res) => {
      res.writeHead(200, { 'content-length': 1_000_000 });
      res.write(Buffer.alloc(1000), () => setTimeout(() => req.socket.destroy(), 20));
    });
    const gateway = await startGateway(berth.endpoint);
    try {
      const req = request({ ...gateway.endpoint, path: '/', agent: false });
      req.end();
      const [res] = (await once(req, 'response')) as [IncomingMessage];
      assert.equal(res.statusCode, 200);
      res.resume();
      const outcome = await Promise.race([
        once(res, 'error').then(() => 'cut'),
        once(res, 'end').then(() => 'ended as if complete'),
        new Promise((resolve) => setTimeout(() => resolve('hung'), 3_000).unref()),
      ]);
      assert.equal(outcome, 'cut');
      assert.equal(res.complete, false);
    } finally {
      await gateway.close();
      await berth.close();
    }
  });

  it('answers 502 on an upgrade to a berth that refuses', async () => {
    const server = createServer();
    const endpoint = await listen(server);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const gateway = await startGateway(endpoint);
    try {
      const reply = await rawExchange(
        gateway.endpoint,
        'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      assert.match(reply, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
      assert.match(reply, /"code":"upstream_failed"/);
      assert.equal(gateway.proxy.openTunnels, 0);
    } finally {
      await gateway.close();
    }
  });
});
