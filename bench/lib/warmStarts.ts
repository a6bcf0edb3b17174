import { get, request } from 'node:http';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import Docker from 'dockerode';
import { cgroupUsage } from './cgroup.js';
import { scriptRequest, startGateway, USER_HEADER } from './gateway.js';
import type { ServerProcess } from './processes.js';

/**
 * The warm-start figures of bench:spawn (issue "warm starts"): a returning
 * user whose berth the culler paused against one whose berth was stopped,
 * what a paused berth keeps and uses (from its cgroup), and a new user's
 * first byte from the sign-in POST with and without spawn.startOnSignIn.
 */

const docker = new Docker();
const WAIT_MS = 120_000;

export interface Berths {
  /** Containers are `<namePrefix>-<user>`; everything made starts with it, for the clean-up. */
  namePrefix: string;
  network: string;
  image: string;
  command: string[];
  port: number;
}

export interface PausedFigures {
  /** First byte for the returning user of a paused berth, ms. */
  resume: number[];
  /** First byte for the returning user of a stopped berth, ms, in the same run and gateway. */
  restart: number[];
  /** Memory charged to each berth's cgroup while running and then while paused, bytes. */
  runningMemory: number[];
  pausedMemory: number[];
  /** Its anonymous memory while paused (what its processes keep), bytes. */
  pausedAnon: number[];
  /** CPU time each paused berth used over PAUSED_WATCH_MS, ns. */
  pausedCpuNs: number[];
}

const PAUSED_WATCH_MS = 1000;

function gatewayConfig(berths: Berths, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    runtime: { kind: 'docker', docker: { namePrefix: berths.namePrefix, network: berths.network, reach: 'network' } },
    environment: { image: berths.image, command: berths.command, port: berths.port },
    spawn: { timeoutSeconds: 60, holdSeconds: 60, stopGraceSeconds: 2 },
    ...extra,
  };
}

async function firstByte(gateway: ServerProcess, user: string): Promise<number> {
  const start = performance.now();
  const { status, firstByteAt, body } = await scriptRequest(`${gateway.url}/`, user);
  // busybox httpd answers 404 for a home without index.html: still the berth's answer, proxied.
  if (status >= 500) throw new Error(`${user}'s request got ${status}: ${body}`);
  return firstByteAt - start;
}

async function stop(gateway: ServerProcess, user: string): Promise<void> {
  const res = await fetch(`${gateway.url}/_berth/api/me/stop`, { method: 'POST', headers: { [USER_HEADER]: user, origin: gateway.url } });
  if (res.status !== 200) throw new Error(`stopping ${user}'s berth got ${res.status}: ${await res.text()}`);
}

async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * One gateway with idle.pauseAfterSeconds 1: per user, a first request
 * makes the berth; once the culler has paused it, its cgroup is read, then
 * the returning user's request is timed; then the berth is stopped and the
 * next request (a restart) is timed, so both fall in the same spells of load.
 */
export async function pausedAgainstStopped(cli: string, dir: string, berths: Berths, users: number, label: string): Promise<PausedFigures> {
  const home = join(dir, `paused-${label}`);
  mkdirSync(home, { recursive: true });
  const gateway = await startGateway(cli, home, gatewayConfig(berths, { idle: { pauseAfterSeconds: 1, checkEverySeconds: 1, stopAfterSeconds: 3600 } }));
  const figures: PausedFigures = { resume: [], restart: [], runningMemory: [], pausedMemory: [], pausedAnon: [], pausedCpuNs: [] };
  try {
    for (let i = 0; i < users; i++) {
      const user = `warm${label}${i}`;
      const container = docker.getContainer(`${berths.namePrefix}-${user}`);
      await firstByte(gateway, user);
      const pid = (await container.inspect()).State.Pid;
      figures.runningMemory.push(cgroupUsage(pid).memoryBytes);
      await until(async () => ((await container.inspect()).State.Paused ? true : undefined), `the culler to pause ${user}'s berth`);
      const before = cgroupUsage(pid);
      await new Promise((resolve) => setTimeout(resolve, PAUSED_WATCH_MS));
      const after = cgroupUsage(pid);
      figures.pausedMemory.push(after.memoryBytes);
      figures.pausedAnon.push(after.anonBytes);
      figures.pausedCpuNs.push(after.cpuNs - before.cpuNs);
      figures.resume.push(await firstByte(gateway, user));
      await stop(gateway, user);
      figures.restart.push(await firstByte(gateway, user));
    }
  } finally {
    await gateway.stop();
  }
  return figures;
}

