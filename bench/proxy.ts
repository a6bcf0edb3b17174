import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startChp } from './lib/chp.js';
import { compileEntries } from './lib/compile.js';
import { buildGateway, scriptRequest, startGateway, USER_HEADER } from './lib/gateway.js';
import { pickLoadTool, type LoadResult } from './lib/load.js';
import { nginxConfig, startNginx } from './lib/nginx.js';
import { startServer, treeCpuMs, type ServerProcess } from './lib/processes.js';
import { appendResult, printTable } from './lib/report.js';

/**
 * npm run bench:proxy — one nginx worker answering a short body, measured
 * directly and through each proxy in front of it, all on loopback:
 *
 * - nginx as a proxy (one worker, keep-alive upstream pool),
 * - configurable-http-proxy (installed into bench/.peers on first run),
 * - the plainest node:http proxy (bench/lib/bareProxy.ts), the floor under
 *   anything built on Node's HTTP machinery,
 * - Berth's proxy alone (bench/lib/fixedGateway.ts: no authentication),
 * - Berth's gateway, `berth serve` in header mode: authentication, routing,
 *   the idle clock and metrics on every request. The backend nginx is this
 *   gateway's berth (local runtime), so every row measures the same process.
 *
 * First the saturating rate on 50 keep-alive connections (wrk, one thread;
 * best of BENCH_ROUNDS, since other work on a shared machine only ever
 * lowers a rate), with the CPU time the server in front spends per request;
 * then the latency each adds over direct at a fixed, moderate rate.
 * Knobs: BENCH_SECONDS (5), BENCH_ROUNDS (3), BENCH_CONNECTIONS (50),
 * BENCH_RATE (1000), BENCH_RATE_SECONDS (10), BENCH_LOAD_TOOL (wrk|autocannon),
 * BENCH_GATEWAY_NODE_ARGS for both Berth processes (e.g. "--cpu-prof --cpu-prof-dir=prof"),
 * BENCH_ONLY (comma-separated subjects beside direct, e.g. "berth gateway").
 */
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const rate = Number(process.env.BENCH_RATE ?? 1000);
const rateSeconds = Number(process.env.BENCH_RATE_SECONDS ?? 10);
const gatewayNodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
const only = process.env.BENCH_ONLY?.split(',').map((name) => name.trim());
const BODY = 'hello\n';
const USER = 'bench';

interface Saturated extends LoadResult {
  /** CPU time of the server in front (the backend itself for direct) per request, in µs. */
  cpuMicrosPerRequest: number | null;
}

interface FixedRate {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  errors: number;
}

interface Subject {
  name: string;
  url: string;
  cpuMs: () => number | null;
}

