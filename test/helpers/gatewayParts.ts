import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { LocalRuntime } from '../../src/runtime/local/localRuntime.js';
import type { Runtime } from '../../src/runtime/types.js';
import { Spawner } from '../../src/spawner/spawner.js';
import { Store } from '../../src/store/store.js';

/** A node one-liner that serves HTTP on $PORT: a berth needing nothing but Node. */
export const NODE_SERVER = [
  process.execPath,
  '-e',
  "require('http').createServer((q,s)=>s.end('hello from '+process.env.BERTH_USER)).listen(+process.env.PORT,'127.0.0.1')",
];

/** Config overrides as BERTH_* variables would give them, on top of the defaults, with a fresh dataDir. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-test-'));
  return loadConfig({ env: { BERTH_DATA_DIR: dataDir, BERTH_LOG_LEVEL: 'silent', ...overrides }, cwd: dataDir }).config;
}

/** A real spawner over the real local runtime and a real SQLite store. */
export function localSpawner(config: Config) {
  const runtime = new LocalRuntime({
    dataDir: config.dataDir,
    logger: createLogger(config.log.level),
    defaultCommand: NODE_SERVER,
    stopGraceSeconds: config.spawn.stopGraceSeconds,
  });
  return spawnerOver(config, runtime);
}

/** A real spawner over `runtime` and a real store (SQLite unless config.store says otherwise); close() stops the berths and removes the data directory. */
export async function spawnerOver<R extends Runtime>(config: Config, runtime: R) {
  const logger = createLogger(config.log.level);
  const store = await Store.open(config.dataDir, config.store);
  let spawner: Spawner | undefined;
  const metrics = new Metrics(() => spawner?.list() ?? []);
  spawner = new Spawner({ config, runtime, store, logger, metrics });
  return {
    spawner,
    runtime,
    store,
    metrics,
    async close() {
      await spawner.close({ stopBerths: true });
      await runtime.close();
      await store.close();
      rmSync(config.dataDir, { recursive: true, force: true });
    },
  };
}

export type SpawnerParts = Awaited<ReturnType<typeof spawnerOver>>;
