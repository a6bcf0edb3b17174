import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eventually, fetchText, startBerth, startGateway, type Gateway } from './harness.js';

/** A client that goes away must take its upstream request with it, or berths pile up work nobody reads. */
describe('client disconnect', () => {
  let berth: Awaited<ReturnType<typeof startBerth>>;
  let gateway: Gateway;
  /** Requests the berth is serving now, by path. */
  const open = new Map<string, IncomingMessage>();
  const closed = new Set<string>();

  before(async () => {
    berth = await startBerth((req, res) => {
      const path = req.url as string;
      open.set(path, req);
      res.on('close', () => closed.add(path));
      if (path === '/slow') return; // never answers
      if (path === '/upload') {
        req.resume();
        return; // reads forever, never answers
      }
      if (path === '/endless') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(16 * 1024);
        const pump = (): void => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
      }
    });
    gateway = await startGateway(berth.endpoint);
  });
  after(async () => {
    await gateway.close();
    await berth.close();
  });

  it('destroys the upstream request when the client leaves before the response', async () => {
    const socket = connect(gateway.endpoint.port, gateway.endpoint.host);
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => open.has('/slow'), 3_000, 'request reaching the berth');
    socket.destroy();
    await eventually(() => closed.has('/slow'), 3_000, 'berth seeing the request closed');
  });

  it('destroys the upstream request when the client leaves mid-download', async () => {
    const req = request({ ...gateway.endpoint, path: '/endless', agent: false });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    let received = 0;
    res.on('data', (chunk: Buffer) => (received += chunk.length));
    res.on('error', () => {});
    await eventually(() => received > 1024 * 1024, 3_000, 'a megabyte downloaded');
    req.destroy();
    await eventually(() => closed.has('/endless'), 3_000, 'berth seeing the download closed');
  });

  it('destroys the upstream request when the client leaves mid-upload', async () => {
    const req = request({ ...gateway.endpoint, path: '/upload', method: 'POST', agent: false });
    req.on('error', () => {});
    req.write(Buffer.alloc(256 * 1024));
    await eventually(() => open.has('/upload'), 3_000, 'upload reaching the berth');
    req.destroy();
    await eventually(() => closed.has('/upload'), 3_000, 'berth seeing the upload closed');
  });

  it('keeps serving other clients afterwards', async () => {
    const probe = await startBerth((_req, res) => res.end('fine'));
    const front = await startGateway(probe.endpoint);
    try {
      assert.equal((await fetchText(front.endpoint, '/')).body, 'fine');
    } finally {
      await front.close();
      await probe.close();
    }
  });
});
