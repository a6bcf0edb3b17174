import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { BerthError } from '../../src/core/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { DockerRuntime } from '../../src/runtime/docker/dockerRuntime.js';
import { ISOLATION_OPTION } from '../../src/runtime/docker/network.js';
import { berthSpecFor } from '../../src/runtime/spec.js';
import { BUSYBOX, engine, removeByPrefix, runPrefix, withEngine } from '../helpers/docker.js';
import { CLI } from '../helpers/serve.js';

/*
 * The berth network that keeps berths apart, against the real engine: made
 * with inter-container communication off, an older release's network
 * migrated when nothing runs on it, and every other network that would let
 * berths reach each other refused at start with the exact fix, untouched.
 */

const TEST_MS = 20_000;
const prefix = runPrefix();
const networks: string[] = [];
const runtimes: DockerRuntime[] = [];

function runtimeOn(network: string): DockerRuntime {
  networks.push(network);
  const docker = configSchema.parse({ runtime: { kind: 'docker', docker: { namePrefix: prefix, network, reach: 'network' } } }).runtime.docker;
  const runtime = new DockerRuntime({ docker, instanceId: 'test-instance', stopGraceSeconds: 1, logger: createLogger('silent') });
  runtimes.push(runtime);
  return runtime;
}

async function networkInfo(name: string) {
  return (await engine.getNetwork(name).inspect()) as {
    Id: string;
    Options: Record<string, string>;
    IPAM: { Config: Array<{ Subnet: string; Gateway: string }> };
  };
}

/** A network as an older release made it: Berth's label, no isolation option. */
async function oldBerthNetwork(name: string): Promise<string> {
  const network = await engine.createNetwork({ Name: name, Driver: 'bridge', Labels: { 'berth.managed': 'true' } });
  return network.id;
}

/** A stopped container as an older release left it on its network, with its home volume. */
async function oldBerth(network: string, name: string, running: boolean): Promise<string> {
  const container = await engine.createContainer({
    name: `${prefix}-${name}`,
    Image: BUSYBOX,
    Cmd: ['sleep', '1000'],
    Labels: { 'berth.managed': 'true', 'berth.name': name, 'berth.user': name },
    HostConfig: { NetworkMode: network, Init: true, Mounts: [{ Type: 'volume', Source: `${prefix}-${name}-home`, Target: '/home/berth' }] },
  });
  if (running) await container.start();
  return container.id;
}

/** The networks named exactly `name` (the engine's name filter also matches parts of names). */
async function networksNamed(name: string) {
  return (await engine.listNetworks({ filters: { name: [name] } })).filter((n) => n.Name === name);
}

/** Frees the engine's few address pools as soon as a test is done with its networks. */
async function removeNetworksNamed(name: string): Promise<void> {
  for (const network of await networksNamed(name)) await engine.getNetwork(network.Id).remove();
}

