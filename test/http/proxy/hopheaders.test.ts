import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IncomingHttpHeaders } from 'node:http';
import { fetchText, rawExchange, startBerth, startDemoBerth, startGateway, type Berth, type Gateway } from './harness.js';

/** Hop-by-hop headers describe one connection; forwarding them lets a client steer the gateway's connection to the berth and back. */
describe('hop-by-hop headers', () => {
  let berth: Berth;
  let gateway: Gateway;
  before(async () => {
    berth = await startDemoBerth();
    gateway = await startGateway(berth.endpoint);
  });
  after(async () => {
    await gateway.close();
    await berth.close();
  });

  async function headersAtBerth(head: string): Promise<IncomingHttpHeaders> {
    const reply = await rawExchange(gateway.endpoint, `GET /env HTTP/1.1\r\n${head}Connection: close\r\n\r\n`);
    const body = reply.slice(reply.indexOf('\r\n\r\n') + 4);
    return (JSON.parse(body) as { headers: IncomingHttpHeaders }).headers;
  }

  it('removes hop-by-hop request headers, and those Connection names, and keeps end-to-end ones', async () => {
    const seen = await headersAtBerth(
      'Host: apps.example\r\n' +
        'Connection: X-Hop-One, x-hop-two\r\n' +
        'X-Hop-One: 1\r\nX-Hop-Two: 2\r\n' +
        'Keep-Alive: timeout=99\r\n' +
        'Proxy-Authorization: Basic c2VjcmV0\r\nProxy-Connection: keep-alive\r\nProxy: http://evil.example\r\n' +
        'TE: trailers\r\nTrailer: X-Checksum\r\nUpgrade: h2c\r\n' +
        'Authorization: Bearer the-users-own\r\nX-End-To-End: kept\r\n',
    );
    for (const name of ['x-hop-one', 'x-hop-two', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'proxy', 'te', 'trailer', 'upgrade']) {
      assert.equal(seen[name], undefined, `${name} reached the berth`);
    }
    assert.equal(seen.connection, 'keep-alive', 'the gateway speaks for its own connection');
    assert.equal(seen.authorization, 'Bearer the-users-own');
    assert.equal(seen.host, 'apps.example');
    assert.equal(seen['x-end-to-end'], 'kept');
  });

  it('answers a client that expects 100 Continue itself, and forwards the body without Expect', async () => {
    const reply = await rawExchange(gateway.endpoint, 'POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
    assert.match(reply, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    assert.match(reply, /\r\n\r\n(?:5\r\n)?hello/);
    const env = await rawExchange(gateway.endpoint, 'GET /env HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    const seen = (JSON.parse(env.slice(env.lastIndexOf('\r\n\r\n') + 4)) as { headers: IncomingHttpHeaders }).headers;
    assert.equal(seen.expect, undefined);
  });

  it('answers 400, not 502, to a request with two Host headers', async () => {
    const reply = await rawExchange(gateway.endpoint, 'GET /env HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 400 /);
    assert.match(reply, /"code":"bad_request".*duplicate host header/);
  });

  it('removes hop-by-hop response headers, and keeps repeated end-to-end ones', async () => {
    const custom = await startBerth((_req, res) => {
      res.writeHead(200, [
        'Connection', 'X-Up-Hop',
        'X-Up-Hop', 'secret',
        'Proxy-Authenticate', 'Basic',
        'Trailer', 'X-Checksum',
        'Upgrade', 'h2c',
        'Set-Cookie', 'a=1',
        'Set-Cookie', 'b=2',
        'X-Kept', 'yes',
      ]);
      res.end('body');
    });
    const front = await startGateway(custom.endpoint);
    try {
      const reply = await fetchText(front.endpoint, '/');
      assert.equal(reply.status, 200);
      assert.equal(reply.body, 'body');
      for (const name of ['x-up-hop', 'proxy-authenticate', 'trailer', 'upgrade']) assert.equal(reply.headers[name], undefined, `${name} reached the client`);
      assert.deepEqual(reply.headers['set-cookie'], ['a=1', 'b=2']);
      assert.equal(reply.headers['x-kept'], 'yes');
    } finally {
      await front.close();
      await custom.close();
    }
  });

  it('re-frames a chunked body, even on methods Node would not chunk by itself', async () => {
    const custom = await startBerth((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      // Chunked again, or counted when the whole body was in before the head went out: either frames it.
      const framing = req.headers['transfer-encoding'] ?? `length ${req.headers['content-length']}`;
      req.on('end', () => res.end(`${req.method} ${framing} ${body}`));
    });
    const front = await startGateway(custom.endpoint);
    try {
      for (const method of ['POST', 'DELETE', 'GET']) {
        const reply = await rawExchange(front.endpoint, `${method} / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n`);
        assert.match(reply, new RegExp(`\\r\\n\\r\\n(?:[0-9a-f]+\\r\\n)?${method} (?:chunked|length 11) hello world`), reply);
      }
    } finally {
      await front.close();
      await custom.close();
    }
  });
});
