import type Docker from 'dockerode';
import type { Endpoint } from '../types.js';
import type { Reach } from './createOptions.js';
import type { EngineAddress } from './engine.js';
import { LABEL } from './names.js';

/**
 * How the gateway reaches a berth's ports.
 *
 * - 'network': at the container's address on runtime.docker.network. Works
 *   when the gateway can route to that bridge: on the engine's Linux host, or
 *   in a container attached to the same network (the container-director
 *   layout).
 * - 'published': the main port is published on the engine host's 127.0.0.1
 *   with a port the engine picks. Works wherever the bridge is not routable
 *   (Docker Desktop, rootless Docker or Podman) as long as the gateway runs on
 *   the engine's host. Other ports are still reached at the container address.
 *
 * 'auto' picks 'network' for a local engine socket on Linux that is not
 * rootless (the bridge is then routable from the host and from containers
 * on it), else 'published'. A remote tcp:// engine needs one set explicitly.
 */
export async function resolveReach(configured: 'auto' | Reach, docker: Docker, address: EngineAddress): Promise<Reach> {
  if (configured !== 'auto') return configured;
  if (process.platform !== 'linux' || !address.local) return 'published';
  const info = (await docker.info()) as { SecurityOptions?: string[] };
  return (info.SecurityOptions ?? []).some((option) => option.includes('rootless')) ? 'published' : 'network';
}

/** The container's address on `network` (else on any network it has). */
export function containerEndpoint(info: Docker.ContainerInspectInfo, network: string, port: number): Endpoint | null {
  const networks = info.NetworkSettings.Networks;
  const address = networks[network]?.IPAddress || Object.values(networks).find((n) => n.IPAddress)?.IPAddress;
  return address ? { host: address, port } : null;
}

/** Where the gateway reaches the berth's main port, by the mode the container was made for. */
export function mainEndpoint(info: Docker.ContainerInspectInfo, network: string): Endpoint | null {
  const port = Number(info.Config.Labels[LABEL.port]);
  if (!Number.isInteger(port) || port <= 0) return null;
  if (info.Config.Labels[LABEL.reach] !== 'published') return containerEndpoint(info, network, port);
  const binding = info.NetworkSettings.Ports[`${port}/tcp`]?.find((b) => b.HostIp === '127.0.0.1');
  return binding?.HostPort ? { host: '127.0.0.1', port: Number(binding.HostPort) } : null;
}
