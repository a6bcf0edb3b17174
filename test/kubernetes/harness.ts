import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { KubernetesRuntime, type KubernetesRuntimeOptions } from '../../src/runtime/kubernetes/kubernetesRuntime.js';
import { berthSpecFor } from '../../src/runtime/spec.js';
import type { BerthSpec } from '../../src/runtime/types.js';
import { BUSYBOX, engine, removeByPrefix, runPrefix } from '../helpers/docker.js';
import { startFakeApiServer, type FakeApiServer } from './fakeApiServer/index.js';

/*
 * What the kubernetes tests share: a fake API server (its pods are Docker
 * containers named by a per-run prefix, which is also the namespace), a
 * runtime on it through the real client-node, and clean-up of both.
 */

export const SERVER = ['sh', '-c', 'exec busybox httpd -f -p "$PORT"'];

export interface KubeHarness {
  prefix: string;
  namespace: string;
  fake: FakeApiServer;
  runtimeConfig(overrides?: NonNullable<ConfigInput['runtime']>['kubernetes']): KubernetesRuntimeOptions['kubernetes'];
  makeRuntime(overrides?: NonNullable<ConfigInput['runtime']>['kubernetes'], options?: Partial<KubernetesRuntimeOptions>): KubernetesRuntime;
  specFor(user: string, command: string[] | null, environment?: ConfigInput['environment']): BerthSpec;
  cleanup(): Promise<void>;
}

export async function kubeHarness(logger: Logger = createLogger('silent')): Promise<KubeHarness> {
  const prefix = runPrefix();
  const dir = await mkdtemp(join(tmpdir(), 'berth-kube-'));
  const fake = await startFakeApiServer({ engine, prefix, dir, namespaces: [prefix], bookmarkMs: 500 });
  const runtimes: KubernetesRuntime[] = [];
  const runtimeConfig = (overrides: NonNullable<ConfigInput['runtime']>['kubernetes'] = {}) =>
    configSchema.parse({ runtime: { kind: 'kubernetes', kubernetes: { kubeconfig: fake.kubeconfig, namespace: prefix, reach: 'podIP', ...overrides } } }).runtime.kubernetes;
  return {
    prefix,
    namespace: prefix,
    fake,
    runtimeConfig,
    makeRuntime: (overrides = {}, options = {}) => {
      const runtime = new KubernetesRuntime({
        kubernetes: runtimeConfig(overrides),
        instanceId: 'test-instance',
        stopGraceSeconds: 2,
        spawnTimeoutSeconds: 20,
        logger,
        watch: { minBackoffMs: 50, maxBackoffMs: 1000 },
        ...options,
      });
      runtimes.push(runtime);
      return runtime;
    },
    specFor: (user, command, environment = {}) => berthSpecFor(configSchema.parse({ environment: { image: BUSYBOX, ...environment, command } }), user),
    cleanup: async () => {
      await Promise.all(runtimes.map((r) => r.close()));
      await fake.close();
      await removeByPrefix(prefix, [`${prefix}-podnet`]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
