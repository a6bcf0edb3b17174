import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { Config } from '../../config/schema.js';
import type { RuntimeDeps } from '../registry.js';
import { DockerRuntime } from './dockerRuntime.js';

/**
 * The docker runtime as the registry makes it. The instance id written on
 * containers is derived from the gateway's data directory: stable across
 * restarts of one gateway, different for two gateways sharing an engine.
 */
export function dockerRuntimeFromConfig(config: Config, deps: RuntimeDeps): DockerRuntime {
  return new DockerRuntime({
    docker: config.runtime.docker,
    instanceId: createHash('sha256').update(resolve(deps.dataDir)).digest('hex').slice(0, 12),
    stopGraceSeconds: config.spawn.stopGraceSeconds,
    logger: deps.logger,
  });
}
