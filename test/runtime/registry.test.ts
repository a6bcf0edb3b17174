import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { createRuntime } from '../../src/runtime/registry.js';

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

  it('says a kind that is not in this release is not available', () => {
    assert.throws(() => createRuntime(configSchema.parse({ runtime: { kind: 'kubernetes' } }), deps), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'runtime_unavailable');
      assert.match(err.message, /kubernetes.*not available in this release/);
      return true;
    });
  });
});
