import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { AuthorizationV1Api } from '@kubernetes/client-node';
import Docker from 'dockerode';
import type { Config } from '../../config/schema.js';
import { BerthError } from '../../core/errors.js';
import { engineAddress } from '../../runtime/docker/engine.js';
import { engineMessage } from '../../runtime/docker/engineErrors.js';
import { loadKubeConfig } from '../../runtime/kubernetes/kubeConfig.js';
import { checkPermissions } from '../../runtime/kubernetes/permissions.js';
import { fail, ok, withTimeout, type CheckResult } from './types.js';

const CHECK = 'runtime';

/** The docker client the doctor's docker checks share, or the reason there is none. */
export function dockerClient(config: Config): { client: Docker; description: string } | { problem: string } {
  try {
    const address = engineAddress(config.runtime.docker);
    return { client: new Docker(address.options), description: address.description };
  } catch (err) {
    return { problem: err instanceof BerthError ? err.userMessage : (err as Error).message };
  }
}

/** Whether the runtime answers and lets this process do what the gateway will do. */
export async function runtimeCheck(config: Config): Promise<CheckResult> {
  switch (config.runtime.kind) {
    case 'local':
      return ok(CHECK, 'local: berths run as processes of the gateway; nothing to reach');
    case 'docker':
    // Attached containers run on a Docker engine too, named by runtime.docker.
    case 'attach':
      return dockerCheck(config);
    case 'kubernetes':
      return kubernetesCheck(config);
  }
}

async function dockerCheck(config: Config): Promise<CheckResult> {
  const made = dockerClient(config);
  if ('problem' in made) return fail(CHECK, made.problem, 'set runtime.docker.socket (or DOCKER_HOST) to the engine, e.g. unix:///var/run/docker.sock');
  if (made.description.startsWith('unix://')) {
    const socketProblem = await unixSocketProblem(made.description.slice('unix://'.length));
    if (socketProblem) return socketProblem;
  }
  try {
    const version = await withTimeout(`the engine at ${made.description}`, made.client.version());
    return ok(CHECK, `docker: ${version.Components?.some((c) => /podman/i.test(c.Name)) ? 'Podman' : 'Docker'} ${version.Version} (API ${version.ApiVersion}) answers at ${made.description}`);
  } catch (err) {
    return fail(CHECK, `docker: the engine at ${made.description} does not answer: ${engineMessage(err)}`, 'start the engine (systemctl start docker, or podman system service) or point runtime.docker.socket at one that runs');
  }
}

/** A missing socket, or one this user may not open: the two ways a first login fails before the engine is even asked. */
async function unixSocketProblem(path: string): Promise<CheckResult | null> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    return fail(CHECK, `docker: no engine socket at ${path} (${(err as NodeJS.ErrnoException).code})`, `start the engine, or set runtime.docker.socket to where its socket is (Podman: unix:///run/podman/podman.sock)`);
  }
  try {
    await access(path, constants.R_OK | constants.W_OK);
    return null;
  } catch {
    const user = process.getuid?.() ?? -1;
    const groups = process.getgroups?.() ?? [];
    return fail(
      CHECK,
      `docker: this user (uid ${user}, groups ${groups.join(',') || 'none'}) may not open ${path} (owner uid ${info.uid}, group gid ${info.gid}, mode ${(info.mode & 0o777).toString(8)})`,
      `add the gateway's user to the socket's group (gid ${info.gid}, usually "docker": usermod -aG docker <user>, then log in again); in the Berth image, the entrypoint joins that group by itself when the socket is mounted at /var/run/docker.sock`,
    );
  }
}

async function kubernetesCheck(config: Config): Promise<CheckResult> {
  let loaded;
  try {
    loaded = loadKubeConfig(config.runtime.kubernetes);
  } catch (err) {
    return fail(CHECK, err instanceof BerthError ? err.userMessage : (err as Error).message, 'set runtime.kubernetes.kubeconfig (or KUBECONFIG) and runtime.kubernetes.context');
  }
  const namespace = config.runtime.kubernetes.namespace;
  try {
    const report = await withTimeout(`the API server ${loaded.server}`, checkPermissions(loaded.kc.makeApiClient(AuthorizationV1Api), namespace));
    if (report.missing.length === 0) return ok(CHECK, `kubernetes: ${loaded.server} grants every permission the runtime uses in namespace ${namespace}`);
    return fail(CHECK, `kubernetes: the gateway's account lacks, in namespace ${namespace}: ${report.missing.join(', ')}`, 'apply deploy/kubernetes/ (its rbac.yaml grants exactly these), or bind an equal Role to the gateway\'s account');
  } catch (err) {
    return fail(CHECK, `kubernetes: cannot ask ${loaded.server} (SelfSubjectAccessReview): ${(err as Error).message}`, 'check that the API server is reachable from here and the kubeconfig\'s credentials are valid');
  }
}
