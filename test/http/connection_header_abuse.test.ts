import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { devSession, newToken, requestTo, serveWithApps, type ServedApps } from '../helpers/servedApps.js';

/*
 * Hop-by-hop abuse: a client's Connection header names headers for the proxy
 * to drop. It may drop headers that describe one connection, never Host, the
 * body's framing, or what the gateway (or a trusted proxy in front) says
 * about the request. Raw sockets against a real `berth serve`, the berth
 * reporting the head it received.
 */

/** Sends `head` as written and returns the berth's JSON report of what reached it. */
function exchange(port: number, head: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.setTimeout(15_000, () => socket.destroy(new Error('no answer')));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      try {
        resolve({ ...(JSON.parse(body.replace(/^[0-9a-f]+\r\n/, '').replace(/\r\n0\r\n\r\n$/, '')) as { headers: Record<string, string>; body: string }), status });
      } catch {
        reject(new Error(`not the berth's report: ${text}`));
      }
    });
    socket.write(head);
  });
}

describe('Connection header abuse (berth serve)', () => {
  let apps: ServedApps;
  let session: string;
  let appPort: number;
  let gatewayHost: string;
  let appHost: string;
  let token: string;

  before(async () => {
    appPort = await freeLoopbackPort();
    apps = await serveWithApps({ gatewayHost: 'gateway.test', appsDomain: 'apps.test' });
    session = await devSession(apps, 'alice');
    assert.equal((await requestTo(apps, `${apps.gatewayUrl}/open?port=${appPort}`, { headers: { cookie: session } })).status, 200);
    gatewayHost = new URL(apps.gatewayUrl).host;
    appHost = new URL(apps.appUrl('alice', appPort)).host;
    token = await newToken(apps, session, ['apps']);
  });
  after(() => apps?.close());

  const abusive = [
    'close, Host',
    'Host, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host',
    'keep-alive, x-berth-visitor, X-BERTH-VISITOR , Content-Length, Transfer-Encoding, Forwarded, X-Real-IP, x-forwarded-port',
    ', ,HOST,,',
  ];

  for (const connection of abusive) {
    it(`keeps Host and the gateway's headers on the main route with "Connection: ${connection}", and drops a true hop-by-hop one`, async () => {
      const seen = await exchange(
        apps.port,
        `GET /report HTTP/1.1\r\nHost: ${gatewayHost}\r\nCookie: ${session}\r\nX-Forwarded-For: 203.0.113.9\r\nX-Real-IP: 203.0.113.9\r\nX-Custom-Hop: 1\r\nConnection: ${connection}, X-Custom-Hop\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(seen.status, 200);
      assert.equal(seen.headers.host, gatewayHost);
      assert.equal(seen.headers['x-forwarded-host'], gatewayHost);
      assert.equal(seen.headers['x-forwarded-proto'], 'http');
      assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1', 'the client-sent entry and the peer the gateway saw');
      assert.equal(seen.headers['x-real-ip'], '203.0.113.9');
      assert.equal(seen.headers['x-custom-hop'], undefined, 'a header Connection names as hop-by-hop is still removed');
    });

    it(`keeps X-Berth-Visitor on an app host with "Connection: ${connection}"`, async () => {
      const seen = await exchange(
        apps.port,
        `GET /report HTTP/1.1\r\nHost: ${appHost}\r\nX-Berth-Token: ${token}\r\nConnection: ${connection}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(seen.status, 200);
      assert.equal(seen.headers.host, appHost);
      assert.equal(seen.headers['x-berth-visitor'], 'alice');
      assert.equal(seen.headers['x-forwarded-host'], appHost);
    });
  }

  it('forwards a body whose framing headers a Connection header names', async () => {
    for (const [framing, body] of [
      ['Content-Length: 5', 'hello'],
      ['Transfer-Encoding: chunked', '5\r\nhello\r\n0\r\n\r\n'],
    ] as const) {
      const seen = await exchange(
        apps.port,
        `POST /report HTTP/1.1\r\nHost: ${gatewayHost}\r\nCookie: ${session}\r\nOrigin: ${apps.gatewayUrl}\r\n${framing}\r\nConnection: close, Content-Length, Transfer-Encoding\r\n\r\n${body}`,
      );
      assert.equal(seen.status, 200, framing);
      assert.equal(seen.body, 'hello', framing);
    }
  });
});
