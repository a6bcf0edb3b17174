import type Docker from 'dockerode';

/** Why engine tests cannot run here (no engine, a test image missing), or null when they can. */
export async function missingEngine(engine: Docker, images: readonly string[]): Promise<string | null> {
  try {
    await engine.ping();
  } catch (err) {
    return `no docker engine answers (${(err as Error).message}); start one with: bash .ci/run system engine images`;
  }
  for (const image of images) {
    const present = await engine.getImage(image).inspect().then(() => true, () => false);
    if (!present) return `the test image ${image} is missing; build it with: bash scripts/build-test-images.sh`;
  }
  return null;
}

/** Removes every container and volume named `<prefix>-…` and the network, whatever state a test left them in. */
export async function removeTestResources(engine: Docker, prefix: string, network: string): Promise<void> {
  const containers = await engine.listContainers({ all: true, filters: { name: [`${prefix}-`] } });
  await Promise.all(containers.map((c) => engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  const { Volumes: volumes } = await engine.listVolumes({ filters: { name: [`${prefix}-`] } });
  await Promise.all((volumes ?? []).map((v) => engine.getVolume(v.Name).remove().catch(() => undefined)));
  const networks = await engine.listNetworks({ filters: { name: [network] } });
  await Promise.all(networks.map((n) => engine.getNetwork(n.Id).remove().catch(() => undefined)));
}