/** Resolves once the gateway's progress stream for the session says the berth is ready. */
function readyOnProgress(gateway: ServerProcess, cookie: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = get(`${gateway.url}/_berth/api/me/progress`, { headers: { cookie }, agent: false, timeout: WAIT_MS }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (/"state":"ready"/.test(text)) {
          req.destroy();
          resolve();
        } else if (/"state":"failed"/.test(text)) {
          req.destroy();
          reject(new Error(`the berth failed: ${text}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('no ready event in time')));
    req.on('error', (err) => (err.message === 'socket hang up' ? undefined : reject(err)));
  });
}

/** A navigation with the session cookie; resolves with the status, whether it was the loading page, and the time of its first byte. */
function navigate(gateway: ServerProcess, cookie: string): Promise<{ loading: boolean; firstByteAt: number }> {
  return new Promise((resolve, reject) => {
    const headers = { cookie, accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'same-origin', 'sec-fetch-dest': 'document' };
    const req = get(`${gateway.url}/`, { headers, agent: false, timeout: WAIT_MS }, (res) => {
      const firstByteAt = performance.now();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 500) reject(new Error(`navigation got ${res.statusCode}: ${body}`));
        else resolve({ loading: body.includes('Starting your environment'), firstByteAt });
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer to the navigation in time')));
    req.on('error', reject);
  });
}

/**
 * A new user signing in as a browser does, from the dev login's POST: the
 * 303 to "/", the loading page there (while the berth is not ready), its
 * progress stream until ready, and the reload whose first byte is the
 * berth's. The milliseconds from the POST to that byte.
 */
async function signInToFirstByte(gateway: ServerProcess, user: string): Promise<number> {
  const start = performance.now();
  const cookie = await new Promise<string>((resolve, reject) => {
    const body = new URLSearchParams({ username: user, next: '/' }).toString();
    const req = request(`${gateway.url}/_berth/login`, { method: 'POST', agent: false, headers: { 'content-type': 'application/x-www-form-urlencoded', origin: gateway.url } }, (res) => {
      res.resume();
      const set = ([] as string[]).concat(res.headers['set-cookie'] ?? []).map((line) => line.split(';')[0] ?? '');
      const session = set.find((pair) => pair.startsWith('berth_session='));
      if (res.statusCode === 303 && session) resolve(session);
      else reject(new Error(`sign-in of ${user} got ${res.statusCode}`));
    });
    req.on('error', reject);
    req.end(body);
  });
  for (;;) {
    const page = await navigate(gateway, cookie);
    if (!page.loading) return page.firstByteAt - start;
    await readyOnProgress(gateway, cookie);
  }
}

/** Two gateways, spawn.startOnSignIn on and off, in dev sign-in mode; new users alternate between them. */
export async function signInFigures(cli: string, dir: string, berths: Berths, users: number): Promise<{ withStart: number[]; without: number[] }> {
  const started = await Promise.all(
    [true, false].map(async (startOnSignIn) => {
      const home = join(dir, `sign-in-${startOnSignIn ? 'on' : 'off'}`);
      mkdirSync(home, { recursive: true });
      const namePrefix = `${berths.namePrefix}${startOnSignIn ? 'on' : 'off'}`;
      return startGateway(cli, home, gatewayConfig({ ...berths, namePrefix }, { auth: { mode: 'dev' }, spawn: { timeoutSeconds: 60, holdSeconds: 60, stopGraceSeconds: 2, startOnSignIn } }));
    }),
  );
  const [on, off] = started as [ServerProcess, ServerProcess];
  const figures = { withStart: [] as number[], without: [] as number[] };
  try {
    for (let i = 0; i < users; i++) {
      figures.withStart.push(await signInToFirstByte(on, `signin${i}`));
      figures.without.push(await signInToFirstByte(off, `signin${i}`));
    }
  } finally {
    await Promise.all([on.stop(), off.stop()]);
  }
  return figures;
}