const tool = pickLoadTool();
const headers = { [USER_HEADER]: USER };
const [fixedGateway, bareProxy, fixedRate] = (await compileEntries(['bench/lib/fixedGateway.ts', 'bench/lib/bareProxy.ts', 'bench/lib/fixedRate.ts'])) as [
  string,
  string,
  string,
];
const cli = await buildGateway();
const dir = mkdtempSync(join(tmpdir(), 'berth-bench-proxy-'));
const started: ServerProcess[] = [];
try {
  // The berth: nginx on the port the local runtime hands it, which it writes down for the others.
  const berthDir = join(dir, 'berth');
  mkdirSync(berthDir);
  writeFileSync(join(berthDir, 'nginx.conf.in'), nginxConfig(berthDir, '@PORT@', { body: BODY }));
  const gateway = await startGateway(
    cli,
    dir,
    {
      // Unsandboxed: the berth writes its port and pid into this bench's temporary directory, which a sandbox hides; once a
      // connection is pooled, a request costs the proxy the same either way.
      runtime: { kind: 'local', local: { sandbox: 'off', allowUnsandboxed: true } },
      environment: {
        command: ['sh', '-c', `cd ${berthDir} && sed "s/@PORT@/$PORT/" nginx.conf.in > nginx.conf && echo "$PORT" > port && exec nginx -p "$PWD" -c "$PWD/nginx.conf"`],
      },
    },
    { nodeArgs: gatewayNodeArgs },
  );
  started.push(gateway);
  const first = await scriptRequest(`${gateway.url}/`, USER);
  if (first.status !== 200) throw new Error(`the gateway's first request got ${first.status}: ${first.body}`);
  const backendPort = Number(readFileSync(join(berthDir, 'port'), 'utf8'));
  const backendPid = Number(readFileSync(join(berthDir, 'nginx.pid'), 'utf8'));
  const backend = `127.0.0.1:${backendPort}`;

  const nginx = await startNginx(join(dir, 'nginx'), { upstream: backend });
  const chp = await startChp(`http://${backend}`);
  const proxyOnly = await startServer(fixedGateway, { TARGET: backend }, gatewayNodeArgs);
  const bare = await startServer(bareProxy, { TARGET: backend });
  started.push(nginx, chp, proxyOnly, bare);

  const subjects: Subject[] = ([
    { name: 'direct', url: `http://${backend}/`, cpuMs: () => treeCpuMs(backendPid) },
    { name: 'nginx', url: `${nginx.url}/`, cpuMs: nginx.cpuMs },
    { name: 'configurable-http-proxy', url: `${chp.url}/`, cpuMs: chp.cpuMs },
    { name: 'bare node:http proxy', url: `${bare.url}/`, cpuMs: bare.cpuMs },
    { name: 'berth proxy', url: `${proxyOnly.url}/`, cpuMs: proxyOnly.cpuMs },
    { name: 'berth gateway', url: `${gateway.url}/`, cpuMs: gateway.cpuMs },
  ] satisfies Subject[]).filter(({ name }) => only === undefined || name === 'direct' || only.includes(name));
  console.log(
    `bench:proxy — ${tool.name}, ${connections} keep-alive connections, best of ${rounds} × ${seconds} s; ` +
      `then ${rate} req/s for ${rateSeconds} s; ${process.version}, ${(await import('node:os')).cpus().length} cores`,
  );

  const saturated: Record<string, Saturated> = {};
  await tool.run(subjects[0]!.url, { connections, durationSeconds: 1, headers });
  for (let round = 0; round < rounds; round++) {
    // Interleaved, so a burst of other work on the machine spoils one round of each rather than every round of one.
    for (const { name, url, cpuMs } of subjects) {
      await tool.run(url, { connections, durationSeconds: 1, headers });
      const cpuBefore = cpuMs();
      const result = await tool.run(url, { connections, durationSeconds: seconds, headers });
      const cpuAfter = cpuMs();
      const best = saturated[name];
      if (best === undefined || result.requestsPerSecond > best.requestsPerSecond) {
        saturated[name] = {
          ...result,
          cpuMicrosPerRequest: cpuBefore === null || cpuAfter === null ? null : ((cpuAfter - cpuBefore) * 1000) / result.requests,
        };
      }
    }
  }

  const paced: Record<string, FixedRate> = {};
  for (const { name, url } of subjects) {
    const { stdout } = await promisify(execFile)(process.execPath, [fixedRate], {
      env: { ...process.env, URL: url, RATE: String(rate), SECONDS: String(rateSeconds), CONNECTIONS: '10', HEADERS: JSON.stringify(headers) },
      timeout: (rateSeconds + 30) * 1000,
    });
    paced[name] = JSON.parse(stdout) as FixedRate;
  }

  const direct = saturated.direct as Saturated;
  const directPaced = paced.direct as FixedRate;
  const rps = (name: string): number => saturated[name]?.requestsPerSecond ?? NaN;
  printTable([
    ['', 'req/s', 'p50 ms', 'p99 ms', 'vs direct', 'CPU µs/req', `@${rate}/s p50`, 'p99', '+p50 ms', '+p99 ms', 'errors'],
    ...subjects.map(({ name }) => {
      const r = saturated[name] as Saturated;
      const p = paced[name] as FixedRate;
      return [
        name,
        r.requestsPerSecond.toFixed(0),
        r.p50Ms.toFixed(2),
        r.p99Ms.toFixed(2),
        `${(r.requestsPerSecond / direct.requestsPerSecond).toFixed(2)}x`,
        r.cpuMicrosPerRequest === null ? '-' : r.cpuMicrosPerRequest.toFixed(0),
        p.p50Ms.toFixed(2),
        p.p99Ms.toFixed(2),
        (p.p50Ms - directPaced.p50Ms).toFixed(2),
        (p.p99Ms - directPaced.p99Ms).toFixed(2),
        String(r.errors + p.errors),
      ];
    }),
  ]);
  const addedP99 = (name: string): number => (paced[name]?.p99Ms ?? NaN) - directPaced.p99Ms;
  const ratios = {
    gatewayVsChp: rps('berth gateway') / rps('configurable-http-proxy'),
    gatewayVsNginx: rps('berth gateway') / rps('nginx'),
    proxyVsChp: rps('berth proxy') / rps('configurable-http-proxy'),
    proxyVsNginx: rps('berth proxy') / rps('nginx'),
    gatewayVsBare: rps('berth gateway') / rps('bare node:http proxy'),
    gatewayAddedP99OverNginxMs: addedP99('berth gateway') - addedP99('nginx'),
  };
  console.log(
    `berth gateway: ${ratios.gatewayVsChp.toFixed(1)}x configurable-http-proxy (target ≥ 3x), ${ratios.gatewayVsNginx.toFixed(2)}x nginx (target ≥ 0.3x); ` +
      `added p99 at ${rate}/s ${ratios.gatewayAddedP99OverNginxMs >= 0 ? '+' : ''}${ratios.gatewayAddedP99OverNginxMs.toFixed(2)} ms against nginx's (target ≤ 2 ms)`,
  );
  const file = appendResult('proxy', { tool: tool.name, connections, seconds, rounds, rate, rateSeconds, body: BODY, saturated, paced, ratios });
  console.log(`appended to ${file}`);
  const failed = subjects.filter(({ name }) => (saturated[name] as Saturated).errors + (paced[name] as FixedRate).errors > 0);
  if (failed.length > 0) {
    console.error(`errors during ${failed.map(({ name }) => name).join(', ')}: the figures are not comparable`);
    process.exitCode = 1;
  }
} finally {
  await Promise.all(started.map((server) => server.stop()));
  rmSync(dir, { recursive: true, force: true });
}
