import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { startForward } from '../../src/cli/forward.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { eventually, httpRequest } from '../helpers/http.js';
import { CLI } from '../helpers/serve.js';
import { AppsGateway } from './harness.js';

/*
 * The acceptance of per-port web addresses on the local runtime: a real
 * gateway with apps.domain "apps.test", berths running a small Node app
 * (./fixtures/berthApp.mjs), curl with --resolve and a cookie jar as the
 * browser. Local berths share the host's network, so alice's and bob's apps
 * listen on different free ports rather than both on 3000.
 */

const FIXTURE = fileURLToPath(new URL('./fixtures/berthApp.mjs', import.meta.url));

interface Seen {
  port: number;
  url: string;
  headers: Record<string, string>;
}

describe('per-port web addresses (local runtime)', () => {
  let gw: AppsGateway;
  let port: number;
  let alicePort: number;
  let bobPort: number;
  let gatewayUrl: string;
  const app = (user: string, p: number) => gw.app(user, p);
  const jar = (who: string) => gw.jar(who);
  const curl = (url: string, args?: string[]) => gw.curl(url, args);
  const browse = (who: string, url: string, args?: string[]) => gw.browse(who, url, args);
  const api = (who: string, method: string, path: string, body?: unknown) => gw.api(who, method, path, body);
  const withToken = (token: string, method: string, path: string, body?: unknown) => gw.withToken(token, method, path, body);
  const onHost = (host: string, path: string, headers?: Record<string, string>) => gw.onHost(host, path, headers);
  const newToken = (who: string, scopes: string[], expiresInSeconds?: number | null) => gw.newToken(who, scopes, expiresInSeconds);
  const seenBy = async (who: string): Promise<Seen[]> => JSON.parse((await gw.main(who, '/seen')).body) as Seen[];
  const echoed = (body: string) => JSON.parse(body) as { user: string; port: number; headers: Record<string, string> };

  before(async () => {
    alicePort = await freeLoopbackPort();
    bobPort = await freeLoopbackPort();
    gw = await AppsGateway.start({ BERTH_ENVIRONMENT_COMMAND: JSON.stringify([process.execPath, FIXTURE]) }, [
      `alice-${alicePort}.apps.test`,
      `bob-${bobPort}.apps.test`,
    ]);
    port = gw.port;
    gatewayUrl = gw.url;
    for (const [who, p] of [['alice', alicePort], ['bob', bobPort]] as const) {
      await gw.login(who);
      assert.equal((await gw.main(who, `/open?port=${p}`)).status, 200, `${who}'s berth opens port ${p}`);
    }
  });
  after(() => gw.close());

  it("signs alice's browser in on her app host through the gateway (redirect, code, cookie) and proxies with the app host as Host", async () => {
    const reply = await browse('alice', `${app('alice', alicePort)}/hello?x=1`, ['-H', 'Authorization: Bearer app-own']);
    assert.equal(reply.status, 200, reply.body);
    assert.equal(reply.redirects, 3, 'app host -> authorize -> callback -> the page');
    assert.equal(reply.effective, `${app('alice', alicePort)}/hello?x=1`);
    const seen = echoed(reply.body);
    assert.equal(seen.port, alicePort);
    assert.equal(seen.headers.host, `alice-${alicePort}.apps.test:${port}`);
    assert.equal(seen.headers['x-berth-visitor'], 'alice');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-host'], `alice-${alicePort}.apps.test:${port}`);
    assert.equal(seen.headers.cookie, undefined, 'no gateway or app cookie reaches the berth');
    assert.equal(seen.headers.authorization, 'Bearer app-own', 'Authorization reaches the app untouched');
  });

  it('answers a script without credentials 401, whatever Authorization or X-Berth-Visitor it sends', async () => {
    const reply = await onHost(`alice-${alicePort}.apps.test`, '/', { authorization: 'Bearer app-own', 'x-berth-visitor': 'mallory' });
    assert.equal(reply.status, 401);
  });

  it("refuses bob on alice's port (403) until she shares it with users, then names him to the app", async () => {
    const refused = await browse('bob', `${app('alice', alicePort)}/`);
    assert.equal(refused.status, 403, refused.body);
    const shared = await api('alice', 'PUT', `/_berth/api/me/ports/${alicePort}`, { share: 'users' });
    assert.equal(shared.status, 200, shared.body);
    assert.deepEqual(JSON.parse(shared.body), { port: alicePort, share: 'users', url: `${app('alice', alicePort)}/` });
    const admitted = await browse('bob', `${app('alice', alicePort)}/as-bob`, ['-H', 'X-Berth-Visitor: alice']);
    assert.equal(admitted.status, 200, admitted.body);
    assert.equal(echoed(admitted.body).headers['x-berth-visitor'], 'bob', 'the client-sent visitor header is replaced');
    assert.equal(echoed(admitted.body).user, 'alice');
  });

  it('lets a client with no cookie through on a public port, naming no visitor', async () => {
    assert.equal((await api('alice', 'PUT', `/_berth/api/me/ports/${alicePort}`, { share: 'public' })).status, 200);
    const reply = await curl(`${app('alice', alicePort)}/anon`);
    assert.equal(reply.status, 200, reply.body);
    assert.equal(echoed(reply.body).headers['x-berth-visitor'], undefined);
    assert.equal((await api('alice', 'PUT', `/_berth/api/me/ports/${alicePort}`, { share: 'owner' })).status, 200);
    assert.equal((await curl(`${app('alice', alicePort)}/anon`)).status, 401);
  });

  it("keeps a cookie of alice's app on her host: not sent to bob's app host nor to the gateway; no gateway cookie reaches any berth", async () => {
    assert.equal((await browse('alice', `${app('alice', alicePort)}/set-cookie`)).status, 200);
    assert.match(readFileSync(jar('alice'), 'utf8'), /appsecret\talice-own/);
    assert.equal((await api('bob', 'PUT', `/_berth/api/me/ports/${bobPort}`, { share: 'public' })).status, 200);
    const atBob = await browse('alice', `${app('bob', bobPort)}/visited-by-alice`);
    assert.equal(atBob.status, 200, atBob.body);
    const atGateway = await browse('alice', `${gatewayUrl}/main-route`);
    assert.equal(atGateway.status, 200, atGateway.body);
    assert.equal((await browse('alice', `${app('alice', alicePort)}/again`)).status, 200);

    const fromAlice = await seenBy('alice');
    const fromBob = await seenBy('bob');
    const cookies = (list: Seen[]) => list.map((s) => s.headers.cookie ?? '');
    assert.ok(fromAlice.some((s) => s.url === '/again' && s.headers.cookie === 'appsecret=alice-own'), 'the app gets its own cookie back');
    assert.ok(fromBob.some((s) => s.url === '/visited-by-alice'));
    assert.ok(fromAlice.some((s) => s.url === '/main-route' && s.port !== alicePort));
    assert.deepEqual(cookies(fromBob).filter((c) => c.includes('appsecret')), [], "alice's app cookie reached bob's app");
    assert.deepEqual(cookies(fromAlice.filter((s) => s.port !== alicePort)).filter((c) => c.includes('appsecret')), [], "alice's app cookie reached the gateway host's route");
    assert.deepEqual([...cookies(fromAlice), ...cookies(fromBob)].filter((c) => c.includes('berth_')), [], 'a gateway cookie reached a berth');
  });

  it('takes ?berth_token= with a 303 to the URL without it, sets the app cookie, and keeps the token out of logs and the berth', async () => {
    const { id, token } = await newToken('alice', ['apps']);
    const landing = await onHost(`alice-${alicePort}.apps.test`, `/t?a=1&berth_token=${token}&b=2`);
    assert.equal(landing.status, 303);
    assert.equal(landing.headers.location, '/t?a=1&b=2');
    const setCookie = (landing.headers['set-cookie'] as string[])[0] as string;
    assert.match(setCookie, /^berth_app=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    const cookie = setCookie.split(';')[0] as string;
    const followed = await onHost(`alice-${alicePort}.apps.test`, '/t?a=1&b=2', { cookie });
    assert.equal(followed.status, 200, followed.body);
    assert.equal(echoed(followed.body).headers['x-berth-visitor'], 'alice');
    assert.equal((await onHost(`ALICE-${alicePort}.APPS.TEST`, '/upper', { cookie })).status, 200, 'host names are case-insensitive');
    assert.equal((await onHost(`bob-${bobPort}.apps.test`, '/', { cookie })).status, 200, "bob's port is public");
    const script = await onHost(`alice-${alicePort}.apps.test`, '/script', { 'x-berth-token': token });
    assert.equal(script.status, 200, script.body);
    assert.equal(echoed(script.body).headers['x-berth-token'], undefined);
    const mainRoute = await httpRequest(`http://127.0.0.1:${port}/by-token`, { headers: { 'x-berth-token': token } });
    assert.equal(mainRoute.status, 200, mainRoute.body);
    assert.equal(echoed(mainRoute.body).user, 'alice', 'the main route takes X-Berth-Token too');
    assert.equal(echoed(mainRoute.body).headers['x-berth-token'], undefined);

    const listed = JSON.parse((await api('alice', 'GET', '/_berth/api/me/tokens')).body) as { tokens: Array<{ id: string; lastUsedAt: string | null; scopes: string[] }> };
    const mine = listed.tokens.find((t) => t.id === id);
    assert.deepEqual(mine?.scopes, ['apps']);
    assert.notEqual(mine?.lastUsedAt, null);
    assert.equal(JSON.stringify(listed).includes(token), false, 'the secret is shown once only');

    assert.equal((await api('alice', 'DELETE', `/_berth/api/me/tokens/${id}`)).status, 204);
    const afterRevoke = await onHost(`alice-${alicePort}.apps.test`, '/t', { cookie });
    assert.equal(afterRevoke.status, 401, 'the app cookie the revoked token left behind no longer signs in');
    assert.match(gw.logs, /app cookie of a revoked or expired token ignored/);
    assert.equal((await onHost(`bob-${bobPort}.apps.test`, '/', { cookie })).status, 200, 'a public port still lets the visitor in, as anyone');
    assert.equal((await onHost(`alice-${alicePort}.apps.test`, `/t?berth_token=${token}`)).status, 401, 'a revoked token is refused');
    assert.equal((await onHost(`alice-${alicePort}.apps.test`, '/t', { 'x-berth-token': token })).status, 401);
    const short = await newToken('alice', ['apps'], 1);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await onHost(`alice-${alicePort}.apps.test`, `/t?berth_token=${short.token}`)).status, 401, 'an expired token is refused');

    const everything = JSON.stringify(await seenBy('alice'));
    for (const secret of [token, short.token]) {
      assert.equal(gw.logs.includes(secret), false, 'a token reached the log');
      assert.equal(everything.includes(secret), false, 'a token reached the berth');
    }
  });

  it('accepts tokens with scope api on the API, as Bearer or X-Berth-Token (no origin check), refusing other scopes, bad tokens and foreign ids', async () => {
    const apiToken = await newToken('alice', ['api']);
    const appsToken = await newToken('alice', ['apps']);
    const me = await withToken(apiToken.token, 'GET', '/_berth/api/me');
    assert.equal(me.status, 200, me.body);
    assert.equal(JSON.parse(me.body).user.name, 'alice');
    assert.equal((await withToken(apiToken.token, 'PUT', `/_berth/api/me/ports/${alicePort}`, { share: 'owner' })).status, 200);
    const viaHeader = await httpRequest(`http://127.0.0.1:${port}/_berth/api/me`, { headers: { 'x-berth-token': apiToken.token } });
    assert.equal(viaHeader.status, 200, 'the API takes X-Berth-Token too');
    assert.equal((await withToken(appsToken.token, 'GET', '/_berth/api/me')).status, 403);
    assert.equal((await withToken('berth_not-a-real-token-at-all-000000000000000000', 'GET', '/_berth/api/me')).status, 401);
    assert.equal((await api('bob', 'DELETE', `/_berth/api/me/tokens/${apiToken.id}`)).status, 404, "bob cannot revoke alice's token");
    assert.equal((await withToken(apiToken.token, 'DELETE', `/_berth/api/me/tokens/${appsToken.id}`)).status, 204);
    const bad = await api('alice', 'POST', '/_berth/api/me/tokens', { scopes: ['root'] });
    assert.equal(bad.status, 400);
    assert.equal(gw.logs.includes(apiToken.token), false);
  });

  it('answers 404 for malformed or unknown app hosts, and refuses off-site sign-in targets', async () => {
    for (const host of ['alice-0.apps.test', 'alice-99999.apps.test', `x.alice-${alicePort}.apps.test`, 'nosuchuser-80.apps.test', 'apps.test', `alice-0${alicePort}.apps.test`]) {
      assert.equal((await onHost(host, '/')).status, 404, host);
    }
    const evil = await curl(`${gatewayUrl}/_berth/apps/authorize?next=${encodeURIComponent('https://evil.test/')}`, ['-b', jar('alice'), '-H', 'Accept: text/html']);
    assert.equal(evil.status, 400);
    const unknown = await curl(`${gatewayUrl}/_berth/apps/authorize?next=${encodeURIComponent(`http://nosuchuser-80.apps.test:${port}/`)}`, ['-b', jar('alice')]);
    assert.equal(unknown.status, 404);
    const stale = await onHost(`alice-${alicePort}.apps.test`, '/_berth/apps/callback?code=forged&next=/');
    assert.equal(stale.status, 401);
  });

  it("carries WebSockets on app hosts, naming the visitor", async () => {
    assert.equal((await api('alice', 'PUT', `/_berth/api/me/ports/${alicePort}`, { share: 'users' })).status, 200);
    const { token } = await newToken('bob', ['apps']);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { host: `alice-${alicePort}.apps.test:${port}`, 'x-berth-token': token } });
    const answer = await new Promise<string>((resolve, reject) => {
      ws.once('open', () => ws.send('hi'));
      ws.once('message', (data) => resolve(String(data)));
      ws.once('error', reject);
      setTimeout(() => reject(new Error('no echo within 5 s')), 5000).unref();
    });
    ws.close();
    assert.equal(answer, 'bob:hi');
  });

  it('lists the listening ports with URL and share level, including one opened just before the call', async () => {
    const extra = await freeLoopbackPort();
    assert.equal((await gw.main('alice', `/open?port=${extra}`)).status, 200);
    const listed = { ports: await gw.ports('alice') };
    assert.deepEqual(listed.ports.find((p) => p.port === alicePort), { port: alicePort, url: `${app('alice', alicePort)}/`, share: 'users', listening: true, loopbackOnly: true });
    assert.deepEqual(listed.ports.find((p) => p.port === extra), { port: extra, url: `${app('alice', extra)}/`, share: 'owner', listening: true, loopbackOnly: true });
    assert.equal(listed.ports.some((p) => p.port === bobPort), false, "bob's port is not alice's");
  });

  describe('berth forward', () => {
    let echoPort: number;
    const servers: Server[] = [];
    after(() => servers.forEach((s) => s.close()));

    before(async () => {
      echoPort = await freeLoopbackPort();
      assert.equal((await gw.main('alice', `/echo?port=${echoPort}`)).status, 200);
    });

    async function forwardTo(token: string, target: { user: string | null; port: number }) {
      const localPort = await freeLoopbackPort();
      const problems: string[] = [];
      servers.push(await startForward({ gateway: `http://127.0.0.1:${port}`, token, localPort, ...target }, (line) => problems.push(line)));
      return { localPort, problems };
    }

    /** Writes each message on one connection and reads what comes back, or the close. */
    function session(localPort: number, messages: string[]): Promise<string> {
      return new Promise((resolve, reject) => {
        const socket = connect(localPort, '127.0.0.1');
        let received = '';
        let sent = 0;
        socket.setTimeout(10_000, () => socket.destroy(new Error('forward session timed out')));
        const next = () => (sent < messages.length ? socket.write(messages[sent++] as string) : socket.end());
        socket.on('connect', next);
        socket.on('data', (chunk) => {
          received += chunk.toString('utf8');
          if (received === messages.slice(0, sent).join('')) next();
        });
        socket.on('close', () => resolve(received));
        socket.on('error', reject);
      });
    }

    it('carries a TCP echo session both ways', async () => {
      const { token } = await newToken('alice', ['apps']);
      const { localPort } = await forwardTo(token, { user: null, port: echoPort });
      assert.equal(await session(localPort, ['ping\n', 'second line\n', 'x'.repeat(100_000)]), `ping\nsecond line\n${'x'.repeat(100_000)}`);
      assert.equal(gw.logs.includes(token), false);
    });

    it('runs as the berth command: `berth forward --gateway URL --token T LOCALPORT PORT`', async () => {
      const { token } = await newToken('alice', ['api']);
      const localPort = await freeLoopbackPort();
      const cli = spawn(process.execPath, [...CLI, 'forward', '--gateway', `http://127.0.0.1:${port}`, '--token', token, String(localPort), `alice/${echoPort}`], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      try {
        let stderr = '';
        cli.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
        await eventually(async () => (stderr.includes(`127.0.0.1:${localPort} -> alice/${echoPort}`) ? true : undefined), 20_000, 'berth forward to listen');
        assert.equal(await session(localPort, ['through the command\n']), 'through the command\n');
        assert.equal(stderr.includes(token), false);
      } finally {
        cli.kill('SIGTERM');
      }
    });

    it('answers a tunnel request that is no WebSocket handshake with 400', async () => {
      const { token } = await newToken('alice', ['apps']);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let text = '';
        socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
        socket.on('connect', () =>
          socket.write(`GET /_berth/api/me/tunnel/${echoPort} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`),
        );
        socket.on('data', (chunk) => (text += chunk.toString('utf8')));
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      assert.match(answer, /^HTTP\/1\.1 400 /);
    });

    it("refuses bob a tunnel to alice's unshared port, and to her port named as his own", async () => {
      const { token } = await newToken('bob', ['api']);
      const foreign = await forwardTo(token, { user: 'alice', port: echoPort });
      assert.equal(await session(foreign.localPort, ['ping\n']), '');
      assert.match(foreign.problems.join('\n'), /\(403\)/);
      const own = await forwardTo(token, { user: null, port: echoPort });
      assert.equal(await session(own.localPort, ['ping\n']), '');
      assert.match(own.problems.join('\n'), /\(502\).*listens on port/);
    });
  });

  it('keeps share levels across a gateway restart', async () => {
    await gw.restart();
    assert.deepEqual(await gw.ports('bob'), [{ port: bobPort, url: `${app('bob', bobPort)}/`, share: 'public', listening: false, loopbackOnly: false }]);
  });
});