const startupError = async (runtime: DockerRuntime): Promise<BerthError> => {
  const err = await runtime.prepare().then(
    () => assert.fail('prepare() accepted a network that lets berths reach each other'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BerthError, String(err));
  return err;
};


await withEngine('docker berth network', () => {
  describe('docker berth network', () => {
    after(async () => {
      await Promise.all(runtimes.map((r) => r.close()));
      await removeByPrefix(prefix, networks);
    });

    it('makes the berth network with inter-container communication off and learns its berths\' addresses', { timeout: TEST_MS }, async () => {
      const name = `${prefix}-fresh`;
      const runtime = runtimeOn(name);
      assert.equal(runtime.isBerthAddress('172.17.0.5'), false, 'no address is a berth before the network is known');
      await runtime.prepare();
      const info = await networkInfo(name);
      assert.equal(info.Options[ISOLATION_OPTION], 'false');
      const [ipam] = info.IPAM.Config;
      assert.ok(ipam, 'the engine gave the network a subnet');
      const spec = berthSpecFor(configSchema.parse({ environment: { image: BUSYBOX, command: ['sleep', '1000'] } }), 'fresh-user');
      await runtime.ensure(spec, () => undefined);
      const container = await engine.getContainer(`${prefix}-${spec.name}`).inspect();
      const address = container.NetworkSettings.Networks[name]?.IPAddress as string;
      assert.equal(runtime.isBerthAddress(address), true, `berth address ${address} in ${ipam.Subnet}`);
      assert.equal(runtime.isBerthAddress(`::ffff:${address}`), true, 'as a dual-stack socket reports it');
      assert.equal(runtime.isBerthAddress(ipam.Gateway), false, 'the bridge address is the host, not a berth');
      for (const other of ['127.0.0.1', '::1', '192.0.2.7', undefined]) assert.equal(runtime.isBerthAddress(other), false, String(other));
      await runtime.stop(spec.name, { remove: true, graceSeconds: 1 });
    });

    // Three gateways starting at once on one engine each created the network; every later use of its name then failed as "ambiguous".
    it('leaves one berth network when several gateways prepare it at once, so its name is never ambiguous', { timeout: TEST_MS }, async () => {
      const name = `${prefix}-at-once`;
      await Promise.all(Array.from({ length: 6 }, () => runtimeOn(name).prepare()));
      const named = await networksNamed(name);
      assert.equal(named.length, 1, `networks named ${name}: ${named.map((n) => n.Id).join(', ')}`);
      assert.equal((await networkInfo(name)).Options[ISOLATION_OPTION], 'false');
      await removeNetworksNamed(name);
    });

    it('keeps the first of berth networks made twice under one name (an earlier race) and removes the other', { timeout: TEST_MS }, async () => {
      const name = `${prefix}-twice`;
      const made = async () => (await engine.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: false, Options: { [ISOLATION_OPTION]: 'false' }, Labels: { 'berth.managed': 'true' } })).id;
      const first = await made();
      await made();
      await runtimeOn(name).prepare();
      assert.equal((await networkInfo(name)).Id, first, 'the first one is kept, and its name resolves again');
      const spec = berthSpecFor(configSchema.parse({ environment: { image: BUSYBOX, command: ['sleep', '1000'] } }), 'twice-user');
      const runtime = runtimeOn(name);
      await runtime.ensure(spec, () => undefined);
      assert.equal((await engine.getContainer(`${prefix}-${spec.name}`).inspect()).State.Running, true, 'a berth starts on it');
      await runtime.stop(spec.name, { remove: true, graceSeconds: 1 });
      await removeNetworksNamed(name);
    });

    it('refuses to pick between two networks of one name when the other is not Berth\'s, naming it and the fix, removing nothing', { timeout: TEST_MS }, async () => {
      const name = `${prefix}-twice-theirs`;
      const made = async (labels: Record<string, string>) =>
        (await engine.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: false, Options: { [ISOLATION_OPTION]: 'false' }, Labels: labels })).id;
      await made({ 'berth.managed': 'true' });
      const theirs = await made({});
      const err = await startupError(runtimeOn(name));
      assert.match(err.logMessage, new RegExp(`2 networks named ${name}.*${theirs.slice(0, 12)} was not made by Berth.*docker network rm ${theirs.slice(0, 12)}`));
      assert.equal((await networksNamed(name)).length, 2, 'nothing removed');
      await removeNetworksNamed(name);
    });

    it('re-creates an older release\'s berth network when no berth runs on it, keeping the homes', { timeout: TEST_MS }, async () => {
      const name = `${prefix}-old-idle`;
      const oldId = await oldBerthNetwork(name);
      const stale = await oldBerth(name, 'old-idle-user', false);
      const runtime = runtimeOn(name);
      await runtime.prepare();
      const info = await networkInfo(name);
      assert.notEqual(info.Id, oldId, 're-created');
      assert.equal(info.Options[ISOLATION_OPTION], 'false');
      assert.equal(await engine.getContainer(stale).inspect().then(() => true, () => false), false, 'the stopped container on the old network is gone');
      assert.ok(await engine.getVolume(`${prefix}-old-idle-user-home`).inspect(), 'its home is kept');
    });

    it('refuses to start on an older release\'s network while a berth runs on it, naming the berth and the exact fix', { timeout: TEST_MS }, async () => {
      const name = `${prefix}-old-busy`;
      const oldId = await oldBerthNetwork(name);
      await oldBerth(name, 'old-busy-user', true);
      const err = await startupError(runtimeOn(name));
      assert.equal(err.code, 'runtime_unavailable');
      assert.match(err.userMessage, new RegExp(`lets containers on it reach each other`));
      assert.ok(err.userMessage.includes(`${prefix}-old-busy-user`), err.userMessage);
      assert.ok(err.userMessage.includes(`docker network create -o ${ISOLATION_OPTION}=false ${name}`), err.userMessage);
      assert.equal((await networkInfo(name)).Id, oldId, 'left as it was');
      assert.equal((await engine.getContainer(`${prefix}-old-busy-user`).inspect()).State.Running, true, 'the berth on it still runs');
    });

    it('berth serve does not start on such a network, printing the exact fix, and exits 1', { timeout: TEST_MS }, async () => {
      const name = `${prefix}-old-serve`;
      networks.push(name);
      await oldBerthNetwork(name);
      await oldBerth(name, 'old-serve-user', true);
      const dataDir = await mkdtemp(join(tmpdir(), 'berth-network-'));
      const env = {
        ...process.env,
        BERTH_DATA_DIR: dataDir,
        BERTH_LISTEN_HTTP: '127.0.0.1:0',
        BERTH_LISTEN_SSH: 'null',
        BERTH_RUNTIME_KIND: 'docker',
        BERTH_RUNTIME_DOCKER_NAME_PREFIX: prefix,
        BERTH_RUNTIME_DOCKER_NETWORK: name,
      };
      const result = await promisify(execFile)(process.execPath, [...CLI, 'serve'], { env, timeout: 15_000 }).then(
        () => assert.fail('berth serve started'),
        (err: { code: number; stderr: string }) => err,
      );
      await rm(dataDir, { recursive: true, force: true });
      assert.equal(result.code, 1);
      assert.ok(result.stderr.includes(`docker network create -o ${ISOLATION_OPTION}=false ${name}`), result.stderr);
    });

    it("refuses an operator's network that lets containers reach each other, never touching it", { timeout: TEST_MS }, async () => {
      const name = `${prefix}-theirs`;
      const { id } = await engine.createNetwork({ Name: name, Driver: 'bridge' });
      const runtime = runtimeOn(name);
      const err = await startupError(runtime);
      assert.ok(err.userMessage.includes(`docker network rm ${name} && docker network create -o ${ISOLATION_OPTION}=false ${name}`), err.userMessage);
      assert.equal((await networkInfo(name)).Id, id);
      // A berth is not made on it either, whoever asks.
      const spec = berthSpecFor(configSchema.parse({ environment: { image: BUSYBOX, command: ['sleep', '1000'] } }), 'theirs-user');
      await assert.rejects(runtime.ensure(spec, () => undefined), (e: BerthError) => e.code === 'runtime_unavailable' && /tell the operator/.test(e.userMessage));
    });

    it('learns the berth addresses on the first start without prepare(), and refuses a start once the network stops keeping berths apart', { timeout: TEST_MS }, async () => {
      const name = `${prefix}-later`;
      const runtime = runtimeOn(name);
      const spec = berthSpecFor(configSchema.parse({ environment: { image: BUSYBOX, command: ['sleep', '1000'] } }), 'later-user');
      await runtime.ensure(spec, () => undefined);
      const address = (await engine.getContainer(`${prefix}-${spec.name}`).inspect()).NetworkSettings.Networks[name]?.IPAddress;
      assert.equal(runtime.isBerthAddress(address), true, `${address} learnt by ensure`);
      await runtime.stop(spec.name, { remove: true, graceSeconds: 1 });
      // Someone swaps the network for one without the option while the gateway runs.
      await engine.getNetwork(name).remove();
      await engine.createNetwork({ Name: name, Driver: 'bridge' });
      await assert.rejects(runtime.ensure(spec, () => undefined), (e: BerthError) => e.code === 'runtime_unavailable');
      assert.equal((await engine.listContainers({ all: true, filters: { name: [`${prefix}-${spec.name}`] } })).length, 0, 'no container made on it');
    });

    it("uses an operator's own isolated network (here an internal one) as it is", { timeout: TEST_MS }, async () => {
      const name = `${prefix}-internal`;
      const { id } = await engine.createNetwork({ Name: name, Driver: 'bridge', Internal: true, Options: { [ISOLATION_OPTION]: 'false' } });
      const runtime = runtimeOn(name);
      await runtime.prepare();
      const info = await networkInfo(name);
      assert.equal(info.Id, id);
      const gateway = info.IPAM.Config[0]?.Gateway as string;
      const berthAddress = gateway.replace(/\.\d+$/, '.77');
      assert.equal(runtime.isBerthAddress(berthAddress), true, berthAddress);
    });
  });
});
