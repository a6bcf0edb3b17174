import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect, type Server } from 'node:net';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startForward } from '../../src/cli/forward.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { BUSYBOX, ENGINES, removeByPrefix, runPrefix, withEngine, type TestEngine } from '../helpers/docker.js';
import { AppsGateway } from './harness.js';

/*
 * Per-port web addresses with docker berths (berth-test/busybox), on each
 * engine (Docker, Podman's API service): alice's
 * berth serves the main port and port 3000 with busybox httpd (a CGI script
 * prints the request's environment, so the test sees from inside the berth
 * what reached it) and a TCP echo on 5000 with nc.
 */

const BERTH = [
  'sh',
  '-c',
  [
    'mkdir -p /tmp/www/cgi-bin',
    // Node's HTTP parser wants CRLF after the CGI's header, which busybox httpd passes on as written.
    `printf '%s\\n' '#!/bin/sh' 'printf "Content-Type: text/plain\\r\\n\\r\\n"' env > /tmp/www/cgi-bin/env`,
    'chmod +x /tmp/www/cgi-bin/env',
    'echo "hello from $BERTH_USER on 3000" > /tmp/www/index.html',
    'busybox httpd -p 3000 -h /tmp/www',
    '(while true; do busybox nc -l -p 5000 -e cat; done) &',
    'exec busybox httpd -f -p "$PORT" -h /tmp/www',
  ].join('\n'),
];

/** The request environment busybox httpd gave the CGI script, as a map. */
function cgiEnv(body: string): Map<string, string> {
  return new Map(body.split('\n').flatMap((line) => (line.includes('=') ? [[line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as [string, string]] : [])));
}

/** Every suite of this file, against one engine. */
function appsSuites(on: TestEngine): Promise<void> {
  const prefix = runPrefix();
  const network = `${prefix}-net`;

  return withEngine(`per-port web addresses (${on.kind})`, () => {
    describe(`per-port web addresses (${on.kind})`, () => {
      let gw: AppsGateway;
      const servers: Server[] = [];

      before(async () => {
        gw = await AppsGateway.start(
          {
            BERTH_RUNTIME_KIND: 'docker',
            BERTH_RUNTIME_DOCKER_SOCKET: on.socket,
            BERTH_RUNTIME_DOCKER_NAME_PREFIX: prefix,
            BERTH_RUNTIME_DOCKER_NETWORK: network,
            BERTH_RUNTIME_DOCKER_REACH: 'network',
            BERTH_ENVIRONMENT_IMAGE: BUSYBOX,
            BERTH_ENVIRONMENT_COMMAND: JSON.stringify(BERTH),
          },
          ['alice-3000.apps.test', 'bob-3000.apps.test'],
        );
        await gw.login('alice');
        await gw.login('bob');
        const first = await gw.main('alice', '/');
        assert.equal(first.status, 200, first.body);
        assert.equal(first.body, 'hello from alice on 3000\n', 'the main port serves the same files');
      });
      after(async () => {
        servers.forEach((s) => s.close());
        await gw?.close();
        await removeByPrefix(prefix, [network], on);
      });

      it("opens alice-3000.apps.test for alice's browser on the server listening on 3000 in her berth", async () => {
        const reply = await gw.browse('alice', `${gw.app('alice', 3000)}/`);
        assert.equal(reply.status, 200, reply.body);
        assert.equal(reply.redirects, 3);
        assert.equal(reply.body, 'hello from alice on 3000\n');
        const same = await gw.browse('alice', `http://ALICE-3000.apps.test:${gw.port}/`);
        assert.equal(same.status, 200, 'the upper-case host is the same host, with the same cookie');
        assert.equal(same.redirects, 0);
      });

      it('never lets the gateway or app cookie into the berth, and gives it the app host as Host', async () => {
        const reply = await gw.browse('alice', `${gw.app('alice', 3000)}/cgi-bin/env`);
        assert.equal(reply.status, 200, reply.body);
        const viaApp = cgiEnv(reply.body);
        assert.equal(viaApp.get('HTTP_HOST'), `alice-3000.apps.test:${gw.port}`);
        assert.equal(viaApp.get('HTTP_COOKIE'), undefined);
        const viaMain = cgiEnv((await gw.browse('alice', `${gw.url}/cgi-bin/env`)).body);
        assert.equal(viaMain.get('REQUEST_URI'), '/cgi-bin/env');
        assert.equal(viaMain.get('HTTP_COOKIE'), undefined);
      });

      it('refuses bob (403) until alice shares the port with users; public needs no sign-in', async () => {
        assert.equal((await gw.browse('bob', `${gw.app('alice', 3000)}/`)).status, 403);
        assert.equal((await gw.api('alice', 'PUT', '/_berth/api/me/ports/3000', { share: 'users' })).status, 200);
        assert.equal((await gw.browse('bob', `${gw.app('alice', 3000)}/`)).body, 'hello from alice on 3000\n');
        assert.equal((await gw.curl(`${gw.app('alice', 3000)}/`)).status, 401);
        assert.equal((await gw.api('alice', 'PUT', '/_berth/api/me/ports/3000', { share: 'public' })).status, 200);
        assert.equal((await gw.curl(`${gw.app('alice', 3000)}/`)).body, 'hello from alice on 3000\n');
        const own = await gw.browse('bob', `${gw.app('bob', 3000)}/`);
        assert.equal(own.body, 'hello from bob on 3000\n', "bob's own navigation starts his berth; his 3000 is not alice's");
      });

      it(`lists the ports listening in the berth, one opened by ${on.kind} exec just before the call`, async () => {
        const [cli, ...args] = on.cli as [string, ...string[]];
        await promisify(execFile)(cli, [...args, 'exec', `${prefix}-alice`, 'busybox', 'httpd', '-p', '4000', '-h', '/tmp/www']);
        const ports = await gw.ports('alice');
        const listed = new Map(ports.map((p) => [p.port, p]));
        assert.deepEqual(listed.get(3000), { port: 3000, url: `${gw.app('alice', 3000)}/`, share: 'public', listening: true, loopbackOnly: false });
        assert.equal(listed.get(8080)?.listening, true, 'the main port');
        assert.equal(listed.get(4000)?.listening, true, 'the port opened just now');
        assert.deepEqual([...listed.keys()], [3000, 4000, 5000, 8080], "only the berth's own listeners, not the engine's DNS on 127.0.0.11");
      });

      it('carries a TCP echo session through berth forward', async () => {
        const { token } = await gw.newToken('alice', ['apps']);
        const localPort = await freeLoopbackPort();
        servers.push(await startForward({ gateway: `http://127.0.0.1:${gw.port}`, token, localPort, user: null, port: 5000 }, () => undefined));
        const echoed = await new Promise<string>((resolve, reject) => {
          const socket = connect(localPort, '127.0.0.1');
          let received = '';
          socket.setTimeout(10_000, () => socket.destroy(new Error('no echo within 10 s')));
          socket.on('connect', () => socket.write(`ping over ${on.kind}\n`));
          socket.on('data', (chunk) => {
            received += chunk.toString('utf8');
            if (received === `ping over ${on.kind}\n`) socket.end();
          });
          socket.on('close', () => resolve(received));
          socket.on('error', reject);
        });
        assert.equal(echoed, `ping over ${on.kind}\n`);
      });
    });
  });
}

for (const on of ENGINES) await appsSuites(on);
