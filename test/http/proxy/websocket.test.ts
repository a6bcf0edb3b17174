import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { eventually, listen, startDemoBerth, startGateway, type Berth, type Gateway } from './harness.js';
import { createServer } from 'node:http';

/** WebSockets through the gateway: round trips both ways, activity counted, and nothing left behind when either side closes. */
describe('websocket', () => {
  let berth: Berth;
  let gateway: Gateway;
  let clientBytes = 0;
  let closes = 0;
  const statuses: number[] = [];

  before(async () => {
    berth = await startDemoBerth();
    gateway = await startGateway(berth.endpoint, {
      scheme: 'http',
      onClientData: (bytes) => (clientBytes += bytes),
      onClose: () => (closes += 1),
      onStatus: (status) => statuses.push(status),
    });
  });
  after(async () => {
    await gateway.close();
    await berth.close();
  });

  const url = (path: string): string => `ws://${gateway.endpoint.host}:${gateway.endpoint.port}${path}`;

  it('echoes text and binary messages through the proxy', async () => {
    const ws = new WebSocket(url('/ws'));
    await once(ws, 'open');
    ws.send('hello berth');
    const [text, textIsBinary] = (await once(ws, 'message')) as [Buffer, boolean];
    assert.equal(text.toString('utf8'), 'hello berth');
    assert.equal(textIsBinary, false);

    const big = Buffer.alloc(1024 * 1024, 7);
    ws.send(big);
    const [echoed, isBinary] = (await once(ws, 'message')) as [Buffer, boolean];
    assert.equal(isBinary, true);
    assert.ok(echoed.equals(big));
    assert.ok(clientBytes > big.length, 'client bytes counted as activity');

    ws.close(1000, 'bye');
    const [code] = (await once(ws, 'close')) as [number];
    assert.equal(code, 1000);
    await eventually(() => gateway.proxy.openTunnels === 0 && closes === 1, 3_000, 'tunnel closed');
    assert.ok(statuses.includes(101));
  });

  it('closes the tunnel when the berth closes the connection', async () => {
    const server = createServer();
    const sockets = new WebSocketServer({ server });
    sockets.on('connection', (ws) => ws.close(4001, 'berth says bye'));
    const endpoint = await listen(server);
    const front = await startGateway(endpoint);
    try {
      const ws = new WebSocket(`ws://${front.endpoint.host}:${front.endpoint.port}/`);
      const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
      assert.equal(code, 4001);
      assert.equal(reason.toString(), 'berth says bye');
      await eventually(() => front.proxy.openTunnels === 0, 3_000, 'tunnel closed');
    } finally {
      await front.close();
      sockets.close();
      server.closeAllConnections();
      server.close();
    }
  });

  it('cleans up when the client vanishes without a close handshake', async () => {
    const ws = new WebSocket(url('/ws'));
    await once(ws, 'open');
    assert.equal(gateway.proxy.openTunnels, 1);
    ws.terminate();
    await eventually(() => gateway.proxy.openTunnels === 0, 3_000, 'tunnel closed');
  });

  it('passes the berth’s refusal of an upgrade on and closes the connection', async () => {
    const ws = new WebSocket(url('/not-a-socket'));
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    assert.equal(res.statusCode, 404);
    assert.equal(res.headers.connection, 'close');
    res.resume();
    await once(res.socket, 'close');
    assert.equal(gateway.proxy.openTunnels, 0);
  });

  it('holds many connections at once and echoes on each', async () => {
    const clients = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const ws = new WebSocket(url('/ws'));
        await once(ws, 'open');
        return ws;
      }),
    );
    assert.equal(gateway.proxy.openTunnels, 100);
    const replies = await Promise.all(
      clients.map(async (ws, i) => {
        ws.send(`n${i}`);
        const [data] = (await once(ws, 'message')) as [Buffer];
        return data.toString();
      }),
    );
    assert.deepEqual(replies, clients.map((_, i) => `n${i}`));
    for (const ws of clients) ws.close();
    await eventually(() => gateway.proxy.openTunnels === 0, 3_000, 'all tunnels closed');
  });
});
