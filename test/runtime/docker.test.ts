import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { safeName } from '../../src/core/safeName.js';
import { createLogger } from '../../src/log/logger.js';
import { DockerRuntime } from '../../src/runtime/docker/dockerRuntime.js';
import { berthNetworkName, containerName } from '../../src/runtime/docker/names.js';
import { createRuntime } from '../../src/runtime/registry.js';
import { berthSpecFor } from '../../src/runtime/spec.js';
import type { BerthExit, BerthSpec, Runtime } from '../../src/runtime/types.js';
import { accepts, describeRuntimeConformance, eventually, run, within } from '../conformance/runtime.js';
import { bridgeOf } from '../helpers/bridge.js';
import { BUSYBOX, DEBIAN, ENGINES, LOOPBACK_SERVER, PODMAN_ROOTLESS, engineProxy, removeByPrefix, runPrefix, withEngine, type TestEngine } from '../helpers/docker.js';

/*
 * The docker runtime against each real engine that serves the Docker API
 * (Docker, and Podman's API service rootful and rootless) with the images built by
 * scripts/build-test-images.sh. Without an engine the tests skip locally and
 * fail in CI (CI=true), where .ci/run has started both.
 */

const SERVER = ['sh', '-c', 'exec busybox httpd -f -p "$PORT"'];
/** busybox httpd on the berth's own 127.0.0.1 only, serving "loopback\n" at /. */
const SLEEPER = ['sh', '-c', 'exec sleep 1000'];
const TEST_MS = 20_000;
const GRACE = 2;
const noProgress = () => undefined;

/** busybox nc: exits 0 once connected (stdin is empty), 1 when refused, dropped or not resolved within a second. */
function nc(host: string, port: number): string[] {
  return ['sh', '-c', 'exec nc -w 1 "$0" "$1" </dev/null', host, String(port)];
}

