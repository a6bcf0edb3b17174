import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { BerthError } from '../../src/core/errors.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { DockerRuntime } from '../../src/runtime/docker/dockerRuntime.js';
import { berthNetworkName, containerName } from '../../src/runtime/docker/names.js';
import { removeOrphanNetworks } from '../../src/runtime/docker/ownNetworks.js';
import { berthSpecFor } from '../../src/runtime/spec.js';
import type { BerthSpec } from '../../src/runtime/types.js';
import { captureLogger } from '../auth/helpers.js';
import { accepts, eventually, reachesEveryTry, run } from '../conformance/runtime.js';
import { bridgeOf } from '../helpers/bridge.js';
import { BUSYBOX, PODMAN, PODMAN_ROOTLESS, removeByPrefix, runPrefix, withEngine, type TestEngine } from '../helpers/docker.js';

/*
 * Berths on Podman, each on a network of its own (src/runtime/docker/ownNetworks.ts),
 * rootful and rootless, against the real Podman service .ci/run starts: the
 * network as Podman's own CLI shows it, its clean-up with the berth and
 * after a failed start, adoption by a restarted gateway, and the failures
 * guarded: Podman 4.3 forgetting the isolate option after a Docker API
 * client lists networks, and a berth network that does not isolate at all.
 */

const TEST_MS = 30_000;
const POOL = '10.80.0.0/16';
const SERVER = ['sh', '-c', 'exec busybox httpd -f -p "$PORT"'];
const SLEEPER = ['sh', '-c', 'exec sleep 1000'];

/** busybox nc: exits 0 once connected within a second. */
const nc = (host: string, port: number) => ['sh', '-c', 'exec nc -w 1 "$0" "$1" </dev/null', host, String(port)];

