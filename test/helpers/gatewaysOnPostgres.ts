import type { Config } from '../../src/config/schema.js';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { dockerRuntimeFromConfig } from '../../src/runtime/docker/fromConfig.js';
import { BUSYBOX, DOCKER, engine } from './docker.js';
import { spawnerOver, testConfig, type SpawnerParts } from './gatewayParts.js';

/** busybox httpd answering "hello from <user>\n" on $PORT. */
export const HELLO_SERVER = ['sh', '-c', 'mkdir -p /tmp/w && echo "hello from $BERTH_USER" > /tmp/w/index.html && exec busybox httpd -f -p "$PORT" -h /tmp/w'];

/**
 * Gateways as separate processes have them, in one test process: each its
 * own data directory, spawner, Docker runtime client and store pool, all on
 * one PostgreSQL database and one engine (names under `prefix`).
 */
export function gatewayConfig(prefix: string, url: string, overrides: Record<string, string> = {}): Config {
  const config = testConfig({ BERTH_STORE_KIND: 'postgres', BERTH_STORE_URL: url, ...overrides });
  config.runtime = configSchema.parse({
    runtime: { kind: 'docker', docker: { socket: DOCKER.socket, namePrefix: prefix, network: `${prefix}-net`, reach: 'network' } },
  }).runtime;
  config.environment.image = BUSYBOX;
  config.environment.command = HELLO_SERVER;
  return config;
}

export function dockerRuntimeOf(config: Config) {
  return dockerRuntimeFromConfig(config, { dataDir: config.dataDir, logger: createLogger('silent'), defaultCommand: [] });
}

export async function gatewaysOn(prefix: string, url: string, count: number, overrides: Record<string, string> = {}): Promise<SpawnerParts[]> {
  return Promise.all(
    Array.from({ length: count }, () => {
      const config = gatewayConfig(prefix, url, overrides);
      return spawnerOver(config, dockerRuntimeOf(config));
    }),
  );
}

/** The user's containers under `prefix`, as the engine lists them. */
export function containersOf(prefix: string, user: string) {
  return engine.listContainers({ all: true, filters: { label: [`berth.user=${user}`], name: [`${prefix}-`] } });
}
