import { createLogger } from '../../src/log/logger.js';
import type { Config } from '../../src/config/schema.js';
import { configSchema } from '../../src/config/schema.js';
import { dockerRuntimeFromConfig } from '../../src/runtime/docker/fromConfig.js';
import { DEBIAN_IMAGE, missingEngine, removePrefixed, runPrefix } from '../helpers/docker.js';
import { localSpawner, spawnerOver, type SpawnerParts } from '../helpers/gatewayParts.js';

/**
 * The runtimes the SSH behaviours run against, as test/conformance/runtime.ts
 * runs the runtime's: every describe of an SSH test file that is about what
 * reaches the berth loops over these, so each behaviour is checked on the
 * local runtime and on a real Docker engine with the same test.
 */
export interface SshRuntime {
  kind: 'local' | 'docker';
  /** Why it cannot be tested here, or false. */
  skip: string | false;
  /** Points the config at this runtime and a berth serving "hello from <user>" on environment.port; the test adjusts after. */
  configure(config: Config): void;
  parts(config: Config): Promise<SpawnerParts>;
  /** The port a forward names to reach the berth's web server: the port inside the berth. */
  webPort(gateway: { parts: SpawnerParts; config: Config }, user: string): Promise<number>;
}

const local: SshRuntime = {
  kind: 'local',
  skip: false,
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

const missing = await missingEngine();

const docker: SshRuntime = {
  kind: 'docker',
  // Without an engine the docker half skips on a workstation and fails in CI, where .ci/run starts one.
  skip: process.env.CI === 'true' ? false : (missing ?? false),
  configure(config) {
    const prefix = runPrefix();
    config.runtime = configSchema.parse({ runtime: { kind: 'docker', docker: { namePrefix: prefix, network: `${prefix}-net`, reach: 'network' } } }).runtime;
    config.environment.image = DEBIAN_IMAGE;
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
        await removePrefixed(namePrefix, network);
      },
    };
  },
  webPort: async ({ config }) => config.environment.port,
};

export const RUNTIMES: readonly SshRuntime[] = [local, docker];