function podmanSuite(on: TestEngine): Promise<void> {
  const prefix = runPrefix();
  const runtimes: DockerRuntime[] = [];
  const makeRuntime = (overrides: Record<string, unknown> = {}, logger: Logger = createLogger('silent')) => {
    const docker = configSchema.parse({ runtime: { kind: 'docker', docker: { socket: on.socket, namePrefix: prefix, network: `${prefix}-net`, reach: 'network', subnetPool: POOL, ...overrides } } }).runtime.docker;
    const runtime = new DockerRuntime({ docker, instanceId: 'test-instance', stopGraceSeconds: 1, logger });
    runtimes.push(runtime);
    return runtime;
  };
  const specFor = (user: string, command: string[]): BerthSpec => berthSpecFor(configSchema.parse({ environment: { image: BUSYBOX, command } }), user);
  /** Podman's own CLI, for a second opinion on what the runtime made (and to make what Berth would not). */
  const podman = async (...args: string[]): Promise<string> => (await promisify(execFile)(on.cli[0] as string, [...on.cli.slice(1), ...args])).stdout;
  const networkOf = async (network: string) =>
    JSON.parse(await podman('network', 'inspect', network))[0] as { options?: Record<string, string>; labels?: Record<string, string>; subnets: Array<{ subnet: string; gateway: string }>; internal: boolean };
  const networkExists = (network: string) => podman('network', 'exists', network).then(() => true, () => false);
  const addressOf = async (spec: BerthSpec) => {
    const info = await on.client.getContainer(containerName(prefix, spec.name)).inspect();
    return info.NetworkSettings.Networks[berthNetworkName(prefix, spec.name)]?.IPAddress as string;
  };
  /** Once `server` accepts on its main port: that port at its address, and whether `berth` reaches it there (on every try, see reachesEveryTry). */
  const reachProbe = async (runtime: DockerRuntime, server: BerthSpec) => {
    const port = await runtime.mainPort(server.name);
    await eventually(() => accepts(() => runtime.connect(server.name, port)), `${server.name}'s server to accept`);
    const at = await addressOf(server);
    return { at, port, reachedBy: (berth: BerthSpec) => reachesEveryTry(async () => (await run(runtime, berth.name, nc(at, port))).code === 0) };
  };

  return withEngine(`berths on ${on.kind}, each on a network of its own`, () => {
    describe(`berths on ${on.kind}, each on a network of its own`, { timeout: 120_000 }, () => {
      after(async () => {
        await Promise.all(runtimes.map((r) => r.close()));
        await removeByPrefix(prefix, [], on);
      });

      it('gives a berth a network of its own with isolate on and a /29 from runtime.docker.subnetPool, kept across stop, removed with the berth', { timeout: TEST_MS }, async () => {
        const runtime = makeRuntime();
        const spec = specFor('own-net', SLEEPER);
        await runtime.ensure(spec, () => undefined);
        const network = berthNetworkName(prefix, spec.name);
        const made = await networkOf(network);
        assert.equal(made.options?.isolate, 'true', JSON.stringify(made));
        assert.deepEqual([made.labels?.['berth.managed'], made.labels?.['berth.name']], ['true', spec.name]);
        const [subnet] = made.subnets;
        assert.match(subnet?.subnet ?? '', /^10\.80\.\d+\.\d+\/29$/);
        const info = await on.client.getContainer(containerName(prefix, spec.name)).inspect();
        assert.deepEqual(Object.keys(info.NetworkSettings.Networks), [network], 'on its own network only');
        const address = await addressOf(spec);
        assert.equal(runtime.isBerthAddress(address), true, `${address} is a berth's`);
        assert.equal(runtime.isBerthAddress(subnet?.gateway), false, `${subnet?.gateway}, the host's end of the bridge, is not`);
        assert.equal(runtime.isBerthAddress('127.0.0.1'), false, 'loopback is never a berth');
        await runtime.stop(spec.name, { remove: false, graceSeconds: 1 });
        assert.equal(await networkExists(network), true, 'a stopped berth keeps its network');
        await runtime.ensure(spec, () => undefined);
        assert.equal((await networkOf(network)).subnets[0]?.subnet, subnet?.subnet, 'and starts on it again');
        await runtime.stop(spec.name, { remove: true, graceSeconds: 1 });
        assert.equal(await networkExists(network), false, 'a removed berth takes its network with it');
      });

      it('starts a berth with its isolation after a Docker API client listed networks, which makes Podman 4.3 forget the isolate option', { timeout: TEST_MS }, async () => {
        const runtime = makeRuntime();
        const [alice, bob] = [specFor('forgot-alice', SERVER), specFor('forgot-bob', SLEEPER)];
        await Promise.all([runtime.ensure(alice, () => undefined), runtime.ensure(bob, () => undefined)]);
        await runtime.stop(bob.name, { remove: false, graceSeconds: 1 });
        // What `docker network ls` against Podman's socket does.
        await on.client.listNetworks();
        await runtime.ensure(bob, () => undefined);
        const aliceServer = await reachProbe(runtime, alice);
        assert.equal((await run(runtime, alice.name, nc(aliceServer.at, aliceServer.port))).code, 0, 'alice reaches her own port at her address');
        assert.equal(await aliceServer.reachedBy(bob), false, "bob reached alice's port after the listing");
        await Promise.all([alice, bob].map((spec) => runtime.stop(spec.name, { remove: true, graceSeconds: 1 })));
      });

      it("keeps berths apart after another berth stops, which makes netavark 1.4 drop the rule every isolated network shares", { timeout: TEST_MS }, async () => {
        const runtime = makeRuntime();
        const [alice, bob, carol, dave] = [specFor('kept-alice', SERVER), specFor('kept-bob', SLEEPER), specFor('kept-carol', SLEEPER), specFor('kept-dave', SLEEPER)];
        runtime.onExit(() => undefined);
        await Promise.all([alice, bob, carol, dave].map((spec) => runtime.ensure(spec, () => undefined)));
        const aliceServer = await reachProbe(runtime, alice);
        const bobReachesAlice = () => aliceServer.reachedBy(bob);
        assert.equal(await bobReachesAlice(), false, 'apart while all four run');
        // The rule comes back within a moment of each stop (a real hole stays open: the wait then times out).
        await runtime.stop(carol.name, { remove: false, graceSeconds: 1 });
        await eventually(async () => !(await bobReachesAlice()), 'bob to stop reaching alice once carol was stopped through the runtime');
        // Stopped by someone else: the runtime learns it from the engine's events.
        await podman('stop', '-t', '0', containerName(prefix, dave.name));
        await eventually(async () => !(await bobReachesAlice()), 'bob to stop reaching alice once dave was stopped outside the runtime');
        await runtime.stop(alice.name, { remove: true, graceSeconds: 1 });
        await runtime.stop(bob.name, { remove: true, graceSeconds: 1 });
        await runtime.stop(carol.name, { remove: true, graceSeconds: 1 });
        await runtime.stop(dave.name, { remove: true, graceSeconds: 1 });
      });

      it('keeps berths apart after a container that is no berth stops on an isolated network of its own, which drops the shared rule too', { timeout: TEST_MS }, async () => {
        const runtime = makeRuntime();
        const [alice, bob] = [specFor('foreign-alice', SERVER), specFor('foreign-bob', SLEEPER)];
        await Promise.all([alice, bob].map((spec) => runtime.ensure(spec, () => undefined)));
        const aliceServer = await reachProbe(runtime, alice);
        const bobReachesAlice = () => aliceServer.reachedBy(bob);
        // Another program's container, on an isolated network of its own, made and stopped with Podman's CLI.
        const foreign = `${prefix}-not-a-berth`;
        await podman('network', 'create', '--opt', 'isolate=true', foreign);
        try {
          await podman('run', '-d', '--name', foreign, '--network', foreign, BUSYBOX, 'sleep', '1000');
          await podman('stop', '-t', '0', foreign);
          await eventually(async () => !(await bobReachesAlice()), 'bob to stop reaching alice once a container that is no berth stopped');
        } finally {
          await podman('rm', '-f', foreign).catch(() => undefined);
          await podman('network', 'rm', '-f', foreign).catch(() => undefined);
        }
        await Promise.all([alice, bob].map((spec) => runtime.stop(spec.name, { remove: true, graceSeconds: 1 })));
      });

      it('is adopted by a restarted gateway on its own network: listed, reached and not re-created', { timeout: TEST_MS }, async () => {
        const first = makeRuntime();
        const spec = specFor('adopted', SERVER);
        const started = await first.ensure(spec, () => undefined);
        await first.close();
        const second = makeRuntime();
        await second.prepare();
        assert.ok((await second.list()).some((b) => b.name === spec.name && b.state === 'running'), 'listed as running');
        const port = await second.mainPort(spec.name);
        assert.equal(await eventually(() => accepts(() => second.connect(spec.name, port)), 'the adopted berth to accept'), true);
        assert.equal((await second.ensure(spec, () => undefined)).id, started.id, 'the same container');
        assert.equal(second.isBerthAddress(await addressOf(spec)), true, 'its address is known as a berth');
        await second.stop(spec.name, { remove: true, graceSeconds: 1 });
      });

      it('removes berth networks left without their containers, once old enough, and nothing else', { timeout: TEST_MS }, async () => {
        const runtime = makeRuntime();
        const kept = specFor('sweep-kept', SLEEPER);
        await runtime.ensure(kept, () => undefined);
        await runtime.stop(kept.name, { remove: false, graceSeconds: 1 });
        // As a start that failed after making the network leaves it, and one of another gateway's prefix.
        const orphan = berthNetworkName(prefix, 'sweep-orphan');
        const foreign = berthNetworkName(`${prefix}x`, 'sweep-orphan');
        for (const [network, name] of [[orphan, 'sweep-orphan'], [foreign, 'sweep-orphan']] as const) {
          await podman('network', 'create', '--label', 'berth.managed=true', '--label', `berth.name=${name}`, network);
        }
        const logger = createLogger('silent');
        assert.deepEqual(await removeOrphanNetworks(on.client, prefix, logger), [], 'nothing as young as a start in progress');
        assert.deepEqual(await removeOrphanNetworks(on.client, prefix, logger, Date.now() + 120_000), [orphan]);
        assert.equal(await networkExists(berthNetworkName(prefix, kept.name)), true, "a stopped berth's network stays");
        assert.equal(await networkExists(foreign), true, "another prefix's network is not this gateway's");
        await podman('network', 'rm', foreign);
        await runtime.stop(kept.name, { remove: true, graceSeconds: 1 });
      });

      it('makes berth networks internal when the operator made runtime.docker.network internal: the gateway reaches the berth, the berth not the host beyond its bridge', { timeout: TEST_MS }, async () => {
        const template = `${prefix}-internal`;
        await podman('network', 'create', '--internal', template);
        const cutOff = makeRuntime({ network: template });
        const ordinary = makeRuntime();
        const [inside, outside] = [specFor('internal-in', SERVER), specFor('internal-out', SLEEPER)];
        await Promise.all([cutOff.ensure(inside, () => undefined), ordinary.ensure(outside, () => undefined)]);
        const made = await networkOf(berthNetworkName(prefix, inside.name));
        assert.equal(made.internal, true, JSON.stringify(made));
        assert.equal(made.options?.isolate, 'true');
        assert.equal(cutOff.isBerthAddress(await addressOf(inside)), true, 'the berth has its address, not the host end of the bridge');
        const port = await cutOff.mainPort(inside.name);
        assert.equal(await eventually(() => accepts(() => cutOff.connect(inside.name, port)), 'the gateway to reach the internal berth'), true);
        // A listener of the host's on the Docker bridge: an ordinary berth reaches it, an internal one does not.
        const { hostAddress } = await bridgeOf('bridge');
        const host = createServer((socket) => socket.destroy());
        await new Promise<void>((resolve) => host.listen(0, hostAddress, resolve));
        const hostPort = (host.address() as AddressInfo).port;
        try {
          assert.equal((await run(ordinary, outside.name, nc(hostAddress, hostPort))).code, 0, 'an ordinary berth reaches the host');
          assert.notEqual((await run(cutOff, inside.name, nc(hostAddress, hostPort))).code, 0, 'the internal berth reached the host beyond its bridge');
        } finally {
          host.close();
          await cutOff.stop(inside.name, { remove: true, graceSeconds: 1 });
          await ordinary.stop(outside.name, { remove: true, graceSeconds: 1 });
          await podman('network', 'rm', template);
        }
      });

      it('refuses a berth network without isolate, saying what to do, and runs on it with one warning when allowUnisolatedBerths accepts that', { timeout: TEST_MS }, async () => {
        const spec = specFor('no-isolate', SLEEPER);
        const network = berthNetworkName(prefix, spec.name);
        const handMade = () => podman('network', 'create', '--label', 'berth.managed=true', '--label', `berth.name=${spec.name}`, network);
        await handMade();
        const refusing = makeRuntime();
        await assert.rejects(refusing.ensure(spec, () => undefined), (err: BerthError) => {
          assert.equal(err.code, 'runtime_unavailable');
          assert.match(err.logMessage, new RegExp(`network ${network} without Podman's isolate option`));
          assert.match(err.logMessage, /run Podman 4 or later with netavark .*or set runtime\.docker\.allowUnisolatedBerths: true/);
          return true;
        });
        assert.equal((await on.client.listContainers({ all: true, filters: { name: [containerName(prefix, spec.name)] } })).length, 0, 'no container made');
        assert.equal(await networkExists(network), false, 'the useless network removed');

        await handMade();
        const log = captureLogger();
        const accepting = makeRuntime({ allowUnisolatedBerths: true }, log.logger);
        assert.equal((await accepting.ensure(spec, () => undefined)).state, 'running');
        await accepting.stop(spec.name, { remove: false, graceSeconds: 1 });
        await accepting.ensure(spec, () => undefined);
        const warnings = log
          .text()
          .split('\n')
          .filter((line) => line.includes("berths can reach each other's ports"));
        assert.equal(warnings.length, 1, `one warning: ${log.text()}`);
        await accepting.stop(spec.name, { remove: true, graceSeconds: 1 });
      });
    });
  }, on);
}

for (const on of [PODMAN, PODMAN_ROOTLESS]) await podmanSuite(on);
