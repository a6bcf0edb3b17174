import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { configSchema } from '../src/config/schema.js';
import { createLogger } from '../src/log/logger.js';
import { DockerRuntime } from '../src/runtime/docker/dockerRuntime.js';
import { freeLoopbackPort } from '../src/runtime/local/freePort.js';
import { DEBIAN, engine, removeByPrefix, runPrefix } from '../test/helpers/docker.js';
import { compileEntries } from './lib/compile.js';
import { startServer, waitForPort, type ServerProcess } from './lib/processes.js';
import { appendResult, printTable } from './lib/report.js';
import { makeKey } from './lib/sshd.js';

/**
 * npm run bench:loopback — the way into a Docker berth's ports through its
 * network namespace (runtime.docker.enterNamespace: auto: a relay hands the
 * gateway sockets connected inside the namespace) against the bridge address
 * (enterNamespace: off), for the same container, in one run:
 *
 * - per-connection set-up: Runtime.connect to the berth's main port and
 *   close, BENCH_LOOPBACK_CONNECTS times in a row, in this process;
 * - `ssh -L` bulk: curl fetches BENCH_LOOPBACK_BYTES from a server in the
 *   berth through `ssh -L` to each gateway;
 * - app-host download: curl fetches the same through each gateway's app host
 *   `bench-9000.<apps domain>` with an API token.
 *
 * Both gateways are whole (`berth serve` wiring, compiled) and share the
 * container; the server listens on 0.0.0.0 so the bridge path reaches it too.
 * Rounds are interleaved and the best counts (on a shared machine the others
 * measure the neighbours). Target: the namespace path at least 0.8x of the
 * bridge path's throughput.
 * Knobs: BENCH_LOOPBACK_BYTES (1073741824), BENCH_LOOPBACK_ROUNDS (2), BENCH_LOOPBACK_CONNECTS (300).
 */
const bytes = Number(process.env.BENCH_LOOPBACK_BYTES ?? 1024 ** 3);
const rounds = Number(process.env.BENCH_LOOPBACK_ROUNDS ?? 2);
const connects = Number(process.env.BENCH_LOOPBACK_CONNECTS ?? 300);

const run = promisify(execFile);
const USER = 'bench';
const BULK_PORT = 9000;
const APPS_DOMAIN = 'apps.bench';
/** A transfer slower than this is broken, not slow. */
const SLOWEST_BYTES_PER_SECOND = 2 * 1024 * 1024;
const BULK_TIMEOUT_S = Math.max(60, bytes / SLOWEST_BYTES_PER_SECOND);

/** python3 (all the Debian test image has) answering every request with BULK_BYTES zero bytes, on 0.0.0.0. */
const BULK_SERVER = String.raw`
import os, socket, threading
size = int(os.environ['BULK_BYTES'])
chunk = memoryview(b'\0' * (1 << 20))
def handle(c):
    try:
        c.recv(65536)
        c.sendall(b'HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: %d\r\nconnection: close\r\n\r\n' % size)
        left = size
        while left > 0:
            n = min(left, len(chunk))
            c.sendall(chunk[:n])
            left -= n
    except OSError:
        pass
    finally:
        c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 9000))
s.listen(64)
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
`;

type Path = 'namespace' | 'bridge';
const PATHS: readonly Path[] = ['namespace', 'bridge'];

interface Gateway {
  process: ServerProcess;
  url: string;
  sshPort: number;
  token: string;
}

