import { createHash, randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { BerthError } from '../../core/errors.js';
import type { Logger } from '../../log/logger.js';
import { engineMessage, engineStatus, ignoreStatus, unlessMissing } from './engineErrors.js';
import { berthNetworkName, containerName, ISOLATION_KEEPER, LABEL } from './names.js';
import type { SubnetPool } from './subnetPool.js';

/**
 * A network of its own for every berth, on Podman: Podman's bridges let the
 * containers on one network reach each other whatever the options say, but
 * netavark's `isolate` option drops what one isolated network forwards to
 * another. So each berth gets a bridge with nothing else on it, `isolate`
 * on, a /29 from runtime.docker.subnetPool, and the host (the gateway) as
 * the only other end, reached by the host's route to every bridge, a
 * published port, or the berth's own network namespace.
 *
 * They are made, listed and read through Podman's own API on the same
 * socket, never its Docker one: Podman 4.3's Docker API answers `isolate`
 * with "not a recognized option", and every network list or inspect
 * through it deletes the option from Podman's in-memory copy of the
 * networks (it hides the option from Docker clients in place), so a
 * container started after that gets no isolation rules. Podman re-reads
 * its network files, where the option stays, whenever a network is created
 * or removed; so before a berth starts, a network found without the option
 * is re-read that way, and the runtime checks again once it started.
 */

/** Podman's own API under the Docker one; 4.0 is the oldest with `isolate` on netavark. */
const LIBPOD = '/v4.0.0/libpod';
/** Podman's option, read back after creation: an engine that drops it cannot keep berths apart this way. */
export const PODMAN_ISOLATE = 'isolate';
/** A network with no container this old is a leftover (a start that failed half-way, a gateway killed in between), not one being set up. */
const ORPHAN_AGE_MS = 60_000;
/** Subnets taken meanwhile (by another gateway or berth starting at once) are skipped; this many in a row means something else is wrong. */
const SUBNET_TRIES = 16;

export interface OwnNetworkContext {
  prefix: string;
  pool: SubnetPool;
  /** Made `internal`: nothing forwarded beyond the host, as the template network runtime.docker.network says. */
  internal: boolean;
  /** The operator accepts berths reaching each other where the engine drops `isolate`. */
  allowUnisolated: boolean;
}

interface LibpodNetwork {
  name: string;
  created?: string;
  internal?: boolean;
  labels?: Record<string, string> | null;
  options?: Record<string, string> | null;
  subnets?: Array<{ subnet: string }> | null;
}

/**
 * The berth's own network, made if missing; returns its name, and why it
 * does not isolate when the engine dropped the option and the operator
 * accepts that. Not to be called twice at once for one berth: Podman 4.3
 * shows a network being created without its options to a concurrent
 * inspect (the runtime calls this single-flight, the spawner's lease keeps
 * gateways from starting one berth twice).
 */
export async function ensureOwnNetwork(docker: Docker, ctx: OwnNetworkContext, berth: { name: string; user: string }): Promise<{ network: string; unisolated: string | null }> {
  const network = berthNetworkName(ctx.prefix, berth.name);
  let found = (await inspect(docker, network)) ?? (await make(docker, ctx, network, { [LABEL.managed]: 'true', [LABEL.name]: berth.name, [LABEL.user]: berth.user }));
  if (found.labels?.[LABEL.managed] !== 'true' || found.labels?.[LABEL.name] !== berth.name) {
    throw new BerthError({
      code: 'internal',
      userMessage: 'Your environment cannot be started because of a name clash on the container engine; tell the operator.',
      logMessage: `a network named ${network} exists that Berth did not create; remove or rename it, or change runtime.docker.namePrefix`,
    });
  }
  if (await isolatesAfterReread(docker, ctx.prefix, found)) return { network, unisolated: null };
  const why = `the engine made network ${network} without Podman's ${PODMAN_ISOLATE} option (it needs Podman 4 with netavark), so berths could reach each other's ports`;
  if (ctx.allowUnisolated) return { network, unisolated: why };
  await removeOwnNetwork(docker, network);
  throw new BerthError({
    code: 'runtime_unavailable',
    userMessage: 'Berths cannot be started: their network does not keep them apart; tell the operator.',
    logMessage: `${why}, around sign-in and share levels; run Podman 4 or later with netavark (podman info --format '{{.Host.NetworkBackend}}'), or set runtime.docker.allowUnisolatedBerths: true accepting that`,
  });
}

/** Whether Podman, as it would set a container up now, has the berth's network with `isolate` on. */
export async function isolatesNow(docker: Docker, network: string): Promise<boolean> {
  const found = await inspect(docker, network);
  return found !== null && isolates(found);
}

function isolates(network: LibpodNetwork): boolean {
  return network.options?.[PODMAN_ISOLATE] === 'true';
}

/** Whether the network isolates as Podman holds it, after making Podman re-read its files if a Docker API client made it forget. */
async function isolatesAfterReread(docker: Docker, prefix: string, found: LibpodNetwork): Promise<boolean> {
  if (isolates(found)) return true;
  await rereadNetworks(docker, prefix);
  return isolates((await inspect(docker, found.name)) ?? found);
}

/**
 * The isolation keeper's network (./isolationKeeper.ts), made if missing:
 * isolated, with a /29 of the pool like a berth's; null when the engine
 * drops `isolate`, as there is then no isolation to keep. Never internal:
 * netavark sets up no firewall rules for an internal network, so its set-up
 * would not put the shared rule back. No berth name label, so the orphan
 * sweep leaves it alone.
 */
export async function ensureKeeperNetwork(docker: Docker, ctx: OwnNetworkContext, network: string): Promise<string | null> {
  const found = (await inspect(docker, network)) ?? (await make(docker, { ...ctx, internal: false }, network, { [LABEL.managed]: 'true', [LABEL.role]: ISOLATION_KEEPER }));
  return (await isolatesAfterReread(docker, ctx.prefix, found)) ? network : null;
}

/** Makes Podman re-read its network files (their options intact) by creating and removing a network of no berth's. */
async function rereadNetworks(docker: Docker, prefix: string): Promise<void> {
  const name = `${prefix}-reread-${randomBytes(4).toString('hex')}`;
  await libpod(docker, 'POST', '/networks/create', { name, driver: 'bridge', labels: { [LABEL.managed]: 'true' } });
  await removeOwnNetwork(docker, name);
}

/** Removes a berth's network; one already gone is fine. */
export async function removeOwnNetwork(docker: Docker, network: string): Promise<void> {
  await docker
    .getNetwork(network)
    .remove()
    .catch(ignoreStatus(404));
}

/** Removes the berth networks of this prefix whose berth has no container (left by a failed start, a removal the gateway did not see); returns their names. */
export async function removeOrphanNetworks(docker: Docker, prefix: string, logger: Logger, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  for (const summary of await list(docker)) {
    const name = summary.labels?.[LABEL.name];
    if (summary.labels?.[LABEL.managed] !== 'true' || name === undefined || summary.name !== berthNetworkName(prefix, name)) continue;
    if (now - Date.parse(summary.created ?? '') < ORPHAN_AGE_MS) continue;
    if ((await unlessMissing(docker.getContainer(containerName(prefix, name)).inspect())) !== null) continue;
    try {
      await removeOwnNetwork(docker, summary.name);
      removed.push(summary.name);
    } catch (err) {
      logger.warn({ network: summary.name, err: engineMessage(err) }, 'docker: could not remove a berth network left without its container; remove it by hand');
    }
  }
  if (removed.length > 0) logger.info({ networks: removed }, 'docker: removed berth networks left without their containers');
  return removed;
}

function inspect(docker: Docker, network: string): Promise<LibpodNetwork | null> {
  return libpodFind<LibpodNetwork>(docker, `/networks/${encodeURIComponent(network)}/json`);
}

/**
 * Creates the network in a /29 of the pool no network on the engine uses,
 * looking from a block picked by the network's name, so berths started at
 * once (20 after a restart, say) seldom race for the same block.
 */
async function make(docker: Docker, ctx: OwnNetworkContext, network: string, labels: Record<string, string>): Promise<LibpodNetwork> {
  const used = (await list(docker)).flatMap((n) => (n.subnets ?? []).map((s) => s.subnet));
  const first = createHash('sha256').update(network).digest().readUInt32BE(0) % ctx.pool.blocks;
  let tries = 0;
  for (let step = 0; step < ctx.pool.blocks && tries < SUBNET_TRIES; step++) {
    const index = (first + step) % ctx.pool.blocks;
    if (used.some((subnet) => ctx.pool.overlaps(index, subnet))) continue;
    tries++;
    try {
      return await libpod<LibpodNetwork>(docker, 'POST', '/networks/create', {
        name: network,
        driver: 'bridge',
        internal: ctx.internal,
        // The gateway named: Podman gives an internal network none, and its berth would then take the first address, which counts as the host's.
        subnets: [{ subnet: ctx.pool.block(index), gateway: ctx.pool.gateway(index) }],
        options: { [PODMAN_ISOLATE]: 'true' },
        labels,
      });
    } catch (err) {
      // Made meanwhile by another call for the same berth: that one is used.
      if (engineStatus(err) === 409) {
        const made = await inspect(docker, network);
        if (made) return made;
      }
      // The subnet was taken meanwhile, or is a route of the host's: the next one.
      if (engineStatus(err) === 500 && /already used/.test(engineMessage(err))) continue;
      throw err;
    }
  }
  throw new BerthError({
    code: 'runtime_unavailable',
    userMessage: 'Your environment cannot be started: the gateway has no network address left for it; tell the operator.',
    logMessage:
      `no free /29 for network ${network} in runtime.docker.subnetPool ${ctx.pool.cidr} (${ctx.pool.blocks} blocks, ${tries} of them taken meanwhile): ` +
      'widen runtime.docker.subnetPool to a range no other network or host route uses, or remove berths (idle.action: remove frees their networks)',
  });
}

function list(docker: Docker): Promise<LibpodNetwork[]> {
  return libpod<LibpodNetwork[]>(docker, 'GET', '/networks/json');
}

/** A GET of Podman's own API for one thing, or null where the engine has no such thing. */
export function libpodFind<T>(docker: Docker, path: string): Promise<T | null> {
  return unlessMissing(libpod<T>(docker, 'GET', path));
}

/** A call to Podman's own API; answers other than 2xx reject with the engine's status and message. */
export function libpod<T>(docker: Docker, method: 'GET' | 'POST' | 'DELETE', path: string, body?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    (docker.modem as { dial: (options: object, callback: (err: unknown, data: unknown) => void) => void }).dial(
      {
        path: `${LIBPOD}${path}`,
        method,
        options: body ?? {},
        statusCodes: { 200: true, 201: true, 204: true, 304: true, 404: 'not found', 409: 'already exists', 500: 'server error' },
      },
      (err, data) => (err ? reject(err) : resolve(data as T)),
    );
  });
}
