import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { buildGateway, scriptRequest, startGateway, USER_HEADER } from './lib/gateway.js';
import type { ServerProcess } from './lib/processes.js';
import { appendResult, printTable } from './lib/report.js';
import { pausedAgainstStopped, signInFigures } from './lib/warmStarts.js';

/**
 * npm run bench:spawn — with the docker runtime and a tiny image, the time
 * from a new user's first request to the first byte proxied from their new
 * berth, through a real gateway (`berth serve`), next to `docker run` of the
 * same image and command plus waiting until the same port answers HTTP; then
 * a stopped berth's restart next to `docker start` plus the same wait; then
 * 20 users arriving at once next to 20 such `docker run`s at once. Then the
 * warm starts (./lib/warmStarts.ts): a returning user whose berth the culler
 * paused against the restart of a stopped one, on the busybox and the Debian
 * test image, with the memory a paused berth keeps and the CPU it uses (from
 * its cgroup); and a new user's first byte from the sign-in POST, with and
 * without spawn.startOnSignIn. Medians of BENCH_USERS one-at-a-time users;
 * everything made carries a random prefix and is removed at the end
 * (containers, home volumes, network).
 * Knobs: BENCH_USERS (7), BENCH_CROWD (20), BENCH_IMAGE, BENCH_DEBIAN_IMAGE.
 */
const users = Number(process.env.BENCH_USERS ?? 7);
const crowd = Number(process.env.BENCH_CROWD ?? 20);
const image = process.env.BENCH_IMAGE ?? 'berth-test/busybox:latest';
const debianImage = process.env.BENCH_DEBIAN_IMAGE ?? 'berth-test/debian:latest';
const PORT = 8080;
const COMMAND = ['sh', '-c', 'exec busybox httpd -f -p "$PORT"'];
const DEBIAN_COMMAND = ['sh', '-c', 'exec python3 -m http.server "$PORT"'];
const PAUSED_TARGET_MS = 50;
const prefix = `bb${randomBytes(3).toString('hex')}`;
const network = `${prefix}-net`;
const TARGET_RATIO = 1.15;
const run = promisify(execFile);
const docker = new Docker();

/** How often the baseline polls the port: as often as is useful, so the baseline is at its best. */
const POLL_MS = 5;

