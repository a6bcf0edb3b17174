import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileEntries } from './lib/compile.js';
import { pickLoadTool, type LoadResult } from './lib/load.js';
import { startServer, type ServerProcess } from './lib/processes.js';
import { appendResult, printTable } from './lib/report.js';

/**
 * npm run bench:proxy — requests per second and p50/p99 latency for the demo
 * berth's /hello, directly and through Berth's proxy, on keep-alive
 * connections. Backend, proxy and load generator each run in a process of
 * their own, from compiled code. Beside the rates it reports the CPU time the
 * server in front spends per request, which a busy shared machine disturbs
 * less than the rate. Knobs: BENCH_SECONDS (10), BENCH_CONNECTIONS (50),
 * BENCH_WARMUP_SECONDS (2), BENCH_LOAD_TOOL (wrk|autocannon),
 * BENCH_GATEWAY_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=prof").
 */
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const gatewayNodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);

interface Measured extends LoadResult {
  /** CPU time of the server in front (the backend directly, else the gateway) per request, in µs. */
  cpuMicrosPerRequest: number | null;
}

const tool = pickLoadTool();
const [demoApp, fixedGateway] = (await compileEntries(['src/demo/app.ts', 'bench/lib/fixedGateway.ts'])) as [string, string];
const home = mkdtempSync(join(tmpdir(), 'berth-bench-'));
const started: ServerProcess[] = [];
try {
  const backend = await startServer(demoApp, { PORT: '0', HOST: '127.0.0.1', BERTH_USER: 'bench', HOME: home });
  started.push(backend);
  const gateway = await startServer(fixedGateway, { TARGET: `127.0.0.1:${backend.port}` }, gatewayNodeArgs);
  started.push(gateway);

  const subjects = [
    { name: 'direct', url: `${backend.url}/hello`, front: backend },
    { name: 'berth', url: `${gateway.url}/hello`, front: gateway },
  ];
  console.log(`bench:proxy — ${tool.name}, ${connections} keep-alive connections, ${seconds} s each after ${warmupSeconds} s warm-up, ${process.version}`);
  const results: Record<string, Measured> = {};
  for (const { name, url, front } of subjects) {
    if (warmupSeconds > 0) await tool.run(url, { connections, durationSeconds: warmupSeconds });
    const cpuBefore = front.cpuMs();
    const result = await tool.run(url, { connections, durationSeconds: seconds });
    const cpuAfter = front.cpuMs();
    results[name] = {
      ...result,
      cpuMicrosPerRequest: cpuBefore === null || cpuAfter === null ? null : ((cpuAfter - cpuBefore) * 1000) / result.requests,
    };
  }

  const direct = results.direct as Measured;
  printTable([
    ['', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'vs direct', 'CPU µs/req'],
    ...subjects.map(({ name }) => {
      const r = results[name] as Measured;
      return [
        name,
        r.requestsPerSecond.toFixed(0),
        r.p50Ms.toFixed(2),
        r.p99Ms.toFixed(2),
        String(r.errors),
        `${(r.requestsPerSecond / direct.requestsPerSecond).toFixed(2)}x`,
        r.cpuMicrosPerRequest === null ? '-' : r.cpuMicrosPerRequest.toFixed(0),
      ];
    }),
  ]);
  const file = appendResult('proxy', {
    tool: tool.name,
    connections,
    seconds,
    path: '/hello',
    results,
    ratio: (results.berth as Measured).requestsPerSecond / direct.requestsPerSecond,
  });
  console.log(`appended to ${file}`);
  const failed = Object.entries(results).filter(([, r]) => r.errors > 0);
  if (failed.length > 0) {
    console.error(`errors during ${failed.map(([name]) => name).join(', ')}: the figures are not comparable`);
    process.exitCode = 1;
  }
} finally {
  await Promise.all(started.map((server) => server.stop()));
  rmSync(home, { recursive: true, force: true });
}
