/**
 * Berth as a library: `import { createBerth } from 'berth'`. The package's
 * one entry point (package.json "exports"); README "Berth as a library".
 */
import { startGateway } from './cli/serve.js';
import { version } from './cli/version.js';
import { validConfig } from './config/load.js';
import type { ConfigInput } from './config/schema.js';
import { BerthHandle } from './embed/handle.js';
import type { Logger } from './log/logger.js';

export type { Config, ConfigInput } from './config/schema.js';
export { ConfigError } from './config/load.js';
export { BerthError } from './core/errors.js';
export { BerthHandle, type Addresses, type BerthEvent, type BerthEvents } from './embed/handle.js';
export {
  createAuthWebhookHandler,
  createConfigWebhookHandler,
  webhookServerTls,
  type AuthAttempt,
  type AuthDecision,
  type AuthWebhookOptions,
  type ConfigRequest,
  type ConfigResponse,
  type WebhookHandler,
} from './embed/webhooks.js';
export type { Logger } from './log/logger.js';

export interface CreateBerthOptions {
  /**
   * A pino logger of the host program's for the gateway's lines (each with
   * a `component`); without one, the gateway logs as `berth serve` does
   * (log.level, log.format, log.file). log.access lines go to log.accessFile,
   * else to this logger's child { component: 'access' } at info.
   */
  logger?: Logger;
  /** Relative paths in the configuration (dataDir) are taken from here; default process.cwd(). */
  cwd?: string;
}

/**
 * A gateway built from `config`, the object berth.yaml would hold (the same
 * schema; the defaults fill in what is left out). Throws a ConfigError that
 * names every wrong key; BERTH_* variables are not read: the host program
 * decides the configuration. Nothing is opened until start().
 */
export function createBerth(config: ConfigInput, options: CreateBerthOptions = {}): BerthHandle {
  const valid = validConfig(config, 'createBerth(config)', options.cwd);
  return new BerthHandle(() => startGateway({ config: valid, file: null }, version(), options.logger));
}
