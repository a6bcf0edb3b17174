import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { DockerRuntime } from '../../src/runtime/docker/dockerRuntime.js';
import { NamespaceRelay } from '../../src/runtime/namespaceRelay.js';
import { berthSpecFor } from '../../src/runtime/spec.js';
import type { BerthSpec } from '../../src/runtime/types.js';
import { eventually, run, within } from '../conformance/runtime.js';
import { httpThrough } from '../helpers/http.js';
import { BUSYBOX, DEBIAN, engine, LOOPBACK_SERVER, removeByPrefix, runPrefix, withEngine } from '../helpers/docker.js';

/*
 * The docker runtime's way into a berth's own loopback (a relay in the
 * container's network namespace), and what must never get wider through it:
 * no forward lands in the gateway's namespace or another berth's, the relay
 * dials only the berth's own addresses, no byte is lost on the hand-over.
 */

const MAIN = ['sh', '-c', 'exec busybox httpd -f -p "$PORT"'];
const TEST_MS = 30_000;
const GRACE = 1;
const prefix = runPrefix();
const network = `${prefix}-net`;

function makeRuntime(overrides: Partial<NonNullable<ConfigInput['runtime']>['docker']> = {}): DockerRuntime {
  const docker = configSchema.parse({ runtime: { kind: 'docker', docker: { namePrefix: prefix, network, reach: 'network', ...overrides } } }).runtime.docker;
  return new DockerRuntime({ docker, instanceId: 'test-instance', stopGraceSeconds: GRACE, logger: createLogger('silent') });
}

function specFor(user: string, image = BUSYBOX, command = MAIN): BerthSpec {
  return berthSpecFor(configSchema.parse({ environment: { image, command } }), user);
}

/** Starts busybox httpd on `address:port` inside the berth, serving `body` at /. */
async function serveInBerth(runtime: DockerRuntime, spec: BerthSpec, address: string, port: number, body: string): Promise<void> {
  const dir = `/tmp/www-${port}`;
  const started = await run(runtime, spec.name, ['sh', '-c', `mkdir -p ${dir} && echo ${body} > ${dir}/index.html && busybox httpd -p ${address}:${port} -h ${dir}`]);
  assert.equal(started.code, 0, started.stderr);
}

