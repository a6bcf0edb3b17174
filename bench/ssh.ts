import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freeLoopbackPort } from '../src/runtime/local/freePort.js';
import { DEBIAN, engine, removeByPrefix, runPrefix } from '../test/helpers/docker.js';
import { compileEntries } from './lib/compile.js';
import { startServer, type ServerProcess } from './lib/processes.js';
import { appendResult, printTable } from './lib/report.js';
import { makeKey, SSHD, startSshd, type Sshd } from './lib/sshd.js';

/**
 * npm run bench:ssh — the SSH path as a person feels it, in one run, for
 * three ways into the same docker container:
 *   berth        Berth's SSH gateway (the whole gateway, compiled, in a process of its own)
 *   sshd+exec    OpenSSH's sshd on the host, then `docker exec -i` (what Berth replaces)
 *   docker exec  `docker exec -i` alone, no SSH at all (the floor)
 * Session set-up is the wall time of `ssh … true` (the median of
 * BENCH_SSH_SESSIONS); bulk throughput moves BENCH_SSH_BYTES up (into
 * `wc -c`), down (out of `head -c`) and through `cat` both ways at once, each
 * checked for its byte count, BENCH_SSH_ROUNDS times interleaved, the best
 * round counting (on a shared machine the others measure the neighbours).
 * Clients use their default algorithms, as users do. Everything is on
 * loopback; every client is killed after a time bound.
 * Knobs: BENCH_SSH_SESSIONS (20), BENCH_SSH_BYTES (1073741824),
 * BENCH_SSH_ROUNDS (2), BENCH_GATEWAY_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=prof").
 */
const sessions = Number(process.env.BENCH_SSH_SESSIONS ?? 20);
const bytes = Number(process.env.BENCH_SSH_BYTES ?? 1024 ** 3);
const rounds = Number(process.env.BENCH_SSH_ROUNDS ?? 2);
const gatewayNodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);

const USER = 'bench';
const SESSION_TIMEOUT_MS = 30_000;
/** A transfer slower than this is broken, not slow. */
const SLOWEST_BYTES_PER_SECOND = 2 * 1024 * 1024;
const BULK_TIMEOUT_MS = Math.max(60_000, (bytes / SLOWEST_BYTES_PER_SECOND) * 1000);

type Bulk = 'up' | 'down' | 'cat';
const BULKS: Record<Bulk, { describe: string; pipeline: (run: (command: string) => string) => string }> = {
  up: { describe: 'client → berth', pipeline: (run) => `head -c ${bytes} /dev/zero | ${run('wc -c')}` },
  down: { describe: 'berth → client', pipeline: (run) => `${run(`head -c ${bytes} /dev/zero`)} | wc -c` },
  cat: { describe: 'through cat, both ways', pipeline: (run) => `head -c ${bytes} /dev/zero | ${run('cat')} | wc -c` },
};

interface Subject {
  name: string;
  /** The argv that runs `command` (a shell command line) in the berth. */
  argv(command: string): string[];
  /** The process whose CPU time is the cost of the way in, where there is one to measure. */
  front?: ServerProcess;
}

interface Measured {
  setupMs: { median: number; p90: number; min: number };
  /** The best round's. */
  mbPerSecond: Record<Bulk, number>;
  rounds: Record<Bulk, number[]>;
  cipher: string | null;
  /** CPU time of the gateway process per GiB moved, summed over the bulk runs (berth only). */
  gatewayCpuSecondsPerGiB?: number;
}

const problem = existsSync(SSHD)
  ? await engine.getImage(DEBIAN).inspect().then(
      () => null,
      (err: Error) => `no Docker engine, or no ${DEBIAN} image in it (${err.message}); see scripts/build-test-images.sh`,
    )
  : `${SSHD} is missing; install Debian's openssh-server`;
if (problem) {
  console.error(`bench:ssh: ${problem}`);
  process.exit(1);
}

