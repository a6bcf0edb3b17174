import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import Docker from 'dockerode';

/*
 * What every test against the real Docker engine shares: the locally built
 * test images, a per-run name prefix, clean-up by that prefix, and the rule
 * that without an engine tests skip on a laptop and fail in CI (CI=true),
 * where .ci/run has started one.
 */

export const BUSYBOX = 'berth-test/busybox:latest';
export const DEBIAN = 'berth-test/debian:latest';

export const engine = new Docker();

/** A prefix for everything one test file creates, so parallel runs never meet and clean-up finds it all. */
export function runPrefix(): string {
  return `bt${randomBytes(4).toString('hex')}`;
}

/** Removes every container and volume named `<prefix>-…` and the networks given. */
export async function removeByPrefix(prefix: string, networks: string[] = []): Promise<void> {
  const containers = await engine.listContainers({ all: true, filters: { name: [`${prefix}-`] } });
  await Promise.all(containers.map((c) => engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  const { Volumes: volumes } = await engine.listVolumes({ filters: { name: [`${prefix}-`] } });
  await Promise.all((volumes ?? []).map((v) => engine.getVolume(v.Name).remove().catch(() => undefined)));
  for (const name of networks) {
    const found = await engine.listNetworks({ filters: { name: [name] } });
    await Promise.all(found.map((n) => engine.getNetwork(n.Id).remove().catch(() => undefined)));
  }
}

/** Why the engine tests cannot run here, or null when they can. */
async function missingEngine(): Promise<string | null> {
  try {
    await engine.ping();
  } catch (err) {
    return `no docker engine answers (${(err as Error).message}); start one with: bash .ci/run system engine images`;
  }
  for (const image of [BUSYBOX, DEBIAN]) {
    const present = await engine.getImage(image).inspect().then(() => true, () => false);
    if (!present) return `the test image ${image} is missing; build it with: bash scripts/build-test-images.sh`;
  }
  return null;
}

/**
 * Runs `define` (which declares the file's suites) when an engine and the test
 * images are there; otherwise declares one test that skips, or fails in CI.
 */
export async function withEngine(what: string, define: () => void): Promise<void> {
  const missing = await missingEngine();
  if (missing && process.env.CI === 'true') {
    test(`${what}: docker engine and test images are there (CI)`, () => assert.fail(missing));
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
export function engineProxy(path: string) {
  const target = process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice(7) : '/var/run/docker.sock';
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