async function hostServer(body: string): Promise<Server> {
  const server = createServer((_req, res) => res.end(`${body}\n`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

await withEngine('docker network namespace reach', () => {
  describe('docker runtime: reaching a berth through its network namespace', () => {
    let runtime: DockerRuntime;
    const alice = specFor('ns-alice');
    const bob = specFor('ns-bob');

    before(async () => {
      runtime = makeRuntime();
      await Promise.all([runtime.ensure(alice, () => undefined), runtime.ensure(bob, () => undefined)]);
    });
    after(async () => {
      await runtime.close();
      await removeByPrefix(prefix, [network]);
    });

    it("never reaches a listener of the gateway's own loopback, even on a port the berth does not listen on", { timeout: TEST_MS }, async () => {
      const gateway = await hostServer('the gateway host');
      const port = (gateway.address() as AddressInfo).port;
      try {
        await assert.rejects(runtime.connect(alice.name, port), { code: 'upstream_failed' });
        await serveInBerth(runtime, alice, '127.0.0.1', port, 'alice-loopback');
        const reply = await eventually(() => httpThrough(() => runtime.connect(alice.name, port)).catch(() => undefined), 'alice to serve on loopback');
        assert.equal(reply.body, 'alice-loopback\n', 'the berth answered, not the gateway host');
      } finally {
        gateway.close();
      }
    });

    it("never reaches another berth's loopback listener", { timeout: TEST_MS }, async () => {
      const port = 7301;
      await serveInBerth(runtime, alice, '127.0.0.1', port, 'only-alice');
      assert.equal((await eventually(() => httpThrough(() => runtime.connect(alice.name, port)).catch(() => undefined), 'alice to serve')).body, 'only-alice\n');
      await assert.rejects(runtime.connect(bob.name, port), { code: 'upstream_failed' });
      assert.equal((await runtime.listening(bob.name)).some((l) => l.port === port), false, "alice's loopback port is not listed for bob");
    });

    it('connects to the exact address a listener is bound to, and lists the port loopback-only', { timeout: TEST_MS }, async () => {
      await serveInBerth(runtime, alice, '127.0.0.2', 7302, 'on-127-0-0-2');
      const listed = await eventually(async () => (await runtime.listening(alice.name)).find((l) => l.port === 7302), 'the port to be listed');
      assert.deepEqual(listed, { port: 7302, loopbackOnly: true });
      assert.equal((await httpThrough(() => runtime.connect(alice.name, 7302))).body, 'on-127-0-0-2\n');
      const main = (await runtime.listening(alice.name)).find((l) => l.port === 8080);
      assert.deepEqual(main, { port: 8080, loopbackOnly: false });
    });

    it("has the relay see only the berth's namespace and dial only loopback and the berth's own addresses, whatever it is asked", { timeout: TEST_MS }, async () => {
      const info = await engine.getContainer(`${prefix}-${alice.name}`).inspect();
      const own = Object.values(info.NetworkSettings.Networks)[0];
      assert.ok(own?.IPAddress && own.Gateway, 'the container has an address and a gateway on its network');
      const relay = await NamespaceRelay.start(['nsenter', `--target=${info.State.Pid}`, '--net', '--']);
      try {
        assert.ok(relay.addresses.includes(own.IPAddress), `the relay sees the container's ${own.IPAddress}: ${relay.addresses.join(', ')}`);
        const hostAddresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => entry.address));
        const shared = relay.addresses.filter((address) => hostAddresses.includes(address) && address !== '127.0.0.1' && address !== '::1');
        assert.deepEqual(shared, [], "the relay sees none of the gateway host's addresses");
        for (const foreign of [own.Gateway, '8.8.8.8', '::ffff:10.0.0.1', 'localhost', 'example.com', '0.0.0.0']) {
          await assert.rejects(relay.connect(8080, [foreign]), { code: 'EACCES' }, `the relay dialled ${foreign}`);
        }
        // A refused first address does not let a foreign second one through.
        await assert.rejects(relay.connect(1, ['127.0.0.1', own.Gateway]), { code: 'EACCES' });
        const socket = await relay.connect(8080, [own.IPAddress]);
        assert.equal(socket.remoteAddress, own.IPAddress);
        socket.destroy();
        await assert.rejects(relay.connect(0, ['127.0.0.1']), { code: 'EINVAL' });
      } finally {
        relay.close();
      }
    });

    // A relay that came up late on a loaded host failed without a code, so the runtime took the namespace
    // for one it cannot enter and used the bridge for good, where loopback-only listeners cannot be reached.
    it('rejects a relay slow to start as a timeout (ETIMEDOUT), not as a namespace that cannot be entered', { timeout: TEST_MS }, async () => {
      const slow = ['sh', '-c', 'sleep 5; exec "$@"', 'slow-enter'];
      await assert.rejects(NamespaceRelay.start(slow, 300), (err: NodeJS.ErrnoException) => err.code === 'ETIMEDOUT' && /did not start within 0\.3 s/.test(err.message));
      await assert.rejects(NamespaceRelay.start(['false']), (err: NodeJS.ErrnoException) => err.code === undefined, 'a relay that cannot start at all keeps no timeout code');
    });

    it('hands over a connection to a server that speaks first without losing its first bytes', { timeout: TEST_MS }, async () => {
      const talker = specFor('ns-talker', DEBIAN, ['sh', '-c', 'exec sleep 1000']);
      await runtime.ensure(talker, () => undefined);
      const banner = 'SSH-2.0-speaks-first';
      const script = `import socket\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', 7303)); s.listen()\nwhile True:\n    c,_=s.accept(); c.sendall(b'${banner}\\r\\n'); c.close()\n`;
      const exec = await runtime.exec(talker.name, { command: ['python3', '-c', script], env: {}, tty: null });
      try {
        await eventually(async () => (await runtime.listening(talker.name)).some((l) => l.port === 7303), 'the talker to listen');
        for (let i = 0; i < 5; i++) {
          const socket = await runtime.connect(talker.name, 7303);
          await new Promise((resolve) => setTimeout(resolve, 30));
          let received = '';
          for await (const chunk of socket) received += String(chunk);
          assert.equal(received, `${banner}\r\n`);
        }
      } finally {
        exec.signal('KILL');
        await runtime.stop(talker.name, { remove: true, graceSeconds: GRACE });
      }
    });

    it('reaches the berth again after its container restarted (a new process, a new namespace)', { timeout: TEST_MS }, async () => {
      const spec = specFor('ns-restart');
      await runtime.ensure(spec, () => undefined);
      await eventually(() => runtime.connect(spec.name, 8080).then((s) => (s.destroy(), true), () => undefined), 'the first run to accept');
      await runtime.stop(spec.name, { remove: false, graceSeconds: GRACE });
      await assert.rejects(runtime.connect(spec.name, 8080), { code: 'berth_not_ready' });
      await runtime.ensure(spec, () => undefined);
      await serveInBerth(runtime, spec, '127.0.0.1', 7304, 'second-run');
      assert.equal((await eventually(() => httpThrough(() => runtime.connect(spec.name, 7304)).catch(() => undefined), 'the second run')).body, 'second-run\n');
      await runtime.stop(spec.name, { remove: true, graceSeconds: GRACE });
    });

    // A berth's first burst of requests (a follower gateway serving a berth another made) each started a
    // relay: on a loaded host none came up within its start timeout, and all but the last were left running.
    it('starts one relay for a burst of first connections to a berth, not one each', { timeout: TEST_MS }, async () => {
      const spec = specFor('ns-burst', BUSYBOX, LOOPBACK_SERVER);
      await runtime.ensure(spec, () => undefined);
      await eventually(async () => (await runtime.listening(spec.name)).some((l) => l.port === spec.port), 'the berth to listen');
      const replies = await Promise.all(Array.from({ length: 8 }, () => httpThrough(() => runtime.connect(spec.name, spec.port))));
      assert.deepEqual(new Set(replies.map((r) => r.body)), new Set(['loopback\n']));
      const netns = readlinkSync(`/proc/${(await engine.getContainer(`${prefix}-${spec.name}`).inspect()).State.Pid}/ns/net`);
      const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' }).split('\n');
      const relays = children.filter((line) => line.includes('nsRelay')).map((line) => Number(line.trim().split(/\s+/)[0]));
      const inBerth = relays.filter((pid) => {
        try {
          return readlinkSync(`/proc/${pid}/ns/net`) === netns;
        } catch {
          return false;
        }
      });
      assert.equal(inBerth.length, 1, `relays in the berth's namespace: ${inBerth.join(', ')}`);
      await runtime.stop(spec.name, { remove: true, graceSeconds: GRACE });
    });
  });

  describe('docker runtime: where the gateway does not enter the namespace', () => {
    let bridged: DockerRuntime;
    const carol = specFor('ns-carol');

    before(async () => {
      bridged = makeRuntime({ enterNamespace: 'off' });
      await bridged.ensure(carol, () => undefined);
    });
    after(async () => {
      await bridged.stop(carol.name, { remove: true, graceSeconds: GRACE });
      await bridged.close();
    });

    it('marks loopback-only listeners unreachable with the reason, and a connect to one says so', { timeout: TEST_MS }, async () => {
      await serveInBerth(bridged, carol, '127.0.0.1', 7305, 'unreachable');
      const listed = await eventually(async () => (await bridged.listening(carol.name)).find((l) => l.port === 7305), 'the port to be listed');
      assert.equal(listed.loopbackOnly, true);
      assert.match(listed.unreachable ?? '', /listens only on its own loopback.*runtime\.docker\.enterNamespace is off.*0\.0\.0\.0/);
      await assert.rejects(within(bridged.connect(carol.name, 7305), 15_000, 'connect'), (err: Error & { code?: string; userMessage?: string }) => {
        assert.equal(err.code, 'upstream_failed');
        assert.match(err.userMessage ?? '', /listens only on its own loopback \(127\.0\.0\.1 or ::1\), which this gateway cannot reach/);
        return true;
      });
      const main = (await bridged.listening(carol.name)).find((l) => l.port === 8080);
      assert.deepEqual(main, { port: 8080, loopbackOnly: false });
      assert.equal((await httpThrough(() => bridged.connect(carol.name, 8080))).status, 404, 'the bridge path still reaches 0.0.0.0');
    });
  });
});
