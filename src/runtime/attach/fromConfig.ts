import type { Config } from '../../config/schema.js';
import type { RuntimeDeps } from '../registry.js';
import { AttachRuntime } from './attachRuntime.js';

/** The attach runtime as the registry makes it: on the engine runtime.docker names, with the attach keys. */
export function attachRuntimeFromConfig(config: Config, deps: RuntimeDeps): AttachRuntime {
  return new AttachRuntime({ docker: config.runtime.docker, attach: config.attach, defaultPort: config.environment.port, logger: deps.logger });
}
