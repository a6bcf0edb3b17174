import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startChp } from './lib/chp.js';
import { compileEntries } from './lib/compile.js';
import { buildGateway, scriptRequest, startGateway, USER_HEADER } from './lib/gateway.js';
import { nofileLimits, startCommand, type ServerProcess } from './lib/processes.js';
import { appendResult, printTable } from './lib/report.js';

/**
 * npm run bench:websockets — BENCH_WS_COUNT (10,000) idle WebSockets opened
 * through a real gateway (`berth serve`, local runtime) to one user's demo
 * berth, then one message echoed on each; next to configurable-http-proxy in
 * front of the same demo app. Reports the front's resident memory per open
 * connection (RSS after opening, settled, less RSS before) and the time to
 * open them and to get every echo. The client spreads over several
 * 127.0.0.x source addresses.
 *
 * A proxy holds two descriptors per connection, so the processes run at the
 * hard descriptor limit (the soft one raised with prlimit where it is lower),
 * and where that is under 20,000 and some, the count is what fits.
 * Knobs: BENCH_WS_COUNT, BENCH_WS_IN_FLIGHT (200).
 */
const HARD_NOFILE = nofileLimits().hard;
/** Descriptors a front needs beside its two per connection: listeners, pipes, the store, libraries. */
const SPARE_FDS = 200;
const count = Number(process.env.BENCH_WS_COUNT ?? Math.min(10_000, Math.floor((HARD_NOFILE - SPARE_FDS) / 2)));
const inFlight = Number(process.env.BENCH_WS_IN_FLIGHT ?? 200);
const NOFILE = HARD_NOFILE;
const SETTLE_MS = 3_000;
const TARGET_KIB = 10;
const USER = 'bench';
const LISTENING = /listening on (http:\/\/[^\s]+:(\d+))/;

interface Measured {
  openMs: number;
  echoMs: number;
  failed: number;
  rssBeforeKiB: number;
  rssOpenKiB: number;
  kibPerConnection: number;
  cpuMsOpen: number;
}

/** Runs the client against one front, sampling the front's memory between phases. */
async function measure(client: string, url: string, front: ServerProcess): Promise<Measured> {
  const rssBefore = front.rssKiB() ?? NaN;
  const cpuBefore = front.cpuMs() ?? NaN;
  const raise = NOFILE > nofileLimits().soft;
  const child = spawn(raise ? 'prlimit' : process.execPath, raise ? [`--nofile=${NOFILE}:${NOFILE}`, process.execPath, client] : [client], {
    env: { ...process.env, URL: url, COUNT: String(count), IN_FLIGHT: String(inFlight), HEADERS: JSON.stringify({ [USER_HEADER]: USER }) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<{ phase: string; ms: number; failed: number }> => {
    const { value, done } = await lines.next();
    if (done) throw new Error('the WebSocket client ended early');
    return JSON.parse(value as string);
  };
  try {
    const opened = await next();
    const cpuMsOpen = (front.cpuMs() ?? NaN) - cpuBefore;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const rssOpen = front.rssKiB() ?? NaN;
    child.stdin.write('message\n');
    const echoed = await next();
    return {
      openMs: opened.ms,
      echoMs: echoed.ms,
      failed: opened.failed + echoed.failed,
      rssBeforeKiB: rssBefore,
      rssOpenKiB: rssOpen,
      kibPerConnection: (rssOpen - rssBefore) / (count - opened.failed),
      cpuMsOpen,
    };
  } finally {
    child.stdin.end('close\n');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

const [client, demoApp] = (await compileEntries(['bench/lib/wsClient.ts', 'src/demo/app.ts'])) as [string, string];
const cli = await buildGateway();
const dir = mkdtempSync(join(tmpdir(), 'berth-bench-ws-'));
const started: ServerProcess[] = [];
try {
  const gateway = await startGateway(cli, dir, { runtime: { kind: 'local' } }, { nofile: NOFILE });
  started.push(gateway);
  const first = await scriptRequest(`${gateway.url}/hello`, USER);
  if (first.status !== 200) throw new Error(`the gateway's first request got ${first.status}: ${first.body}`);
  const backend = await startCommand(process.execPath, [demoApp], { PORT: '0', HOST: '127.0.0.1', BERTH_USER: USER, HOME: dir }, { pattern: LISTENING }, NOFILE);
  const chp = await startChp(backend.url, NOFILE);
  started.push(backend, chp);

  console.log(
    `bench:websockets — ${count} idle connections, ${inFlight} handshakes in flight, then one echo each; ` +
      `descriptor limit ${HARD_NOFILE}; ${process.version}`,
  );
  const results: Record<string, Measured> = {};
  results['berth gateway'] = await measure(client, `${gateway.url.replace('http', 'ws')}/ws`, gateway);
  results['configurable-http-proxy'] = await measure(client, `${chp.url.replace('http', 'ws')}/ws`, chp);

  printTable([
    ['', 'open s', 'conn/s', 'echo all s', 'KiB/conn', 'RSS before MiB', 'RSS open MiB', 'CPU ms/100 opens', 'failed'],
    ...Object.entries(results).map(([name, r]) => [
      name,
      (r.openMs / 1000).toFixed(2),
      (count / (r.openMs / 1000)).toFixed(0),
      (r.echoMs / 1000).toFixed(2),
      r.kibPerConnection.toFixed(1),
      (r.rssBeforeKiB / 1024).toFixed(0),
      (r.rssOpenKiB / 1024).toFixed(0),
      ((r.cpuMsOpen / count) * 100).toFixed(1),
      String(r.failed),
    ]),
  ]);
  const berth = results['berth gateway'] as Measured;
  console.log(`berth gateway: ${berth.kibPerConnection.toFixed(1)} KiB per idle connection (target < ${TARGET_KIB} KiB)`);
  console.log(`appended to ${appendResult('websockets', { count, inFlight, nofile: HARD_NOFILE, results })}`);
  if (Object.values(results).some((r) => r.failed > 0)) {
    console.error('some connections or echoes failed: the figures are not comparable');
    process.exitCode = 1;
  }
} finally {
  await Promise.all(started.map((server) => server.stop()));
  rmSync(dir, { recursive: true, force: true });
}
