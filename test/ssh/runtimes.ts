import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/log/logger.js';
import type { Config } from '../../src/config/schema.js';
import { configSchema } from '../../src/config/schema.js';
import { dockerRuntimeFromConfig } from '../../src/runtime/docker/fromConfig.js';
import { kubernetesRuntimeFromConfig } from '../../src/runtime/kubernetes/fromConfig.js';
import { DEBIAN, DOCKER, engine, PODMAN, removeByPrefix, runPrefix, withEngine, type TestEngine } from '../helpers/docker.js';
import { startFakeApiServer } from '../kubernetes/fakeApiServer/index.js';
import { localSpawner, spawnerOver, type SpawnerParts } from '../helpers/gatewayParts.js';

/**
 * The runtimes the SSH behaviours run against, as test/conformance/runtime.ts
 * runs the runtime's: every describe of an SSH test file that is about what
 * reaches the berth is declared through forEachRuntime, so each behaviour is
 * checked on the local runtime, on real Docker and Podman engines and on the
 * kubernetes runtime against the fake API server (pods as Docker containers)
 * with the same test.
 */
export interface SshRuntime {
  kind: 'local' | TestEngine['kind'] | 'kubernetes';
  /** The engine the berths run on as containers; null for local berths and for pods. */
  engine: TestEngine | null;
  /** Points the config at this runtime and a berth serving "hello from <user>" on environment.port; the test adjusts after. */
  configure(config: Config): void;
  parts(config: Config): Promise<SpawnerParts>;
  /** The port a forward names to reach the berth's web server: the port inside the berth. */
  webPort(gateway: { parts: SpawnerParts; config: Config }, user: string): Promise<number>;
  /** Whether a listener bound to a loopback address other than localhost (127.0.0.2) is reached: not in a pod, where the API's port-forward dials localhost. */
  otherLoopbackReached: boolean;
}

const local: SshRuntime = {
  kind: 'local',
  engine: null,
  configure: () => undefined,
  parts: (config) => localSpawner(config),
  // A local berth listens on the host, on the port the runtime allocated.
  webPort: async ({ parts }, user) => (await parts.spawner.ready(user, 'http')).port,
  otherLoopbackReached: true,
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

/** The docker runtime on one engine (Docker, or Podman's API service). */
const onEngine = (engine: TestEngine): SshRuntime => ({
  kind: engine.kind,
  engine,
  configure(config) {
    const prefix = runPrefix();
    config.runtime = configSchema.parse({
      runtime: { kind: 'docker', docker: { socket: engine.socket, namePrefix: prefix, network: `${prefix}-net`, reach: 'network' } },
    }).runtime;
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
        await removeByPrefix(namePrefix, [network], engine);
      },
    };
  },
  webPort: async ({ config }) => config.environment.port,
  otherLoopbackReached: true,
});

/** Berths as pods of the fake API server, reached at their pod IPs, exec'd through the API's exec over WebSocket. */
const kubernetes: SshRuntime = {
  kind: 'kubernetes',
  engine: null,
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
  otherLoopbackReached: false,
};

export const RUNTIMES: readonly SshRuntime[] = [local, onEngine(DOCKER), onEngine(PODMAN), kubernetes];
/**
 * For what the SSH front decides by itself (authentication, limits): Podman
 * would run the same docker runtime code again, so only exec, pty, sftp and
 * forwarding, which reach into the berth, also run there.
 */
export const WITHOUT_PODMAN: readonly SshRuntime[] = RUNTIMES.filter((runtime) => runtime.kind !== 'podman');

/**
 * Declares a file's suites once per runtime (`define` names them with
 * runtime.kind); those on an engine only with the engine and the test
 * images, else they skip, or fail in CI where .ci/run starts both engines.
 */
export async function forEachRuntime(define: (runtime: SshRuntime) => void, runtimes: readonly SshRuntime[] = RUNTIMES): Promise<void> {
  for (const runtime of runtimes) {
    const { engine } = runtime;
    if (engine) await withEngine(`ssh into ${engine.kind} berths`, () => define(runtime), engine);
    // The fake API server's pods are Docker containers.
    else if (runtime.kind === 'kubernetes') await withEngine('ssh into kubernetes berths', () => define(runtime), DOCKER);
    else define(runtime);
  }
}
