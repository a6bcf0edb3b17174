import type { Config } from '../../config/schema.js';
import type { RuntimeDeps } from '../registry.js';
import { LocalRuntime } from './localRuntime.js';
import { chooseSandbox } from './sandbox/choose.js';
import { sandboxLayout } from './sandbox/layout.js';

/**
 * The local runtime as the registry makes it: sandboxed when
 * runtime.local.sandbox and the host allow (probed once, here), hiding from
 * berths the gateway's data and the files its configuration names.
 */
export function localRuntimeFromConfig(config: Config, deps: RuntimeDeps): LocalRuntime {
  const sandbox = chooseSandbox(config, deps.logger);
  const gatewayFiles = [deps.configFile, config.auth.oidc.clientSecretFile, config.ssh.authorizedKeysDir].filter((f): f is string => typeof f === 'string');
  return new LocalRuntime({
    ...deps,
    stopGraceSeconds: config.spawn.stopGraceSeconds,
    warnUnsandboxed: sandbox === 'off' && config.auth.mode !== 'dev',
    sandbox: sandbox === 'bwrap' ? sandboxLayout({ dataDir: deps.dataDir, gatewayFiles }) : null,
  });
}
