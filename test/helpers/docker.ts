import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';

/** The images scripts/build-test-images.sh makes; nothing is ever pulled. */
export const BUSYBOX_IMAGE = 'berth-test/busybox:latest';
export const DEBIAN_IMAGE = 'berth-test/debian:latest';

/** A name prefix of its own for one test run, so parallel runs never meet and clean-up finds all it made. */
export function runPrefix(): string {
  return `bt${randomBytes(4).toString('hex')}`;
}

/** Why docker tests cannot run here (no engine, or a test image missing), or null when they can. */
export async function missingEngine(engine: Docker = new Docker()): Promise<string | null> {
  try {
    await engine.ping();
  } catch (err) {
    return `no docker engine answers (${(err as Error).message}); start one with: bash .ci/run system engine images`;
  }
  for (const image of [BUSYBOX_IMAGE, DEBIAN_IMAGE]) {
    const present = await engine.getImage(image).inspect().then(() => true, () => false);
    if (!present) return `the test image ${image} is missing; build it with: bash scripts/build-test-images.sh`;
  }
  return null;
}

/** Removes the containers and volumes named `<prefix>-…` and the given network. */
export async function removePrefixed(prefix: string, network: string, engine: Docker = new Docker()): Promise<void> {
  const containers = await engine.listContainers({ all: true, filters: { name: [`${prefix}-`] } });
  await Promise.all(containers.map((c) => engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  const { Volumes: volumes } = await engine.listVolumes({ filters: { name: [`${prefix}-`] } });
  await Promise.all((volumes ?? []).map((v) => engine.getVolume(v.Name).remove().catch(() => undefined)));
  const networks = await engine.listNetworks({ filters: { name: [network] } });
  await Promise.all(networks.map((n) => engine.getNetwork(n.Id).remove().catch(() => undefined)));
}
