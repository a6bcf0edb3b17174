import { rmSync } from 'node:fs';
import { startGateway, type RunningGateway } from '../../src/cli/serve.js';
import type { Config } from '../../src/config/schema.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { testConfig } from './gatewayParts.js';

export interface InProcessGateway {
  /** http://127.0.0.1:<port>, also its publicUrl. */
  base: string;
  config: Config;
  /** Shuts it down as SIGTERM would and removes its data directory. */
  close(): Promise<void>;
}

/**
 * The whole gateway (serve.ts) in this process on a loopback port (`port`,
 * else a free one) that is also its publicUrl, SSH off, a fresh data
 * directory, and `overrides` as BERTH_* variables over that.
 */
export async function inProcessGateway(overrides: Record<string, string> = {}, port?: number): Promise<InProcessGateway> {
  const listen = port ?? (await freeLoopbackPort());
  const base = `http://127.0.0.1:${listen}`;
  const config = testConfig({ BERTH_LISTEN_HTTP: `127.0.0.1:${listen}`, BERTH_PUBLIC_URL: base, BERTH_LISTEN_SSH: 'null', ...overrides });
  const gateway: RunningGateway = await startGateway({ config, file: null }, 'test');
  return {
    base,
    config,
    async close() {
      await gateway.shutdown();
      rmSync(config.dataDir, { recursive: true, force: true });
    },
  };
}
