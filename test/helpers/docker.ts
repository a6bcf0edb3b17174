import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import Docker from 'dockerode';
import { isolationKeeperNames } from '../../src/runtime/docker/names.js';
import { libpod } from '../../src/runtime/docker/ownNetworks.js';

/*
 * What every test against a real container engine shares: the locally built
 * test images, a per-run name prefix, clean-up by that prefix, and the rule
 * that without an engine tests skip on a laptop and fail in CI (CI=true),
 * where .ci/run has started one. Two engines serve the same API: Docker
 * (DOCKER_HOST, else its default socket) and Podman's API service
 * (BERTH_TEST_PODMAN_SOCKET, else the socket .ci/run starts it on).
 */

export const BUSYBOX = 'berth-test/busybox:latest';
export const DEBIAN = 'berth-test/debian:latest';

/** The conformance suite's loopback-only server in the busybox image: on the berth's own 127.0.0.1, answering GET / with "loopback\n". */
export const LOOPBACK_SERVER = ['sh', '-c', 'mkdir -p /tmp/lo && echo loopback > /tmp/lo/index.html && exec busybox httpd -f -p 127.0.0.1:"$PORT" -h /tmp/lo'];

export interface TestEngine {
  kind: 'docker' | 'podman' | 'podman-rootless';
  /** As runtime.docker.socket takes it, e.g. "unix:///run/berth-podman/podman.sock". */
  socket: string;
  client: Docker;
  /** The engine's own CLI, talking to this engine: a second opinion beside the runtime's client. */
  cli: string[];
  /** The command that brings this engine up on this machine, for the skip message. */
  startWith: string;
}

/** Where .ci/run's engine step starts Podman's API service. */
export const PODMAN_SOCKET = process.env.BERTH_TEST_PODMAN_SOCKET || 'unix:///run/berth-podman/podman.sock';

export const DOCKER: TestEngine = {
  kind: 'docker',
  socket: process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST : 'unix:///var/run/docker.sock',
  client: new Docker(),
  cli: ['docker'],
  startWith: 'bash .ci/run system engine images',
};
export const PODMAN: TestEngine = {
  kind: 'podman',
  socket: PODMAN_SOCKET,
  client: new Docker({ socketPath: PODMAN_SOCKET.replace(/^unix:\/\//, '') }),
  cli: ['podman', '--remote', '--url', PODMAN_SOCKET],
  startWith: 'bash .ci/run system engine images podman',
};
/**
 * Rootless Podman, as .ci/run starts it: as the user BERTH_TEST_PODMAN_ROOTLESS_USER
 * (berth-rootless) on /run/user/<uid>/podman/podman.sock, unless
 * BERTH_TEST_PODMAN_ROOTLESS_SOCKET names another socket.
 */
function rootlessSocket(): string {
  const given = process.env.BERTH_TEST_PODMAN_ROOTLESS_SOCKET;
  if (given) return given;
  const user = process.env.BERTH_TEST_PODMAN_ROOTLESS_USER || 'berth-rootless';
  try {
    return `unix:///run/user/${execFileSync('id', ['-u', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()}/podman/podman.sock`;
  } catch {
    return `unix:///run/user/<uid of ${user}>/podman/podman.sock`;
  }
}
const PODMAN_ROOTLESS_SOCKET = rootlessSocket();
export const PODMAN_ROOTLESS: TestEngine = {
  kind: 'podman-rootless',
  socket: PODMAN_ROOTLESS_SOCKET,
  client: new Docker({ socketPath: PODMAN_ROOTLESS_SOCKET.replace(/^unix:\/\//, '') }),
  cli: ['podman', '--remote', '--url', PODMAN_ROOTLESS_SOCKET],
  startWith: 'bash .ci/run system engine images podman',
};
/** The engines every suite that reaches into berths runs against. */
export const ENGINES: readonly TestEngine[] = [DOCKER, PODMAN];

export const engine = DOCKER.client;

/** A prefix for everything one test file creates, so parallel runs never meet and clean-up finds it all. */
export function runPrefix(): string {
  return `bt${randomBytes(4).toString('hex')}`;
}

/** Removes every container, volume and network named `<prefix>-…` (berths' own networks on Podman among them, and the isolation keeper's pod) and the networks given. */
export async function removeByPrefix(prefix: string, networks: string[] = [], on: TestEngine = DOCKER): Promise<void> {
  const engine = on.client;
  if (on.kind !== 'docker') {
    await Promise.all(isolationKeeperNames(prefix).pods.map((pod) => libpod(engine, 'DELETE', `/pods/${pod}?`, { force: true }).catch(() => undefined)));
  }
  const containers = await engine.listContainers({ all: true, filters: { name: [`${prefix}-`] } });
  await Promise.all(containers.map((c) => engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  const { Volumes: volumes } = await engine.listVolumes({ filters: { name: [`${prefix}-`] } });
  await Promise.all((volumes ?? []).map((v) => engine.getVolume(v.Name).remove().catch(() => undefined)));
  for (const name of [`${prefix}-`, ...networks]) {
    const found = await engine.listNetworks({ filters: { name: [name] } });
    await Promise.all(found.map((n) => engine.getNetwork(n.Id).remove().catch(() => undefined)));
  }
}

/** Why the engine tests cannot run here, or null when they can. */
async function missingEngine(on: TestEngine): Promise<string | null> {
  try {
    await on.client.ping();
  } catch (err) {
    return `no ${on.kind} engine answers at ${on.socket} (${(err as Error).message}); start one with: ${on.startWith}`;
  }
  for (const image of [BUSYBOX, DEBIAN]) {
    const present = await on.client.getImage(image).inspect().then(() => true, () => false);
    if (!present) return `the test image ${image} is missing on ${on.kind}; build it with: ${on.startWith}`;
  }
  return null;
}

/**
 * Runs `define` (which declares the file's suites) when an engine and the test
 * images are there; otherwise declares one test that skips, or fails in CI.
 */
export async function withEngine(what: string, define: () => void, on: TestEngine = DOCKER): Promise<void> {
  const missing = await missingEngine(on);
  if (missing && process.env.CI === 'true') {
    test(`${what}: ${on.kind} engine and test images are there (CI)`, () => assert.fail(missing));
  } else if (missing) {
    test(what, { skip: missing }, () => undefined);
  } else {
    define();
  }
}

/**
 * A unix socket in front of the engine's that can be taken away and brought
 * back: the engine "going away" for one gateway or runtime without
 * disturbing the engine every other test uses.
 */
export function engineProxy(path: string, on: TestEngine = DOCKER) {
  const target = on.socket.slice('unix://'.length);
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target);
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('error', () => undefined).on('close', () => {
        open.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  return {
    path,
    up: async () => {
      await rm(path, { force: true });
      await new Promise<void>((resolve) => server.listen(path, resolve));
    },
    down: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of open) socket.destroy();
      await closed;
      await rm(path, { force: true });
    },
  };
}
