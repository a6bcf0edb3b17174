import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { Config } from '../../config/schema.js';
import type { RuntimeDeps } from '../registry.js';
import { KubernetesRuntime } from './kubernetesRuntime.js';

/**
 * The kubernetes runtime as the registry makes it. The instance id written on
 * pods is derived from the gateway's data directory, as on Docker: stable
 * across restarts, shared by replicas that mount the same path.
 */
export function kubernetesRuntimeFromConfig(config: Config, deps: RuntimeDeps): KubernetesRuntime {
  return new KubernetesRuntime({
    kubernetes: config.runtime.kubernetes,
    instanceId: createHash('sha256').update(resolve(deps.dataDir)).digest('hex').slice(0, 12),
    stopGraceSeconds: config.spawn.stopGraceSeconds,
    spawnTimeoutSeconds: config.spawn.timeoutSeconds,
    logger: deps.logger,
    registry: deps.registry,
  });
}
