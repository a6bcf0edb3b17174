import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { ensureDebian } from './install.js';

const run = promisify(execFile);

export interface LoadOptions {
  connections: number;
  durationSeconds: number;
  /** Sent on every request, e.g. the identity header a gateway in header mode reads. */
  headers?: Readonly<Record<string, string>>;
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Connection errors, timeouts and responses outside 2xx/3xx: a run with any is not a fair figure. */
  errors: number;
}

export interface LoadTool {
  name: string;
  /** Keep-alive load on `url` for the duration, in a process of its own. */
  run(url: string, options: LoadOptions): Promise<LoadResult>;
}

/**
 * wrk where it is (or can be installed from Debian, as root), since a C load
 * generator leaves more of a small machine to the servers under test;
 * autocannon from npm otherwise. BENCH_LOAD_TOOL=autocannon|wrk forces one.
 */
export function pickLoadTool(): LoadTool {
  const wanted = process.env.BENCH_LOAD_TOOL;
  if (wanted === 'autocannon') return autocannon;
  if (ensureDebian('wrk', 'wrk', ['--version'])) return wrk;
  if (wanted === 'wrk') throw new Error('BENCH_LOAD_TOOL=wrk, but wrk is not installed and could not be installed');
  return autocannon;
}

const wrk: LoadTool = {
  name: 'wrk',
  async run(url, { connections, durationSeconds, headers = {} }) {
    // One thread: the load generator shares the cores with the servers it measures.
    const { stdout } = await run('wrk', ['-t1', `-c${connections}`, `-d${durationSeconds}s`, '--latency', ...Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]), url], {
      timeout: (durationSeconds + 30) * 1000,
    });
    return parseWrk(stdout);
  },
};

export function parseWrk(text: string): LoadResult {
  const number = (pattern: RegExp): number => {
    const match = pattern.exec(text);
    if (!match) throw new Error(`wrk output without ${pattern}:\n${text}`);
    return Number(match[1]);
  };
  const latency = (percent: string): number => {
    const match = new RegExp(`^\\s*${percent}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(text);
    if (!match) throw new Error(`wrk output without the ${percent}% latency:\n${text}`);
    const value = Number(match[1]);
    return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requestsPerSecond: number(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: latency('50'),
    p99Ms: latency('99'),
    requests: number(/(\d+) requests in/),
    errors: (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0),
  };
}

const autocannon: LoadTool = {
  name: 'autocannon',
  async run(url, { connections, durationSeconds, headers = {} }) {
    const cli = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
    const { stdout } = await run(process.execPath, [cli, '-c', String(connections), '-d', String(durationSeconds), '-j', url], {
      timeout: (durationSeconds + 30) * 1000,
      maxBuffer: 16 * 1024 * 1024,
    });
    const result = JSON.parse(stdout) as {
      requests: { average: number; total: number };
      latency: { p50: number; p99: number };
      errors: number;
      timeouts: number;
      non2xx: number;
    };
    return {
      requestsPerSecond: result.requests.average,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      requests: result.requests.total,
      errors: result.errors + result.timeouts + result.non2xx,
    };
  },
};