/** Every suite of this file, against one engine. */
function dockerRuntimeSuites(on: TestEngine): Promise<void> {
  const prefix = runPrefix();
  const network = `${prefix}-net`;

  function dockerConfig(overrides: Partial<NonNullable<ConfigInput['runtime']>['docker']> = {}) {
    return configSchema.parse({ runtime: { kind: 'docker', docker: { socket: on.socket, namePrefix: prefix, network, reach: 'network', ...overrides } } }).runtime.docker;
  }

  function makeRuntime(overrides: Parameters<typeof dockerConfig>[0] = {}): DockerRuntime {
    return new DockerRuntime({ docker: dockerConfig(overrides), instanceId: 'test-instance', stopGraceSeconds: GRACE, logger: createLogger('silent') });
  }

  function specFor(user: string, command: string[] | null, environment: ConfigInput['environment'] = {}): BerthSpec {
    return berthSpecFor(configSchema.parse({ environment: { image: BUSYBOX, ...environment, command } }), user);
  }

  const cleanup = () => removeByPrefix(prefix, [network], on);

  /** Where a connection to the main port of a berth went, once it accepts. */
  async function publishedMain(runtime: DockerRuntime, spec: BerthSpec): Promise<{ remoteAddress: string | undefined; remotePort: number | undefined }> {
    const port = await runtime.mainPort(spec.name);
    await eventually(() => accepts(() => runtime.connect(spec.name, port)), 'the published port to accept');
    const socket = (await runtime.connect(spec.name, port)) as Socket;
    const { remoteAddress, remotePort } = socket;
    socket.destroy();
    return { remoteAddress, remotePort };
  }

  const engineInspect = (name: string): Promise<Docker.ContainerInspectInfo> => on.client.getContainer(name).inspect();

  /**
   * A berth's addresses on every network it is on (IPv4, and IPv6 where the
   * network has it: the berth network on Docker, its own on Podman) and its
   * container name.
   */
  async function addressesOf(spec: BerthSpec): Promise<string[]> {
    const name = containerName(prefix, spec.name);
    const attached = Object.values((await engineInspect(name)).NetworkSettings.Networks);
    return [...attached.flatMap((n) => [n.IPAddress, n.GlobalIPv6Address]), name].filter((a): a is string => Boolean(a));
  }

  return withEngine(`${on.kind} runtime`, () => {
    describeRuntimeConformance(on.kind, async () => {
      const runtime = makeRuntime();
      return {
        runtime,
        specFor: (user, command) => specFor(user, command),
        serverCommand: SERVER,
        loopbackServerCommand: LOOPBACK_SERVER,
        isolatesBerths: { addressesOf: (spec) => addressesOf(spec), connectCommand: nc },
        cleanup: async () => {
          await runtime.close();
          await cleanup();
        },
      };
    });

    describe(`docker runtime on ${on.kind}`, () => {
      let runtime: DockerRuntime;
      const exits: BerthExit[] = [];

      before(() => {
        runtime = makeRuntime();
        runtime.onExit((exit) => exits.push(exit));
      });
      after(async () => {
        await runtime.close();
        await cleanup();
      });

      const start = async (spec: BerthSpec, on: Runtime = runtime) => {
        const observed = await within(on.ensure(spec, noProgress), TEST_MS, `ensure ${spec.name}`);
        assert.equal(observed.state, 'running');
        return observed;
      };
      const stop = (spec: BerthSpec, remove = false) => runtime.stop(spec.name, { remove, graceSeconds: GRACE });
      const shell = (spec: BerthSpec, script: string) => run(runtime, spec.name, ['sh', '-c', script]);

      it('is what the registry makes for runtime.kind docker', async () => {
        const made = createRuntime(configSchema.parse({ runtime: { kind: 'docker', docker: { socket: on.socket } } }), {
          dataDir: '/tmp/berth-registry-test',
          logger: createLogger('silent'),
          defaultCommand: ['true'],
        });
        assert.equal(made.kind, 'docker');
        await made.health();
        await made.close();
      });

      /** Rootless Podman on a cgroup v1 host cannot set resource limits (Berth then refuses them, see below). */
      const dropsLimits = async () => on.kind === 'podman-rootless' && ((await on.client.info()) as { CgroupVersion?: string }).CgroupVersion === '1';
      const LIMITS = { memory: '64m', cpus: 0.5, pids: 100 };

      it("names, labels, limits and hardens the container, with the home on a volume, as the engine's inspect shows", { timeout: TEST_MS }, async () => {
        const limited = !(await dropsLimits());
        const spec = specFor('inspect-me', SERVER, {
          ...(limited ? { limits: LIMITS } : {}),
          env: { GREETING: 'hello' },
          capabilities: ['CHOWN', 'KILL'],
        });
        const observed = await start(spec);
        const info = await engineInspect(`${prefix}-inspect-me`);
        assert.equal(info.Id, observed.id);
        assert.equal(info.Name, `/${prefix}-inspect-me`);
        // Podman names a locally stored image localhost/<name>; the berth still reports the image as configured.
        assert.equal(info.Config.Image, on.kind === 'docker' ? BUSYBOX : `localhost/${BUSYBOX}`);
        assert.equal(observed.image, BUSYBOX);
        assert.deepEqual(info.Config.Cmd, SERVER);
        assert.ok(info.Config.Env.includes('GREETING=hello'));
        assert.ok(info.Config.Env.includes('BERTH_USER=inspect-me'));
        assert.ok(info.Config.Env.includes('PORT=8080'));
        assert.equal(info.Config.Labels['berth.managed'], 'true');
        assert.equal(info.Config.Labels['berth.user'], 'inspect-me');
        assert.equal(info.Config.Labels['berth.instance'], 'test-instance');
        assert.equal(info.Config.Labels['berth.spec'], spec.hash);
        if (limited) {
          assert.equal(info.HostConfig.Memory, 64 * 1024 * 1024);
          assert.equal(info.HostConfig.NanoCpus, 500_000_000);
          assert.equal(info.HostConfig.PidsLimit, 100);
        }
        // Docker reports CapDrop ["ALL"] and CapAdd as asked, Podman the defaults it dropped and no CapAdd; what counts is what the berth holds: CHOWN (bit 0) and KILL (bit 5).
        assert.match((await shell(spec, 'grep -E "^Cap(Eff|Bnd)" /proc/1/status')).stdout, /^CapEff:\s+0+21\nCapBnd:\s+0+21\n$/m);
        assert.ok(info.HostConfig.SecurityOpt?.includes('no-new-privileges'));
        assert.equal(info.HostConfig.ReadonlyRootfs, false);
        const home = info.Mounts.find((m) => m.Destination === '/home/berth');
        assert.equal(home?.Type, 'volume');
        assert.equal(home?.Name, `${prefix}-inspect-me-home`);
        // Docker's berths share the berth network (its option keeps them apart), Podman's get one each (it cannot).
        const attachedTo = on.kind === 'docker' ? network : berthNetworkName(prefix, spec.name);
        assert.deepEqual(Object.keys(info.NetworkSettings.Networks), [attachedTo], 'attached to its berth network only');
        assert.ok(info.NetworkSettings.Networks[attachedTo]?.IPAddress, 'with an address there');
        await stop(spec, true);
      });

      it('refuses a berth whose limits the engine drops, leaving no container behind', { timeout: TEST_MS }, async (t) => {
        if (!(await dropsLimits())) {
          t.skip(`${on.kind} keeps resource limits (the test above checks them)`);
          return;
        }
        const spec = specFor('unlimited', SERVER, { limits: LIMITS });
        await assert.rejects(runtime.ensure(spec, noProgress), (err: Error & { code?: string; logMessage?: string }) => {
          assert.equal(err.code, 'config_invalid');
          assert.match(err.logMessage ?? '', /without environment\.limits\.memory, cpus, pids .*rootless Podman.*remove environment\.limits$/);
          return true;
        });
        assert.equal((await runtime.inspect(spec.name)).state, 'absent');
      });

      it('keeps the home across stop and start, and across removal and re-creation', { timeout: TEST_MS }, async () => {
        const spec = specFor('home-kept', SLEEPER);
        const first = await start(spec);
        assert.equal((await shell(spec, 'echo precious > "$HOME/file"')).code, 0);
        await stop(spec);
        await start(spec);
        assert.equal((await shell(spec, 'cat "$HOME/file"')).stdout, 'precious\n');
        await stop(spec, true);
        assert.equal((await runtime.inspect(spec.name)).state, 'absent');
        const again = await start(spec);
        assert.notEqual(again.id, first.id, 'a removed container is created anew');
        assert.equal((await shell(spec, 'cat "$HOME/file"')).stdout, 'precious\n');
        await stop(spec, true);
      });

      it('starts a stopped container whose spec still matches instead of re-creating it', { timeout: TEST_MS }, async () => {
        const spec = specFor('restart-me', SLEEPER);
        const first = await start(spec);
        await stop(spec);
        const stopped = await runtime.inspect(spec.name);
        assert.equal(stopped.state, 'stopped');
        assert.equal(stopped.id, first.id);
        const again = await start(spec);
        assert.equal(again.id, first.id);
        assert.ok((again.startedAt ?? 0) > (first.startedAt ?? 0));
        await stop(spec);
      });

      it('re-creates a stopped container whose spec changed, keeping the home', { timeout: TEST_MS }, async () => {
        const before = specFor('respec', SLEEPER);
        const first = await start(before);
        assert.equal((await shell(before, 'echo still-here > "$HOME/mark"')).code, 0);
        await stop(before);
        const changed = specFor('respec', SLEEPER, { env: { NEW: '1' } });
        const second = await start(changed);
        assert.notEqual(second.id, first.id);
        assert.equal(second.specHash, changed.hash);
        assert.equal((await shell(changed, 'cat "$HOME/mark"; echo "$NEW"')).stdout, 'still-here\n1\n');
        assert.ok(!exits.some((e) => e.name === changed.name), 'a re-creation is not an exit');
        await stop(changed);
      });

      it('makes one container however many ensures race for it', { timeout: TEST_MS }, async () => {
        const spec = specFor('racer', SLEEPER);
        const results = await Promise.all(Array.from({ length: 10 }, () => start(spec)));
        assert.equal(new Set(results.map((r) => r.id)).size, 1);
        const containers = await on.client.listContainers({ all: true, filters: { name: [`${prefix}-racer`] } });
        assert.equal(containers.length, 1);
        await stop(spec, true);
      });

      it('reports a command that exits 3 with its code, finish time and output', { timeout: TEST_MS }, async () => {
        // The engine orders stdout and stderr lines by time, so they are written apart.
        const spec = specFor('exit-three', ['sh', '-c', 'echo "on stderr" >&2; sleep 0.2; echo "going down"; exit 3']);
        await runtime.ensure(spec, noProgress);
        const exit = await eventually(async () => exits.find((e) => e.name === spec.name), 'the exit event');
        assert.equal(exit.exitCode, 3);
        const observed = await runtime.inspect(spec.name);
        assert.equal(observed.state, 'exited');
        assert.equal(observed.exitCode, 3);
        assert.ok(observed.finishedAt !== null && observed.finishedAt >= (observed.startedAt ?? 0));
        assert.deepEqual(await runtime.logs(spec.name, 10), ['on stderr', 'going down']);
        assert.deepEqual(await runtime.logs(spec.name, 1), ['going down']);
        await stop(spec, true);
      });

      it('gives unicode and "../" usernames valid, distinct container names', { timeout: TEST_MS }, async () => {
        const users = ['Zoë', 'zoë', '../etc', '../../ETC', 'ℌ𝔢𝔩𝔩𝔬 wörld'];
        const specs = users.map((user) => specFor(user, SLEEPER));
        await Promise.all(specs.map((spec) => start(spec)));
        const names = await Promise.all(specs.map(async (spec) => (await engineInspect(`${prefix}-${spec.name}`)).Name.slice(1)));
        assert.equal(new Set(names).size, users.length);
        for (const [i, name] of names.entries()) {
          assert.match(name, /^[a-z0-9][a-z0-9-]{0,62}$/, `${JSON.stringify(users[i])} gives ${name}`);
          assert.equal(name, `${prefix}-${safeName(users[i] as string)}`);
          assert.equal((await engineInspect(name)).Config.Labels['berth.user'], users[i]);
        }
        await Promise.all(specs.map((spec) => stop(spec, true)));
      });

      it('lists its running berths for a gateway that restarted, with ids and start times', { timeout: TEST_MS }, async () => {
        const spec = specFor('adopt-me', SLEEPER);
        const started = await start(spec);
        const restarted = makeRuntime();
        const listed = (await restarted.list()).find((b) => b.name === spec.name);
        assert.ok(listed, 'the running berth is listed');
        assert.equal(listed.state, 'running');
        assert.equal(listed.id, started.id);
        assert.equal(listed.user, 'adopt-me');
        assert.equal(listed.startedAt, started.startedAt);
        assert.equal(await restarted.mainPort(spec.name), await runtime.mainPort(spec.name));
        await restarted.close();
        await stop(spec);
      });

      it('publishes the main port on 127.0.0.1 in published mode, dialled there when the gateway does not enter the namespace', { timeout: TEST_MS }, async () => {
        const published = makeRuntime({ reach: 'published', enterNamespace: 'off' });
        const spec = specFor('published', SERVER);
        await start(spec, published);
        const socket = await publishedMain(published, spec);
        assert.equal(socket.remoteAddress, '127.0.0.1');
        assert.notEqual(socket.remotePort, 8080, 'the engine picked the host port');
        await published.stop(spec.name, { remove: true, graceSeconds: GRACE });
        await published.close();
      });

      it("keeps a berth from another's published port: bound on 127.0.0.1 only, closed at the host's bridge address", { timeout: TEST_MS }, async (t) => {
        if (on.kind === 'podman-rootless') {
          t.skip("rootless Podman's bridge lives in the user's own network namespace: the host has no address on it to listen or be reached at");
          return;
        }
        // Dialled at the published port, not from inside the namespace, so the test learns which port the engine picked.
        const published = makeRuntime({ reach: 'published', enterNamespace: 'off' });
        const [bob, alice] = [specFor('published-bob', SERVER), specFor('published-alice', SLEEPER)];
        await Promise.all([start(bob, published), start(alice, published)]);
        const { remotePort: publishedPort } = await publishedMain(published, bob);
        assert.ok(publishedPort, 'the gateway reaches the published port');
        const portBindings = (await engineInspect(containerName(prefix, bob.name))).HostConfig.PortBindings as Record<string, Array<{ HostIp: string }>>;
        const bindings = Object.values(portBindings).flat();
        assert.deepEqual(bindings.map((b) => b.HostIp), ['127.0.0.1'], 'published on loopback only');
        // A listener of the host's on the bridge address (of alice's network: the berth network, or her own on Podman) shows alice can reach the host there at all.
        const [aliceNetwork = network] = Object.keys((await engineInspect(containerName(prefix, alice.name))).NetworkSettings.Networks);
        const { hostAddress } = await bridgeOf(aliceNetwork, on.client);
        const host = createServer((socket) => socket.destroy());
        await new Promise<void>((resolve) => host.listen(0, hostAddress, resolve));
        const hostPort = (host.address() as AddressInfo).port;
        try {
          assert.equal((await run(published, alice.name, nc(hostAddress, hostPort))).code, 0, "alice reaches the host's listener on the bridge address");
          assert.notEqual((await run(published, alice.name, nc(hostAddress, publishedPort))).code, 0, "alice reached bob's published port");
          assert.notEqual((await run(published, alice.name, nc('127.0.0.1', publishedPort))).code, 0, "alice's loopback is her own");
        } finally {
          host.close();
          await Promise.all([bob, alice].map((spec) => published.stop(spec.name, { remove: true, graceSeconds: GRACE })));
          await published.close();
        }
      });

      it('re-creates a container made for another reach mode', { timeout: TEST_MS }, async () => {
        const spec = specFor('switch-reach', SERVER);
        const first = await start(spec);
        await stop(spec);
        const published = makeRuntime({ reach: 'published', enterNamespace: 'off' });
        const second = await start(spec, published);
        assert.notEqual(second.id, first.id);
        assert.equal((await publishedMain(published, spec)).remoteAddress, '127.0.0.1');
        await published.stop(spec.name, { remove: true, graceSeconds: GRACE });
        await published.close();
      });

      it('runs the login shell from /etc/passwd in the home when no command is given', { timeout: TEST_MS }, async () => {
        const spec = specFor('login-shell', SLEEPER, { image: DEBIAN });
        await start(spec);
        const exec = await runtime.exec(spec.name, { command: null, env: {}, tty: null });
        exec.stdin.end('echo "shell=$0 bash=${BASH_VERSION:+yes} pwd=$(pwd)"; exit 4\n');
        let out = '';
        exec.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        exec.stderr.resume();
        assert.deepEqual(await within(exec.exited, TEST_MS, 'the shell'), { code: 4, signal: null });
        assert.equal(out, 'shell=/bin/bash bash=yes pwd=/home/berth\n');
        const tools = await run(runtime, spec.name, ['sh', '-c', 'command -v python3 && test -x /usr/lib/openssh/sftp-server']);
        assert.equal(tools.code, 0, 'the debian test image has python3 and sftp-server');
        await stop(spec, true);
      });

      it('refuses a mount outside runtime.docker.allowedMounts before creating anything', { timeout: TEST_MS }, async () => {
        const spec = specFor('mounter', SLEEPER, { mounts: [{ source: '/etc', target: '/host-etc', readOnly: true }] });
        await assert.rejects(runtime.ensure(spec, noProgress), (err: Error & { code?: string; userMessage?: string }) => {
          assert.equal(err.code, 'config_invalid');
          assert.match(err.userMessage ?? '', /mounting \/etc is not allowed/);
          return true;
        });
        assert.equal((await runtime.inspect(spec.name)).state, 'absent');
        const allowing = makeRuntime({ allowedMounts: ['/etc'] });
        await start(spec, allowing);
        assert.equal((await run(allowing, spec.name, ['test', '-f', '/host-etc/passwd'])).code, 0);
        await allowing.stop(spec.name, { remove: true, graceSeconds: GRACE });
        await allowing.close();
      });

      it('says in one line that an image is missing and cannot be pulled', { timeout: 60_000 }, async () => {
        const spec = specFor('no-image', SLEEPER, { image: `berth-test/${prefix}-absent:never` });
        const steps: string[] = [];
        await assert.rejects(runtime.ensure(spec, (step) => steps.push(step)), (err: Error & { code?: string; userMessage?: string }) => {
          assert.equal(err.code, 'spawn_failed');
          assert.match(err.message, new RegExp(`^image berth-test/${prefix}-absent:never not found locally and could not be pulled: \\S`));
          assert.doesNotMatch(err.message, /\n/);
          return true;
        });
        assert.deepEqual(steps, ['pulling']);
      });

      it('recovers by itself when the engine goes away and comes back, and reports an exit it missed', { timeout: 40_000 }, async () => {
        const proxy = engineProxy(join(tmpdir(), `${prefix}-engine.sock`), on);
        await proxy.up();
        const flaky = makeRuntime({ socket: proxy.path });
        const seen: BerthExit[] = [];
        flaky.onExit((exit) => seen.push(exit));
        const spec = specFor('flaky', SLEEPER);
        const started = await start(spec, flaky);
        await proxy.down();
        await assert.rejects(flaky.health(), (err: Error & { code?: string; userMessage?: string }) => {
          assert.equal(err.code, 'runtime_unavailable');
          assert.ok(err.userMessage?.includes(`unix://${proxy.path}`));
          return true;
        });
        await assert.rejects(flaky.inspect(spec.name), { code: 'runtime_unavailable' });
        // The berth dies while the runtime cannot hear of it.
        await on.client.getContainer(started.id as string).kill();
        await proxy.up();
        await eventually(() => flaky.health().then(() => true, () => false), 'health to recover');
        const exit = await eventually(async () => seen.find((e) => e.name === spec.name), 'the missed exit', 20_000);
        assert.equal(exit.exitCode, 137);
        const again = await start(spec, flaky);
        assert.equal(again.id, started.id, 'started again, not re-created');
        await flaky.stop(spec.name, { remove: true, graceSeconds: GRACE });
        await flaky.close();
        await proxy.down();
      });

      it('is unavailable, naming the engine and the error, when the engine cannot be reached', async () => {
        for (const socket of ['/nonexistent/docker.sock', 'tcp://127.0.0.1:1']) {
          const gone = makeRuntime({ socket });
          const attempts = [() => gone.health(), () => gone.ensure(specFor('unreachable', SLEEPER), noProgress), () => gone.list()];
          for (const attempt of attempts) {
            await assert.rejects(attempt(), (err: Error & { code?: string; userMessage?: string }) => {
              assert.equal(err.code, 'runtime_unavailable');
              const where = socket.startsWith('/') ? `unix://${socket}` : socket;
              assert.ok(err.userMessage?.includes(where), `${err.userMessage} names ${where}`);
              assert.match(err.message, /ENOENT|ECONNREFUSED/);
              return true;
            });
          }
          await gone.close();
        }
      });
    });
  });
}

// Rootless Podman runs the runtime's own suites only: above the runtime it is the same gateway again.
for (const on of [...ENGINES, PODMAN_ROOTLESS]) await dockerRuntimeSuites(on);