interface Timed {
  ms: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Resolves once http://host:port/ answers anything, polling every POLL_MS; the time of its first byte. */
async function firstByteFrom(host: string, deadline: number): Promise<number> {
  while (Date.now() < deadline) {
    const at = await new Promise<number | null>((resolve) => {
      const req = request({ host, port: PORT, path: '/', agent: false, timeout: 2000 }, (res) => {
        const now = performance.now();
        res.resume();
        resolve(now);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(null));
      req.end();
    });
    if (at !== null) return at;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(`nothing answered on ${host}:${PORT} in time`);
}

async function addressOf(name: string): Promise<string> {
  const info = await docker.getContainer(name).inspect();
  const address = info.NetworkSettings.Networks[network]?.IPAddress;
  if (!address) throw new Error(`${name} has no address on ${network}`);
  return address;
}

/** `docker run` as a person would type it, then the same wait as the gateway's readiness, to the first byte. */
async function dockerRun(name: string): Promise<Timed> {
  const start = performance.now();
  await run('docker', ['run', '-d', '--name', name, '--network', network, '-e', `PORT=${PORT}`, image, ...COMMAND], { timeout: 120_000 });
  const at = await firstByteFrom(await addressOf(name), Date.now() + 120_000);
  return { ms: at - start };
}

async function dockerRestart(name: string): Promise<Timed> {
  await run('docker', ['stop', '-t', '2', name], { timeout: 60_000 });
  const start = performance.now();
  await run('docker', ['start', name], { timeout: 120_000 });
  const at = await firstByteFrom(await addressOf(name), Date.now() + 120_000);
  return { ms: at - start };
}

/** A user's request through the gateway, held until their berth is ready, to its first proxied byte. */
async function throughGateway(gateway: ServerProcess, user: string): Promise<Timed> {
  const start = performance.now();
  const { status, firstByteAt, body } = await scriptRequest(`${gateway.url}/`, user);
  // busybox httpd answers 404 for a home without index.html: still the berth's answer, proxied.
  if (status >= 500) throw new Error(`${user}'s first request got ${status}: ${body}`);
  return { ms: firstByteAt - start };
}

async function stopThroughGateway(gateway: ServerProcess, user: string): Promise<void> {
  const res = await fetch(`${gateway.url}/_berth/api/me/stop`, { method: 'POST', headers: { [USER_HEADER]: user, origin: gateway.url } });
  if (res.status !== 200) throw new Error(`stopping ${user}'s berth got ${res.status}: ${await res.text()}`);
}

async function cleanup(): Promise<void> {
  // The random prefix alone: the sign-in gateways name their berths <prefix>on-… and <prefix>off-….
  const containers = await docker.listContainers({ all: true, filters: { name: [prefix] } });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  const { Volumes: volumes } = await docker.listVolumes({ filters: { name: [prefix] } });
  await Promise.all((volumes ?? []).map((v) => docker.getVolume(v.Name).remove().catch(() => undefined)));
  const networks = await docker.listNetworks({ filters: { name: [network] } });
  await Promise.all(networks.map((n) => docker.getNetwork(n.Id).remove().catch(() => undefined)));
}

const cli = await buildGateway();
const dir = mkdtempSync(join(tmpdir(), 'berth-bench-spawn-'));
let gateway: ServerProcess | undefined;
try {
  await docker.getImage(image).inspect();
  gateway = await startGateway(cli, dir, {
    runtime: { kind: 'docker', docker: { namePrefix: prefix, network, reach: 'network' } },
    environment: { image, command: COMMAND, port: PORT },
    spawn: { timeoutSeconds: 60, holdSeconds: 60, stopGraceSeconds: 2 },
  });
  console.log(`bench:spawn — ${image}, ${users} users one at a time, then ${crowd} at once; prefix ${prefix}; ${process.version}`);

  // One of each first, untimed: the engine's first container on a new network pays set-up the rest do not.
  await throughGateway(gateway, 'warmup');
  await dockerRun(`${prefix}-base-warmup`);

  const create: number[] = [];
  const baseCreate: number[] = [];
  for (let i = 0; i < users; i++) {
    // Alternated, so slow spells on a shared machine fall on both.
    create.push((await throughGateway(gateway, `user${i}`)).ms);
    baseCreate.push((await dockerRun(`${prefix}-base-${i}`)).ms);
  }

  const restart: number[] = [];
  const baseRestart: number[] = [];
  for (let i = 0; i < users; i++) {
    await stopThroughGateway(gateway, `user${i}`);
    restart.push((await throughGateway(gateway, `user${i}`)).ms);
    baseRestart.push((await dockerRestart(`${prefix}-base-${i}`)).ms);
  }

  const crowdStart = performance.now();
  const together = (await Promise.all(Array.from({ length: crowd }, (_, i) => throughGateway(gateway as ServerProcess, `crowd${i}`)))).map((t) => t.ms);
  const togetherWall = performance.now() - crowdStart;
  const baseStart = performance.now();
  const baseTogether = (await Promise.all(Array.from({ length: crowd }, (_, i) => dockerRun(`${prefix}-basecrowd-${i}`)))).map((t) => t.ms);
  const baseTogetherWall = performance.now() - baseStart;

  const row = (name: string, berth: number[], base: number[]): string[] => [
    name,
    median(berth).toFixed(0),
    Math.max(...berth).toFixed(0),
    median(base).toFixed(0),
    Math.max(...base).toFixed(0),
    `${(median(berth) / median(base)).toFixed(2)}x`,
  ];
  printTable([
    ['', 'berth p50 ms', 'max ms', 'docker p50 ms', 'max ms', 'ratio'],
    row('first request, new user', create, baseCreate),
    row('restart of a stopped berth', restart, baseRestart),
    row(`${crowd} new users at once`, together, baseTogether),
  ]);
  const ratios = {
    create: median(create) / median(baseCreate),
    restart: median(restart) / median(baseRestart),
    crowd: median(together) / median(baseTogether),
    restartVsCreate: median(restart) / median(create),
  };
  console.log(
    `new user: ${ratios.create.toFixed(2)}x docker run + port wait (target ≤ ${TARGET_RATIO}x); ` +
      `restart: ${ratios.restartVsCreate.toFixed(2)}x of creation (target < 1x); ` +
      `${crowd} at once: all served in ${togetherWall.toFixed(0)} ms, docker runs in ${baseTogetherWall.toFixed(0)} ms`,
  );

  await gateway.stop();
  gateway = undefined;
  const berths = { namePrefix: prefix, network, port: PORT };
  const paused = {
    busybox: await pausedAgainstStopped(cli, dir, { ...berths, image, command: COMMAND }, users, 'bb'),
    debian: await pausedAgainstStopped(cli, dir, { ...berths, image: debianImage, command: DEBIAN_COMMAND }, users, 'deb'),
  };
  const signIn = await signInFigures(cli, dir, { ...berths, image, command: COMMAND }, users);
  const mib = (values: number[]) => (median(values) / 2 ** 20).toFixed(1);
  const against = (name: string, ms: number[], other: string, otherMs: number[]): string[] => [
    name,
    median(ms).toFixed(0),
    Math.max(...ms).toFixed(0),
    other,
    median(otherMs).toFixed(0),
    Math.max(...otherMs).toFixed(0),
    `${(median(ms) / median(otherMs)).toFixed(2)}x`,
  ];
  printTable([
    ['warm starts', 'p50 ms', 'max ms', 'against', 'p50 ms', 'max ms', 'ratio'],
    ...Object.entries(paused).map(([name, f]) => against(`returning user, paused berth (${name})`, f.resume, 'restart of a stopped one', f.restart)),
    against('new user from the sign-in POST, start on sign-in', signIn.withStart, 'without', signIn.without),
  ]);
  printTable([
    ['paused berth (cgroup)', 'memory running MiB', 'memory paused MiB', 'anonymous paused MiB', `CPU while paused, ${users} berths × 1 s`],
    ...Object.entries(paused).map(([name, f]) => [name, mib(f.runningMemory), mib(f.pausedMemory), mib(f.pausedAnon), `${f.pausedCpuNs.reduce((a, b) => a + b, 0) / 1000} µs`]),
  ]);
  console.log(
    Object.entries(paused)
      .map(([name, f]) => `paused ${name}: ${median(f.resume).toFixed(0)} ms p50 (target ≤ ${PAUSED_TARGET_MS} ms)`)
      .join('; '),
  );
  const file = appendResult('spawn', {
    image,
    debianImage,
    users,
    crowd,
    ms: { create, baseCreate, restart, baseRestart, together, baseTogether, togetherWall, baseTogetherWall },
    ratios,
    warm: { paused, signIn },
  });
  console.log(`appended to ${file}`);
} finally {
  await gateway?.stop();
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
}
