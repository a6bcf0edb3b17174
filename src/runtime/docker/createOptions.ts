import { posix } from 'node:path';
import type Docker from 'dockerode';
import { BerthError } from '../../core/errors.js';
import { substituteArgs, type BerthSpec } from '../types.js';
import { containerName, homeVolumeName, LABEL } from './names.js';
import { memoryBytes } from '../spec.js';
import { mountSourceAllowed } from '../../core/mounts.js';
import { generationLabels } from '../superseded.js';

/** How the gateway reaches berths: see ./reach.ts. */
export type Reach = 'network' | 'published';

export interface CreateContext {
  prefix: string;
  instanceId: string;
  network: string;
  reach: Reach;
  allowedMounts: readonly string[];
  /** The spawn lease's generation (see ../superseded.ts), when the gateway spawns under one. */
  generation?: number;
}

/**
 * The engine's create request for a berth: everything the spec says, with
 * the hardening every berth gets (no new privileges, all capabilities
 * dropped but the configured ones, an init process that reaps the zombies
 * exec sessions leave and passes SIGTERM on so stops are quick).
 */
export function createOptions(spec: BerthSpec, ctx: CreateContext): Docker.ContainerCreateOptions {
  if (!spec.image) {
    throw new BerthError({
      code: 'config_invalid',
      userMessage: 'Your environment has no image configured; ask the operator to set environment.image.',
      logMessage: 'environment.image must be set for runtime.kind docker',
    });
  }
  const port = `${spec.port}/tcp`;
  // HOME names the persisted home whatever the image's user; BERTH_USER and PORT always win.
  const env = { HOME: spec.homePath, ...spec.env, BERTH_USER: spec.user, PORT: String(spec.port) };
  return {
    name: containerName(ctx.prefix, spec.name),
    Image: spec.image,
    Cmd: spec.command ? substituteArgs(spec.command, { PORT: spec.port, USER: spec.user }) : undefined,
    Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
    WorkingDir: spec.workingDir ?? undefined,
    User: spec.runAsUser ?? undefined,
    ExposedPorts: { [port]: {} },
    Labels: {
      // A webhook's labels first: the gateway's own, which adoption and isolation rely on, always win.
      ...spec.labels,
      [LABEL.managed]: 'true',
      [LABEL.user]: spec.user,
      [LABEL.name]: spec.name,
      [LABEL.instance]: ctx.instanceId,
      [LABEL.spec]: spec.hash,
      [LABEL.port]: String(spec.port),
      [LABEL.image]: spec.image,
      [LABEL.reach]: ctx.reach,
      ...generationLabels(ctx.generation),
    },
    HostConfig: {
      Init: true,
      NetworkMode: ctx.network,
      PortBindings: ctx.reach === 'published' ? { [port]: [{ HostIp: '127.0.0.1', HostPort: '' }] } : undefined,
      Mounts: [
        { Type: 'volume', Source: homeVolumeName(ctx.prefix, spec.name), Target: spec.homePath },
        ...spec.mounts.map((mount) => allowedMount(mount, ctx.allowedMounts)),
      ],
      Memory: spec.limits.memory === null ? undefined : memoryBytes(spec.limits.memory),
      NanoCpus: spec.limits.cpus === null ? undefined : Math.round(spec.limits.cpus * 1e9),
      PidsLimit: spec.limits.pids ?? undefined,
      CapDrop: ['ALL'],
      CapAdd: spec.capabilities,
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: spec.readOnlyRoot,
      // A read-only root still needs somewhere for temporary files.
      Tmpfs: spec.readOnlyRoot ? { '/tmp': 'rw,nosuid,nodev,mode=1777' } : undefined,
      RestartPolicy: { Name: 'no' },
    },
  };
}

/** Extra mounts come only from the operator's allowlist (src/core/mounts.ts says how it is read). */
function allowedMount(mount: BerthSpec['mounts'][number], allowed: readonly string[]): Docker.MountSettings {
  const isPath = mount.source.startsWith('/');
  const source = isPath ? posix.normalize(mount.source) : mount.source;
  const ok = mountSourceAllowed(source, allowed);
  if (!ok) {
    throw new BerthError({
      code: 'config_invalid',
      userMessage: `Your environment cannot be started: mounting ${mount.source} is not allowed by the gateway's configuration; ask the operator.`,
      logMessage: `environment.mounts: ${mount.source} is not in runtime.docker.allowedMounts (${allowed.join(', ') || 'empty'})`,
    });
  }
  return { Type: isPath ? 'bind' : 'volume', Source: source, Target: mount.target, ReadOnly: mount.readOnly };
}