const [gatewayEntry] = (await compileEntries(['bench/lib/wholeGateway.ts'])) as [string];
const scratch = mkdtempSync(join(tmpdir(), 'berth-bench-ssh-'));
const prefix = runPrefix();
const network = `${prefix}-net`;
const container = `${prefix}-${USER}`;
let gateway: ServerProcess | undefined;
let sshd: Sshd | undefined;
try {
  const clientKey = makeKey(join(scratch, 'id_ed25519'));
  const publicKey = readFileSync(`${clientKey}.pub`, 'utf8');
  const keysDir = join(scratch, 'authorized');
  mkdirSync(keysDir);
  writeFileSync(join(keysDir, USER), publicKey);

  const sshPort = await freeLoopbackPort();
  gateway = await startServer(
    gatewayEntry,
    {
      BERTH_DATA_DIR: join(scratch, 'data'),
      BERTH_LISTEN_HTTP: '127.0.0.1:0',
      BERTH_LISTEN_SSH: `127.0.0.1:${sshPort}`,
      BERTH_LOG_LEVEL: 'warn',
      BERTH_SSH_AUTHORIZED_KEYS_DIR: keysDir,
      BERTH_RUNTIME_KIND: 'docker',
      BERTH_RUNTIME_DOCKER_NAME_PREFIX: prefix,
      BERTH_RUNTIME_DOCKER_NETWORK: network,
      BERTH_ENVIRONMENT_IMAGE: DEBIAN,
      BERTH_ENVIRONMENT_COMMAND: '[python3, -m, http.server, "${PORT}"]',
    },
    gatewayNodeArgs,
  );
  sshd = await startSshd(join(scratch, 'sshd'), publicKey);

  const client = ['-F', '/dev/null', '-i', clientKey, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ControlMaster=no'];
  const subjects: Subject[] = [
    { name: 'berth', argv: (command) => ['ssh', ...client, '-p', String(sshPort), `${USER}@127.0.0.1`, '--', command], front: gateway },
    {
      name: 'sshd+exec',
      // The container runs commands as Berth does: `/bin/sh -c <command>`.
      argv: (command) => ['ssh', ...client, '-p', String(sshd?.port), `${sshd?.user}@127.0.0.1`, '--', `docker exec -i ${container} /bin/sh -c ${quote(command)}`],
    },
    { name: 'docker exec', argv: (command) => ['docker', 'exec', '-i', container, '/bin/sh', '-c', command] },
  ];
  const [berth, viaSshd] = subjects as [Subject, Subject, Subject];

  const cold = await timed(berth.argv('true'), SESSION_TIMEOUT_MS);
  console.log(`bench:ssh — ${process.version}; berth's container started by the first connection in ${cold.toFixed(0)} ms`);
  const results: Record<string, Measured> = {};
  for (const subject of subjects) {
    await timed(subject.argv('true'), SESSION_TIMEOUT_MS);
    results[subject.name] = {
      setupMs: { median: 0, p90: 0, min: 0 },
      mbPerSecond: { up: 0, down: 0, cat: 0 },
      rounds: { up: [], down: [], cat: [] },
      cipher: negotiatedCipher(subject),
    };
  }

  console.log(`session set-up: ${sessions} × \`true\` each, interleaved`);
  const setups = new Map<string, number[]>(subjects.map((s) => [s.name, []]));
  for (let i = 0; i < sessions; i++) {
    for (const subject of subjects) setups.get(subject.name)?.push(await timed(subject.argv('true'), SESSION_TIMEOUT_MS));
  }
  for (const subject of subjects) (results[subject.name] as Measured).setupMs = summary(setups.get(subject.name) ?? []);

  console.log(`bulk: ${(bytes / 1024 ** 2).toFixed(0)} MiB each way, byte counts checked, best of ${rounds} rounds`);
  let gatewayCpuMs = 0;
  for (let round = 0; round < rounds; round++) {
    for (const bulk of Object.keys(BULKS) as Bulk[]) {
      for (const subject of subjects) {
        const cpuBefore = subject.front?.cpuMs() ?? null;
        const ms = await timed(['sh', '-c', BULKS[bulk].pipeline((command) => subject.argv(command).map(quote).join(' '))], BULK_TIMEOUT_MS, String(bytes));
        const cpuAfter = subject.front?.cpuMs() ?? null;
        if (cpuBefore !== null && cpuAfter !== null) gatewayCpuMs += cpuAfter - cpuBefore;
        const result = results[subject.name] as Measured;
        result.rounds[bulk].push(bytes / 1e6 / (ms / 1000));
        result.mbPerSecond[bulk] = Math.max(...result.rounds[bulk]);
      }
    }
  }
  // Per round three transfers, the round trip through cat counting twice.
  (results.berth as Measured).gatewayCpuSecondsPerGiB = gatewayCpuMs / 1000 / ((4 * bytes * rounds) / 1024 ** 3);

  const ratio = (of: (m: Measured) => number) => of(results[berth.name] as Measured) / of(results[viaSshd.name] as Measured);
  const ratios = {
    setup: ratio((m) => m.setupMs.median),
    up: ratio((m) => m.mbPerSecond.up),
    down: ratio((m) => m.mbPerSecond.down),
    cat: ratio((m) => m.mbPerSecond.cat),
  };
  printTable([
    ['', 'set-up ms p50', 'p90', 'up MB/s', 'down MB/s', 'cat MB/s', 'cipher'],
    ...subjects.map(({ name }) => {
      const r = results[name] as Measured;
      return [name, r.setupMs.median.toFixed(0), r.setupMs.p90.toFixed(0), ...(['up', 'down', 'cat'] as const).map((b) => r.mbPerSecond[b].toFixed(0)), r.cipher ?? '-'];
    }),
    ['berth / sshd+exec', `${ratios.setup.toFixed(2)}x`, '', `${ratios.up.toFixed(2)}x`, `${ratios.down.toFixed(2)}x`, `${ratios.cat.toFixed(2)}x`, ''],
  ]);
  console.log(`gateway CPU: ${(results.berth as Measured).gatewayCpuSecondsPerGiB?.toFixed(2)} s per GiB moved`);
  console.log('targets: set-up no slower than sshd+exec (≤ 1.00x); bulk at least 0.80x of it');
  const file = appendResult('ssh', { sessions, bytes, rounds, coldStartMs: cold, results, ratios });
  console.log(`appended to ${file}`);
} finally {
  await gateway?.stop();
  await sshd?.stop();
  await removeByPrefix(prefix, [network]);
  rmSync(scratch, { recursive: true, force: true });
}

/** Runs argv to its end and returns its wall time in ms; fails on a non-zero exit, a timeout, or stdout other than `expect`. */
async function timed(argv: string[], timeoutMs: number, expect?: string): Promise<number> {
  const began = performance.now();
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-2000)));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (c, s) => resolve([c, s])));
  const ms = performance.now() - began;
  if (code !== 0 || (expect !== undefined && stdout.trim() !== expect)) {
    throw new Error(`${argv.join(' ').slice(0, 200)}: ${signal ? `killed (${signal}) after ${timeoutMs} ms` : `exit ${code}`}, stdout ${JSON.stringify(stdout.slice(0, 100))}, stderr ${stderr}`);
  }
  return ms;
}

/** The cipher ssh settles on with this subject (the client's first choice the server offers), or null without SSH. */
function negotiatedCipher(subject: Subject): string | null {
  const [file, ...args] = subject.argv('true');
  if (file !== 'ssh') return null;
  const verbose = spawnSync('ssh', ['-v', ...args], { encoding: 'utf8', timeout: SESSION_TIMEOUT_MS });
  return /kex: server->client cipher: (\S+)/.exec(verbose.stderr)?.[1] ?? null;
}

function summary(values: number[]): Measured['setupMs'] {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { median: at(0.5), p90: at(0.9), min: sorted[0] ?? NaN };
}

function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