const [gatewayEntry] = (await compileEntries(['bench/lib/wholeGateway.ts'])) as [string];
const scratch = mkdtempSync(join(tmpdir(), 'berth-bench-loopback-'));
const prefix = runPrefix();
const network = `${prefix}-net`;
const started: ServerProcess[] = [];
const runtimes: DockerRuntime[] = [];
try {
  await engine.getImage(DEBIAN).inspect();
  const clientKey = makeKey(join(scratch, 'id_ed25519'));
  const keysDir = join(scratch, 'authorized');
  mkdirSync(keysDir);
  writeFileSync(join(keysDir, USER), readFileSync(`${clientKey}.pub`, 'utf8'));
  const sshClient = ['-F', '/dev/null', '-i', clientKey, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ExitOnForwardFailure=yes'];

  const gateways = {} as Record<Path, Gateway>;
  for (const path of PATHS) {
    const [httpPort, sshPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
    const url = `http://127.0.0.1:${httpPort}`;
    const server = await startServer(gatewayEntry, {
      BERTH_DATA_DIR: join(scratch, `data-${path}`),
      BERTH_LISTEN_HTTP: `127.0.0.1:${httpPort}`,
      BERTH_PUBLIC_URL: url,
      BERTH_LISTEN_SSH: `127.0.0.1:${sshPort}`,
      BERTH_LOG_LEVEL: 'warn',
      BERTH_AUTH_MODE: 'header',
      BERTH_AUTH_HEADER_USER_HEADERS: '[X-Forwarded-Preferred-Username]',
      BERTH_APPS_DOMAIN: APPS_DOMAIN,
      BERTH_SSH_AUTHORIZED_KEYS_DIR: keysDir,
      BERTH_RUNTIME_KIND: 'docker',
      BERTH_RUNTIME_DOCKER_NAME_PREFIX: prefix,
      BERTH_RUNTIME_DOCKER_NETWORK: network,
      BERTH_RUNTIME_DOCKER_REACH: 'network',
      BERTH_RUNTIME_DOCKER_ENTER_NAMESPACE: path === 'namespace' ? 'auto' : 'off',
      BERTH_ENVIRONMENT_IMAGE: DEBIAN,
      BERTH_ENVIRONMENT_ENV: JSON.stringify({ BULK_BYTES: String(bytes), BULK_SERVER }),
      BERTH_ENVIRONMENT_COMMAND: JSON.stringify(['sh', '-c', 'python3 -c "$BULK_SERVER" & exec python3 -m http.server "$PORT"']),
    });
    started.push(server);
    const headers = { 'X-Forwarded-Preferred-Username': USER, Origin: url, 'Content-Type': 'application/json' };
    // Started through the API (the second gateway finds it running), then ready once the main route answers.
    const start = await fetch(`${url}/_berth/api/me/start`, { method: 'POST', headers, body: '{}' });
    if (start.status >= 300) throw new Error(`the ${path} gateway did not start the berth (${start.status}): ${await start.text()}`);
    await untilReady(url, headers);
    const made = await fetch(`${url}/_berth/api/me/tokens`, { method: 'POST', headers, body: JSON.stringify({ name: 'bench', scopes: ['apps'], expiresInSeconds: 3600 }) });
    if (made.status !== 201) throw new Error(`the ${path} gateway made no token (${made.status}): ${await made.text()}`);
    gateways[path] = { process: server, url, sshPort, token: ((await made.json()) as { token: string }).token };
  }
  if (!(await waitForContainerPort(BULK_PORT))) throw new Error('the bulk server in the berth did not listen');

  console.log(`bench:loopback — ${process.version}; ${(bytes / 1024 ** 2).toFixed(0)} MiB per transfer, best of ${rounds} rounds; ${connects} connects per path`);

  // Per-connection set-up, in this process, through the runtime itself.
  const setup = {} as Record<Path, { medianUs: number; p90Us: number }>;
  for (const path of PATHS) {
    const docker = configSchema.parse({
      runtime: { kind: 'docker', docker: { namePrefix: prefix, network, reach: 'network', enterNamespace: path === 'namespace' ? 'auto' : 'off' } },
    }).runtime.docker;
    const runtime = new DockerRuntime({ docker, instanceId: 'bench', stopGraceSeconds: 1, logger: createLogger('warn') });
    runtimes.push(runtime);
    const main = await runtime.mainPort(USER);
    (await runtime.connect(USER, main)).destroy(); // the relay's start is once per berth, not per connection
    const times: number[] = [];
    for (let i = 0; i < connects; i++) {
      const began = performance.now();
      const socket = await runtime.connect(USER, main);
      times.push((performance.now() - began) * 1000);
      socket.destroy();
    }
    times.sort((a, b) => a - b);
    setup[path] = { medianUs: times[Math.floor(times.length / 2)] as number, p90Us: times[Math.floor(times.length * 0.9)] as number };
  }

  const kinds = ['ssh -L', 'app host'] as const;
  type Kind = (typeof kinds)[number];
  const best: Record<Path, Record<Kind, number>> = { namespace: { 'ssh -L': 0, 'app host': 0 }, bridge: { 'ssh -L': 0, 'app host': 0 } };
  for (let round = 0; round < rounds; round++) {
    for (const kind of kinds) {
      for (const path of PATHS) {
        const gateway = gateways[path];
        const mbPerSecond = kind === 'ssh -L' ? await viaSshForward(gateway, sshClient) : await viaAppHost(gateway);
        best[path][kind] = Math.max(best[path][kind], mbPerSecond);
      }
    }
  }

  const ratio = (kind: Kind) => best.namespace[kind] / best.bridge[kind];
  printTable([
    ['', 'connect µs p50', 'p90', 'ssh -L MB/s', 'app host MB/s'],
    ...PATHS.map((path) => [path, setup[path].medianUs.toFixed(0), setup[path].p90Us.toFixed(0), best[path]['ssh -L'].toFixed(0), best[path]['app host'].toFixed(0)]),
    ['namespace / bridge', `${(setup.namespace.medianUs / setup.bridge.medianUs).toFixed(2)}x`, '', `${ratio('ssh -L').toFixed(2)}x`, `${ratio('app host').toFixed(2)}x`],
  ]);
  console.log('target: the namespace path at least 0.80x of the bridge path for ssh -L and the app host');
  const file = appendResult('loopback', { bytes, rounds, connects, setup, best, ratios: { sshForward: ratio('ssh -L'), appHost: ratio('app host') } });
  console.log(`appended to ${file}`);
} finally {
  for (const runtime of runtimes) await runtime.close();
  for (const server of started) await server.stop();
  await removeByPrefix(prefix, [network]);
  rmSync(scratch, { recursive: true, force: true });
}

/** Polls the main route until the berth answers 200, for at most a minute. */
async function untilReady(url: string, headers: Record<string, string>): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const reply = await fetch(`${url}/`, { headers });
    await reply.arrayBuffer();
    if (reply.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url}/ still answers ${reply.status}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Whether the bench berth's container listens on `port` (its python3 server starts after the main one). */
async function waitForContainerPort(port: number): Promise<boolean> {
  const info = await engine.getContainer(`${prefix}-${USER}`).inspect();
  const address = Object.values(info.NetworkSettings.Networks)[0]?.IPAddress;
  return address !== undefined && (await waitForPort(port, 10_000, address));
}

/** curl through `ssh -L` to the bulk server; MB/s of a download whose size is checked. */
async function viaSshForward(gateway: Gateway, client: string[]): Promise<number> {
  const local = await freeLoopbackPort();
  const ssh = spawn('ssh', [...client, '-N', '-L', `${local}:localhost:${BULK_PORT}`, '-p', String(gateway.sshPort), `${USER}@127.0.0.1`], { stdio: 'ignore' });
  try {
    if (!(await waitForPort(local, 15_000))) throw new Error('the ssh forward did not listen');
    return await download(`http://127.0.0.1:${local}/`, []);
  } finally {
    ssh.kill('SIGKILL');
  }
}

/** curl through the gateway's app host for the bulk port, with the token. */
function viaAppHost(gateway: Gateway): Promise<number> {
  const port = new URL(gateway.url).port;
  const host = `${USER}-${BULK_PORT}.${APPS_DOMAIN}`;
  return download(`http://${host}:${port}/`, ['--resolve', `${host}:${port}:127.0.0.1`, '-H', `X-Berth-Token: ${gateway.token}`]);
}

async function download(url: string, args: string[]): Promise<number> {
  const { stdout } = await run('curl', ['-sS', '--max-time', String(BULK_TIMEOUT_S), '-o', '/dev/null', '-w', '%{size_download} %{time_total}', ...args, url], { timeout: (BULK_TIMEOUT_S + 5) * 1000 });
  const [size, seconds] = stdout.trim().split(' ').map(Number) as [number, number];
  if (size !== bytes) throw new Error(`${url}: ${size} bytes, not ${bytes}`);
  return bytes / 1e6 / seconds;
}
