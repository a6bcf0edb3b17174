import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ISOLATION_OPTION } from '../../src/runtime/docker/network.js';
import { bridgeOf, listenerOn } from '../helpers/bridge.js';
import { BUSYBOX, engine, removeByPrefix, runPrefix, withEngine } from '../helpers/docker.js';
import { writeGatewayConfig } from '../helpers/gatewayConfig.js';
import { httpRequest } from '../helpers/http.js';
import { berthServe, stopServe, type Served } from '../helpers/serve.js';

/*
 * The failure guarded: a header-mode gateway whose auth.header.trustedProxies
 * covers the berth network's range (as a compose set-up trusting a Docker
 * network for its oauth2-proxy does) believing an identity header that a
 * berth sends itself, so any berth could sign in as anyone. `berth serve`
 * runs as an operator runs it, listening on the berth bridge's host address;
 * the requests from inside come from a real berth's busybox wget.
 */

const prefix = runPrefix();
const network = `${prefix}-net`;
const GREETER = 'mkdir -p /tmp/www && echo "hello $BERTH_USER" > /tmp/www/index.html && exec httpd -f -p "$PORT" -h /tmp/www';

/** busybox wget inside the berth's container: the status line it got, and what it printed. */
async function fromInside(container: string, url: string, headers: string[]): Promise<{ status: string; output: string }> {
  const args = ['exec', container, 'wget', '-S', '-q', '-O', '-', ...headers.flatMap((h) => ['--header', h]), url];
  const { stdout, stderr } = await promisify(execFile)('docker', args).catch((err: { stdout: string; stderr: string }) => err);
  const output = `${stdout}${stderr}`;
  return { status: /HTTP\/1\.1 (\d{3})/.exec(output)?.[1] ?? 'none', output };
}

await withEngine('a berth posing as the auth proxy', () => {
  describe('a berth posing as the auth proxy', { timeout: 120_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-e2e-posing-'));
    let gateway: Served;
    let subnet: string;
    let hostAddress: string;
    const alice = `${prefix}-alice`;

    before(async () => {
      // Made beforehand, as an operator would, so the gateway can listen on the bridge's host address.
      await engine.createNetwork({ Name: network, Driver: 'bridge', Options: { [ISOLATION_OPTION]: 'false' } });
      ({ subnet, hostAddress } = await bridgeOf(network));
      const { port, proxyAddress } = await listenerOn(hostAddress);
      const configFile = join(dir, 'berth.yaml');
      writeGatewayConfig(configFile, {
        auth: { mode: 'header', header: { trustedProxies: [subnet, `${proxyAddress}/32`] } },
        runtime: { kind: 'docker', docker: { namePrefix: prefix, network, reach: 'network' } },
        environment: { image: BUSYBOX, command: ['sh', '-c', GREETER] },
      });
      gateway = await berthServe(['--config', configFile], { BERTH_LISTEN_HTTP: `${hostAddress}:${port}` });
    });

    after(async () => {
      if (gateway) await stopServe(gateway, 'SIGKILL');
      await removeByPrefix(prefix, [network]);
      rmSync(dir, { recursive: true, force: true });
    });

    it('refuses, with 403 and a log line, an identity header a berth inside the trusted range sends', async () => {
      // The proxy's own request is believed and starts alice's berth.
      const proxied = await httpRequest(`${gateway.base}/`, { headers: { 'X-Forwarded-Preferred-Username': 'alice' }, timeoutMs: 60_000 });
      assert.equal(`${proxied.status} ${proxied.body.trim()}`, '200 hello alice', JSON.stringify(gateway.lines));
      const aliceAddress = (await engine.getContainer(alice).inspect()).NetworkSettings.Networks[network]?.IPAddress as string;
      assert.ok(aliceAddress, 'alice has an address on the berth network');

      for (const header of ['X-Forwarded-Preferred-Username: bob', 'X-Forwarded-Preferred-Username: alice', 'X-Forwarded-Email: bob@example.org']) {
        const reply = await fromInside(alice, `${gateway.base}/_berth/api/me`, [header]);
        assert.equal(reply.status, '403', `${header} from inside alice's berth: ${reply.output}`);
        assert.doesNotMatch(reply.output, /"user"/, 'no user is named in the answer');
      }
      const logged = gateway.lines.filter((line) => line.msg === 'identity header from a berth refused');
      assert.equal(logged.length, 3, JSON.stringify(gateway.lines));
      assert.ok(logged.every((line) => String(line.peer).endsWith(aliceAddress)), JSON.stringify(logged));

      // Without an identity header the berth is simply not signed in.
      assert.equal((await fromInside(alice, `${gateway.base}/_berth/api/me`, [])).status, '401');
      // And the proxy is still believed afterwards.
      assert.equal((await httpRequest(`${gateway.base}/_berth/api/me`, { headers: { 'X-Forwarded-Preferred-Username': 'bob' } })).status, 200);
    });
  });
});
