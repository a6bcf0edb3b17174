import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/log/logger.js';
import type { Config } from '../../src/config/schema.js';
import { configSchema } from '../../src/config/schema.js';
import { dockerRuntimeFromConfig } from '../../src/runtime/docker/fromConfig.js';
import { kubernetesRuntimeFromConfig } from '../../src/runtime/kubernetes/fromConfig.js';
import { DEBIAN, engine, removeByPrefix, runPrefix, withEngine } from '../helpers/docker.js';
import { startFakeApiServer } from '../kubernetes/fakeApiServer/index.js';
import { localSpawner, spawnerOver, type SpawnerParts } from '../helpers/gatewayParts.js';

/**
 * The runtimes the SSH behaviours run against, as test/conformance/runtime.ts
 * runs the runtime's: every describe of an SSH test file that is about what
 * reaches the berth is declared through forEachRuntime, so each behaviour is
 * checked on the local runtime, on a real Docker engine and on the kubernetes
 * runtime against the fake API server (pods as Docker containers) with the
 * same test.
 */
export interface SshRuntime {
  kind: 'local' | 'docker' | 'kubernetes';
  /** Points the config at this runtime and a berth serving "hello from <user>" on environment.port; the test adjusts after. */
  configure(config: Config): void;
  parts(config: Config): Promise<SpawnerParts>;
  /** The port a forward names to reach the berth's web server: the port inside the berth. */
  webPort(gateway: { parts: SpawnerParts; config: Config }, user: string): Promise<number>;
}

const local: SshRuntime = {
  kind: 'local',
  configure: () => undefined,
  parts: (config) => localSpawner(config),
  // A local berth listens on the host, on the port the runtime allocated.
  webPort: async ({ parts }, user) => (await parts.spawner.ready(user, 'http')).port,
};

/** The Debian test image has python3 (and openssh-sftp-server), nothing else of note. */
const PYTHON_SERVER = [
  'python3',
  '-c',
  [
    'import http.server as h, os',
    'class H(h.BaseHTTPRequestHandler):',
    '  def do_GET(self):',
    '    body = ("hello from " + os.environ["BERTH_USER"]).encode()',
    '    self.send_response(200); self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)',
    'h.HTTPServer(("", int(os.environ["PORT"])), H).serve_forever()',
  ].join('\n'),
];

const docker: SshRuntime = {
  kind: 'docker',
  configure(config) {
    const prefix = runPrefix();
    config.runtime = configSchema.parse({ runtime: { kind: 'docker', docker: { namePrefix: prefix, network: `${prefix}-net`, reach: 'network' } } }).runtime;
    config.environment.image = DEBIAN;
    config.environment.command = PYTHON_SERVER;
  },
  async parts(config) {
    const runtime = dockerRuntimeFromConfig(config, { dataDir: config.dataDir, logger: createLogger(config.log.level), defaultCommand: [] });
    const parts = await spawnerOver(config, runtime);
    const { namePrefix, network } = config.runtime.docker;
    return {
      ...parts,
      async close() {
        await parts.close();
        await removeByPrefix(namePrefix, [network]);
      },
    };
  },
  webPort: async ({ config }) => config.environment.port,
};

/** Berths as pods of the fake API server, reached at their pod IPs, exec'd through the API's exec over WebSocket. */
const kubernetes: SshRuntime = {
  kind: 'kubernetes',
  configure(config) {
    config.environment.image = DEBIAN;
    config.environment.command = PYTHON_SERVER;
  },
  async parts(config) {
    const prefix = runPrefix();
    const dir = await mkdtemp(join(tmpdir(), 'berth-ssh-kube-'));
    const fake = await startFakeApiServer({ engine, prefix, dir, namespaces: [prefix] });
    config.runtime = configSchema.parse({ runtime: { kind: 'kubernetes', kubernetes: { kubeconfig: fake.kubeconfig, namespace: prefix, reach: 'podIP' } } }).runtime;
    const runtime = kubernetesRuntimeFromConfig(config, { dataDir: config.dataDir, logger: createLogger(config.log.level), defaultCommand: [] });
    const parts = await spawnerOver(config, runtime);
    return {
      ...parts,
      async close() {
        await parts.close();
        await fake.close();
        await removeByPrefix(prefix, [`${prefix}-podnet`]);
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  webPort: async ({ config }) => config.environment.port,
};

export const RUNTIMES: readonly SshRuntime[] = [local, docker, kubernetes];

/**
 * Declares a file's suites once per runtime (`define` names them with
 * runtime.kind); the docker ones only with an engine and the test images,
 * else they skip, or fail in CI where .ci/run starts an engine.
 */
export async function forEachRuntime(define: (runtime: SshRuntime) => void): Promise<void> {
  for (const runtime of RUNTIMES) {
    if (runtime.kind !== 'local') await withEngine(`ssh into ${runtime.kind} berths`, () => define(runtime));
    else define(runtime);
  }
}
