import type Docker from 'dockerode';
import { BerthError } from '../../core/errors.js';
import type { Logger } from '../../log/logger.js';
import { engineStatus, ignoreStatus, unlessMissing } from './engineErrors.js';
import { LABEL } from './names.js';

/**
 * The bridge option that turns inter-container communication off: the engine
 * then drops traffic from one container on the bridge to another, while the
 * host (the gateway) still reaches every container, and each container still
 * reaches the host and, unless the network is `internal`, the outside.
 */
export const ISOLATION_OPTION = 'com.docker.network.bridge.enable_icc';

/**
 * How berths are kept apart on this engine: on Docker, all on one bridge
 * with inter-container communication off; on Podman, each on a network of
 * its own (./ownNetworks.ts), whose options are taken from
 * runtime.docker.network when the operator made one.
 */
export type BerthNetwork = SharedBerthNetwork | OwnBerthNetworks;

export interface SharedBerthNetwork {
  kind: 'shared';
  /** The subnets (IPv4 and IPv6) berths get their addresses from, from the engine's IPAM. */
  subnets: string[];
  /** The host's own addresses on the bridge: what the host (the gateway, a proxy on it) connects from when it dials the bridge. */
  gateways: string[];
}

export interface OwnBerthNetworks {
  kind: 'own';
  /** Each berth's network is `internal` (nothing forwarded beyond the host), as the template network is. */
  internal: boolean;
}

type NetworkInfo = {
  Id: string;
  Driver: string;
  Internal?: boolean;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
  Containers?: Record<string, { Name: string }> | null;
  IPAM?: { Config?: Array<{ Subnet?: string; Gateway?: string }> | null } | null;
};

/**
 * Makes sure `name` exists as a bridge network with inter-container
 * communication off, and returns it. A network Berth made before it set the
 * option is re-created when nothing runs on it (its stopped berths are
 * removed with it: their homes are volumes and stay, the containers are made
 * again on the next start); anything else is reported with the exact fix and
 * never touched. On Podman, which ignores the option, berths get networks
 * of their own instead, and `name`, when the operator made it, only lends
 * them its `internal` setting.
 */
export async function prepareBerthNetwork(docker: Docker, name: string, logger: Logger): Promise<BerthNetwork> {
  // Asked first: Podman ignores the option whatever its networks report, so nothing it says can be trusted to isolate.
  if (await isPodman(docker)) return { kind: 'own', internal: (await inspectNetwork(docker, name))?.Internal === true };
  await keepOneNetworkNamed(docker, name);
  const existing = await inspectNetwork(docker, name);
  if (existing === null) return create(docker, name);
  if (isolates(existing)) return described(existing);
  const running = Object.values(existing.Containers ?? {}).map((c) => c.Name);
  if (existing.Labels?.[LABEL.managed] !== 'true' || running.length > 0) throw notIsolated(name, existing, running);
  logger.warn({ network: name }, 'the berth network lets berths reach each other (made by an older release); re-creating it with inter-container communication off');
  const stale = await docker.listContainers({ all: true, filters: { network: [name], label: [`${LABEL.managed}=true`] } });
  await Promise.all(stale.map((c) => docker.getContainer(c.Id).remove({ force: true, v: false })));
  await docker.getNetwork(existing.Id).remove();
  return create(docker, name);
}

function isolates(network: NetworkInfo): boolean {
  return network.Driver === 'bridge' && network.Options?.[ISOLATION_OPTION] === 'false';
}

function described(network: NetworkInfo): SharedBerthNetwork {
  const config = network.IPAM?.Config ?? [];
  return {
    kind: 'shared',
    subnets: config.flatMap((c) => (c.Subnet ? [c.Subnet] : [])),
    gateways: config.flatMap((c) => (c.Gateway ? [c.Gateway] : [])),
  };
}

function inspectNetwork(docker: Docker, name: string): Promise<NetworkInfo | null> {
  return unlessMissing(docker.getNetwork(name).inspect() as Promise<NetworkInfo>);
}

