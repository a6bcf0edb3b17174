import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ISOLATION_OPTION } from '../../src/runtime/docker/network.js';
import { bridgeOf, connectsFrom, listenerOn } from '../helpers/bridge.js';
import { BUSYBOX, engine, removeByPrefix, runPrefix, withEngine } from '../helpers/docker.js';
import { writeGatewayConfig } from '../helpers/gatewayConfig.js';
import { eventually, httpRequest } from '../helpers/http.js';
import { berthServe, stopServe, type Served } from '../helpers/serve.js';

/*
 * The README's recipe for "berths may reach only the gateway", run as
 * written: an `internal` berth network with inter-container communication
 * off and a bridge name of its own, and three host firewall rules on that
 * bridge. "The rest of the network" is a listener in a network namespace
 * behind a veth pair, reached through the host's forwarding as a LAN host
 * would be; "another service on the host" listens beside the gateway. A plain
 * container on an ordinary network reaches both, so the refusals are the
 * recipe's doing.
 */

const run = promisify(execFile);
const prefix = runPrefix();
const network = `${prefix}-net`;
const control = `${prefix}-open`;
const bridge = `${prefix}-br`;
const namespace = `${prefix}-lan`;
// A /30 in 198.18.0.0/15 (set aside for network tests) per run.
const lanBase = `198.${18 + randomInt(2)}.${randomInt(256)}.${4 * randomInt(64)}`;
const lanHost = lanBase.replace(/\d+$/, (last) => String(Number(last) + 1));
const lanPeer = lanBase.replace(/\d+$/, (last) => String(Number(last) + 2));
const LAN_PORT = 8099;
const GREETER = 'mkdir -p /tmp/www && echo "hello $BERTH_USER" > /tmp/www/index.html && exec httpd -f -p "$PORT" -h /tmp/www';

const ip = (...args: string[]) => run('ip', args);

/** The recipe's rules, in the order `iptables -I INPUT <n>` puts them. */
const firewall = (gatewayPort: number): string[][] => [
  ['-i', bridge, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
  ['-i', bridge, '-p', 'tcp', '--dport', String(gatewayPort), '-j', 'ACCEPT'],
  ['-i', bridge, '-j', 'DROP'],
];

await withEngine('berths that may reach only the gateway', () => {
  describe('berths that may reach only the gateway', { timeout: 120_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-e2e-outbound-'));
    let gateway: Served | undefined;
    let lan: ChildProcess | undefined;
    let hostService: Server | undefined;
    let rules: string[][] = [];
    let hostAddress = '';
    let hostServicePort = 0;

    before(async () => {
      // "The rest of the network": a namespace behind a veth pair, routed by the host.
      await ip('netns', 'add', namespace);
      await ip('link', 'add', `${prefix}h`, 'type', 'veth', 'peer', 'name', `${prefix}l`);
      await ip('link', 'set', `${prefix}l`, 'netns', namespace);
      await ip('addr', 'add', `${lanHost}/30`, 'dev', `${prefix}h`);
      await ip('link', 'set', `${prefix}h`, 'up');
      await ip('-n', namespace, 'addr', 'add', `${lanPeer}/30`, 'dev', `${prefix}l`);
      await ip('-n', namespace, 'link', 'set', `${prefix}l`, 'up');
      await ip('-n', namespace, 'route', 'add', 'default', 'via', lanHost);
      const serve = `require('node:net').createServer((s) => s.end('lan\\n')).listen(${LAN_PORT}, '${lanPeer}', () => console.log('up'))`;
      lan = spawn('ip', ['netns', 'exec', namespace, process.execPath, '-e', serve], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise((resolve) => lan?.stdout?.once('data', resolve));

      // The recipe: the network, then the firewall rules for its bridge.
      await engine.createNetwork({
        Name: network,
        Driver: 'bridge',
        Internal: true,
        Options: { [ISOLATION_OPTION]: 'false', 'com.docker.network.bridge.name': bridge },
      });
      ({ hostAddress } = await bridgeOf(network));
      const { port, proxyAddress } = await listenerOn(hostAddress);
      rules = firewall(port);
      for (const [index, rule] of rules.entries()) await run('iptables', ['-I', 'INPUT', String(index + 1), ...rule]);

      hostService = createServer((s) => s.end('host\n'));
      await new Promise<void>((resolve) => hostService?.listen(0, hostAddress, resolve));
      hostServicePort = (hostService.address() as { port: number }).port;

      // The control: an ordinary network (berths still apart), no rules.
      await engine.createNetwork({ Name: control, Driver: 'bridge', Options: { [ISOLATION_OPTION]: 'false' } });
      const open = await engine.createContainer({ name: `${prefix}-open`, Image: BUSYBOX, Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: control } });
      await open.start();

      const configFile = join(dir, 'berth.yaml');
      writeGatewayConfig(configFile, {
        auth: { mode: 'header', header: { trustedProxies: [`${proxyAddress}/32`] } },
        runtime: { kind: 'docker', docker: { namePrefix: prefix, network, reach: 'network' } },
        environment: { image: BUSYBOX, command: ['sh', '-c', GREETER] },
      });
      gateway = await berthServe(['--config', configFile], { BERTH_LISTEN_HTTP: `${hostAddress}:${port}` });
    });

    after(async () => {
      if (gateway) await stopServe(gateway, 'SIGKILL');
      for (const rule of rules) await run('iptables', ['-D', 'INPUT', ...rule]).catch(() => undefined);
      hostService?.close();
      lan?.kill();
      await ip('link', 'del', `${prefix}h`).catch(() => undefined);
      await ip('netns', 'del', namespace).catch(() => undefined);
      await removeByPrefix(prefix, [network, control]);
      rmSync(dir, { recursive: true, force: true });
    });

    it('lets the ordinary network reach the LAN and host services, so the refusals below are the recipe\'s', async () => {
      assert.equal(await connectsFrom(`${prefix}-open`, lanPeer, LAN_PORT), true, 'an ordinary container reaches the LAN');
      assert.equal(await connectsFrom(`${prefix}-open`, hostAddress, hostServicePort), true, 'and a service on the host');
    });

    it('lets a berth on the internal network reach the gateway, and nothing else on the host or beyond it', async () => {
      assert.ok(gateway);
      const proxied = await httpRequest(`${gateway.base}/`, { headers: { 'X-Forwarded-Preferred-Username': 'alice' }, timeoutMs: 60_000 });
      assert.equal(`${proxied.status} ${proxied.body.trim()}`, '200 hello alice', 'the gateway still reaches the berth through the rules');
      const alice = `${prefix}-alice`;
      const health = await eventually(
        () => run('docker', ['exec', alice, 'wget', '-q', '-O', '-', `${gateway?.base}/_berth/healthz`]).then((r) => r.stdout, () => undefined),
        5_000,
        'the gateway to answer from inside the berth',
      );
      assert.deepEqual(JSON.parse(health), { status: 'ok', runtime: 'docker' }, 'the gateway answered the berth');
      assert.equal(await connectsFrom(alice, lanPeer, LAN_PORT), false, 'the berth reached the LAN');
      assert.equal(await connectsFrom(alice, hostAddress, hostServicePort), false, 'the berth reached another service on the host');
    });
  });
});
