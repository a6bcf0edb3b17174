import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { BerthError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { attachRuntimeFromConfig } from './attach/fromConfig.js';
import { dockerRuntimeFromConfig } from './docker/fromConfig.js';
import { kubernetesRuntimeFromConfig } from './kubernetes/fromConfig.js';
import { localRuntimeFromConfig } from './local/fromConfig.js';
import type { Runtime } from './types.js';

export type RuntimeKind = Config['runtime']['kind'];

export interface RuntimeDeps {
  /** Absolute, or relative to the working directory. */
  dataDir: string;
  logger: Logger;
  /** argv for berths when environment.command is null (the built-in demo app). */
  defaultCommand: string[];
  /** The gateway's metrics registry, for runtimes with health of their own to export (kubernetes: the pod watch). */
  registry?: Registry;
  /** The configuration file the gateway read, if any: a sandboxed berth must not see it. */
  configFile?: string | null;
}

export type RuntimeFactory = (config: Config, deps: RuntimeDeps) => Runtime;

/** One line per runtime; a kind the config accepts but that is missing here is not in this release. */
const factories: Partial<Record<RuntimeKind, RuntimeFactory>> = {
  local: localRuntimeFromConfig,
  docker: dockerRuntimeFromConfig,
  kubernetes: kubernetesRuntimeFromConfig,
  attach: attachRuntimeFromConfig,
};

export function createRuntime(config: Config, deps: RuntimeDeps): Runtime {
  const kind = config.runtime.kind;
  const factory = factories[kind];
  if (!factory) {
    const available = Object.keys(factories).map((k) => `"${k}"`).join(', ');
    throw new BerthError({
      code: 'runtime_unavailable',
      userMessage: `runtime.kind "${kind}" is not available in this release; set runtime.kind to one of ${available}.`,
    });
  }
  return factory(config, deps);
}
