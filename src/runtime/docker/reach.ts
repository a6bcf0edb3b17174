import type Docker from 'dockerode';
import type { HostPort } from '../../core/net.js';
import type { Reach } from './createOptions.js';
import type { EngineAddress } from './engine.js';
import { LABEL } from './names.js';

/**
 * How the gateway reaches a berth's ports.
 *
 * - 'network': at the container's address on runtime.docker.network. Works
 *   when the gateway can route to that bridge from the host: on the engine's
 *   Linux host, or in a container with the host's network. Not from a
 *   container attached to the berth network: inter-container communication
 *   is off there (./network.ts), for the gateway as for berths.
 * - 'published': the main port is published on the engine host's 127.0.0.1
 *   with a port the engine picks. Works wherever the bridge is not routable
 *   (Docker Desktop, rootless Docker or Podman) as long as the gateway runs on
 *   the engine's host. Other ports are still reached at the container address.
 *
 * 'auto' picks 'network' for a local engine socket on Linux that is not
 * rootless (the bridge is then routable from the host), else 'published'.
 * A remote tcp:// engine needs one set explicitly.
 */
export async function resolveReach(configured: 'auto' | Reach, docker: Docker, address: EngineAddress): Promise<Reach> {
  if (configured !== 'auto') return configured;
  if (process.platform !== 'linux' || !address.local) return 'published';
  return (await isRootless(docker)) ? 'published' : 'network';
}

/**
 * Whether the engine runs as an ordinary user, its containers behind a
 * user-mode network stack (slirp4netns) whose connections to the host come
 * from the host's own addresses.
 */
export async function isRootless(docker: Docker): Promise<boolean> {
  // Rootless Docker says so in SecurityOptions, rootless Podman (4.x) in a field of its own.
  const info = (await docker.info()) as { SecurityOptions?: string[]; Rootless?: boolean };
  return info.Rootless === true || (info.SecurityOptions ?? []).some((option) => option.includes('rootless'));
}

/** The container's address on `network` (else on any network it has). */
function containerAddress(info: Docker.ContainerInspectInfo, network: string): string | null {
  const networks = info.NetworkSettings.Networks;
  return networks[network]?.IPAddress || Object.values(networks).find((n) => n.IPAddress)?.IPAddress || null;
}

/** The main web port inside the container, from its label. */
export function mainPortOf(info: Docker.ContainerInspectInfo): number | null {
  const port = Number(info.Config.Labels[LABEL.port]);
  return Number.isInteger(port) && port > 0 ? port : null;
}

/**
 * Where the gateway dials `port` of the container from outside its network
 * namespace, by the mode the container was made for: the published binding
 * for the main port in 'published' mode, else the container's address.
 */
export function bridgeAddress(info: Docker.ContainerInspectInfo, network: string, port: number): HostPort | null {
  if (info.Config.Labels[LABEL.reach] === 'published' && port === mainPortOf(info)) {
    const binding = info.NetworkSettings.Ports[`${port}/tcp`]?.find((b) => b.HostIp === '127.0.0.1');
    return binding?.HostPort ? { host: '127.0.0.1', port: Number(binding.HostPort) } : null;
  }
  const address = containerAddress(info, network);
  return address === null ? null : { host: address, port };
}
