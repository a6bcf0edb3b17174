import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { cidrMatcher } from '../../src/core/net.js';
import { clientAddress } from '../../src/http/clientAddress.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { AppsGateway } from '../apps/harness.js';

const FIXTURE = fileURLToPath(new URL('../apps/fixtures/berthApp.mjs', import.meta.url));

interface AccessLine {
  user: string | null;
  method: string;
  path: string;
  status: number | null;
  completed: boolean;
  bytesIn: number;
  bytesOut: number;
  ms: number;
  upstreamMs: number | null;
  berth: string | null;
  port: number | null;
  client: string | null;
  route: 'berth' | 'app' | 'gateway';
}

/** What a request the test made must look like in the log; unnamed fields are not checked. */
type Expected = Partial<AccessLine> & Pick<AccessLine, 'method' | 'path'>;

function forwardedRequest(forwardedFor?: string): IncomingMessage {
  const req = new IncomingMessage({} as Socket);
  req.rawHeaders = forwardedFor === undefined ? [] : ['X-Forwarded-For', forwardedFor];
  return req;
}

describe('client address through trusted proxies', () => {
  const trusted = cidrMatcher(['127.0.0.0/8', '10.0.0.0/8']);
  const cases: Array<[string, string, string | undefined, string]> = [
    ['an untrusted peer is the client, whatever it forwards', '198.51.100.7', '203.0.113.1', '198.51.100.7'],
    ['a trusted peer hands over to the address it appended', '127.0.0.1', '203.0.113.1', '203.0.113.1'],
    ['a trusted chain is walked right to left', '127.0.0.1', '203.0.113.1, 10.1.2.3', '203.0.113.1'],
    ['what the client wrote left of the first untrusted hop is ignored', '127.0.0.1', '6.6.6.6, 203.0.113.1, 10.1.2.3', '203.0.113.1'],
    ['several header lines count as one list', '127.0.0.1', '203.0.113.1,10.9.9.9', '203.0.113.1'],
    ['ports and brackets are dropped', '127.0.0.1', '[2001:db8::1]:4711', '2001:db8::1'],
    ['a v4-mapped peer is written plain', '::ffff:198.51.100.7', undefined, '198.51.100.7'],
    ['only trusted hops: the leftmost is the client', '127.0.0.1', '10.0.0.1', '10.0.0.1'],
    ['a trusted peer forwarding nothing is the client', '127.0.0.1', undefined, '127.0.0.1'],
    ['empty entries are skipped', '127.0.0.1', '203.0.113.1, ,', '203.0.113.1'],
  ];
  for (const [what, peer, forwarded, client] of cases) {
    it(what, () => assert.equal(clientAddress(peer, forwardedRequest(forwarded), trusted), client));
  }
});

/*
 * The acceptance of the access log: the HTTP flows of one real gateway
 * (dev sign-in with curl, proxied requests, an app host's sign-in hand-off,
 * a WebSocket, API calls with a token, a token in a URL) each leave their
 * line in log.accessFile, and no secret any of them used (session and app
 * cookies, the token, the CSRF token, a query) is in it.
 */
