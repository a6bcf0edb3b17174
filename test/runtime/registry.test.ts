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

  it('makes the kubernetes runtime, which says which kubeconfig it cannot use', () => {
    const config = configSchema.parse({ runtime: { kind: 'kubernetes', kubernetes: { kubeconfig: '/nonexistent/kubeconfig' } } });
    assert.throws(() => createRuntime(config, deps), (err: Error & { code?: string; userMessage?: string }) => {
      assert.equal(err.code, 'config_invalid');
      assert.match(err.userMessage ?? '', /\/nonexistent\/kubeconfig.*set runtime\.kubernetes\.kubeconfig/);
      return true;
    });
  });
});
