import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { DEFAULT_BURST } from '../../src/log/throttled.js';
import { requestTo, serveWithApps, signedInOnAppHost, type ServedApps } from '../helpers/servedApps.js';

/*
 * The Origin rule for WebSocket handshakes with a non-browser client against
 * a real `berth serve`, for the inputs a browser never sends (no Origin at
 * all, "null", look-alikes): a handshake signed in by a cookie is switched
 * only from the origin of the host it is sent to, one signed in by
 * X-Berth-Token needs none, and a refused one never reaches the berth.
 * (test/browser/websocket_origin.test.ts has the attack from a real page.)
 */

type Outcome = { opened: true } | { opened: false; status: number };

async function handshake(apps: ServedApps, url: string, headers: Record<string, string>): Promise<Outcome> {
  const target = new URL(url);
  const ws = new WebSocket(`ws://127.0.0.1:${apps.port}${target.pathname}${target.search}`, { headers: { host: target.host, ...headers } });
  const outcome = await new Promise<Outcome>((resolve) => {
    ws.once('open', () => resolve({ opened: true }));
    ws.once('unexpected-response', (_req, res: IncomingMessage) => resolve({ opened: false, status: res.statusCode ?? 0 }));
    ws.once('error', () => resolve({ opened: false, status: 0 }));
  });
  ws.terminate();
  return outcome;
}

describe('websocket origin (berth serve, non-browser client)', () => {
  let apps: ServedApps;
  let session: string;
  let appCookie: string;
  let token: string;
  let appPort: number;

  const handshakesSeen = async (path: string): Promise<number> => {
    const seen = JSON.parse((await requestTo(apps, `${apps.gatewayUrl}/seen`, { headers: { cookie: session } })).body) as Array<{ url: string; upgrade?: boolean }>;
    return seen.filter((s) => s.upgrade === true && s.url === path).length;
  };

  before(async () => {
    apps = await serveWithApps({ gatewayHost: 'gateway.test', appsDomain: 'apps.test' });
    ({ session, token, appPort, appCookie } = await signedInOnAppHost(apps, 'alice'));
  });
  after(() => apps?.close());

  it('switches a cookie handshake from its own origin, on the main route and on an app host', async () => {
    assert.deepEqual(await handshake(apps, `${apps.gatewayUrl}/main-own`, { cookie: session, origin: apps.gatewayUrl }), { opened: true });
    const app = apps.appUrl('alice', appPort);
    assert.deepEqual(await handshake(apps, `${app}/app-own`, { cookie: appCookie, origin: app }), { opened: true });
  });

  it('switches a token handshake whatever its Origin, and one with neither cookie nor Origin as far as sign-in allows', async () => {
    assert.deepEqual(await handshake(apps, `${apps.gatewayUrl}/main-token`, { 'x-berth-token': token, origin: 'https://evil.test' }), { opened: true });
    assert.deepEqual(await handshake(apps, `${apps.appUrl('alice', appPort)}/app-token`, { 'x-berth-token': token }), { opened: true });
    assert.deepEqual(await handshake(apps, `${apps.gatewayUrl}/main-anonymous`, {}), { opened: false, status: 401 }, 'no Origin, no cookie: only sign-in is missing');
  });

  const foreign: Array<[string, Record<string, string>]> = [
    ['no Origin', {}],
    ['Origin: null', { origin: 'null' }],
    ['an empty Origin', { origin: '' }],
    ['a sibling app host', { origin: 'http://bob-3000.apps.test' }],
    ['another port of the gateway', { origin: 'http://gateway.test:1' }],
    ['https instead of http', { origin: 'https://gateway.test' }],
    ['a look-alike suffix', { origin: 'http://gateway.test.evil.test' }],
  ];
  for (const [what, headers] of foreign) {
    it(`refuses a cookie handshake with ${what} (403) before it reaches the berth`, async () => {
      const path = `/refused-${what.replace(/\W+/g, '-')}`;
      assert.deepEqual(await handshake(apps, `${apps.gatewayUrl}${path}`, { cookie: session, ...headers }), { opened: false, status: 403 });
      assert.deepEqual(await handshake(apps, `${apps.appUrl('alice', appPort)}${path}`, { cookie: appCookie, ...headers }), { opened: false, status: 403 });
      assert.equal(await handshakesSeen(path), 0);
    });
  }

  it('logs refusals at warn, rate-limited, never the cookie, and counts every one', async () => {
    const refusals = apps.served.lines.filter((l) => l.msg === 'request refused' && l.code === 'csrf');
    assert.equal(refusals.length, Math.min(foreign.length * 2, DEFAULT_BURST));
    const metrics = (await requestTo(apps, `${apps.gatewayUrl}/_berth/metrics`)).body;
    const counted = Number(/^berth_refused_requests_total\{code="csrf"\} (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(counted >= foreign.length * 2, `refusals counted: ${counted}`);
    assert.ok(refusals.every((l) => l.level === 40 && l.status === 403));
    assert.equal(JSON.stringify(refusals).includes(session.split('=')[1] as string), false);
  });
});