describe('access log (log.access) of one gateway', () => {
  let gw: AppsGateway;
  let dir: string;
  let accessFile: string;
  let alicePort: number;
  let closed = false;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-access-'));
    accessFile = join(dir, 'access.log');
    alicePort = await freeLoopbackPort();
    gw = await AppsGateway.start(
      { BERTH_ENVIRONMENT_COMMAND: JSON.stringify([process.execPath, FIXTURE]), BERTH_LOG_ACCESS: 'true', BERTH_LOG_ACCESS_FILE: accessFile },
      [`alice-${alicePort}.apps.test`],
    );
  });
  after(async () => {
    if (!closed) await gw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a line for every request the flows made, and none of their secrets', { timeout: 120_000 }, async () => {
    const expected: Expected[] = [];
    const secrets: string[] = [];

    await gw.login('alice');
    expected.push({ method: 'POST', path: '/_berth/login', status: 303, route: 'gateway' });

    const opened = await gw.main('alice', `/open?port=${alicePort}&secret=query-secret-1`);
    assert.equal(opened.status, 200, opened.body);
    expected.push({ method: 'GET', path: '/open', status: 200, user: 'alice', berth: 'alice', route: 'berth', completed: true });

    const body = 'x'.repeat(5000);
    const posted = await gw.curl(`${gw.url}/upload`, ['-b', gw.jar('alice'), '-d', body, '-H', 'X-Forwarded-For: 203.0.113.9']);
    assert.equal(posted.status, 200, posted.body);
    expected.push({ method: 'POST', path: '/upload', status: 200, user: 'alice', berth: 'alice', route: 'berth', client: '203.0.113.9' });

    const app = await gw.browse('alice', `${gw.app('alice', alicePort)}/hello?secret=query-secret-2`);
    assert.equal(app.status, 200, app.body);
    assert.equal(app.redirects, 3);
    expected.push(
      { method: 'GET', path: '/hello', status: 303, route: 'app' },
      { method: 'GET', path: '/_berth/apps/authorize', status: 303, route: 'gateway' },
      { method: 'GET', path: '/_berth/apps/callback', status: 303, route: 'app' },
      { method: 'GET', path: '/hello', status: 200, route: 'app', user: 'alice', berth: 'alice', port: alicePort },
    );

    const cookies = jarValues(gw.jar('alice'));
    assert.ok(cookies.length >= 2, 'the session and the app cookie are in the jar');
    secrets.push(...cookies);
    const session = readFileSync(gw.jar('alice'), 'utf8')
      .split('\n')
      .map((line) => line.split('\t'))
      .find((fields) => fields[5] === 'berth_session');
    assert.ok(session, 'the session cookie is in the jar');
    const echoed = await webSocketEcho(`ws://127.0.0.1:${gw.port}/ws`, { cookie: `berth_session=${session[6]}`, origin: gw.url, host: `gateway.test:${gw.port}` });
    assert.equal(echoed, '-:ping');
    expected.push({ method: 'GET', path: '/ws', status: 101, user: 'alice', berth: 'alice', route: 'berth' });

    const page = await gw.curl(`${gw.url}/_berth/`, ['-b', gw.jar('alice'), '-H', 'Accept: text/html']);
    const csrf = /<meta name="berth-csrf" content="([^"]+)"/.exec(page.body)?.[1];
    assert.ok(csrf, 'the dashboard carries a CSRF token');
    secrets.push(csrf);
    expected.push({ method: 'GET', path: '/_berth/', status: 200, user: 'alice', route: 'gateway', upstreamMs: null });

    const { token } = await gw.newToken('alice', ['api']);
    secrets.push(token);
    expected.push({ method: 'POST', path: '/_berth/api/me/tokens', status: 201, user: 'alice', route: 'gateway' });
    const me = await gw.withToken(token, 'GET', '/_berth/api/me');
    assert.equal(me.status, 200, me.body);
    expected.push({ method: 'GET', path: '/_berth/api/me', status: 200, user: 'alice', route: 'gateway' });
    const refused = await gw.withToken(`${token}x`, 'GET', '/_berth/api/me/keys');
    assert.equal(refused.status, 401, refused.body);
    expected.push({ method: 'GET', path: '/_berth/api/me/keys', status: 401, user: null, route: 'gateway' });

    const inUrl = await gw.curl(`${gw.url}/notes?berth_token=${token}`);
    assert.equal(inUrl.status, 303);
    expected.push({ method: 'GET', path: '/notes', status: 303, user: null });

    assert.equal((await gw.curl(`${gw.url}/_berth/healthz`)).status, 200);
    expected.push({ method: 'GET', path: '/_berth/healthz', status: 200, user: null, route: 'gateway' });

    closed = true;
    await gw.close();
    const text = readFileSync(accessFile, 'utf8');
    const lines = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as AccessLine & { msg: string; component: string });
    assert.ok(lines.every((line) => line.component === 'access' && line.msg === 'request'));

    const unmatched = [...lines];
    for (const want of expected) {
      const at = unmatched.findIndex((line) => Object.entries(want).every(([key, value]) => line[key as keyof AccessLine] === value));
      assert.notEqual(at, -1, `no access line for ${JSON.stringify(want)} in:\n${text}`);
      unmatched.splice(at, 1);
    }

    const upload = lines.find((line) => line.path === '/upload') as AccessLine;
    assert.ok(upload.bytesIn > body.length, `bytesIn ${upload.bytesIn} counts the body`);
    assert.ok(upload.bytesOut > body.length, `bytesOut ${upload.bytesOut} counts the echoed body`);
    assert.ok(typeof upload.upstreamMs === 'number' && upload.upstreamMs <= upload.ms, 'the upstream time lies within the total');
    assert.equal(upload.port, lines.find((line) => line.path === '/open')?.port, 'both went to the berth port');

    for (const line of lines) assert.ok(!line.path.includes('?'), `a query reached the log: ${line.path}`);
    for (const secret of [...secrets, 'query-secret-1', 'query-secret-2', 'berth_token']) {
      assert.ok(!text.includes(secret), `the access log holds a secret (${secret.slice(0, 4)}…)`);
      assert.ok(!gw.logs.includes(secret), `the gateway log holds a secret (${secret.slice(0, 4)}…)`);
    }
  });
});

/** Every cookie value in a curl (Netscape) cookie jar. */
function jarValues(jar: string): string[] {
  return readFileSync(jar, 'utf8')
    .split('\n')
    .map((line) => line.split('\t'))
    .filter((fields) => fields.length === 7)
    .map((fields) => fields[6] as string);
}

function webSocketEcho(url: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => ws.send('ping'));
    ws.once('message', (data) => {
      ws.once('close', () => resolve(String(data)));
      ws.close();
    });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake answered ${res.statusCode}`)));
  });
}
