import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { DockerRuntime } from '../../src/runtime/docker/dockerRuntime.js';
import { berthNetworkName } from '../../src/runtime/docker/names.js';
import { berthSpecFor } from '../../src/runtime/spec.js';
import { bridgeOf, listenerOn } from '../helpers/bridge.js';
import { BUSYBOX, PODMAN, PODMAN_ROOTLESS, removeByPrefix, runPrefix, withEngine, type TestEngine } from '../helpers/docker.js';
import { writeGatewayConfig } from '../helpers/gatewayConfig.js';
import { httpRequest } from '../helpers/http.js';
import { berthServe, stopServe, type Served } from '../helpers/serve.js';

/*
 * The failure guarded, on Podman: a header-mode gateway whose
 * auth.header.trustedProxies covers where Podman berths' requests come from
 * believing an identity header a berth sends itself. Rootful, that is the
 * berths' own subnets (an operator trusting the range for an oauth2-proxy
 * container); rootless, the host's own addresses, because a rootless berth's
 * connections leave through slirp4netns as the host's (an operator trusting
 * the host's address for a proxy on it). The requests come from a real
 * berth's busybox wget; `berth serve` runs as an operator runs it.
 */

const POOL = '10.80.0.0/16';
const GREETER = 'mkdir -p /tmp/www && echo "hello $BERTH_USER" > /tmp/www/index.html && exec httpd -f -p "$PORT" -h /tmp/www';

function posingSuite(on: TestEngine): Promise<void> {
  const prefix = runPrefix();
  const rootless = on.kind === 'podman-rootless';
  const alice = `${prefix}-alice`;

  /**
   * busybox wget inside the berth's container: the status line it got, and
   * what it printed. wget always prints something (the status, or why it
   * could not connect); an exec that shows nothing at all (seen once, under
   * load, through Podman's remote exec) is run again.
   */
  async function fromInside(url: string, headers: string[]): Promise<{ status: string; output: string }> {
    const args = [...on.cli.slice(1), 'exec', alice, 'wget', '-S', '-q', '-O', '-', ...headers.flatMap((h) => ['--header', h]), url];
    let output = '';
    for (let attempt = 0; attempt < 3 && output === ''; attempt++) {
      const { stdout, stderr } = await promisify(execFile)(on.cli[0] as string, args).catch((err: { stdout: string; stderr: string }) => err);
      output = `${stdout}${stderr}`;
    }
    return { status: /HTTP\/1\.1 (\d{3})/.exec(output)?.[1] ?? 'none', output };
  }

  return withEngine(`a berth posing as the auth proxy on ${on.kind}`, () => {
    describe(`a berth posing as the auth proxy on ${on.kind}`, { timeout: 120_000 }, () => {
      const dir = mkdtempSync(join(tmpdir(), 'berth-e2e-posing-podman-'));
      const docker = { socket: on.socket, namePrefix: prefix, network: `${prefix}-net`, reach: 'network' as const, subnetPool: POOL };
      const environment = { image: BUSYBOX, command: ['sh', '-c', GREETER] };
      let gateway: Served;
      let trusted: string[];

      before(async () => {
        // Alice's berth first, so her network (and the host's address on it) exists for the gateway to listen on, as on Docker; the gateway adopts it.
        const starter = new DockerRuntime({ docker: configSchema.parse({ runtime: { kind: 'docker', docker } }).runtime.docker, instanceId: 'test', stopGraceSeconds: 1, logger: createLogger('silent') });
        await starter.ensure(berthSpecFor(configSchema.parse({ environment }), 'alice'), () => undefined);
        await starter.close();
        // Rootless berths reach the host only at its own addresses: here the Docker bridge's, where the proxy is trusted too.
        const { hostAddress } = rootless ? await bridgeOf('bridge') : await bridgeOf(berthNetworkName(prefix, 'alice'), on.client);
        const { port, proxyAddress } = await listenerOn(hostAddress);
        trusted = [POOL, `${proxyAddress}/32`];
        const configFile = join(dir, 'berth.yaml');
        writeGatewayConfig(configFile, {
          auth: { mode: 'header', header: { trustedProxies: trusted } },
          runtime: { kind: 'docker', docker },
          environment,
        });
        gateway = await berthServe(['--config', configFile], { BERTH_LISTEN_HTTP: `${hostAddress}:${port}` });
      });

      after(async () => {
        if (gateway) await stopServe(gateway, 'SIGKILL');
        await removeByPrefix(prefix, [], on);
        rmSync(dir, { recursive: true, force: true });
      });

      it('refuses, with 403 and a log line, an identity header a berth sends from where the gateway trusts proxies', async () => {
        if (!rootless) {
          // Rootful, the host's own end of alice's bridge is a proxy like any other: believed, and it reaches alice's berth.
          const proxied = await httpRequest(`${gateway.base}/`, { headers: { 'X-Forwarded-Preferred-Username': 'alice' }, timeoutMs: 60_000 });
          assert.equal(`${proxied.status} ${proxied.body.trim()}`, '200 hello alice', JSON.stringify(gateway.lines));
        }
        for (const header of ['X-Forwarded-Preferred-Username: bob', 'X-Forwarded-Preferred-Username: alice', 'X-Forwarded-Email: bob@example.org']) {
          const reply = await fromInside(`${gateway.base}/_berth/api/me`, [header]);
          assert.equal(reply.status, '403', `${header} from inside alice's berth: ${reply.output}`);
          assert.doesNotMatch(reply.output, /"user"/, 'no user is named in the answer');
        }
        const logged = gateway.lines.filter((line) => line.msg === 'identity header from a berth refused');
        assert.equal(logged.length, 3, JSON.stringify(gateway.lines));
        const peers = new Set(logged.map((line) => String(line.peer)));
        assert.equal(peers.size, 1, [...peers].join(', '));
        const [peer] = [...peers];
        if (rootless) assert.ok(trusted.includes(`${peer}/32`), `a rootless berth arrives from the host's trusted address, here ${peer}`);
        else assert.match(String(peer), /^(::ffff:)?10\.80\./, `a rootful berth arrives from its own address in the pool, here ${peer}`);
        // Without an identity header the berth is simply not signed in.
        assert.equal((await fromInside(`${gateway.base}/_berth/api/me`, [])).status, '401');
      });
    });
  }, on);
}

for (const on of [PODMAN, PODMAN_ROOTLESS]) await posingSuite(on);
