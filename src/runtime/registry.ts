import type { Config } from '../config/schema.js';
import { BerthError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { dockerRuntimeFromConfig } from './docker/fromConfig.js';
import { LocalRuntime } from './local/localRuntime.js';
import type { Runtime } from './types.js';

export type RuntimeKind = Config['runtime']['kind'];

export interface RuntimeDeps {
  /** Absolute, or relative to the working directory. */
  dataDir: string;
  logger: Logger;
  /** argv for berths when environment.command is null (the built-in demo app). */
  defaultCommand: string[];
}

export type RuntimeFactory = (config: Config, deps: RuntimeDeps) => Runtime;

/** One line per runtime; a kind the config accepts but that is missing here is not in this release. */
const factories: Partial<Record<RuntimeKind, RuntimeFactory>> = {
  local: (config, deps) => new LocalRuntime({ ...deps, stopGraceSeconds: config.spawn.stopGraceSeconds, warnUnsandboxed: config.auth.mode !== 'dev' }),
  docker: dockerRuntimeFromConfig,
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