async function create(docker: Docker, name: string): Promise<SharedBerthNetwork> {
  const made = await make(docker, name);
  if (isolates(made)) return described(made);
  throw notIsolated(name, made, []);
}

/** Creates the network with the isolation option, and returns what the engine made. */
async function make(docker: Docker, name: string): Promise<NetworkInfo> {
  try {
    await docker.createNetwork({
      Name: name,
      Driver: 'bridge',
      CheckDuplicate: true,
      Options: { [ISOLATION_OPTION]: 'false' },
      Labels: { [LABEL.managed]: 'true' },
    });
  } catch (err) {
    // Made meanwhile by another gateway or call: checked below like any other.
    if (engineStatus(err) !== 409) throw err;
  }
  await keepOneNetworkNamed(docker, name);
  const made = await inspectNetwork(docker, name);
  if (made === null) throw notIsolated(name, null, []);
  return made;
}

/**
 * Docker's CheckDuplicate is no lock: gateways starting at once on one engine
 * can each create `name`, and the engine then refuses every use of the name
 * ("network … is ambiguous"), on every gateway, until all but one are gone.
 * Every gateway keeps the same one (the first made; then the lowest id) and
 * removes the others Berth made while nothing is attached to them; a
 * duplicate it did not make, or one in use, is reported with the fix.
 */
async function keepOneNetworkNamed(docker: Docker, name: string): Promise<void> {
  // The name filter matches parts of names: only exact ones count.
  const same = (await docker.listNetworks({ filters: { name: [name] } })).filter((n) => n.Name === name);
  if (same.length < 2) return;
  const [, ...extra] = same.sort((a, b) => Date.parse(a.Created) - Date.parse(b.Created) || a.Id.localeCompare(b.Id));
  for (const network of extra) {
    const info = await inspectNetwork(docker, network.Id);
    if (info === null) continue;
    const attached = Object.values(info.Containers ?? {}).map((c) => c.Name);
    if (info.Labels?.[LABEL.managed] !== 'true' || attached.length > 0) {
      throw new BerthError({
        code: 'runtime_unavailable',
        userMessage: 'Berths cannot be started: their network name is ambiguous on the engine; tell the operator.',
        logMessage: `the engine has ${same.length} networks named ${name}, and ${network.Id.slice(0, 12)} ${attached.length > 0 ? `is in use by ${attached.join(', ')}` : 'was not made by Berth'}; to fix, keep one: docker network rm ${network.Id.slice(0, 12)}`,
      });
    }
    // 404: another gateway removed it first.
    await docker.getNetwork(network.Id).remove().catch(ignoreStatus(404));
  }
}

async function isPodman(docker: Docker): Promise<boolean> {
  const version = (await docker.version()) as { Components?: Array<{ Name: string }> };
  return (version.Components ?? []).some((c) => c.Name.toLowerCase().startsWith('podman'));
}

function notIsolated(name: string, network: NetworkInfo | null, running: string[]): BerthError {
  const remake = `docker network rm ${name} && docker network create -o ${ISOLATION_OPTION}=false ${name}`;
  const why =
    network === null
      ? `the engine did not keep network ${name} it was asked to create`
      : network.Driver !== 'bridge'
        ? `runtime.docker.network ${name} is a ${network.Driver} network, not a bridge with ${ISOLATION_OPTION}=false, so berths on it can reach each other`
        : `runtime.docker.network ${name} lets containers on it reach each other (it lacks the option ${ISOLATION_OPTION}=false)`;
  const fix =
    running.length > 0
      ? `stop what runs on it (${running.join(', ')}; berths keep their homes), then either start Berth again (it re-creates a network it made) or run: ${remake}`
      : `run: ${remake} (add --internal to let berths reach only the gateway), or set runtime.docker.network to a network made that way`;
  return new BerthError({
    code: 'runtime_unavailable',
    userMessage: 'Berths cannot be started: their network does not keep them apart; tell the operator.',
    logMessage: `${why}; to fix, ${fix}`,
  });
}
