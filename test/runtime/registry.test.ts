import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { createRuntime } from '../../src/runtime/registry.js';
import { captureLogger } from '../auth/helpers.js';

describe('runtime registry', () => {
  const deps = { dataDir: '', logger: createLogger('silent'), defaultCommand: ['true'] };

  it('makes the local runtime', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'berth-registry-'));
    try {
      const runtime = createRuntime(configSchema.parse({}), { ...deps, dataDir });
      assert.equal(runtime.kind, 'local');
      await runtime.health();
      await runtime.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  for (const mode of ['header', 'oidc', 'dev'] as const) {
    const warns = mode !== 'dev';
    it(`${warns ? 'warns' : 'does not warn'} at start that unsandboxed local berths share the host's network in auth mode ${mode}`, async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'berth-registry-'));
      const { logger, text } = captureLogger();
      try {
        const runtime = createRuntime(configSchema.parse({ auth: { mode } }), { ...deps, dataDir, logger });
        await runtime.prepare();
        const warning = text()
          .split('\n')
          .filter((line) => line.includes('"level":40') && line.includes("unsandboxed local berths share the host's network"));
        assert.equal(warning.length, warns ? 1 : 0, text());
        if (warns) assert.match(warning[0] as string, /runtime\.kind: docker/, 'points to Docker');
        await runtime.close();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  }

  it('says a kind that is not in this release is not available', () => {
    assert.throws(() => createRuntime(configSchema.parse({ runtime: { kind: 'kubernetes' } }), deps), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'runtime_unavailable');
      assert.match(err.message, /kubernetes.*not available in this release/);
      return true;
    });
  });
});
